package io.chainroute.admin;

import io.chainroute.admin.v1.Chain;
import io.chainroute.admin.v1.Node;
import io.chainroute.admin.v1.PoolMember;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.routing.Pool;
import io.chainroute.routing.PoolPlan;

/** Maps the core {@link Topology} to the {@code chainroute.admin.v1} message. Pure. */
public final class TopologyProtos {
  private TopologyProtos() {}

  public static io.chainroute.admin.v1.Topology toProto(Topology t) {
    io.chainroute.admin.v1.Topology.Builder out =
        io.chainroute.admin.v1.Topology.newBuilder().setVersion(t.version());
    for (ChainView c : t.chains().values()) {
      Chain.Builder chain =
          Chain.newBuilder()
              .setName(c.name())
              .setProtocol(c.config().protocol().configName())
              .setPathPrefix(c.config().pathPrefix())
              .setHead(c.head())
              .setReady(c.ready());
      for (NodeView n : c.nodes()) {
        chain.addNodes(node(n));
      }
      for (Pool p : Pool.values()) {
        io.chainroute.admin.v1.Pool.Builder pool =
            io.chainroute.admin.v1.Pool.newBuilder()
                .setName(p.id())
                .setCluster(io.chainroute.contract.EnvoyContract.nodeCluster(c.config().name(), p));
        for (io.chainroute.routing.PoolMember m : PoolPlan.members(c, p, "")) {
          pool.addMembers(
              PoolMember.newBuilder()
                  .setNode(m.node().name())
                  .setStatus(status(m.status()))
                  .setPriority(m.priority())
                  .setWeight(m.node().score().weight()));
        }
        chain.addPools(pool);
      }
      out.addChains(chain);
    }
    return out.build();
  }

  public static Node node(NodeView n) {
    return Node.newBuilder()
        .setName(n.name())
        .setEndpoint(n.config().redactedEndpoint())
        .setRegion(n.config().region())
        .setArchive(n.config().archive())
        .setHead(n.head())
        .setLag(n.lag())
        .setHealth(health(n.health()))
        .setReason(n.reason())
        .setProbeLatencyMicros(n.latencyMicros())
        .setLastAdvancedUnixMillis(n.lastAdvancedWallMillis())
        .setSmoothedLatencyMicros(n.score().latencyMicros())
        .setWeight(n.score().weight())
        .setWeightReason(n.score().reason())
        .build();
  }

  static io.chainroute.admin.v1.Health health(Health h) {
    return switch (h) {
      case SYNCED -> io.chainroute.admin.v1.Health.HEALTH_SYNCED;
      case LAGGING -> io.chainroute.admin.v1.Health.HEALTH_LAGGING;
      case STALLED -> io.chainroute.admin.v1.Health.HEALTH_STALLED;
      case SYNCING -> io.chainroute.admin.v1.Health.HEALTH_SYNCING;
      case UNREACHABLE -> io.chainroute.admin.v1.Health.HEALTH_UNREACHABLE;
      case UNKNOWN -> io.chainroute.admin.v1.Health.HEALTH_UNKNOWN;
      case DRAINED -> io.chainroute.admin.v1.Health.HEALTH_DRAINED;
      case WRONG_CHAIN -> io.chainroute.admin.v1.Health.HEALTH_WRONG_CHAIN;
    };
  }

  static io.chainroute.admin.v1.EndpointStatus status(EndpointStatus s) {
    return switch (s) {
      case HEALTHY -> io.chainroute.admin.v1.EndpointStatus.ENDPOINT_STATUS_HEALTHY;
      case DEGRADED -> io.chainroute.admin.v1.EndpointStatus.ENDPOINT_STATUS_DEGRADED;
      case NONE -> io.chainroute.admin.v1.EndpointStatus.ENDPOINT_STATUS_UNSPECIFIED;
    };
  }
}
