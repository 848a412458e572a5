package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.chainroute.config.ConfigLoader;
import io.chainroute.envoy.BootstrapRenderer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * What every fault drill stands on: chainroute as a child process and a real Envoy from the
 * bootstrap chainroute renders, for the {@code chains:} YAML a drill gives (the server and Envoy
 * ports are filled in here). Reads chainroute's view ({@code /status}) and Envoy's ({@code
 * /clusters}), and measures "how long until" with a 20 ms poll. Each drill builds its own rig in a
 * fresh directory and closes it.
 */
final class DrillRig implements AutoCloseable {
  static final String ENVOY_NODE_ID = "drill-envoy";

  /**
   * Client timeout of the load (viem's default): longer than the targets and than a per-try timeout
   * Envoy may use, so a request that Envoy moves on shows its latency, and a stuck one a timeout.
   */
  static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(10);

  final Path dir;
  final int adminHttpPort = Ports.free();
  private final int xdsPort = Ports.free();
  private final int extProcPort = Ports.free();
  private final int adminGrpcPort = Ports.free();
  private final int listenerPort = Ports.free();
  private final int envoyAdminPort = Ports.free();
  final ChainrouteProcess chainroute;
  private final String bootstrap;
  private final String chainsYaml;
  private final String region;
  private final List<EnvoyProcess> moreEnvoys = new ArrayList<>();
  private EnvoyProcess envoy;

  private DrillRig(Path dir, String chainsYaml, boolean edsOnly, String region) {
    this.dir = dir;
    this.chainsYaml = chainsYaml;
    this.region = region;
    String config = config(chainsYaml);
    io.chainroute.config.ChainrouteConfig parsed = ConfigLoader.parse(config);
    this.bootstrap =
        edsOnly
            ? BootstrapRenderer.renderEdsOnly(
                parsed,
                ENVOY_NODE_ID,
                io.chainroute.adapters.ChainAdapters::forChain,
                io.chainroute.xds.XdsResources.clusters(parsed.chains(), parsed.envoy()))
            : BootstrapRenderer.render(
                parsed, ENVOY_NODE_ID, io.chainroute.adapters.ChainAdapters::forChain);
    this.chainroute = ChainrouteProcess.start(dir, config, adminHttpPort);
    try {
      this.envoy = EnvoyProcess.start(dir, bootstrap, listenerPort, envoyAdminPort);
    } catch (RuntimeException e) {
      chainroute.close();
      throw e;
    }
  }

  /** Starts chainroute and Envoy in a new directory under {@code parent}. */
  static DrillRig start(Path parent, String drill, String chainsYaml) {
    return start(parent, drill, chainsYaml, false);
  }

  /**
   * @param edsOnly Envoy with the EDS-only bootstrap ({@code chainroute bootstrap --eds-only}):
   *     static clusters, endpoints over plain EDS, no ADS
   */
  static DrillRig start(Path parent, String drill, String chainsYaml, boolean edsOnly) {
    return start(parent, drill, chainsYaml, edsOnly, "");
  }

