package io.chainroute.height;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The health rules as a pure function: states and time in, view out. No threads, no clock. */
class HealthPolicyTest {
  private static final long SECOND = 1_000_000_000L;
  private final NodeConfig a = node("a");
  private final NodeConfig b = node("b");
  private final ChainConfig chain = TestConfigs.evm("eth").maxLagBlocks(1).nodes(a, b).build();

  private static NodeConfig node(String name) {
    return TestConfigs.node(name, "http://10.0.0.1:8545").build();
  }

  private static NodeState at(NodeConfig n, long head, long nowNanos) {
    return NodeState.initial(n).answered(head, false, "", 100, "10.0.0.1", nowNanos, 0);
  }

  private NodeView view(List<NodeState> states, long now, NodeConfig n) {
    return HealthPolicy.evaluate(chain, states, now).nodes().stream()
        .filter(v -> v.config().equals(n))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void nodesAtTheHeadAreSyncedAndHealthy() {
    ChainView v = HealthPolicy.evaluate(chain, List.of(at(a, 100, 0), at(b, 99, 0)), 0);
    assertThat(v.head()).isEqualTo(100);
    assertThat(v.nodes())
        .extracting(NodeView::health)
        .containsExactly(Health.SYNCED, Health.SYNCED);
    assertThat(v.nodes())
        .extracting(NodeView::status)
        .containsExactly(EndpointStatus.HEALTHY, EndpointStatus.HEALTHY);
    assertThat(v.ready()).isTrue();
  }

  @Test
  void slightlyBehindIsDegradedAndFurtherBehindIsLeftOut() {
    assertThat(view(List.of(at(a, 100, 0), at(b, 97, 0)), 0, b).status())
        .isEqualTo(EndpointStatus.DEGRADED);
    NodeView far = view(List.of(at(a, 100, 0), at(b, 96, 0)), 0, b);
    assertThat(far.health()).isEqualTo(Health.LAGGING);
    assertThat(far.lag()).isEqualTo(4);
    assertThat(far.status()).isEqualTo(EndpointStatus.NONE);
  }

  @Test
  void aNodeBehindThatHasNotAdvancedForTwoBlockTimesIsStalled() {
    List<NodeState> states = List.of(at(a, 102, 12 * SECOND), at(b, 100, 0));
    assertThat(view(states, 23 * SECOND, b).health()).isEqualTo(Health.LAGGING);
    NodeView stalled = view(states, 24 * SECOND, b);
    assertThat(stalled.health()).isEqualTo(Health.STALLED);
    assertThat(stalled.status()).isEqualTo(EndpointStatus.NONE);
    assertThat(stalled.reason()).contains("no new block");
  }

  @Test
  void aWholeChainThatPausesIsNotStalled() {
    List<NodeState> states = List.of(at(a, 100, 0), at(b, 100, 0));
    assertThat(view(states, 600 * SECOND, a).health()).isEqualTo(Health.SYNCED);
  }

  @Test
  void unreachableAndSyncingNodesAreLeftOutAndDoNotSetTheHead() {
    NodeState down = at(a, 500, 0).failed("connection refused or unreachable");
    NodeState syncing =
        NodeState.initial(b).answered(400, true, "syncing 400/900", 1, "10.0.0.1", 0, 0);
    ChainView v = HealthPolicy.evaluate(chain, List.of(down, syncing), 0);
    assertThat(v.head()).isEqualTo(-1);
    assertThat(v.nodes())
        .extracting(NodeView::health)
        .containsExactly(Health.UNREACHABLE, Health.SYNCING);
    assertThat(v.nodes()).extracting(NodeView::status).containsOnly(EndpointStatus.NONE);
    assertThat(v.ready()).isFalse();
    assertThat(v.nodes().get(0).reason()).isEqualTo("connection refused or unreachable");
  }

  @Test
  void aHeadThatJumpsBackwardsDoesNotCorruptTheChainHead() {
    NodeState aAhead = at(a, 1000, 0);
    NodeState bRestarted = at(b, 1000, 0).answered(3, false, "", 1, "10.0.0.1", SECOND, 0);
    assertThat(bRestarted.backwardJumps()).isEqualTo(1);
    ChainView v = HealthPolicy.evaluate(chain, List.of(aAhead, bRestarted), SECOND);
    assertThat(v.head()).isEqualTo(1000);
    assertThat(v.nodes().get(1).lag()).isEqualTo(997);
    assertThat(v.nodes().get(1).status()).isEqualTo(EndpointStatus.NONE);

    // When every node goes back (a reorg to a shorter chain), the head follows: no stale maximum.
    NodeState aBack = aAhead.answered(990, false, "", 1, "10.0.0.1", SECOND, 0);
    NodeState bBack = bRestarted.answered(990, false, "", 1, "10.0.0.1", SECOND, 0);
    ChainView after = HealthPolicy.evaluate(chain, List.of(aBack, bBack), 2 * SECOND);
    assertThat(after.head()).isEqualTo(990);
    assertThat(after.nodes()).extracting(NodeView::status).containsOnly(EndpointStatus.HEALTHY);
  }

  @Test
  void aNodeWithoutAResolvedAddressIsNotOffered() {
    NodeState noAddress = NodeState.initial(a).answered(100, false, "", 1, null, 0, 0);
    NodeView v = view(new ArrayList<>(List.of(noAddress, at(b, 100, 0))), 0, a);
    assertThat(v.health()).isEqualTo(Health.SYNCED);
    assertThat(v.status()).isEqualTo(EndpointStatus.NONE);
  }
}
