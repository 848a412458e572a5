package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;

/**
 * A private network of real geth 1.13.15 nodes on one chain: a Clique sealer (a block every second)
 * and followers ({@code --gcmode full} or {@code archive}) that sync from it over p2p on loopback.
 * The logic of {@code ../shared/geth/clique-net.sh}, in Java: the drills need each node as a
 * process handle they can {@code kill -9}, {@code SIGSTOP}, restart with the same flags and
 * re-peer, on ports from {@link Ports#free()}, and always stopped at the end; the script starts
 * everything at once and leaves only a PID file.
 *
 * <p>Two changes from the script, both about sync start-up (geth's chain syncer waits for min(5,
 * maxpeers) peers or for its 10 s forced cycle before the first sync, and a follower still at
 * genesis discards propagated blocks): followers run with {@code --maxpeers 1}, and start only once
 * the sealer has mined a block, so they sync the moment they peer (about 1 s instead of 10–15 s).
 *
 * <p>Lifecycle: {@link #start} returns with every follower at the sealer's head; {@link #heal} puts
 * every node back after a drill; {@link #close} stops all. Not thread-safe: one test thread drives
 * it.
 */
final class GethNet implements AutoCloseable {
  static final long CHAIN_ID = 1337;
  private static final Pattern ADDRESS = Pattern.compile("0x[0-9a-fA-F]{40}");

  private final Path dir;
  private final Path geth;
  private final String account;
  private final List<Node> nodes = new ArrayList<>();
  private String sealerEnode;

  private GethNet(Path dir, Path geth, String account) {
    this.dir = dir;
    this.geth = geth;
    this.account = account;
    Runtime.getRuntime().addShutdownHook(new Thread(this::killAll, "gethnet-cleanup"));
  }

  /**
   * @param followers name to gcmode ({@code full} or {@code archive}), e.g. {@code "full-1",
   *     "full"}; the sealer is named {@code sealer}
   */
  static GethNet start(Path dir, String... followers) {
    Path geth = RealBinaries.geth();
    try {
      Files.writeString(dir.resolve("pw"), "pw\n");
      String out =
          run(
              dir,
              geth.toString(),
              "account",
              "new",
              "--lightkdf",
              "--datadir",
              "sealer",
              "--password",
              "pw");
      Matcher m = ADDRESS.matcher(out);
      if (!m.find()) {
        throw new IllegalStateException("geth account new printed no address: " + out);
      }
      GethNet net = new GethNet(dir, geth, m.group());
      Files.writeString(dir.resolve("genesis.json"), net.genesis());
      Node sealer = net.new Node("sealer", "full");
      net.nodes.add(sealer);
      for (int i = 0; i < followers.length; i += 2) {
        net.nodes.add(net.new Node(followers[i], followers[i + 1]));
      }
      for (Node n : net.nodes) {
        run(dir, geth.toString(), "init", "--datadir", n.name, "genesis.json");
      }
      sealer.launch();
      net.sealerEnode =
          sealer
              .rpc("admin_nodeInfo", "[]")
              .get("result")
              .get("enode")
              .asText()
              .replaceFirst("\\?.*", "");
      Awaitility.await("sealer mines")
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> sealer.blockNumber() >= 1);
      for (Node n : net.followers()) {
        n.launch();
      }
      for (Node n : net.followers()) {
        n.peer();
      }
      net.awaitInSync();
      return net;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The sealer's account: unlocked on the sealer and funded in the genesis. */
  String account() {
    return account;
  }

  Node sealer() {
    return nodes.get(0);
  }

  List<Node> followers() {
    return nodes.subList(1, nodes.size());
  }

  List<Node> nodes() {
    return List.copyOf(nodes);
  }

  Node node(String name) {
    return nodes.stream()
        .filter(n -> n.name.equals(name))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no node " + name));
  }

  /** Every node running, answering and at the sealer's head again (after a drill broke one). */
  void heal() {
    for (Node n : followers()) {
      if (n.hung) {
        n.resume();
      }
      if (!n.alive()) {
        n.restart();
      } else {
        n.peer();
      }
    }
    awaitInSync();
  }

  /** Every follower within one block of the sealer (blocks come every second). */
  void awaitInSync() {
    Awaitility.await("geth followers at the sealer's head")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> {
              long head = sealer().blockNumber();
              return followers().stream().allMatch(n -> n.blockNumber() >= head - 1);
            });
  }

  /** Stops every node and deletes their chain data (the logs stay in the directory). */
  @Override
  public void close() {
    for (Node n : nodes) {
      if (n.hung) {
        n.resume();
      }
      if (n.process != null) {
        Ports.stop(n.process);
      }
    }
    for (Node n : nodes) {
      deleteTree(dir.resolve(n.name));
    }
  }

