package io.chainroute.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.Value;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.EnvoyConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.NodeHeader;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.routing.Pool;
import io.chainroute.routing.PoolMember;
import io.chainroute.routing.PoolPlan;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.cluster.v3.TrackClusterStats;
import io.envoyproxy.envoy.config.cluster.v3.UpstreamConnectionOptions;
import io.envoyproxy.envoy.config.common.mutation_rules.v3.HeaderMutation;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Http1ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TcpKeepalive;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.Mutations;
import io.envoyproxy.envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
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
 * other node is left out, so panic mode can never route to a stale node. The overprovisioning
 * factor is set very high so one HEALTHY host keeps a priority at 100% and DEGRADED hosts only take
 * traffic when no HEALTHY host exists at any priority.
 */
public final class XdsResources {
  /** Envoy's default is 140 (1.4x); this makes any healthy host count as a full priority level. */
  static final int OVERPROVISIONING_FACTOR = 1_000_000;

  private XdsResources() {}

  /** The cluster set with default {@link EnvoyConfig} limits. */
  public static List<Cluster> clusters(List<ChainConfig> chains) {
    return clusters(chains, EnvoyConfig.defaults());
  }

  /**
   * The cluster set: {@code <chain>-head} and {@code <chain>-archive} for every chain, then {@code
   * <chain>-node-<node>} for every node.
   */
  public static List<Cluster> clusters(List<ChainConfig> chains, EnvoyConfig envoy) {
    List<Cluster> out = new ArrayList<>();
    for (ChainConfig chain : chains) {
      List<String> headers = nodeHeaderKeys(chain);
      boolean rewrite = NodeRequests.needed(chain);
      List<Cluster.TransportSocketMatch> tls = NodeRequests.tlsMatches(chain);
      for (Pool pool : Pool.values()) {
        out.add(
            cluster(EnvoyContract.nodeCluster(chain.name(), pool), envoy, headers, rewrite, tls));
      }
    }
    for (ChainConfig chain : chains) {
      List<String> headers = nodeHeaderKeys(chain);
      for (NodeConfig node : chain.nodes()) {
        // One node alone, for state that lives there (EVM filters): see nodeAssignment. Its TLS
        // socket and URL rewrite as in the pools.
        out.add(
            cluster(
                EnvoyContract.nodeCluster(chain.name(), node.name()),
                envoy,
                headers,
                node.rewritten(),
                NodeRequests.tlsMatches(chain).stream()
                    .filter(m -> m.getName().equals("tls-" + node.name()))
                    .toList()));
      }
    }
    return out;
  }

  /**
   * One EDS cluster. Every value here is explained in docs/reliability-envoy.md; the short why:
   *
   * <ul>
   *   <li>circuit breakers: each cluster has its own limits, so one chain's overload cannot take
   *       another's connections; retries are bounded by a budget relative to the requests in flight
   *       instead of Envoy's fixed default of 3 concurrent retries per cluster (which failed
   *       requests with {@code upstream_rq_retry_overflow} when one node died under load);
   *   <li>outlier detection: a node that refuses, resets or times out twice in a row is ejected for
   *       a few seconds, before chainroute's next probe notices; never more than half of a
   *       cluster's nodes (a one-node cluster is never ejected);
   *   <li>HTTP/1.1 to nodes (what every node serves), idle connections closed before typical node
   *       keep-alive limits close them under a request.
   * </ul>
   */
  static Cluster cluster(String name, EnvoyConfig envoy, List<String> nodeHeaders) {
    return cluster(name, envoy, nodeHeaders, false, List.of());
  }

