package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * A private network of three real algod nodes on one chain, made by {@code goal network create}
 * from a template like {@code ../shared/algod/three-nodes.json}: {@code Relay} (holds all stake and
 * makes a round about every 3 s), {@code Follower} (non-archival, syncs from the relay) and {@code
 * Archive} ({@code Archival: true}). Each node's REST port, and the relay's gossip port, come from
 * {@link Ports#free()} and are fixed in its {@code config.json} (the template's {@code
 * ConfigJSONOverride}): goal would otherwise pick random ones, again at every restart, and the
 * relay would take 8080, which a running demo or a parallel test may hold. Each node keeps the API
 * token algod wrote at its first start ({@code algod.token}).
 *
 * <p>The nodes are daemons started by goal, not children of this JVM: {@link #close} stops them
 * with {@code goal network stop}, and a shutdown hook kills what is left (by the PIDs in the data
 * directories) if the JVM dies first.
 *
 * <p>Lifecycle: {@link #start} returns with every node answering at the relay's round; {@link
 * #heal} puts the follower and the archive back after a drill; {@link #close} stops all. Not
 * thread-safe: one test thread drives it.
 */
final class AlgodNet implements AutoCloseable {
  static final String NETWORK = "crnet";

  /** What {@code /versions} and {@code /v2/transactions/params} name the chain. */
  static final String GENESIS_ID = NETWORK + "-v1";

  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(2))
          .build();

  private final Path dir;
  private final Path root;
  private final Path bin;
  private final int gossipPort = Ports.free();
  private final List<Node> nodes = new ArrayList<>();

  private AlgodNet(Path dir, Path bin) {
    this.dir = dir;
    this.root = dir.resolve("net");
    this.bin = bin;
    nodes.add(new Node("Relay", false));
    nodes.add(new Node("Follower", false));
    nodes.add(new Node("Archive", true));
    Runtime.getRuntime().addShutdownHook(new Thread(this::killAll, "algodnet-cleanup"));
  }

  /** Creates the network under {@code dir/net}, starts it and waits until every node is synced. */
  static AlgodNet start(Path dir) {
    AlgodNet net = create(dir);
    net.startAll();
    return net;
  }

  /**
   * As {@link #start}, with the genesis's consensus protocol changed so that a non-archival node
   * keeps only about the last 30 rounds (instead of over 1,300) and rounds come every {@code
   * round}: old blocks really leave the relay and the follower within seconds, while the archive
   * keeps them. See {@link #shortenHistory}.
   */
  static AlgodNet startWithShortHistory(Path dir, Duration round) {
    AlgodNet net = create(dir);
    net.shortenHistory(round);
    net.startAll();
    return net;
  }

  /**
   * Writes a {@code consensus.json} into every node's directory (algod reads it at start, and it
   * overrides the protocol of the same name): the genesis's protocol as {@code goal protocols}
   * prints it, with
   *
   * <ul>
   *   <li>{@code MaxTxnLife} 16 and {@code MaxBalLookback} 16 (1000 and 320): a non-archival ledger
   *       keeps the blocks its trackers still need, about {@code MaxTxnLife} plus the account
   *       lookback, and deletes older ones; {@code SeedRefreshInterval} 4 keeps agreement's balance
   *       lookback ({@code 2 * SeedLookback * SeedRefreshInterval}) equal to {@code
   *       MaxBalLookback};
   *   <li>{@code StateProofInterval} 0: no state proofs, whose voters would hold old rounds;
   *   <li>{@code AgreementFilterTimeoutPeriod0} {@code round} with {@code DynamicFilterTimeout}
   *       off: the one proposer's round takes about that long.
   * </ul>
   *
   * and sets the relay's {@code MaxBlockHistoryLookback} (goal gives relays 20000, "to save blocks
   * beyond MaxTxnLife") to 0, so that the relay deletes old blocks as the follower does. A
   * transaction's validity window is at most {@code MaxTxnLife} rounds on such a network.
   */
  void shortenHistory(Duration round) {
    try {
      String printed = goal(Duration.ofSeconds(30), "protocols");
      JsonNode protocols = Rpc.JSON.readTree(printed.substring(printed.indexOf('{')));
      String proto =
          Rpc.JSON.readTree(relay().dir().resolve("genesis.json").toFile()).get("proto").asText();
      com.fasterxml.jackson.databind.node.ObjectNode p =
          (com.fasterxml.jackson.databind.node.ObjectNode) protocols.get(proto);
      if (p == null) {
        throw new IllegalStateException("goal protocols printed no protocol " + proto);
      }
      p.put("MaxTxnLife", 16);
      p.put("MaxBalLookback", 16);
      p.put("SeedRefreshInterval", 4);
      p.put("StateProofInterval", 0);
      p.put("AgreementFilterTimeoutPeriod0", round.toNanos());
      p.put("DynamicFilterTimeout", false);
      byte[] consensus = Rpc.JSON.writeValueAsBytes(Map.of(proto, p));
      for (Node n : nodes) {
        Files.write(n.dir().resolve("consensus.json"), consensus);
      }
      Path relayConfig = relay().dir().resolve("config.json");
      com.fasterxml.jackson.databind.node.ObjectNode cfg =
          (com.fasterxml.jackson.databind.node.ObjectNode) Rpc.JSON.readTree(relayConfig.toFile());
      cfg.put("MaxBlockHistoryLookback", 0);
      Files.write(relayConfig, Rpc.JSON.writeValueAsBytes(cfg));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Creates the network (data directories, genesis, wallets) without starting it. The API tokens
   * exist only from a node's first start.
   */
  static AlgodNet create(Path dir) {
    AlgodNet net = new AlgodNet(dir, RealBinaries.algodDir());
    try {
      Path template = dir.resolve("algodnet-template.json");
      Files.writeString(template, net.template());
      net.goal(
          Duration.ofSeconds(60),
          "network",
          "create",
          "-r",
          net.root.toString(),
          "-n",
          NETWORK,
          "-t",
          template.toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return net;
  }

  /** {@code goal network start}, then every node answering and at the relay's round. */
  void startAll() {
    goal(Duration.ofSeconds(60), "network", "start", "-r", root.toString());
    awaitInSync();
  }

  /** {@code goal network stop}: every node (and kmd) stopped, data kept. */
  void stopAll() {
    goal(Duration.ofSeconds(60), "network", "stop", "-r", root.toString());
  }

  Node relay() {
    return nodes.get(0);
  }

  Node follower() {
    return nodes.get(1);
  }

  Node archive() {
    return nodes.get(2);
  }

  List<Node> nodes() {
    return List.copyOf(nodes);
  }

  /** Follower and archive running, answering and at the relay's round again (after a drill). */
  void heal() {
    for (Node n : nodes) {
      if (n.hung) {
        n.resume();
      }
      if (!n.alive()) {
        n.start();
      }
    }
    awaitInSync();
  }

  /** Every node answers and is at most one round behind the relay (rounds come every ~3 s). */
  void awaitInSync() {
    Awaitility.await("algod nodes at the relay's round")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .ignoreExceptions()
        .until(
            () -> {
              long head = relay().lastRound();
              return head >= 1 && nodes.stream().allMatch(n -> n.lastRound() >= head - 1);
            });
  }

  /**
   * The mnemonic of the genesis account that holds all stake, exported from the relay's wallet
   * (goal starts kmd for it): a real funded key to sign payments with.
   */
  String fundedMnemonic() {
    String list = goal(Duration.ofSeconds(30), "account", "list", "-d", relay().dir().toString());
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("[A-Z2-7]{58}").matcher(list);
    if (!m.find()) {
      throw new IllegalStateException("goal account list printed no address: " + list);
    }
    String out =
        goal(
            Duration.ofSeconds(30),
            "account",
            "export",
            "-a",
            m.group(),
            "-d",
            relay().dir().toString());
    java.util.regex.Matcher words = java.util.regex.Pattern.compile("\"([a-z ]+)\"").matcher(out);
    if (!words.find()) {
      throw new IllegalStateException("goal account export printed no mnemonic");
    }
    return words.group(1);
  }

  /** Stops every node and deletes the ledgers (the logs stay in the data directories). */
  @Override
  public void close() {
    for (Node n : nodes) {
      if (n.hung) {
        n.resume();
      }
    }
    try {
      stopAll();
    } catch (RuntimeException e) {
      // killAll below stops what goal could not
    }
    killAll();
    for (Node n : nodes) {
      GethNet.deleteTree(n.dir().resolve(GENESIS_ID));
    }
  }

  private void killAll() {
    List<Path> pidFiles = new ArrayList<>();
    for (Node n : nodes) {
      pidFiles.add(n.dir().resolve("algod.pid"));
      try (java.util.stream.Stream<Path> kmd = Files.list(n.dir())) {
        kmd.filter(p -> p.getFileName().toString().startsWith("kmd-"))
            .forEach(p -> pidFiles.add(p.resolve("kmd.pid")));
      } catch (IOException | RuntimeException e) {
        // no kmd directory
      }
    }
    for (Path pidFile : pidFiles) {
      long pid = readPid(pidFile);
      if (pid > 0) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  private static long readPid(Path pidFile) {
    try {
      return Long.parseLong(Files.readString(pidFile).trim());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  /**
   * three-nodes.json with each node's ports fixed. A relay listens for gossip; the others dial it
   * ({@code -p}); {@code GossipFanout} is goal's own (the node count).
   */
  private String template() {
    return """
        {
          "Genesis": {
            "NetworkName": "%s",
            "LastPartKeyRound": 30000,
            "Wallets": [ { "Name": "W1", "Stake": 100, "Online": true } ]
          },
          "Nodes": [
            { "Name": "Relay", "IsRelay": true, "Wallets": [ { "Name": "W1", "ParticipationOnly": false } ],
              "ConfigJSONOverride": "{\\"EndpointAddress\\":\\"127.0.0.1:%d\\",\\"NetAddress\\":\\"127.0.0.1:%d\\"}" },
            { "Name": "Follower", "Wallets": [],
              "ConfigJSONOverride": "{\\"EndpointAddress\\":\\"127.0.0.1:%d\\"}" },
            { "Name": "Archive", "Wallets": [],
              "ConfigJSONOverride": "{\\"EndpointAddress\\":\\"127.0.0.1:%d\\",\\"Archival\\":true}" }
          ]
        }
        """
        .formatted(NETWORK, relay().port, gossipPort, follower().port, archive().port);
  }

  private String goal(Duration timeout, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(bin.resolve("goal").toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    // goal finds algod and kmd next to itself; a data directory in the environment would win
    // over -d/-r.
    pb.environment().remove("ALGORAND_DATA");
    pb.environment().put("PATH", bin + java.io.File.pathSeparator + System.getenv("PATH"));
    try {
      Process p = pb.start();
      // goal's daemons inherit its stdout: read it on another thread so waitFor bounds the call.
      java.util.concurrent.CompletableFuture<String> out =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try {
                  return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("goal " + String.join(" ", args) + " took over " + timeout);
      }
      String text = out.completeOnTimeout("", 2, TimeUnit.SECONDS).join();
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            "goal " + String.join(" ", args) + " exited " + p.exitValue() + ": " + text);
      }
      return text;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** One algod node: its REST port stays the same across restarts. */
  final class Node {
    final String name;
    final boolean archival;
    final int port = Ports.free();
    private boolean hung;

    private Node(String name, boolean archival) {
      this.name = name;
      this.archival = archival;
    }

    Path dir() {
      return root.resolve(name);
    }

    String url() {
      return "http://127.0.0.1:" + port;
    }

    /** As Envoy's {@code %UPSTREAM_HOST%} shows it. */
    String address() {
      return "127.0.0.1:" + port;
    }

    /** The API token algod wrote to {@code algod.token} at its first start. */
    String token() {
      try {
        return Files.readString(dir().resolve("algod.token")).trim();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** A GET straight to this node with its own token. */
    HttpResponse<byte[]> get(String pathAndQuery) {
      return send(
          HttpRequest.newBuilder(URI.create(url() + pathAndQuery))
              .header("X-Algo-API-Token", token())
              .timeout(Duration.ofSeconds(70))
              .build());
    }

    HttpResponse<byte[]> send(HttpRequest request) {
      try {
        return HTTP.send(request, HttpResponse.BodyHandlers.ofByteArray());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }

    JsonNode status() {
      HttpResponse<byte[]> r =
          send(
              HttpRequest.newBuilder(URI.create(url() + "/v2/status"))
                  .header("X-Algo-API-Token", token())
                  .timeout(Duration.ofSeconds(2))
                  .build());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(name + ": /v2/status answered " + r.statusCode());
      }
      try {
        return Rpc.JSON.readTree(r.body());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    long lastRound() {
      return status().get("last-round").asLong();
    }

    long pid() {
      return readPid(dir().resolve("algod.pid"));
    }

    boolean alive() {
      long pid = pid();
      return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /** {@code goal node stop}: algod shuts down cleanly. */
    void stop() {
      goal(Duration.ofSeconds(30), "node", "stop", "-d", dir().toString());
    }

    /**
     * {@code goal node start} with the relay's gossip address ({@code -p}): without it a restarted
     * node never syncs again.
     */
    void start() {
      if (this == relay()) {
        goal(Duration.ofSeconds(30), "node", "start", "-d", dir().toString());
      } else {
        goal(
            Duration.ofSeconds(30),
            "node",
            "start",
            "-d",
            dir().toString(),
            "-p",
            "127.0.0.1:" + gossipPort);
      }
    }

    /** SIGSTOP: connections are still accepted by the kernel, nothing is answered. */
    void hang() {
      signal("STOP");
      hung = true;
    }

    void resume() {
      signal("CONT");
      hung = false;
    }

    private void signal(String signal) {
      try {
        Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(pid())).start();
        if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
          throw new IllegalStateException("kill -" + signal + " " + name + " failed");
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }
}
