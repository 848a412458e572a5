package io.chainroute.height;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.Balancing;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** When an Envoy's own region stops being preferred: states in, decisions out. */
class RegionPreferencesTest {
  private static final long SECOND = 1_000_000_000L;
  private final NodeConfig eu1 = node("eu-1", "10.0.0.1", "eu");
  private final NodeConfig eu2 = node("eu-2", "10.0.0.2", "eu");
  private final NodeConfig us1 = node("us-1", "10.0.1.1", "us");
  private final NodeConfig us2 = node("us-2", "10.0.1.2", "us");
  private final ChainConfig chain =
      TestConfigs.evm("eth").maxLagBlocks(3).nodes(eu1, eu2, us1, us2).build();

  private static NodeConfig node(String name, String ip, String region) {
    return TestConfigs.node(name, "http://" + ip + ":8545").region(region).build();
  }

  /** A node at {@code head} whose probes take {@code micros}. */
  private static NodeState at(NodeConfig n, long head, long micros) {
    return NodeState.initial(n)
        .answered(head, false, "", micros, "10.0.0.9", SECOND, 0)
        .withLatencySample(micros, SECOND);
  }

  private static NodeState down(NodeConfig n) {
    return NodeState.initial(n).failed("connection refused");
  }

  private ChainView view(ChainConfig c, ChainView before, NodeState... states) {
    return HealthPolicy.evaluate(c, List.of(states), SECOND, before);
  }

  @Test
  void eachRegionPrefersItselfWhileItsNodesAreAsGood() {
    ChainView v =
        view(
            chain,
            null,
            at(eu1, 100, 2_000),
            at(eu2, 100, 3_000),
            at(us1, 100, 1_000),
            at(us2, 100, 1_000));
    assertThat(v.spills("eu", false)).isFalse();
    assertThat(v.spills("us", false)).isFalse();
    assertThat(v.preference("eu", false).reason()).startsWith("prefer eu");
  }

  @Test
  void aRegionMoreThanTheThresholdSlowerSpillsAndComesBackUnderHalfOfIt() {
    // eu's fastest node 150 ms slower than us's (threshold 100 ms): spill.
    ChainView slow =
        view(
            chain,
            null,
            at(eu1, 100, 151_000),
            at(eu2, 100, 200_000),
            at(us1, 100, 1_000),
            at(us2, 100, 1_000));
    assertThat(slow.spills("eu", false)).isTrue();
    assertThat(slow.spills("us", false)).isFalse();
    assertThat(slow.preference("eu", false).reason()).contains("spill over").contains("151.0 ms");
    // 70 ms slower: under the threshold but above half of it, still spilling (hysteresis).
    ChainView better =
        view(
            chain,
            slow,
            at(eu1, 100, 71_000),
            at(eu2, 100, 71_000),
            at(us1, 100, 1_000),
            at(us2, 100, 1_000));
    assertThat(better.spills("eu", false)).isTrue();
    // 40 ms: under half, eu prefers itself again. Without an earlier spill 70 ms never spills.
    ChainView back =
        view(
            chain,
            better,
            at(eu1, 100, 41_000),
            at(eu2, 100, 41_000),
            at(us1, 100, 1_000),
            at(us2, 100, 1_000));
    assertThat(back.spills("eu", false)).isFalse();
    assertThat(
            view(
                    chain,
                    null,
                    at(eu1, 100, 71_000),
                    at(eu2, 100, 71_000),
                    at(us1, 100, 1_000),
                    at(us2, 100, 1_000))
                .spills("eu", false))
        .isFalse();
  }

  @Test
  void aRegionThatLostMostOfItsNodesSpills() {
    ChainConfig three =
        TestConfigs.evm("eth").nodes(eu1, eu2, node("eu-3", "10.0.0.3", "eu"), us1).build();
    ChainView v =
        HealthPolicy.evaluate(
            three,
            List.of(
                at(eu1, 100, 1_000), down(eu2), down(three.nodes().get(2)), at(us1, 100, 1_000)),
            SECOND,
            null);
    assertThat(v.spills("eu", false)).isTrue();
    assertThat(v.preference("eu", false).reason()).contains("1 of 3").contains("below 50%");
    // Half of them left is still enough (the threshold is "below 50 %").
    assertThat(
            view(
                    chain,
                    null,
                    at(eu1, 100, 1_000),
                    down(eu2),
                    at(us1, 100, 1_000),
                    at(us2, 100, 1_000))
                .spills("eu", false))
        .isFalse();
  }

  @Test
  void aRegionBehindTheOthersSpills() {
    // All within maxLagBlocks (3), but eu's best is 2 behind us's (threshold 1).
    ChainView v =
        view(
            chain,
            null,
            at(eu1, 98, 1_000),
            at(eu2, 98, 1_000),
            at(us1, 100, 1_000),
            at(us2, 100, 1_000));
    assertThat(v.spills("eu", false)).isTrue();
    assertThat(v.preference("eu", false).reason()).contains("2 blocks behind");
  }

  @Test
  void aRegionWithNoUsableNodeLeavesItToEnvoysNextPriority() {
    ChainView v = view(chain, null, down(eu1), down(eu2), at(us1, 100, 1_000), at(us2, 100, 1_000));
    assertThat(v.spills("eu", false)).isFalse();
    assertThat(v.preference("eu", false).reason()).contains("next priority");
  }

  @Test
  void thresholdsComeFromTheChainsConfig() {
    ChainConfig lenient =
        TestConfigs.evm("eth")
            .nodes(eu1, eu2, us1, us2)
            .balancing(new Balancing(true, Duration.ofSeconds(1), 1, 0, Duration.ZERO))
            .build();
    List<NodeState> s =
        new ArrayList<>(
            List.of(at(eu1, 100, 500_000), down(eu2), at(us1, 100, 1_000), at(us2, 100, 1_000)));
    ChainView v = HealthPolicy.evaluate(lenient, s, SECOND, null);
    assertThat(v.spills("eu", false)).isFalse();
  }

  @Test
  void aSpillDecisionChangeIsARoutingChange() {
    ChainView a =
        view(
            chain,
            null,
            at(eu1, 100, 1_000),
            at(eu2, 100, 1_000),
            at(us1, 100, 1_000),
            at(us2, 100, 1_000));
    ChainView b =
        view(chain, a, at(eu1, 100, 1_000), down(eu2), at(us1, 100, 1_000), at(us2, 100, 1_000));
    ChainView c =
        view(chain, b, at(eu1, 100, 1_000), down(eu2), at(us1, 100, 1_000), at(us2, 100, 1_000));
    assertThat(b.sameRouting(a)).isFalse();
    assertThat(c.sameRouting(b)).isTrue();
  }
}
