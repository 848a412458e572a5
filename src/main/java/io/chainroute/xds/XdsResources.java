package io.chainroute.xds;

import com.google.protobuf.Duration;
import com.google.protobuf.UInt32Value;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Topology;
import io.chainroute.routing.Pool;
import io.chainroute.routing.PoolMember;
import io.chainroute.routing.PoolPlan;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.type.v3.Percent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the Envoy resources chainroute publishes: one EDS cluster per chain and pool, and its
 * endpoints from the current {@link Topology}. Pure functions of their inputs.
 *
 * <p>Endpoint rules (DESIGN.md): synced nodes are HEALTHY, slightly-behind nodes DEGRADED, every
 * other node is left out, so panic mode can never route to a stale node. The overprovisioning factor
 * is set very high so one HEALTHY host keeps a priority at 100% and DEGRADED hosts only take traffic
 * when no HEALTHY host exists at any priority.
 */
public final class XdsResources {
  /** Envoy's default is 140 (1.4x); this makes any healthy host count as a full priority level. */
  static final int OVERPROVISIONING_FACTOR = 1_000_000;

  private XdsResources() {}

  /** The cluster set: {@code <chain>-head} and {@code <chain>-archive} for every chain. */
  public static List<Cluster> clusters(List<ChainConfig> chains) {
    List<Cluster> out = new ArrayList<>();
    for (ChainConfig chain : chains) {
      for (Pool pool : Pool.values()) {
        out.add(cluster(chain.clusterName(pool.id())));
      }
    }
    return out;
  }

  static Cluster cluster(String name) {
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(
            Cluster.EdsClusterConfig.newBuilder()
                .setEdsConfig(
                    ConfigSource.newBuilder()
                        .setAds(AggregatedConfigSource.getDefaultInstance())
                        .setResourceApiVersion(ApiVersion.V3)))
        .setConnectTimeout(Duration.newBuilder().setSeconds(1))
        .setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST)
        .setCommonLbConfig(
            Cluster.CommonLbConfig.newBuilder()
                // Never spray traffic over excluded (stale) nodes when few are healthy.
                .setHealthyPanicThreshold(Percent.newBuilder().setValue(0)))
        .build();
  }

  /** Endpoints of every cluster, as seen by an Envoy in {@code envoyRegion} ("" when unknown). */
  public static List<ClusterLoadAssignment> assignments(Topology topology, String envoyRegion) {
    List<ClusterLoadAssignment> out = new ArrayList<>();
    for (ChainView view : topology.chains().values()) {
      for (Pool pool : Pool.values()) {
        out.add(
            assignment(
                view.config().clusterName(pool.id()), PoolPlan.members(view, pool, envoyRegion)));
      }
    }
    return out;
  }

  static ClusterLoadAssignment assignment(String cluster, List<PoolMember> members) {
    // Group by (priority, region): one LocalityLbEndpoints each, in a stable order.
    // Envoy wants priorities 0..N without gaps: compact the plan's priorities to ranks.
    List<Integer> ranks =
        members.stream().map(PoolMember::priority).distinct().sorted().toList();
    Map<String, LocalityLbEndpoints.Builder> groups = new TreeMap<>();
    for (PoolMember m : members) {
      if (m.node().address() == null) {
        continue;
      }
      String region = m.node().config().region();
      int priority = ranks.indexOf(m.priority());
      String key = String.format("%03d/%s", priority, region);
      LocalityLbEndpoints.Builder group =
          groups.computeIfAbsent(
              key,
              k ->
                  LocalityLbEndpoints.newBuilder()
                      .setLocality(Locality.newBuilder().setRegion(region))
                      .setPriority(priority)
                      .setLoadBalancingWeight(UInt32Value.of(1)));
      group.addLbEndpoints(
          LbEndpoint.newBuilder()
              .setHealthStatus(
                  m.status() == EndpointStatus.HEALTHY ? HealthStatus.HEALTHY : HealthStatus.DEGRADED)
              .setEndpoint(
                  Endpoint.newBuilder()
                      .setHostname(m.node().name())
                      .setAddress(
                          Address.newBuilder()
                              .setSocketAddress(
                                  SocketAddress.newBuilder()
                                      .setAddress(m.node().address())
                                      .setPortValue(m.node().config().port())))));
    }
    ClusterLoadAssignment.Builder cla =
        ClusterLoadAssignment.newBuilder()
            .setClusterName(cluster)
            .setPolicy(
                ClusterLoadAssignment.Policy.newBuilder()
                    .setOverprovisioningFactor(UInt32Value.of(OVERPROVISIONING_FACTOR)));
    groups.values().forEach(cla::addEndpoints);
    return cla.build();
  }
}