  /**
   * @param region the locality region of the rig's Envoy ({@code envoy.region} of the config its
   *     bootstrap is rendered from); "" for none
   */
  static DrillRig start(
      Path parent, String drill, String chainsYaml, boolean edsOnly, String region) {
    try {
      return new DrillRig(
          Files.createDirectories(parent.resolve(drill)), chainsYaml, edsOnly, region);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * One more Envoy on the same chainroute, from the bootstrap chainroute renders for an Envoy in
   * {@code region} with xDS node id {@code nodeId}, on its own ports and in its own directory
   * (closed with the rig).
   */
  EnvoyProcess addEnvoy(String nodeId, String region) {
    return addEnvoy(nodeId, region, chainsYaml);
  }

  /**
   * {@link #addEnvoy(String, String)} with a bootstrap rendered from other {@code chains:} (e.g. a
   * route setting such as hedging that chainroute itself does not use) than chainroute runs with.
   */
  EnvoyProcess addEnvoy(String nodeId, String region, String bootstrapChainsYaml) {
    int listener = Ports.free();
    int admin = Ports.free();
    String rendered =
        BootstrapRenderer.render(
            ConfigLoader.parse(config(bootstrapChainsYaml, listener, admin, region)),
            nodeId,
            io.chainroute.adapters.ChainAdapters::forChain);
    try {
      EnvoyProcess e =
          EnvoyProcess.start(
              Files.createDirectories(dir.resolve(nodeId)), rendered, listener, admin);
      moreEnvoys.add(e);
      return e;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * One EVM chain {@code eth} at {@code /eth} over mining anvils: a block every {@code blockTime},
   * polled every 250 ms, a block of lag allowed. {@code nodes}: one flow mapping per node, e.g.
   * {@code { name: a, url: "http://..." }}.
   */
  static String anvilChain(Duration blockTime, List<String> nodes) {
    StringBuilder list = new StringBuilder();
    nodes.forEach(n -> list.append("      - ").append(n).append('\n'));
    return """
        chains:
          - name: eth
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 1
            pollInterval: 250ms
            blockTime: %dms
            probeTimeout: 500ms
            nodes:
        %s"""
        .formatted(blockTime.toMillis(), list);
  }

  /** The whole chainroute config: this rig's ports and the drill's chains. */
  String config(String chainsYaml) {
    return config(chainsYaml, listenerPort, envoyAdminPort, region);
  }

  private String config(String chainsYaml, int listener, int envoyAdmin, String envoyRegion) {
    return """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
        envoy:
          listenerPort: %d
          adminPort: %d
          exposeUpstreamHeader: true
        """
            .formatted(xdsPort, extProcPort, adminHttpPort, adminGrpcPort, listener, envoyAdmin)
        // No region: the key is left out (the config refuses an empty one).
        + (envoyRegion.isEmpty() ? "" : "  region: \"" + envoyRegion + "\"\n")
        + chainsYaml;
  }

  EnvoyProcess envoy() {
    return envoy;
  }

  String bootstrap() {
    return bootstrap;
  }

  /** Stops Envoy (SIGTERM) and starts it again from the same bootstrap on the same ports. */
  EnvoyProcess restartEnvoy() {
    envoy.close();
    envoy = EnvoyProcess.start(dir, bootstrap, listenerPort, envoyAdminPort);
    return envoy;
  }

  ConstantLoad load(String pathPrefix, int rate, List<String> bodies) {
    return ConstantLoad.start(envoy.url(pathPrefix), rate, CLIENT_TIMEOUT, bodies);
  }

  JsonNode status() {
    return Rpc.getJson(chainroute.adminUrl("/status"));
  }

  /** Names of the nodes chainroute offers as HEALTHY in the chain's head pool. */
  List<String> healthyHead(String chain) {
    List<String> out = new ArrayList<>();
    for (JsonNode c : status().get("chains")) {
      if (!c.get("name").asText().equals(chain)) {
        continue;
      }
      for (JsonNode pool : c.get("pools")) {
        if (pool.get("name").asText().equals("head")) {
          pool.get("members")
              .forEach(
                  m -> {
                    if (m.get("status").asText().equals("HEALTHY")) {
                      out.add(m.get("node").asText());
                    }
                  });
        }
      }
    }
    return out;
  }

  /**
   * Envoy's endpoints of one cluster, address ({@code ip:port}) to health flags, from {@code
   * /clusters}.
   */
  Map<String, String> envoyEndpoints(String cluster) {
    return envoyEndpoints(envoy, cluster);
  }

  /** {@link #envoyEndpoints(String)} of any Envoy. */
  static Map<String, String> envoyEndpoints(EnvoyProcess envoy, String cluster) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : envoy.admin("/clusters").split("\n")) {
      String[] f = line.split("::");
      if (f.length == 4 && f[0].equals(cluster) && f[2].equals("health_flags")) {
        out.put(f[1], f[3]);
      }
    }
    return out;
  }

  /**
   * Envoy's counters that explain failed reads, for one cluster: retries, retries refused by the
   * circuit breaker (overflow), connect failures, per-try and route timeouts. As {@code
   * {retry=12,retry_overflow=5,...}}.
   */
  String envoyRetryStats(String cluster) {
    Map<String, String> out = new java.util.TreeMap<>();
    String prefix = "cluster." + cluster + ".upstream_";
    String stats;
    try {
      stats =
          envoy.admin(
              "/stats?filter="
                  + java.net.URLEncoder.encode(
                      "^"
                          + prefix.replace(".", "\\.")
                          + "(rq_retry|rq_retry_overflow|cx_connect_fail|rq_per_try_timeout|rq_timeout)$",
                      StandardCharsets.UTF_8));
    } catch (RuntimeException e) {
      return "{unavailable}";
    }
    for (String line : stats.split("\n")) {
      String[] kv = line.split(": ", 2);
      if (kv.length == 2 && kv[0].startsWith(prefix)) {
        out.put(kv[0].substring(prefix.length()).replace("rq_", ""), kv[1].trim());
      }
    }
    return out.toString().replace(" ", "");
  }

  /** The 1-minute load average of this machine (other work on it slows every figure). */
  static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  /** Waits until each named node is HEALTHY in the head pool and Envoy serves the chain. */
  void awaitServing(String chain, String pathPrefix, List<String> nodes) {
    Awaitility.await("all nodes HEALTHY in " + chain + "-head and Envoy serving")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .ignoreExceptions()
        .until(
            () ->
                healthyHead(chain).containsAll(nodes)
                    && envoyEndpoints(chain + "-head").size() >= nodes.size()
                    && Rpc.post(envoy.url(pathPrefix), Rpc.call("eth_blockNumber", "[]"))
                        .json()
                        .has("result"));
  }

  /**
   * The first moment ({@link System#nanoTime()}) the condition holds, polled every 20 ms for at
   * most {@code atMost}; -1 if it never did. Exceptions count as "not yet".
   */
  static long firstTime(Duration atMost, BooleanSupplier condition) {
    return firstTimes(atMost, condition)[0];
  }

  /** {@link #firstTime} for several conditions watched together (-1 for each that never held). */
  static long[] firstTimes(Duration atMost, BooleanSupplier... conditions) {
    long[] at = new long[conditions.length];
    java.util.Arrays.fill(at, -1);
    try {
      Awaitility.await()
          .atMost(atMost)
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(20))
          .until(
              () -> {
                long now = System.nanoTime();
                boolean all = true;
                for (int i = 0; i < conditions.length; i++) {
                  if (at[i] < 0 && holds(conditions[i])) {
                    at[i] = now;
                  }
                  all &= at[i] >= 0;
                }
                return all;
              });
    } catch (ConditionTimeoutException notAll) {
      // Those that never held stay -1.
    }
    return at;
  }

  /**
   * For each condition, when it last became true and stayed true to the end of {@code window}
   * (polled every 20 ms for the whole window); -1 if it did not hold at the end. A node that flaps
   * out of the pool for one probe and back is not "gone"; this finds when it went for good.
   */
  static long[] settledTimes(Duration window, BooleanSupplier... conditions) {
    long[] since = new long[conditions.length];
    java.util.Arrays.fill(since, -1);
    long deadline = System.nanoTime() + window.toNanos();
    while (true) {
      long now = System.nanoTime();
      for (int i = 0; i < conditions.length; i++) {
        if (!holds(conditions[i])) {
          since[i] = -1;
        } else if (since[i] < 0) {
          since[i] = now;
        }
      }
      if (now > deadline) {
        return since;
      }
      sleep(Duration.ofMillis(20));
    }
  }

  private static boolean holds(BooleanSupplier condition) {
    try {
      return condition.getAsBoolean();
    } catch (RuntimeException notYet) {
      return false; // e.g. a refused connection while a process restarts
    }
  }

  /** Milliseconds from {@code from} to {@code to}; -1 when {@code to} never came. */
  static long ms(long fromNanos, long toNanos) {
    return toNanos < 0 ? -1 : (toNanos - fromNanos) / 1_000_000;
  }

  /** Sleeps {@code d}; nothing when it is zero or negative (a deadline already past). */
  static void sleep(Duration d) {
    if (d.isNegative() || d.isZero()) {
      return;
    }
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * The largest {@code per_try_timeout} of the rendered routes to {@code cluster}, if any sets one.
   */
  Optional<Duration> perTryTimeout(String cluster) {
    try {
      List<Duration> found = new ArrayList<>();
      collectPerTry(new YAMLMapper().readTree(bootstrap), cluster, found);
      return found.stream().max(Duration::compareTo);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Route actions ({@code cluster} + {@code retry_policy}) anywhere in the tree. */
  private static void collectPerTry(JsonNode node, String cluster, List<Duration> out) {
    if (node.isObject()) {
      JsonNode perTry = node.path("retry_policy").path("per_try_timeout");
      if (node.path("cluster").asText().equals(cluster) && perTry.isTextual()) {
        out.add(
            Duration.ofMillis(
                Math.round(Double.parseDouble(perTry.asText().replace("s", "")) * 1000)));
      }
      node.elements().forEachRemaining(n -> collectPerTry(n, cluster, out));
    } else if (node.isArray()) {
      node.forEach(n -> collectPerTry(n, cluster, out));
    }
  }

  /**
   * The overload manager's heap limit ({@code fixed_heap.max_heap_size_bytes}) in MiB, if the
   * bootstrap sets one.
   */
  Optional<Long> overloadHeapLimitMib() {
    try {
      JsonNode heap = new YAMLMapper().readTree(bootstrap).findValue("max_heap_size_bytes");
      return heap == null ? Optional.empty() : Optional.of(heap.asLong() / (1024 * 1024));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Prints one drill's figures as {@code DRILL <name> k=v ...} and appends the line to {@code
   * target/drill-figures.txt}, for the README's reliability section.
   */
  static void report(String drill, String figures) {
    report(drill, figures, null);
  }

  /**
   * {@link #report}, and the load's timeline (sent/failed/max latency per 500 ms) on a second line.
   */
  static void report(String drill, String figures, ConstantLoad.Snapshot load) {
    String line = "DRILL " + drill + " " + figures;
    if (load != null) {
      System.out.println("DRILL-TIMELINE " + drill + " t:sent/failed/maxMs " + load.timeline(500));
    }
    System.out.println(line);
    try {
      Files.writeString(
          Path.of("target", "drill-figures.txt"),
          line + "\n",
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    moreEnvoys.forEach(EnvoyProcess::close);
    if (envoy != null) {
      envoy.close();
    }
    chainroute.close();
  }
}
