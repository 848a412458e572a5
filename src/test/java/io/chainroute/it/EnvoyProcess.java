package io.chainroute.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;

/**
 * A real Envoy process started from a rendered bootstrap; ready once its admin says LIVE. Started
 * again in the same directory (same ports), it appends to the same {@code envoy.log}.
 */
final class EnvoyProcess implements AutoCloseable {
  final int listenerPort;
  final int adminPort;
  private final Process process;

  /**
   * When the process was spawned and when its admin first said LIVE ({@link System#nanoTime()}).
   */
  final long startedNanos;

  private long liveNanos;

  private EnvoyProcess(int listenerPort, int adminPort, Process process, long startedNanos) {
    this.listenerPort = listenerPort;
    this.adminPort = adminPort;
    this.process = process;
    this.startedNanos = startedNanos;
  }

  /** Envoy with the bootstrap {@code chainroute bootstrap} renders for {@code config}. */
  static EnvoyProcess start(
      Path dir,
      io.chainroute.config.ChainrouteConfig config,
      String nodeId,
      int listenerPort,
      int adminPort) {
    return start(
        dir,
        io.chainroute.envoy.BootstrapRenderer.render(
            config, nodeId, io.chainroute.adapters.ChainAdapters::forChain),
        listenerPort,
        adminPort);
  }

  static EnvoyProcess start(Path dir, String bootstrapYaml, int listenerPort, int adminPort) {
    try {
      Path bootstrap = dir.resolve("envoy.yaml");
      Files.writeString(bootstrap, bootstrapYaml);
      long started = System.nanoTime();
      Process p =
          new ProcessBuilder(
                  List.of(
                      RealBinaries.envoy().toString(),
                      "-c",
                      bootstrap.toString(),
                      "--log-level",
                      "warn",
                      "--base-id",
                      String.valueOf(adminPort),
                      "--concurrency",
                      "2",
                      // Access log lines reach their file within 200 ms (Envoy's default: 10 s).
                      "--file-flush-interval-msec",
                      "200"))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("envoy.log").toFile()))
              .start();
      EnvoyProcess e = new EnvoyProcess(listenerPort, adminPort, p, started);
      Awaitility.await("envoy ready")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .failFast("envoy exited; see " + dir.resolve("envoy.log"), () -> !p.isAlive())
          .ignoreExceptions()
          .until(() -> Rpc.get("http://127.0.0.1:" + adminPort + "/ready").trim().equals("LIVE"));
      e.liveNanos = System.nanoTime();
      return e;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  long liveNanos() {
    return liveNanos;
  }

  long pid() {
    return process.pid();
  }

  /** Resident memory from {@code /proc/<pid>/status} (VmRSS), in MiB. */
  long rssMib() {
    try {
      for (String line :
          Files.readAllLines(Path.of("/proc", String.valueOf(process.pid()), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
      throw new IllegalStateException("no VmRSS for envoy pid " + process.pid());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + listenerPort + path;
  }

  String admin(String path) {
    return Rpc.get("http://127.0.0.1:" + adminPort + path);
  }

  @Override
  public void close() {
    Ports.stop(process);
  }
}