  /**
   * @param rewrite some node's path, query or Host is set after picking it ({@link NodeRequests})
   * @param tls the chain's https nodes' sockets ({@link NodeRequests#tlsMatches})
   */
  static Cluster cluster(
      String name,
      EnvoyConfig envoy,
      List<String> nodeHeaders,
      boolean rewrite,
      List<Cluster.TransportSocketMatch> tls) {
    int limit = envoy.upstreamMaxRequests();
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.EDS)
        .setEdsClusterConfig(
            Cluster.EdsClusterConfig.newBuilder()
                .setEdsConfig(
                    ConfigSource.newBuilder()
                        .setAds(AggregatedConfigSource.getDefaultInstance())
                        .setResourceApiVersion(ApiVersion.V3)
                        // A cluster whose endpoints do not arrive in time starts empty (503
                        // -32002) instead of holding Envoy's initialisation for the default 15 s.
                        .setInitialFetchTimeout(seconds(5))))
        .setConnectTimeout(seconds(1))
        .setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST)
        .setCommonLbConfig(
            Cluster.CommonLbConfig.newBuilder()
                // Never spray traffic over excluded (stale) nodes when few are healthy.
                .setHealthyPanicThreshold(Percent.newBuilder().setValue(0)))
        .setCircuitBreakers(
            CircuitBreakers.newBuilder()
                .addThresholds(
                    CircuitBreakers.Thresholds.newBuilder()
                        .setPriority(RoutingPriority.DEFAULT)
                        // HTTP/1.1: one connection per request in flight.
                        .setMaxConnections(UInt32Value.of(limit))
                        .setMaxPendingRequests(UInt32Value.of(limit))
                        .setMaxRequests(UInt32Value.of(limit))
                        // Every request in flight may retry at once (a request has at most one
                        // retry or hedge running per per-try timeout): when the node that held
                        // all of them dies, all of them move. The floor is a quarter of the
                        // cluster's request limit, not a small constant: a retry waiting out its
                        // back-off counts as a retry but not as a request in flight, so with a
                        // node refusing connections the retries outnumber the requests (a floor of
                        // 64 overflowed: 38 of 3,175 reads failed when a geth node restarted at
                        // 300 req/s). num_retries and the request limit still bound a storm.
                        .setRetryBudget(
                            CircuitBreakers.Thresholds.RetryBudget.newBuilder()
                                .setBudgetPercent(
                                    Percent.newBuilder().setValue(RETRY_BUDGET_PERCENT))
                                .setMinRetryConcurrency(UInt32Value.of(minRetryConcurrency(limit))))
                        .setTrackRemaining(true)))
        .setOutlierDetection(outlierDetection())
        // Requests, errors and latency per node in Envoy's /stats/prometheus (labelled with the
        // cluster and the endpoint's address and host name, which is the node's config name).
        .setTrackClusterStats(TrackClusterStats.newBuilder().setPerEndpointStats(true))
        .setUpstreamConnectionOptions(
            UpstreamConnectionOptions.newBuilder()
                // A node host that vanished (no RST) is noticed on a pooled or long-waiting
                // connection in about 10 + 3 x 5 s instead of the kernel's two hours.
                .setTcpKeepalive(
                    TcpKeepalive.newBuilder()
                        .setKeepaliveTime(UInt32Value.of(10))
                        .setKeepaliveInterval(UInt32Value.of(5))
                        .setKeepaliveProbes(UInt32Value.of(3))))
        .putTypedExtensionProtocolOptions(
            HttpProtocolOptions.getDescriptor().getFullName(),
            Any.pack(protocolOptions(nodeHeaders, rewrite)))
        .addAllTransportSocketMatches(tls)
        .build();
  }

  static final int RETRY_BUDGET_PERCENT = 100;
  static final int MIN_RETRY_CONCURRENCY = 64;

  /** The retry budget's floor for a cluster limited to {@code limit} requests. */
  static int minRetryConcurrency(int limit) {
    return Math.max(MIN_RETRY_CONCURRENCY, limit / 4);
  }

  static OutlierDetection outlierDetection() {
    return OutlierDetection.newBuilder()
        // Connect failures, resets and per-try timeouts (local origin) count apart from the
        // HTTP status a node answered (external origin).
        .setSplitExternalLocalOriginErrors(true)
        .setConsecutiveLocalOriginFailure(UInt32Value.of(2))
        .setEnforcingConsecutiveLocalOriginFailure(UInt32Value.of(100))
        // 502/503/504 from the node itself (a node busy catching up, a node's own proxy).
        .setConsecutiveGatewayFailure(UInt32Value.of(3))
        .setEnforcingConsecutiveGatewayFailure(UInt32Value.of(100))
        // JSON-RPC errors are HTTP 200; five 5xx in a row is a sick node, not a bad request.
        .setConsecutive5Xx(UInt32Value.of(5))
        .setEnforcingConsecutive5Xx(UInt32Value.of(100))
        // Rate-based ejection needs 5+ busy hosts and would fight chainroute's own weights.
        .setEnforcingSuccessRate(UInt32Value.of(0))
        .setEnforcingLocalOriginSuccessRate(UInt32Value.of(0))
        .setInterval(seconds(1))
        .setBaseEjectionTime(seconds(5))
        .setMaxEjectionTime(seconds(30))
        // Envoy ejects only while (ejected + 1) / hosts <= 50 %: one node of 1 is never ejected,
        // one of 2 or 3, two of 4 (always_eject_one_host stays false).
        .setMaxEjectionPercent(UInt32Value.of(50))
        .build();
  }

  /** The (lowercase) names of the headers any node of {@code chain} is configured with, sorted. */
  static List<String> nodeHeaderKeys(ChainConfig chain) {
    return chain.nodes().stream()
        .flatMap(n -> n.headers().stream())
        .map(NodeHeader::key)
        .distinct()
        .sorted()
        .toList();
  }

  /**
   * HTTP/1.1 to nodes, idle pooled connections closed after 30 s (before the 60-120 s keep-alive of
   * common node servers and proxies closes one under a request).
   *
   * <p>Node headers (config {@code headers:} and its {@code tokenEnv} shorthand): for each header
   * name any node of the chain has, an upstream header_mutation filter (run after Envoy picked the
   * host) first removes the client's copy, then sets the value from the chosen endpoint's {@code
   * chainroute.headers.<name>} metadata. Envoy skips a header whose value formats to "", so a node
   * configured without that header gets none, and no node ever sees another node's key or the
   * client's. Route-level headers cannot do this: they are evaluated before the host is chosen.
   */
  static HttpProtocolOptions protocolOptions(List<String> nodeHeaders, boolean rewrite) {
    HttpProtocolOptions.Builder options =
        HttpProtocolOptions.newBuilder()
            .setCommonHttpProtocolOptions(
                io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.newBuilder()
                    .setIdleTimeout(seconds(30)))
            .setExplicitHttpConfig(
                HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                    .setHttpProtocolOptions(Http1ProtocolOptions.getDefaultInstance()));
    if (nodeHeaders.isEmpty() && !rewrite) {
      return options.build();
    }
    Mutations.Builder mutations = Mutations.newBuilder();
    for (String key : nodeHeaders) {
      mutations
          .addRequestMutations(HeaderMutation.newBuilder().setRemove(key))
          .addRequestMutations(
              fromEndpointMetadata(key, EnvoyContract.METADATA_NODE_HEADERS + ":" + key));
    }
    if (rewrite) {
      mutations.addAllRequestMutations(NodeRequests.mutations());
    }
    options.addHttpFilters(
        HttpFilter.newBuilder()
            .setName(EnvoyContract.NODE_HEADERS_FILTER)
            .setTypedConfig(
                Any.pack(
                    io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.HeaderMutation
                        .newBuilder()
                        .setMutations(mutations)
                        .build())));
    if (rewrite) {
      options.addHttpFilters(NodeRequests.filter());
    }
    return options
        .addHttpFilters(
            HttpFilter.newBuilder()
                .setName("envoy.filters.http.upstream_codec")
                .setTypedConfig(Any.pack(UpstreamCodec.getDefaultInstance())))
        .build();
  }

  /**
   * Sets {@code header} to the chosen endpoint's {@code chainroute:<key>} metadata; Envoy skips a
   * header whose value formats to "" (an endpoint without that key).
   */
  static HeaderMutation fromEndpointMetadata(String header, String key) {
    return HeaderMutation.newBuilder()
        .setAppend(
            HeaderValueOption.newBuilder()
                .setHeader(
                    HeaderValue.newBuilder()
                        .setKey(header)
                        .setValue(
                            "%UPSTREAM_METADATA("
                                + EnvoyContract.METADATA_NAMESPACE
                                + ":"
                                + key
                                + ")%"))
                .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD))
        .build();
  }

  /**
   * A node's header values as endpoint metadata ({@code chainroute.headers.<name>}), for the
   * cluster's upstream filter. xDS carries them to Envoy and nowhere else: endpoints are never
   * logged, and /status and the admin API are built from the topology, not from these.
   */
  static Metadata nodeHeaderMetadata(NodeConfig node) {
    Struct.Builder values = Struct.newBuilder();
    for (NodeHeader h : node.headers()) {
      values.putFields(h.key(), Value.newBuilder().setStringValue(h.value()).build());
    }
    Struct.Builder chainroute =
        Struct.newBuilder()
            .putFields(
                EnvoyContract.METADATA_NODE_HEADERS,
                Value.newBuilder().setStructValue(values).build());
    NodeRequests.putMetadata(chainroute, node);
    Metadata.Builder metadata =
        Metadata.newBuilder()
            .putFilterMetadata(EnvoyContract.METADATA_NAMESPACE, chainroute.build());
    Struct tls = NodeRequests.tlsMatch(node);
    if (tls != null) {
      metadata.putFilterMetadata(NodeRequests.TLS_MATCH_METADATA, tls);
    }
    return metadata.build();
  }

  private static Duration seconds(long s) {
    return Duration.newBuilder().setSeconds(s).build();
  }

  /** Endpoints of every cluster, as seen by an Envoy in {@code envoyRegion} ("" when unknown). */
  public static List<ClusterLoadAssignment> assignments(Topology topology, String envoyRegion) {
    List<ClusterLoadAssignment> out = new ArrayList<>();
    for (ChainView view : topology.chains().values()) {
      for (Pool pool : Pool.values()) {
        out.add(
            assignment(
                EnvoyContract.nodeCluster(view.config().name(), pool),
                PoolPlan.members(view, pool, envoyRegion)));
      }
    }
    for (ChainView view : topology.chains().values()) {
      for (NodeView n : view.nodes()) {
        out.add(nodeAssignment(view.config().name(), n));
      }
    }
    return out;
  }

  /**
   * A node's own cluster: the node HEALTHY while it answers, whether or not it is at the head (a
   * node a block behind still holds its filters); empty when it does not. chainroute sends a
   * request here only while the node answers and answers the rest itself (the node's own "filter
   * not found"), so an empty cluster is a race of one probe interval.
   */
  static ClusterLoadAssignment nodeAssignment(String chain, NodeView n) {
    List<PoolMember> members =
        n.address() != null && n.health() != Health.UNREACHABLE && n.health() != Health.UNKNOWN
            ? List.of(new PoolMember(n, EndpointStatus.HEALTHY, 0))
            : List.of();
    return assignment(EnvoyContract.nodeCluster(chain, n.name()), members);
  }

  static ClusterLoadAssignment assignment(String cluster, List<PoolMember> members) {
    // Group by (priority, region): one LocalityLbEndpoints each, in a stable order.
    // PoolPlan already gives priorities 0..N without gaps, as Envoy wants them.
    Map<String, LocalityLbEndpoints.Builder> groups = new TreeMap<>();
    for (PoolMember m : members) {
      if (m.node().address() == null) {
        continue;
      }
      String region = m.node().config().region();
      int priority = m.priority();
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
      NodeConfig node = m.node().config();
      if (!node.headers().isEmpty() || node.rewritten()) {
        lb.setMetadata(nodeHeaderMetadata(node));
      }
      group.addLbEndpoints(
          lb.setHealthStatus(
                  m.status() == EndpointStatus.HEALTHY
                      ? HealthStatus.HEALTHY
                      : HealthStatus.DEGRADED)
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
