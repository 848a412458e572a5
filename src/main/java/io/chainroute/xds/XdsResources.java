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
        Cluster c = cluster(chain.clusterName(pool.id()));
        if (chain.nodes().stream().anyMatch(n -> !n.token().isEmpty())) {
          c = withNodeTokens(c);
        }
        out.add(c);
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

  /**
   * Sends each node its own API token: an upstream header_mutation filter (run after Envoy picked
   * the host) sets {@code X-Algo-API-Token} from the endpoint's {@code chainroute.token} metadata.
   * Route-level headers cannot do this: they are evaluated before the host is chosen.
   */
  static Cluster withNodeTokens(Cluster c) {
    var mutation =
        io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.HeaderMutation.newBuilder()
            .setMutations(
                io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.Mutations.newBuilder()
                    .addRequestMutations(
                        io.envoyproxy.envoy.config.common.mutation_rules.v3.HeaderMutation.newBuilder()
                            .setAppend(
                                io.envoyproxy.envoy.config.core.v3.HeaderValueOption.newBuilder()
                                    .setHeader(
                                        io.envoyproxy.envoy.config.core.v3.HeaderValue.newBuilder()
                                            .setKey("x-algo-api-token")
                                            .setValue("%UPSTREAM_METADATA(chainroute:token)%"))
                                    .setAppendAction(
                                        io.envoyproxy.envoy.config.core.v3.HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD))))
            .build();
    var options =
        io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.newBuilder()
            .setExplicitHttpConfig(
                io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                    .setHttpProtocolOptions(io.envoyproxy.envoy.config.core.v3.Http1ProtocolOptions.getDefaultInstance()))
            .addHttpFilters(
                io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter.newBuilder()
                    .setName("chainroute.node_token")
                    .setTypedConfig(com.google.protobuf.Any.pack(mutation)))
            .addHttpFilters(
                io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter.newBuilder()
                    .setName("envoy.filters.http.upstream_codec")
                    .setTypedConfig(
                        com.google.protobuf.Any.pack(
                            io.envoyproxy.envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec.getDefaultInstance())))
            .build();
    return c.toBuilder()
        .putTypedExtensionProtocolOptions("envoy.extensions.upstreams.http.v3.HttpProtocolOptions", com.google.protobuf.Any.pack(options))
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
      LbEndpoint.Builder lb = LbEndpoint.newBuilder();
      if (!m.node().config().token().isEmpty()) {
        // The node's API token, for Envoy to send to this node only (the bootstrap's
        // %UPSTREAM_METADATA(["chainroute","token"])% header). xDS carries it to Envoy, nowhere else.
        lb.setMetadata(
            io.envoyproxy.envoy.config.core.v3.Metadata.newBuilder()
                .putFilterMetadata(
                    "chainroute",
                    com.google.protobuf.Struct.newBuilder()
                        .putFields("token", com.google.protobuf.Value.newBuilder().setStringValue(m.node().config().token()).build())
                        .build()));
      }
      group.addLbEndpoints(
          lb
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