  /** Deletes a directory tree; nothing when it does not exist. */
  static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (java.util.stream.Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void killAll() {
    for (Node n : nodes) {
      if (n.process != null) {
        n.process.destroyForcibly();
      }
    }
  }

  private String genesis() {
    String a = account.substring(2).toLowerCase(java.util.Locale.ROOT);
    return """
        {"config":{"chainId":%d,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,"byzantiumBlock":0,
         "constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,"londonBlock":0,
         "clique":{"period":1,"epoch":30000}},
         "difficulty":"1","gasLimit":"30000000","extradata":"0x%s%s%s",
         "alloc":{"%s":{"balance":"0x200000000000000000000000000000000000000000000000000000000000000"}}}
        """
        .formatted(CHAIN_ID, "0".repeat(64), a, "0".repeat(130), a);
  }

  private static String run(Path dir, String... cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    try {
      String out =
          new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** One geth process: its ports stay the same across restarts. */
  final class Node {
    final String name;
    private final String gcmode;
    final int httpPort = Ports.free();
    private final int p2pPort = Ports.free();
    private final int authPort = Ports.free();
    private Process process;
    private boolean hung;
    private int launches;

    private Node(String name, String gcmode) {
      this.name = name;
      this.gcmode = gcmode;
    }

    String url() {
      return "http://127.0.0.1:" + httpPort;
    }

    /** As Envoy's {@code %UPSTREAM_HOST%} shows it. */
    String address() {
      return "127.0.0.1:" + httpPort;
    }

    JsonNode rpc(String method, String paramsJson) {
      return Rpc.post(url(), Rpc.call(method, paramsJson)).json();
    }

    long blockNumber() {
      return Long.decode(rpc("eth_blockNumber", "[]").get("result").asText());
    }

    boolean alive() {
      return process != null && process.isAlive();
    }

    /** kill -9: no shutdown, open connections reset by the kernel. */
    void kill() {
      Ports.kill(process);
    }

    /** SIGTERM: geth closes its sockets and flushes its state, as in a planned restart. */
    void stop() {
      Ports.stop(process);
    }

    /** SIGSTOP: connections are still accepted by the kernel, nothing is answered. */
    void hang() {
      Ports.signal(process, "STOP");
      hung = true;
    }

    void resume() {
      Ports.signal(process, "CONT");
      hung = false;
    }

    /** Starts the stopped node again with the same flags, ports and data, and peers it. */
    void restart() {
      if (alive()) {
        throw new IllegalStateException(name + " is still running");
      }
      launch();
      if (this != sealer()) {
        peer();
      }
    }

    /** Drops the sealer as a peer: the node keeps answering but gets no new blocks (stalled). */
    void unpeer() {
      JsonNode r = rpc("admin_removePeer", "[\"" + sealerEnode + "\"]");
      if (!r.path("result").asBoolean()) {
        throw new IllegalStateException(name + ": admin_removePeer failed: " + r);
      }
    }

    void peer() {
      Awaitility.await(name + " peers with the sealer")
          .atMost(Duration.ofSeconds(20))
          .pollInterval(Duration.ofMillis(100))
          .ignoreExceptions()
          .until(
              () -> rpc("admin_addPeer", "[\"" + sealerEnode + "\"]").path("result").asBoolean());
    }

    private void launch() {
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  geth.toString(),
                  "--datadir",
                  name,
                  "--networkid",
                  String.valueOf(CHAIN_ID),
                  "--nodiscover",
                  "--http",
                  "--http.addr",
                  "127.0.0.1",
                  "--http.port",
                  String.valueOf(httpPort),
                  "--http.api",
                  "eth,net,web3,admin,txpool",
                  "--ipcdisable",
                  "--port",
                  String.valueOf(p2pPort),
                  "--authrpc.port",
                  String.valueOf(authPort),
                  "--syncmode",
                  "full",
                  // The default cache preallocates ~145 MB of write-ahead log per node; 64 MB: ~45
                  // MB.
                  "--cache",
                  "64"));
      if (name.equals("sealer")) {
        cmd.addAll(
            List.of(
                "--mine",
                "--miner.etherbase",
                account,
                "--unlock",
                account,
                "--password",
                "pw",
                "--allow-insecure-unlock",
                "--lightkdf"));
      } else {
        cmd.addAll(List.of("--gcmode", gcmode, "--maxpeers", "1"));
      }
      try {
        process =
            new ProcessBuilder(cmd)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(
                    ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".log").toFile()))
                .start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      launches++;
      Awaitility.await(name + " answers (launch " + launches + ")")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .failFast(name + " exited; see " + dir.resolve(name + ".log"), () -> !process.isAlive())
          .ignoreExceptions()
          .until(() -> rpc("eth_blockNumber", "[]").has("result"));
    }
  }
}
