package io.chainroute.it;

import static io.chainroute.it.DrillRig.ms;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The node-killed and node-stalled drills on three anvil nodes ({@code --block-time 1}), as issue
 * 18 first ran them. Each anvil is its own chain mining on its own clock, so heads differ by a
 * block at times: the chain tolerates a lag of 1 ({@code maxLagBlocks: 1}), and a stalled node
 * leaves once it is 2 behind, i.e. within one poll plus two block times. Fresh anvils per drill
 * (they start in well under a second).
 */
class AnvilDrillsIT {
  private static final String ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  private static final int RATE = 300;
  private static final Duration POLL = Duration.ofMillis(250);
  private static final Duration BLOCK = Duration.ofSeconds(1);
  private static final Duration PROBE_TIMEOUT = Duration.ofMillis(500);
  private static final int MAX_LAG = 1;
  private static final Duration MARGIN = Duration.ofMillis(250);

  private Path dir;
  private final List<AnvilProcess> nodes = new ArrayList<>();
  private DrillRig rig;
  private long warmupMs;

  @BeforeEach
  void startAnvils() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-anvil-drills");
    for (String name : List.of("a", "b", "c")) {
      nodes.add(AnvilProcess.startMining(dir, name, (int) BLOCK.toSeconds()));
    }
  }

  @AfterEach
  void stopAll() {
    if (rig != null) {
      rig.close();
    }
    nodes.forEach(AnvilProcess::close);
  }

  private DrillRig rig(String drill) {
    List<String> names = List.of("a", "b", "c");
    String list =
        java.util.stream.IntStream.range(0, nodes.size())
            .mapToObj(
                i ->
                    "      - { name: %s, url: \"%s\" }".formatted(names.get(i), nodes.get(i).url()))
            .collect(Collectors.joining("\n"));
    String chains =
        """
        chains:
          - name: eth
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: %d
            pollInterval: %dms
            blockTime: %dms
            probeTimeout: %dms
            nodes:
        %s
        """
            .formatted(MAX_LAG, POLL.toMillis(), BLOCK.toMillis(), PROBE_TIMEOUT.toMillis(), list);
    rig = DrillRig.start(dir, drill, chains);
    rig.awaitServing("eth", "/eth", names);
    return rig;
  }

  private ConstantLoad load() {
    ConstantLoad load = rig.load("/eth", RATE, ConstantLoad.evmReads(ACCOUNT0));
    warmupMs = load.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(6));
    return load;
  }

  private String settings() {
    return "backend=anvil rate=%d poll=%dms block=%dms probeTimeout=%dms maxLag=%d warmupMs=%d loadavg=%s envoy=%s"
        .formatted(
            RATE,
            POLL.toMillis(),
            BLOCK.toMillis(),
            PROBE_TIMEOUT.toMillis(),
            MAX_LAG,
            warmupMs,
            DrillRig.loadAverage(),
            rig.envoyRetryStats("eth-head"));
  }

  @Test
  void aKilledAnvilNodeFailsNoReads() {
    DrillRig rig = rig("anvil-node-killed");
    AnvilProcess victim = nodes.get(1);
    ConstantLoad.Snapshot s;
    long killed;
    long left;
    try (ConstantLoad load = load()) {
      killed = System.nanoTime();
      victim.kill();
      left =
          DrillRig.settledTimes(Duration.ofSeconds(5), () -> !rig.healthyHead("eth").contains("b"))[
              0];
      load.stop();
      s = load.snapshot().sentBetween(killed - Duration.ofSeconds(1).toNanos(), Long.MAX_VALUE);
      DrillRig.report(
          "anvil-node-killed",
          "%s %s leftPoolMs=%d".formatted(settings(), s.figures(), ms(killed, left)),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(s.failures())
        .as("failed reads after kill -9 of an anvil node: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertThat(left).as("the killed node left the head pool").isPositive();
    soft.assertAll();
  }

  @Test
  void aStalledAnvilNodeLeavesTheHeadPoolWithinOnePollPlusTwoBlocksAndGetsNoRequestsAfter() {
    DrillRig rig = rig("anvil-node-stalled");
    AnvilProcess victim = nodes.get(1);
    Duration bound = POLL.plus(BLOCK.multipliedBy(MAX_LAG + 1));
    Duration grace = Duration.ofMillis(250);
    ConstantLoad.Snapshot s;
    long stalled;
    long[] t;
    long after;
    try (ConstantLoad load = load()) {
      stalled = System.nanoTime();
      victim.stopMining();
      t =
          DrillRig.settledTimes(
              Duration.ofSeconds(7),
              () -> !rig.healthyHead("eth").contains("b"),
              () -> !rig.envoyEndpoints("eth-head").containsKey(victim.address()));
      load.stop();
      s = load.snapshot().sentBetween(stalled - Duration.ofSeconds(1).toNanos(), Long.MAX_VALUE);
      after = t[0] < 0 ? -1 : s.answeredBy(victim.address(), t[0] + grace.toNanos());
      DrillRig.report(
          "anvil-node-stalled",
          "%s %s leftPoolMs=%d boundMs=%d envoyDroppedMs=%d answeredByItAfterLeaving=%d answeredByItAfterStall=%d"
              .formatted(
                  settings(),
                  s.figures(),
                  ms(stalled, t[0]),
                  bound.toMillis(),
                  ms(stalled, t[1]),
                  after,
                  s.answeredBy(victim.address(), stalled)),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(t[0])
        .as("the stalled node left the head pool (for good) within 7 s")
        .isPositive();
    soft.assertThat(ms(stalled, t[0]))
        .as("ms from stall to leaving the head pool")
        .isLessThanOrEqualTo(bound.plus(MARGIN).toMillis());
    soft.assertThat(after)
        .as("requests answered by the stalled node %d ms after it left the pool", grace.toMillis())
        .isZero();
    soft.assertThat(s.failures()).as("failed reads: %s", s.sampleFailures(3)).isEmpty();
    soft.assertAll();
  }
}
