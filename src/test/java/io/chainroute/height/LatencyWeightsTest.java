package io.chainroute.height;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.Balancing;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Latency scoring on virtual time: probe samples and times in, weights out. No threads, no clock.
 */
class LatencyWeightsTest {
  private static final long SECOND = 1_000_000_000L;
  private final NodeConfig fast = TestConfigs.node("fast", "http://10.0.0.1:8545").build();
  private final NodeConfig slow = TestConfigs.node("slow", "http://10.0.0.2:8545").build();
  private final NodeConfig third = TestConfigs.node("third", "http://10.0.0.3:8545").build();
  private final ChainConfig chain = TestConfigs.evm("eth").nodes(fast, slow, third).build();

  /** Probes every node once a second for {@code seconds}; returns the views, one per second. */
  private List<ChainView> run(
      ChainConfig c, List<NodeState> states, int seconds, LatencySource latency) {
    List<ChainView> views = new ArrayList<>();
    ChainView before = null;
    List<NodeState> s = new ArrayList<>(states);
    for (int t = 1; t <= seconds; t++) {
      long now = t * SECOND;
      for (int i = 0; i < s.size(); i++) {
        long sample = latency.micros(i, t);
        s.set(i, s.get(i).answered(100, false, "", sample, "10.0.0.1", now, 0));
        s.set(i, s.get(i).withLatencySample(sample, now));
      }
      before = HealthPolicy.evaluate(c, s, now, before);
      views.add(before);
    }
    return views;
  }

  interface LatencySource {
    long micros(int node, int second);
  }

  private List<NodeState> initial(ChainConfig c) {
    return c.nodes().stream().map(NodeState::initial).toList();
  }

  private static int weight(ChainView v, String node) {
    return v.nodes().stream()
        .filter(n -> n.name().equals(node))
        .findFirst()
        .orElseThrow()
        .score()
        .weight();
  }

  @Test
  void theEwmaMovesByTheTimeBetweenSamples() {
    LatencyEwma e = LatencyEwma.NONE.observe(1_000, 0);
    assertThat(e.micros()).isEqualTo(1_000);
    // One time constant later, a sample moves the average 63 % of the way.
    LatencyEwma later = e.observe(101_000, LatencyEwma.TAU.toNanos());
    assertThat(later.micros()).isBetween(63_000.0, 64_300.0);
    // The same sample right after the last one barely counts.
    assertThat(e.observe(101_000, 1_000_000).micros()).isLessThan(1_100);
  }

  @Test
  void aSlowNodeGetsLessTrafficButNeverNone() {
    // fast: 1 ms, slow: 300 ms, third: 3 ms.
    List<ChainView> views =
        run(chain, initial(chain), 30, (n, t) -> n == 0 ? 1_000 : n == 1 ? 300_000 : 3_000);
    ChainView last = views.get(views.size() - 1);
    assertThat(weight(last, "fast")).isEqualTo(LatencyWeights.CAP);
    assertThat(weight(last, "slow")).isEqualTo(LatencyWeights.FLOOR);
    // (1 + 2) / (3 + 2) of the cap, in steps of 5.
    assertThat(weight(last, "third")).isEqualTo(60);
    assertThat(last.nodes().get(1).score().reason()).contains("300.0 ms").contains("floor");
  }

  @Test
  void aNodeThatTurnsSlowLosesWeightWithinSecondsAndWinsItBackWhenItRecovers() {
    // "slow" answers in 1 ms, then 200 ms from second 10 to 30, then 1 ms again.
    List<ChainView> views =
        run(chain, initial(chain), 130, (n, t) -> n == 1 && t > 10 && t <= 30 ? 200_000 : 1_000);
    assertThat(weight(views.get(9), "slow")).isEqualTo(LatencyWeights.CAP);
    int firstDrop = -1;
    for (int t = 10; t < 30; t++) {
      if (weight(views.get(t), "slow") < LatencyWeights.CAP && firstDrop < 0) {
        firstDrop = t;
      }
    }
    assertThat(firstDrop).as("seconds until the slowed node's weight drops").isBetween(10, 12);
    assertThat(weight(views.get(29), "slow")).isLessThan(10);
    // Trust comes back over a few time constants: half way 40 s after, whole 100 s after.
    assertThat(weight(views.get(69), "slow")).isBetween(30, 70);
    assertThat(weight(views.get(129), "slow")).isEqualTo(LatencyWeights.CAP);
  }

  @Test
  void probeJitterNeverRepublishesEndpoints() {
    // ±40 % jitter around 10 ms and 20 ms for ten minutes: the weights stand (no xDS storm).
    Random random = new Random(42);
    List<ChainView> views =
        run(
            chain,
            initial(chain),
            600,
            (n, t) -> {
              long base = n == 1 ? 20_000 : 10_000;
              return Math.round(base * (0.6 + 0.8 * random.nextDouble()));
            });
    List<Integer> changes = new ArrayList<>();
    for (int i = 1; i < views.size(); i++) {
      if (!views.get(i).sameRouting(views.get(i - 1))) {
        changes.add(i);
      }
    }
    // The first samples settle the weights (within a few time constants); after that, at most a
    // rare step when the jitter lines up.
    assertThat(changes)
        .as("seconds with a routing change in 600 noisy seconds")
        .hasSizeLessThanOrEqualTo(4)
        .allMatch(t -> t < 40);
    assertThat(weight(views.get(599), "slow")).isBetween(45, 70);
  }

  @Test
  void aMeaningfulChangeIsPublishedAndAWeightStandsWithinTheDeadband() {
    // raw 60 for a published 70: within 25 %, kept; raw 50: out, published.
    assertThat(LatencyWeights.score(3_000, 1_000, 70).weight()).isEqualTo(70);
    assertThat(LatencyWeights.score(4_000, 1_000, 70).weight()).isEqualTo(50);
    // Reaching the cap or the floor is always published.
    assertThat(LatencyWeights.score(1_000, 1_000, 85).weight()).isEqualTo(LatencyWeights.CAP);
    assertThat(LatencyWeights.score(900_000, 1_000, 6).weight()).isEqualTo(LatencyWeights.FLOOR);
  }

  @Test
  void latencyWeightsOffGiveEveryNodeTheSameWeight() {
    ChainConfig off =
        TestConfigs.evm("eth")
            .nodes(fast, slow)
            .balancing(new Balancing(false, Duration.ofMillis(100), 1, 50, Duration.ZERO))
            .build();
    List<ChainView> views = run(off, initial(off), 10, (n, t) -> n == 0 ? 1_000 : 300_000);
    assertThat(weight(views.get(9), "slow")).isEqualTo(LatencyWeights.CAP);
    assertThat(views.get(9).nodes().get(1).score().reason()).contains("off");
  }

  @Test
  void aNodeInNoPoolWeighsNothingAndDoesNotSetTheBest() {
    List<NodeState> s = new ArrayList<>();
    s.add(NodeState.initial(fast).withLatencySample(100, SECOND).failed("refused"));
    s.add(
        NodeState.initial(slow)
            .answered(100, false, "", 5_000, "10.0.0.2", SECOND, 0)
            .withLatencySample(5_000, SECOND));
    ChainView v =
        HealthPolicy.evaluate(TestConfigs.evm("eth").nodes(fast, slow).build(), s, SECOND, null);
    assertThat(weight(v, "fast")).isZero();
    assertThat(weight(v, "slow")).isEqualTo(LatencyWeights.CAP);
  }
}
