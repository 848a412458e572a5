package io.chainroute.it;

import static io.chainroute.it.DrillRig.firstTimes;
import static io.chainroute.it.DrillRig.ms;
import static io.chainroute.it.DrillRig.sleep;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * Fault drills on Envoy (issue 18, item 6): Envoy restarted under load, and Envoy holding 10,000
 * slow or idle client connections while the constant load goes on.
 */
class EnvoyDrillsIT extends GethDrill {
  /**
   * Room above the overload manager's heap limit for what is not heap (binary, stacks): Envoy's RSS
   * bound is that limit plus this. Without a heap limit in the bootstrap, nothing bounds Envoy's
   * memory and the drill fails (issue 18 saw 90 MB grow to 651 MB with 10,000 partial POSTs).
   */
  private static final long NON_HEAP_MIB = 64;

  private static final int PARTIAL_POSTS = 5_000;
  private static final int IDLE_CONNECTIONS = 5_000;
  private static final Duration HOLD = Duration.ofSeconds(10);

  @Test
  void aRestartedEnvoyHasItsClustersAndEndpointsBackWithinOneSecond() {
    DrillRig rig = rig("envoy-restarted");
    Duration target = Duration.ofSeconds(1);
    ConstantLoad.Snapshot s;
    EnvoyProcess envoy;
    long stopped;
    long[] t;
    try (ConstantLoad load = load()) {
      stopped = System.nanoTime();
      envoy = rig.restartEnvoy();
      t =
          firstTimes(
              Duration.ofSeconds(5),
              () ->
                  rig.envoyEndpoints("eth-head")
                      .keySet()
                      .containsAll(
                          List.of(
                              net.sealer().address(),
                              net.node("full-1").address(),
                              net.node("full-2").address())),
              () ->
                  Rpc.post(envoy.url("/eth"), Rpc.call("eth_blockNumber", "[]"))
                      .json()
                      .has("result"));
      sleep(Duration.ofSeconds(2));
      load.stop();
      s = fromFault(load, stopped);
      ConstantLoad.Snapshot afterTarget =
          s.sentBetween(envoy.liveNanos() + target.toNanos(), Long.MAX_VALUE);
      DrillRig.report(
          "envoy-restarted",
          "%s %s downMs=%d spawnToLiveMs=%d liveToEndpointsMs=%d liveToFirstOkMs=%d targetMs=%d failedAfterTarget=%d"
              .formatted(
                  settings(),
                  s.figures(),
                  ms(stopped, envoy.startedNanos),
                  ms(envoy.startedNanos, envoy.liveNanos()),
                  ms(envoy.liveNanos(), t[0]),
                  ms(envoy.liveNanos(), t[1]),
                  target.toMillis(),
                  afterTarget.failures().size()),
          s);
      SoftAssertions soft = new SoftAssertions();
      soft.assertThat(t[0]).as("Envoy has the head endpoints again").isPositive();
      soft.assertThat(ms(envoy.liveNanos(), t[0]))
          .as("ms from Envoy LIVE to its head endpoints")
          .isLessThanOrEqualTo(target.toMillis());
      soft.assertThat(t[1]).as("Envoy serves again").isPositive();
      soft.assertThat(ms(envoy.liveNanos(), t[1]))
          .as("ms from Envoy LIVE to the first OK read")
          .isLessThanOrEqualTo(target.toMillis());
      soft.assertThat(afterTarget.failures())
          .as("failed reads sent 1 s after Envoy was LIVE: %s", afterTarget.sampleFailures(3))
          .isEmpty();
      soft.assertAll();
    }
  }

  @Test
  void tenThousandSlowAndIdleClientsKeepEnvoysMemoryBoundedAndReadsServed() throws Exception {
    DrillRig rig = rig("slow-clients");
    EnvoyProcess envoy = rig.envoy();
    ConstantLoad.Snapshot s;
    java.util.Optional<Long> bound = rig.overloadHeapLimitMib().map(heap -> heap + NON_HEAP_MIB);
    long rssBefore;
    long rssPeak;
    long opened;
    long closedAt;
    Map<String, Long> held;
    try (ConstantLoad load = load()) {
      rssBefore = envoy.rssMib();
      rssPeak = rssBefore;
      Process clients =
          new ProcessBuilder(
                  "python3",
                  script().toString(),
                  "127.0.0.1",
                  String.valueOf(envoy.listenerPort),
                  "/eth",
                  String.valueOf(PARTIAL_POSTS),
                  String.valueOf(IDLE_CONNECTIONS),
                  String.valueOf(HOLD.toSeconds()))
              .redirectError(rig.dir.resolve("slow-clients.err").toFile())
              .start();
      held = new ConcurrentHashMap<>();
      Thread reader = new Thread(() -> readFigures(clients, held), "slow-clients-out");
      reader.start();
      opened = System.nanoTime();
      long deadline = opened + HOLD.plusSeconds(20).toNanos();
      while (clients.isAlive() && System.nanoTime() < deadline) {
        rssPeak = Math.max(rssPeak, envoy.rssMib());
        sleep(Duration.ofMillis(250));
      }
      closedAt = System.nanoTime();
      if (clients.isAlive()) {
        clients.destroyForcibly();
      }
      reader.join(5_000);
      sleep(Duration.ofSeconds(1));
      load.stop();
      s = fromFault(load, opened).sentBetween(opened, closedAt);
      DrillRig.report(
          "slow-clients",
          "%s %s partialPosts=%d idle=%d holdMs=%d opened=%d connectFailed=%d openMs=%d closedByEnvoy=%d answeredByEnvoy=%d envoyRssBeforeMib=%d envoyRssPeakMib=%d rssBoundMib=%s"
              .formatted(
                  settings(),
                  s.figures(),
                  PARTIAL_POSTS,
                  IDLE_CONNECTIONS,
                  HOLD.toMillis(),
                  held.getOrDefault("opened", -1L),
                  held.getOrDefault("connectFailed", -1L),
                  held.getOrDefault("openMs", -1L),
                  held.getOrDefault("closedByServer", -1L),
                  held.getOrDefault("answeredByServer", -1L),
                  rssBefore,
                  rssPeak,
                  bound.map(String::valueOf).orElse("none")),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(held)
        .as("the slow clients reported their figures")
        .containsKeys("opened", "closedByServer");
    soft.assertThat(s.failures())
        .as("failed reads while 10,000 slow clients are held: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertThat(bound)
        .as("a memory bound for Envoy in the bootstrap (overload manager heap limit)")
        .isPresent();
    long peak = rssPeak;
    bound.ifPresent(
        b ->
            soft.assertThat(peak)
                .as("Envoy's peak RSS (MiB) with 10,000 slow clients, bound %d MiB", b)
                .isLessThanOrEqualTo(b));
    soft.assertAll();
  }

  private static Path script() {
    try {
      return Path.of(EnvoyDrillsIT.class.getResource("/drills/slow_clients.py").toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Parses the script's {@code key=value} lines into {@code into}. */
  private static void readFigures(Process p, Map<String, Long> into) {
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        Map<String, Long> m = new HashMap<>();
        for (String kv : line.trim().split("\\s+")) {
          String[] f = kv.split("=", 2);
          if (f.length == 2 && f[1].matches("-?\\d+")) {
            m.put(f[0], Long.parseLong(f[1]));
          }
        }
        into.putAll(m);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
