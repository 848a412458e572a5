package io.chainroute.it;

import static io.chainroute.it.DrillRig.firstTime;
import static io.chainroute.it.DrillRig.ms;
import static io.chainroute.it.DrillRig.sleep;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The two-region drill (issue 11 item 4) on real geth nodes of one chain: region {@code eu} has the
 * sealer and {@code full-1}, region {@code us} has {@code full-2} and {@code full-3}. Each follower
 * has a {@link SlowProxy} (a fault-injecting Envoy, a fixed delay switched on mid-drill); each
 * drill gives chainroute the proxies' URLs for the nodes it slows. One chainroute serves real
 * Envoys whose bootstraps it rendered for their region ({@code envoy.region}), each under its own
 * constant load of reads that reach a node. Every phase is judged by counts of which node answered
 * ({@code x-chainroute-upstream}, Envoy's upstream host), and no read may fail from the baseline
 * on.
 *
 * <ul>
 *   <li>a slow node and a killed region: each Envoy keeps its reads in its region; {@code full-1}
 *       slowed, chainroute lowers its weight and its share of eu's reads falls below {@link
 *       #SLOW_SHARE_BOUND}; both us nodes killed, the us Envoy's reads move to eu; restarted, they
 *       come back;
 *   <li>an overloaded region: both us nodes slowed, chainroute spills us over and most of its reads
 *       go to eu; fast again, us takes them back;
 *   <li>scoring off, with and without hedged reads: the figures the README compares.
 * </ul>
 *
 * The class runs about 70 s, about 10 of them starting the network.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RegionsDrillIT {
  /** Reads per second on each Envoy. */
  static final int RATE = 100;

  static final Duration POLL = Duration.ofMillis(250);
  static final Duration BLOCK = GethDrill.BLOCK;
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  /**
   * The slow node's fixed delay: well inside the probe timeout, far above the other nodes' probe
   * latency under this load (5-40 ms on a busy 2-core machine). With the EWMA's 10 s time constant
   * the smoothed latency passes 200 ms (weight a fifth of a 40 ms node's) about 5 s after the delay
   * starts.
   */
  static final Duration DELAY = Duration.ofMillis(500);

  /** The slowed node's weight, as a share of its region's fastest node's, before it is judged. */
  static final double SLOW_WEIGHT_RATIO = 0.15;

  /** How long each phase's share is counted. */
  static final Duration WINDOW = Duration.ofSeconds(3);

  /** The slowed node answers less than this share of its region's reads. */
  static final double SLOW_SHARE_BOUND = 0.10;

  /**
   * While an overloaded region spills over, more than this share of its Envoy's reads are served
   * elsewhere (its nodes weigh 20 or less next to 100 then, and least-request lowers it further).
   */
  static final double OVERLOAD_SPILL_BOUND = 0.75;

  /** An Envoy "prefers its region" when at least this share of its reads stay in it. */
  static final double LOCAL_SHARE_BOUND = 0.99;

  static final List<String> EU = List.of("sealer", "full-1");
  static final List<String> US = List.of("full-2", "full-3");

  private Path dir;
  private GethNet net;

  /** A slow proxy for each follower; a drill sends chainroute through those it names. */
  private final Map<String, SlowProxy> proxies = new TreeMap<>();

  private Set<String> proxied = Set.of();
  private DrillRig rig;

  @BeforeAll
  void startNetwork() {
    RealBinaries.envoy();
    try {
      dir = Files.createTempDirectory("chainroute-regions");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    net = GethNet.start(dir, "full-1", "full", "full-2", "full", "full-3", "full");
    for (String n : List.of("full-1", "full-2", "full-3")) {
      proxies.put(n, SlowProxy.start(dir.resolve("slow-" + n), net.node(n).httpPort, DELAY));
    }
  }

  @AfterEach
  void closeRigAndHeal() {
    Ports.closeAll(rig);
    rig = null;
    proxies.values().forEach(SlowProxy::fast);
    net.heal();
  }

  @AfterAll
  void stopAll() {
    Ports.closeAll(proxies.values().toArray(AutoCloseable[]::new));
    Ports.closeAll(net);
  }

  /** Node name to the url chainroute is given: through the node's slow proxy, or direct. */
  private String url(String node) {
    return proxied.contains(node) ? proxies.get(node).url() : net.node(node).url();
  }

  /** Envoy's upstream host (ip:port) to node name. */
  private Map<String, String> names() {
    Map<String, String> m = new TreeMap<>();
    for (String n : List.of("sealer", "full-1", "full-2", "full-3")) {
      m.put(url(n).replace("http://", ""), n);
    }
    return m;
  }

  /**
   * chainroute and the eu Envoy ({@code rig.envoy()}) and the us Envoy (returned), serving once
   * both Envoys have the four nodes.
   */
  private EnvoyProcess startRig(String drill) {
    rig = DrillRig.start(dir, drill, chains(""), false, "eu");
    EnvoyProcess us = rig.addEnvoy("drill-envoy-us", "us");
    rig.awaitServing("eth", "/eth", List.of("sealer", "full-1", "full-2", "full-3"));
    Awaitility.await("both Envoys have the four nodes")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .ignoreExceptions()
        .until(
            () ->
                DrillRig.envoyEndpoints(rig.envoy(), "eth-head").size() == 4
                    && DrillRig.envoyEndpoints(us, "eth-head").size() == 4);
    return us;
  }

  private List<String> reads() {
    return List.of(
        Rpc.call("eth_getBalance", "[\"" + net.account() + "\",\"latest\"]"),
        Rpc.call("eth_getBlockByNumber", "[\"latest\",false]"));
  }

  /** The chain over the four nodes, with {@code balancing} (a flow mapping, or "" for none). */
  private String chains(String balancing) {
    String nodes =
        List.of("sealer", "full-1", "full-2", "full-3").stream()
            .map(
                n ->
                    "      - { name: %s, url: \"%s\", region: %s }"
                        .formatted(n, url(n), EU.contains(n) ? "eu" : "us"))
            .collect(Collectors.joining("\n"));
    // maxLagBlocks 1: the slowed node's answer may be one block old when a block is sealed during
    // its delay; this drill is about latency and regions, not lag.
    return """
        chains:
          - name: eth
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 1
            pollInterval: %dms
            blockTime: %dms
            probeTimeout: %dms
        %s
            nodes:
        %s
        """
        .formatted(
            POLL.toMillis(),
            BLOCK.toMillis(),
            PROBE_TIMEOUT.toMillis(),
            balancing.isEmpty() ? "" : "    balancing: " + balancing,
            nodes);
  }

  @Test
  void eachEnvoyKeepsItsRegionASlowNodeLosesItsShareAndAKilledRegionSpillsOverAndComesBack() {
    proxied = Set.of("full-1");
    EnvoyProcess us = startRig("regions-slow-node-and-kill");
    EnvoyProcess eu = rig.envoy();
    List<String> reads = reads();
    SlowProxy slowProxy = proxies.get("full-1");

    Shares base;
    Shares slowed;
    Shares spilled;
    Shares back;
    ConstantLoad.Snapshot euAll;
    ConstantLoad.Snapshot usAll;
    long warmupMs;
    long slowAt;
    long weighedAt;
    long killAt;
    long edsMovedAt;
    long restartAt;
    long restartedAt;
    long backAt;
    String weightsSlowed;
    String slowedLatency;
    String usPreference;
    try (ConstantLoad euLoad =
            ConstantLoad.start(eu.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, reads);
        ConstantLoad usLoad =
            ConstantLoad.start(us.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, reads)) {
      warmupMs =
          Math.max(
              euLoad.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(8)),
              usLoad.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(8)));
      long t0 = System.nanoTime();
      sleep(WINDOW);
      base = shares(euLoad, usLoad, t0, System.nanoTime());

      // full-1 turns slow: its smoothed latency climbs, its weight falls towards the floor.
      slowAt = System.nanoTime();
      slowProxy.slow();
      weighedAt =
          firstTime(
              Duration.ofSeconds(25),
              () -> weight("full-1") <= SLOW_WEIGHT_RATIO * weight("sealer"));
      long t2 = System.nanoTime();
      sleep(WINDOW);
      long t3 = System.nanoTime();
      slowed = shares(euLoad, usLoad, t2, t3);
      weightsSlowed = weights();
      slowedLatency = percentiles(euLoad.snapshot().sentBetween(t2, t3));

      // Region us loses both its nodes (kill -9): its Envoy's reads go to eu.
      killAt = System.nanoTime();
      net.node("full-2").kill();
      net.node("full-3").kill();
      // Both processes are gone: no read sent from now on can be answered in us.
      long killedAt = System.nanoTime();
      edsMovedAt =
          firstTime(
              Duration.ofSeconds(10),
              () ->
                  DrillRig.envoyEndpoints(us, "eth-head").keySet().stream()
                      .noneMatch(a -> US.contains(names().get(a))));
      sleep(Duration.ofSeconds(2));
      spilled = shares(euLoad, usLoad, killedAt, System.nanoTime());
      usPreference = preference("us");

      // They come back: restarted, re-peered, synced; the us Envoy's reads return to them.
      restartAt = System.nanoTime();
      net.node("full-2").restart();
      net.node("full-3").restart();
      restartedAt = System.nanoTime();
      backAt =
          firstTime(
              Duration.ofSeconds(30),
              () -> {
                long to = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(100);
                Shares last = shares(euLoad, usLoad, to - TimeUnit.MILLISECONDS.toNanos(500), to);
                return last.usTotal() >= RATE / 4 && last.usLocal() >= 0.9;
              });
      long t4 = System.nanoTime();
      sleep(Duration.ofSeconds(2));
      back = shares(euLoad, usLoad, t4, System.nanoTime());
      euLoad.stop();
      usLoad.stop();
      euAll = euLoad.snapshot().sentBetween(t0, Long.MAX_VALUE);
      usAll = usLoad.snapshot().sentBetween(t0, Long.MAX_VALUE);
    }
    slowProxy.fast();

    DrillRig.report(
        "regions-slow-node-and-kill",
        ("backend=geth ratePerEnvoy=%d poll=%dms delay=%dms warmupMs=%d loadavg=%s"
                + " base={%s} slowed={%s} euSlowedLatency={%s} weightsSlowed={%s} weighMs=%d spilled={%s}"
                + " usPref=\"%s\""
                + " edsMovedMs=%d restartMs=%d backMs=%d back={%s} eu={%s} us={%s}")
            .formatted(
                RATE,
                POLL.toMillis(),
                DELAY.toMillis(),
                warmupMs,
                DrillRig.loadAverage(),
                base,
                slowed,
                slowedLatency,
                weightsSlowed,
                ms(slowAt, weighedAt),
                spilled,
                usPreference,
                ms(killAt, edsMovedAt),
                ms(restartAt, restartedAt),
                ms(restartedAt, backAt),
                back,
                euAll.figures(),
                usAll.figures()));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(euAll.failures())
        .as("failed reads on the eu Envoy: %s", euAll.sampleFailures(3))
        .isEmpty();
    soft.assertThat(usAll.failures())
        .as("failed reads on the us Envoy: %s", usAll.sampleFailures(3))
        .isEmpty();
    soft.assertThat(base.unknown() + slowed.unknown() + spilled.unknown() + back.unknown())
        .as("reads answered by no node (or an unknown one): %s %s", base, slowed)
        .isZero();
    soft.assertThat(base.euLocal())
        .as("eu keeps its reads in eu: %s", base)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertThat(base.usLocal())
        .as("us keeps its reads in us: %s", base)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertThat(base.euShare("full-1"))
        .as("before the delay full-1 takes a fair part of eu's reads: %s", base)
        .isGreaterThan(0.25);
    soft.assertThat(weighedAt)
        .as("chainroute lowered full-1's weight to %s of the sealer's", SLOW_WEIGHT_RATIO)
        .isPositive();
    soft.assertThat(slowed.euShare("full-1"))
        .as("slowed full-1's share of eu's reads: %s", slowed)
        .isLessThan(SLOW_SHARE_BOUND);
    soft.assertThat(slowed.euLocal())
        .as("eu still keeps its reads: %s", slowed)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertThat(spilled.usLocal()).as("us reads left us: %s", spilled).isZero();
    soft.assertThat(spilled.usTotal()).as("us reads served while us is down").isPositive();
    soft.assertThat(edsMovedAt).as("chainroute took us's nodes out of the us Envoy").isPositive();
    soft.assertThat(backAt).as("us reads came back to us").isPositive();
    soft.assertThat(back.usLocal())
        .as("us keeps its reads again: %s", back)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertAll();
  }

  /**
   * Region us overloaded: both its nodes answer 500 ms late (their proxies' delay), so its fastest
   * node is more than {@code localSlowerBy} (100 ms) slower than eu's: chainroute spills the us
   * Envoy's reads over to every region, where the weights send most of them to eu. Once the us
   * nodes are fast again and the gap is under half the threshold, us takes its reads back.
   */
  @Test
  void anOverloadedRegionSpillsItsReadsOverAndTakesThemBackWhenItRecovers() {
    proxied = Set.of("full-2", "full-3");
    EnvoyProcess us = startRig("regions-overloaded");
    EnvoyProcess eu = rig.envoy();
    List<String> reads = reads();
    Shares base;
    Shares spilled;
    Shares back;
    ConstantLoad.Snapshot euAll;
    ConstantLoad.Snapshot usAll;
    long slowAt;
    long spillAt;
    long fastAt;
    long keptAt;
    long backAt;
    String spillReason;
    String keepReason;
    try (ConstantLoad euLoad =
            ConstantLoad.start(eu.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, reads);
        ConstantLoad usLoad =
            ConstantLoad.start(us.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, reads)) {
      euLoad.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(8));
      usLoad.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(8));
      long t0 = System.nanoTime();
      sleep(Duration.ofSeconds(2));
      base = shares(euLoad, usLoad, t0, System.nanoTime());

      slowAt = System.nanoTime();
      proxies.get("full-2").slow();
      proxies.get("full-3").slow();
      // The latency spill (it holds by the half-threshold rule). A late probe can also show us a
      // block or two behind for a moment: that spills too, but only while it lasts.
      spillAt =
          firstTime(
              Duration.ofSeconds(20),
              () -> spills("us") && preference("us").startsWith("spill over: fastest in us"));
      spillReason = preference("us");
      long t1 = System.nanoTime();
      sleep(Duration.ofSeconds(2));
      spilled = shares(euLoad, usLoad, t1, System.nanoTime());

      fastAt = System.nanoTime();
      proxies.get("full-2").fast();
      proxies.get("full-3").fast();
      keptAt = firstTime(Duration.ofSeconds(30), () -> !spills("us"));
      keepReason = preference("us");
      backAt =
          firstTime(
              Duration.ofSeconds(5),
              () -> {
                long to = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(100);
                Shares last = shares(euLoad, usLoad, to - TimeUnit.MILLISECONDS.toNanos(500), to);
                return last.usTotal() >= RATE / 4 && last.usLocal() >= 0.9;
              });
      long t2 = System.nanoTime();
      sleep(Duration.ofSeconds(2));
      back = shares(euLoad, usLoad, t2, System.nanoTime());
      euLoad.stop();
      usLoad.stop();
      euAll = euLoad.snapshot().sentBetween(t0, Long.MAX_VALUE);
      usAll = usLoad.snapshot().sentBetween(t0, Long.MAX_VALUE);
    }

    DrillRig.report(
        "regions-overloaded",
        ("backend=geth ratePerEnvoy=%d poll=%dms delay=%dms loadavg=%s base={%s} spillMs=%d"
                + " spillReason=\"%s\" spilled={%s} keptMs=%d keepReason=\"%s\" backMs=%d"
                + " back={%s} eu={%s} us={%s}")
            .formatted(
                RATE,
                POLL.toMillis(),
                DELAY.toMillis(),
                DrillRig.loadAverage(),
                base,
                ms(slowAt, spillAt),
                spillReason,
                spilled,
                ms(fastAt, keptAt),
                keepReason,
                ms(keptAt, backAt),
                back,
                euAll.figures(),
                usAll.figures()));

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(euAll.failures())
        .as("failed reads on the eu Envoy: %s", euAll.sampleFailures(3))
        .isEmpty();
    soft.assertThat(usAll.failures())
        .as("failed reads on the us Envoy: %s", usAll.sampleFailures(3))
        .isEmpty();
    soft.assertThat(base.unknown() + spilled.unknown() + back.unknown()).isZero();
    soft.assertThat(base.usLocal())
        .as("us keeps its reads in us: %s", base)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertThat(spillAt).as("chainroute spilled us over").isPositive();
    soft.assertThat(spillReason).startsWith("spill over: fastest in us");
    soft.assertThat(1 - spilled.usLocal())
        .as("the overloaded us Envoy's reads served in eu: %s", spilled)
        .isGreaterThan(OVERLOAD_SPILL_BOUND);
    soft.assertThat(spilled.euLocal())
        .as("eu keeps its own: %s", spilled)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertThat(keptAt).as("us preferred again once fast").isPositive();
    soft.assertThat(backAt).as("us reads came back to us").isPositive();
    soft.assertThat(back.usLocal())
        .as("us keeps its reads again: %s", back)
        .isGreaterThanOrEqualTo(LOCAL_SHARE_BOUND);
    soft.assertAll();
  }

  /**
   * Scoring off ({@code latencyWeights: false}): the slowed {@code full-1} keeps the weight of the
   * sealer, so Envoy's least-request alone decides its share. Two eu Envoys on one chainroute take
   * the same load, one rendered with {@code hedgeReadsAfter: 100ms}: on it a read that the slow
   * node has not answered within 100 ms is also sent to another node, so the slow node no longer
   * sets the tail. Figures for the README's comparison with the scored drill above.
   */
  @Test
  void withoutScoringHedgedReadsKeepTheSlowNodeOutOfTheTail() {
    proxied = Set.of("full-1");
    String unscored = "{ latencyWeights: false }";
    rig = DrillRig.start(dir, "regions-hedged", chains(unscored), false, "eu");
    EnvoyProcess plain = rig.envoy();
    EnvoyProcess hedged =
        rig.addEnvoy(
            "drill-envoy-eu-hedged",
            "eu",
            chains("{ latencyWeights: false, hedgeReadsAfter: 100ms }"));
    rig.awaitServing("eth", "/eth", List.of("sealer", "full-1", "full-2", "full-3"));
    Awaitility.await("both Envoys have the four nodes")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .ignoreExceptions()
        .until(
            () ->
                DrillRig.envoyEndpoints(plain, "eth-head").size() == 4
                    && DrillRig.envoyEndpoints(hedged, "eth-head").size() == 4);
    List<String> reads = reads();
    SlowProxy slowProxy = proxies.get("full-1");
    ConstantLoad.Snapshot p;
    ConstantLoad.Snapshot h;
    Map<String, Long> plainBy;
    Map<String, Long> hedgedBy;
    long delayedBefore;
    long delayed;
    try (ConstantLoad plainLoad =
            ConstantLoad.start(plain.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, reads);
        ConstantLoad hedgedLoad =
            ConstantLoad.start(hedged.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, reads)) {
      plainLoad.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(8));
      hedgedLoad.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(8));
      slowProxy.slow();
      delayedBefore = slowProxy.delayed();
      // A second for the slow node's requests in flight to build up, as they do under a delay.
      sleep(Duration.ofSeconds(1));
      long t0 = System.nanoTime();
      sleep(WINDOW);
      long t1 = System.nanoTime();
      slowProxy.fast();
      plainLoad.stop();
      hedgedLoad.stop();
      delayed = slowProxy.delayed() - delayedBefore;
      p = plainLoad.snapshot().sentBetween(t0, t1);
      h = hedgedLoad.snapshot().sentBetween(t0, t1);
      plainBy = count(p, names());
      hedgedBy = count(h, names());
    }
    double plainSlowShare = share(plainBy, "full-1");
    DrillRig.report(
        "regions-hedged",
        ("backend=geth ratePerEnvoy=%d delay=%dms scoring=off loadavg=%s plain={%s %s"
                + " slowShare=%.3f} hedged={%s %s} delayedBySlowProxy=%d hedgedEnvoy=%s")
            .formatted(
                RATE,
                DELAY.toMillis(),
                DrillRig.loadAverage(),
                plainBy,
                percentiles(p),
                plainSlowShare,
                hedgedBy,
                percentiles(h),
                delayed,
                hedgeStats(hedged)));
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(p.failures()).as("failed reads, plain: %s", p.sampleFailures(3)).isEmpty();
    soft.assertThat(h.failures()).as("failed reads, hedged: %s", h.sampleFailures(3)).isEmpty();
    soft.assertThat(plainSlowShare)
        .as("unscored, the slow node keeps a share of the plain Envoy's reads: %s", plainBy)
        .isGreaterThan(0.02);
    soft.assertThat(p.latencyPercentileMillis(0.99))
        .as("plain p99: the slow node's reads")
        .isGreaterThanOrEqualTo(DELAY.toMillis());
    soft.assertThat(h.latencyPercentileMillis(0.99)).as("hedged p99").isLessThan(DELAY.toMillis());
    soft.assertAll();
  }

  /** {@code p50Ms=.. p95Ms=.. p99Ms=..}. */
  private static String percentiles(ConstantLoad.Snapshot s) {
    return "p50Ms=%d p95Ms=%d p99Ms=%d"
        .formatted(
            s.latencyPercentileMillis(0.5),
            s.latencyPercentileMillis(0.95),
            s.latencyPercentileMillis(0.99));
  }

  /**
   * Envoy's hedge, retry and ejection counters for the head pool. A hedge is a per-try timeout, and
   * outlier detection counts per-try timeouts as local-origin failures: a node that is late twice
   * in a row on a hedging Envoy is ejected there (5 s, then longer), which the figures show.
   */
  private static String hedgeStats(EnvoyProcess envoy) {
    Map<String, String> out = new TreeMap<>();
    for (String line :
        envoy
            .admin(
                "/stats?filter="
                    + java.net.URLEncoder.encode(
                        "^cluster\\.eth-head\\.(upstream_rq_(per_try_timeout|retry|retry_success|timeout)"
                            + "|outlier_detection\\.ejections_(active|enforced_total))$",
                        java.nio.charset.StandardCharsets.UTF_8))
            .split("\n")) {
      String[] kv = line.split(": ", 2);
      if (kv.length == 2) {
        out.put(kv[0].substring(kv[0].lastIndexOf('.') + 1), kv[1].trim());
      }
    }
    return out.toString().replace(" ", "");
  }

  private static double share(Map<String, Long> m, String node) {
    long total = m.values().stream().mapToLong(Long::longValue).sum();
    return total == 0 ? 0 : (double) m.getOrDefault(node, 0L) / total;
  }

  /** True while chainroute spills the head pool over for Envoys in {@code region}. */
  private boolean spills(String region) {
    for (JsonNode p : chain().path("regions")) {
      if (p.path("region").asText().equals(region) && p.path("pool").asText().equals("head")) {
        return p.path("spill").asBoolean();
      }
    }
    return false;
  }

  /** chainroute's endpoint weight for a node (/status), or -1. */
  private int weight(String node) {
    for (JsonNode n : chain().get("nodes")) {
      if (n.get("name").asText().equals(node)) {
        return n.path("weight").asInt(-1);
      }
    }
    return -1;
  }

  /** {@code name=weight@latencyMs} for every node. */
  private String weights() {
    StringBuilder sb = new StringBuilder();
    for (JsonNode n : chain().get("nodes")) {
      sb.append(sb.isEmpty() ? "" : ",")
          .append(n.get("name").asText())
          .append('=')
          .append(n.path("weight").asInt(-1))
          .append('@')
          .append(
              String.format(
                  Locale.ROOT, "%.1fms", n.path("smoothedLatencyMicros").asLong(-1) / 1000.0));
    }
    return sb.toString();
  }

  /** chainroute's head-pool preference for an Envoy in {@code region}: its reason. */
  private String preference(String region) {
    for (JsonNode p : chain().path("regions")) {
      if (p.path("region").asText().equals(region) && p.path("pool").asText().equals("head")) {
        return p.path("reason").asText();
      }
    }
    return "";
  }

  private JsonNode chain() {
    for (JsonNode c : rig.status().get("chains")) {
      if (c.get("name").asText().equals("eth")) {
        return c;
      }
    }
    throw new AssertionError("no chain eth in /status");
  }

  private Shares shares(ConstantLoad euLoad, ConstantLoad usLoad, long from, long to) {
    Map<String, String> names = names();
    return new Shares(
        count(euLoad.snapshot().sentBetween(from, to), names),
        count(usLoad.snapshot().sentBetween(from, to), names));
  }

  /** Answers per node name ("?" for no or an unknown upstream); failures are not counted. */
  private static Map<String, Long> count(ConstantLoad.Snapshot s, Map<String, String> names) {
    Map<String, Long> m = new TreeMap<>();
    for (ConstantLoad.Outcome o : s.outcomes()) {
      if (o.ok()) {
        m.merge(names.getOrDefault(o.upstream(), "?"), 1L, Long::sum);
      }
    }
    return m;
  }

  /** Which node answered each Envoy's reads in one window. */
  record Shares(Map<String, Long> eu, Map<String, Long> us) {
    long euTotal() {
      return eu.values().stream().mapToLong(Long::longValue).sum();
    }

    long usTotal() {
      return us.values().stream().mapToLong(Long::longValue).sum();
    }

    double euLocal() {
      return share(eu, EU);
    }

    double usLocal() {
      return share(us, US);
    }

    double euShare(String node) {
      return share(eu, List.of(node));
    }

    long unknown() {
      return eu.getOrDefault("?", 0L) + us.getOrDefault("?", 0L);
    }

    private static double share(Map<String, Long> m, List<String> nodes) {
      long total = m.values().stream().mapToLong(Long::longValue).sum();
      long in = nodes.stream().mapToLong(n -> m.getOrDefault(n, 0L)).sum();
      return total == 0 ? 0 : (double) in / total;
    }

    @Override
    public String toString() {
      return ("eu:" + eu + ";us:" + us).replace(" ", "");
    }
  }
}
