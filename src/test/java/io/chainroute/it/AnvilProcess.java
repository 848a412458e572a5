package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;

/**
 * A real anvil node on a free loopback port. By default it never mines on its own ({@code
 * --no-mining}): the test advances it with {@code anvil_mine}, so "stalled" just means "not mined".
 * {@link #startMining} makes one that mines on a clock, as the fault drills need.
 */
final class AnvilProcess implements AutoCloseable {
  final int port;
  private final Process process;

  private AnvilProcess(int port, Process process) {
    this.port = port;
    this.process = process;
  }

  /**
   * @param pruneHistory keep state for this many recent blocks only; null for an archive node
   */
  static AnvilProcess start(Path logDir, String name, Integer pruneHistory) {
    List<String> args = new ArrayList<>(List.of("--no-mining"));
    if (pruneHistory != null) {
      args.add("--prune-history");
      args.add(String.valueOf(pruneHistory));
    }
    return startWith(logDir, name, args);
  }

  /**
   * A node that mines a block every {@code blockTimeSeconds} ({@code --block-time}), on its own
   * chain.
   */
  static AnvilProcess startMining(Path logDir, String name, int blockTimeSeconds) {
    return startWith(logDir, name, List.of("--block-time", String.valueOf(blockTimeSeconds)));
  }

  /** anvil with these extra arguments (e.g. {@code --chain-id}). */
  static AnvilProcess startWith(Path logDir, String name, List<String> args) {
    int port = Ports.free();
    List<String> cmd =
        new ArrayList<>(
            List.of(RealBinaries.anvil().toString(), "--port", String.valueOf(port), "--silent"));
    cmd.addAll(args);
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(logDir.resolve("anvil-" + name + ".log").toFile())
              .start();
      AnvilProcess a = new AnvilProcess(port, p);
      Awaitility.await("anvil " + name + " up")
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(50))
          .ignoreExceptions()
          .until(() -> a.blockNumber() >= 0);
      return a;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  /** anvil serves WebSocket (eth_subscribe) on the same port as HTTP. */
  String wsUrl() {
    return "ws://127.0.0.1:" + port;
  }

  String address() {
    return "127.0.0.1:" + port;
  }

  JsonNode rpc(String method, String paramsJson) {
    return Rpc.post(url(), Rpc.call(method, paramsJson)).json();
  }

  long blockNumber() {
    return Long.decode(rpc("eth_blockNumber", "[]").get("result").asText());
  }

  void mine(int blocks) {
    JsonNode r = rpc("anvil_mine", "[\"0x" + Integer.toHexString(blocks) + "\"]");
    if (r.has("error")) {
      throw new IllegalStateException("anvil_mine failed: " + r);
    }
  }

  /** Brings this node to {@code height} if it is below. */
  void mineTo(long height) {
    long n = height - blockNumber();
    if (n > 0) {
      mine((int) n);
    }
  }

  /** Stops interval mining ({@code evm_setIntervalMining 0}): the node answers, its head stays. */
  void stopMining() {
    JsonNode r = rpc("evm_setIntervalMining", "[0]");
    if (r.has("error")) {
      throw new IllegalStateException("evm_setIntervalMining failed: " + r);
    }
  }

  /** kill -9. */
  void kill() {
    Ports.kill(process);
  }

  @Override
  public void close() {
    Ports.stop(process);
  }
}
