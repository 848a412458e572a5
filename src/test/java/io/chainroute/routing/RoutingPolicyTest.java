package io.chainroute.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.Requirement;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoutingPolicyTest {
  private final NodeConfig full =
      TestConfigs.node("full", "http://10.0.0.1:8545").region("eu").build();
  private final NodeConfig remote =
      TestConfigs.node("remote", "http://10.0.0.2:8545").region("us").build();
  private final NodeConfig archive =
      TestConfigs.node("archive", "http://10.0.0.3:8545").region("eu").archive().build();
  private final ChainConfig chain =
      TestConfigs.evm("eth").fullNodeLogBlocks(1000).nodes(full, remote, archive).build();

  private static NodeView node(NodeConfig n, EndpointStatus s) {
    Health h =
        s == EndpointStatus.HEALTHY
            ? Health.SYNCED
            : s == EndpointStatus.DEGRADED ? Health.LAGGING : Health.UNREACHABLE;
    return new NodeView(n, 10_000, 0, h, "", s, 1, 0, n.host());
  }

  private ChainView view(EndpointStatus f, EndpointStatus r, EndpointStatus a) {
    return new ChainView(chain, 10_000, List.of(node(full, f), node(remote, r), node(archive, a)));
  }

  private final ChainView allUp =
      view(EndpointStatus.HEALTHY, EndpointStatus.HEALTHY, EndpointStatus.HEALTHY);

  private static Requirement state(long n) {
    return Requirement.read(DataKind.STATE, BlockRef.number(n));
  }

  private Decision decide(ChainView v, Requirement... rs) {
    return RoutingPolicy.decide(List.of(rs), v);
  }

  @Test
  void latestGoesToTheHeadPool() {
    assertThat(decide(allUp, Requirement.LATEST_READ))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
  }

  @Test
  void stateWithinTheFullNodeWindowLessTheMarginStaysOnTheHeadPoolAndOlderGoesToArchive() {
    // Window 128, margin 4: head-123 is safely inside a full node's state; head-124 … head-127 are
    // inside too, but one or two blocks of drift between chainroute's view and the node's head
    // would push them out ("missing trie node"), so they go to the archive.
    assertThat(decide(allUp, state(10_000 - 123)))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
    assertThat(decide(allUp, state(10_000 - 124)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    assertThat(decide(allUp, state(10_000 - 127)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    assertThat(decide(allUp, state(10_000 - 128)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    ChainConfig noMargin =
        TestConfigs.evm("eth")
            .fullNodeLogBlocks(1000)
            .nodes(full, remote, archive)
            .archiveMarginBlocks(0)
            .build();
    ChainView exact = new ChainView(noMargin, 10_000, allUp.nodes());
    assertThat(decide(exact, state(10_000 - 127)))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
    assertThat(decide(allUp, Requirement.read(DataKind.STATE, BlockRef.EARLIEST)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    assertThat(decide(allUp, Requirement.read(DataKind.STATE, BlockRef.HASH)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    assertThat(decide(allUp, Requirement.read(DataKind.STATE, BlockRef.FINALIZED)))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
  }

  @Test
  void logsHaveTheirOwnWindowAndTracesAlwaysNeedArchive() {
    assertThat(decide(allUp, Requirement.read(DataKind.LOGS, BlockRef.number(10_000 - 500))))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
    assertThat(decide(allUp, Requirement.read(DataKind.LOGS, BlockRef.number(10_000 - 1000))))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    assertThat(decide(allUp, Requirement.read(DataKind.TRACE, BlockRef.LATEST)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
  }

  @Test
  void blocksAndNodeLocalCallsNeverNeedArchive() {
    assertThat(decide(allUp, Requirement.read(DataKind.NONE, BlockRef.number(1))))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
    assertThat(decide(allUp, Requirement.read(DataKind.NODE_LOCAL, BlockRef.EARLIEST)))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
  }

  @Test
  void aBatchGoesToArchiveIfAnyCallNeedsItAndCarriesTheWriteFlag() {
    assertThat(decide(allUp, Requirement.LATEST_READ, state(5)))
        .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
    assertThat(decide(allUp, Requirement.LATEST_READ, Requirement.WRITE))
        .isEqualTo(new Decision.Route(Pool.HEAD, true, RouteReason.WRITE));
  }

  @Test
  void withoutAUsableArchiveNodeOldRequestsGoToTheHeadPoolForTheNodesOwnError() {
    ChainView noArchive = view(EndpointStatus.HEALTHY, EndpointStatus.NONE, EndpointStatus.NONE);
    assertThat(decide(noArchive, state(5)))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.NO_ARCHIVE));
    assertThat(decide(noArchive, Requirement.LATEST_READ))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
  }

  @Test
  void withNoUsableNodeTheRequestIsUnavailableNamingTheChain() {
    ChainView none = view(EndpointStatus.NONE, EndpointStatus.NONE, EndpointStatus.NONE);
    assertThat(decide(none, Requirement.LATEST_READ))
        .isInstanceOfSatisfying(
            Decision.Unavailable.class, u -> assertThat(u.message()).contains("'eth'"));
    ChainView degradedOnly =
        view(EndpointStatus.DEGRADED, EndpointStatus.NONE, EndpointStatus.NONE);
    assertThat(decide(degradedOnly, Requirement.LATEST_READ))
        .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
  }

  @Test
  void poolPlanPrefersTheEnvoysRegionAndKeepsArchiveNodesLastInTheHeadPool() {
    ChainView v = view(EndpointStatus.HEALTHY, EndpointStatus.DEGRADED, EndpointStatus.HEALTHY);
    assertThat(PoolPlan.members(v, Pool.HEAD, "eu"))
        .extracting(m -> m.node().name() + ":" + m.status() + ":" + m.priority())
        .containsExactly("full:HEALTHY:0", "remote:DEGRADED:1", "archive:HEALTHY:2");
    assertThat(PoolPlan.members(v, Pool.HEAD, "us"))
        .extracting(m -> m.node().name() + ":" + m.priority())
        // Levels 0 (us), 1 (eu), 3 (archive in eu) compacted: Envoy and /status both see 0, 1, 2.
        .containsExactly("full:1", "remote:0", "archive:2");
    assertThat(PoolPlan.members(v, Pool.ARCHIVE, ""))
        .extracting(m -> m.node().name() + ":" + m.priority())
        .containsExactly("archive:0");
    ChainView fullDown = view(EndpointStatus.NONE, EndpointStatus.HEALTHY, EndpointStatus.NONE);
    assertThat(PoolPlan.members(fullDown, Pool.HEAD, ""))
        .extracting(m -> m.node().name())
        .containsExactly("remote");
  }
}
