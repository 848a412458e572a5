package io.chainroute.xds;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.common.mutation_rules.v3.HeaderMutation;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class XdsResourcesTest {
  private static final String CONFIG =
      """
      chains:
        - name: eth
          protocol: evm
          pathPrefix: /eth
          nodes: [ { name: a, url: "http://10.0.0.1:8545" }, { name: b, url: "http://10.0.0.2:8545" } ]
        - name: algo
          protocol: algorand
          pathPrefix: /algo
          nodes: [ { name: c, url: "http://10.0.0.3:8080", tokenEnv: T } ]
      """;

  private static List<Cluster> clusters(String envoy) {
    ChainrouteConfig c = ConfigLoader.parse(envoy + CONFIG, k -> "token");
    return XdsResources.clusters(c.chains(), c.envoy());
  }

  private static HttpProtocolOptions options(Cluster c) throws Exception {
    return c.getTypedExtensionProtocolOptionsOrThrow(
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        .unpack(HttpProtocolOptions.class);
  }

  @Test
  void everyClusterHasItsOwnLimitsAndARetryBudgetInsteadOfThreeRetriesPerCluster() {
    List<Cluster> defaults = clusters("");
    assertThat(defaults)
        .extracting(Cluster::getName)
        .containsExactly(
            "eth-head",
            "eth-archive",
            "algo-head",
            "algo-archive",
            "eth-node-a",
            "eth-node-b",
            "algo-node-c");
    for (Cluster c : defaults) {
      CircuitBreakers.Thresholds t = c.getCircuitBreakers().getThresholds(0);
      assertThat(t.getMaxConnections().getValue()).isEqualTo(4096);
      assertThat(t.getMaxPendingRequests().getValue()).isEqualTo(4096);
      assertThat(t.getMaxRequests().getValue()).isEqualTo(4096);
      // Set, so Envoy ignores max_retries (default 3): every request in flight may retry.
      assertThat(t.getRetryBudget().getBudgetPercent().getValue()).isEqualTo(100.0);
      assertThat(t.getRetryBudget().getMinRetryConcurrency().getValue()).isGreaterThanOrEqualTo(64);
      assertThat(t.hasMaxRetries()).isFalse();
    }
    CircuitBreakers.Thresholds set =
        clusters("envoy: { upstreamMaxRequests: 300 }\n")
            .get(0)
            .getCircuitBreakers()
            .getThresholds(0);
    assertThat(set.getMaxRequests().getValue()).isEqualTo(300);
    assertThat(set.getMaxConnections().getValue()).isEqualTo(300);
  }

  @Test
  void failingNodesAreEjectedBrieflyButNeverMoreThanHalfOfACluster() {
    OutlierDetection od = clusters("").get(0).getOutlierDetection();
    assertThat(od.getSplitExternalLocalOriginErrors()).isTrue();
    assertThat(od.getConsecutiveLocalOriginFailure().getValue()).isEqualTo(2);
    assertThat(od.getEnforcingConsecutiveLocalOriginFailure().getValue()).isEqualTo(100);
    assertThat(od.getConsecutiveGatewayFailure().getValue()).isEqualTo(3);
    // Envoy's default for this one is 0 (detect, never eject).
    assertThat(od.getEnforcingConsecutiveGatewayFailure().getValue()).isEqualTo(100);
    assertThat(od.getConsecutive5Xx().getValue()).isEqualTo(5);
    assertThat(od.getEnforcingSuccessRate().getValue()).isZero();
    assertThat(od.getEnforcingLocalOriginSuccessRate().getValue()).isZero();
    assertThat(od.getInterval().getSeconds()).isEqualTo(1);
    assertThat(od.getBaseEjectionTime().getSeconds()).isEqualTo(5);
    assertThat(od.getMaxEjectionTime().getSeconds()).isEqualTo(30);
    assertThat(od.getMaxEjectionPercent().getValue()).isEqualTo(50);
    assertThat(od.hasAlwaysEjectOneHost())
        .as("default false: a one-node cluster is never ejected")
        .isFalse();
  }

  @Test
  void endpointsThatDoNotArriveInTimeDoNotHoldEnvoysStartup() {
    for (Cluster c : clusters("")) {
      assertThat(c.getEdsClusterConfig().getEdsConfig().hasAds()).isTrue();
      assertThat(c.getEdsClusterConfig().getEdsConfig().getInitialFetchTimeout().getSeconds())
          .isEqualTo(5);
    }
  }

  @Test
  void nodesGetHttp1WithAnIdleTimeoutAndOnlyChainsWithNodeHeadersAnUpstreamFilter()
      throws Exception {
    List<Cluster> cs = clusters("");
    HttpProtocolOptions eth = options(cs.get(0));
    assertThat(eth.getExplicitHttpConfig().hasHttpProtocolOptions()).isTrue();
    assertThat(eth.getCommonHttpProtocolOptions().getIdleTimeout().getSeconds()).isEqualTo(30);
    assertThat(eth.getHttpFiltersList()).as("no node of eth has headers").isEmpty();
    HttpProtocolOptions algo = options(cs.get(2));
    assertThat(algo.getCommonHttpProtocolOptions().getIdleTimeout().getSeconds()).isEqualTo(30);
    assertThat(algo.getHttpFiltersList())
        .extracting(HttpFilter::getName)
        .containsExactly("chainroute.node_headers", "envoy.filters.http.upstream_codec");
    assertThat(
            cs.get(0)
                .getUpstreamConnectionOptions()
                .getTcpKeepalive()
                .getKeepaliveTime()
                .getValue())
        .isEqualTo(10);
  }

  private static final String SECRET_A = "Bearer a-s3cret-9f2c";
  private static final String SECRET_B = "b-s3cret-77aa";

  private final NodeConfig keyedA =
      TestConfigs.node("a", "http://10.0.0.1:8545")
          .header("Authorization", "AUTH_A", SECRET_A)
          .build();
  private final NodeConfig keyedB =
      TestConfigs.node("b", "http://10.0.0.2:8545")
          .region("us")
          .header("X-API-Key", "KEY_B", SECRET_B)
          .build();
  private final NodeConfig plainArchive =
      TestConfigs.node("arc", "http://10.0.0.3:8545").archive().build();
  private final NodeConfig lagging = TestConfigs.node("late", "http://10.0.0.4:8545").build();
  private final ChainConfig keyed =
      TestConfigs.evm("prov").nodes(keyedA, keyedB, plainArchive, lagging).build();

  private static NodeView view(NodeConfig n, long lag, Health h, EndpointStatus s) {
    return new NodeView(n, 100 - lag, lag, h, "", s, 900, 0, n.host());
  }

  private Topology keyedTopology() {
    return Topology.of(
        1,
        List.of(
            new ChainView(
                keyed,
                100,
                List.of(
                    view(keyedA, 0, Health.SYNCED, EndpointStatus.HEALTHY),
                    view(keyedB, 1, Health.LAGGING, EndpointStatus.DEGRADED),
                    view(plainArchive, 0, Health.SYNCED, EndpointStatus.HEALTHY),
                    view(lagging, 50, Health.LAGGING, EndpointStatus.NONE)))));
  }

  private static Map<String, String> headerMetadata(LbEndpoint e) {
    Map<String, String> out = new TreeMap<>();
    Struct ns =
        e.getMetadata().getFilterMetadataOrDefault("chainroute", Struct.getDefaultInstance());
    ns.getFieldsOrDefault("headers", Value.getDefaultInstance())
        .getStructValue()
        .getFieldsMap()
        .forEach((k, v) -> out.put(k, v.getStringValue()));
    return out;
  }

  private static Map<String, LbEndpoint> byHost(ClusterLoadAssignment cla) {
    Map<String, LbEndpoint> out = new TreeMap<>();
    for (LocalityLbEndpoints l : cla.getEndpointsList()) {
      for (LbEndpoint e : l.getLbEndpointsList()) {
        out.put(e.getEndpoint().getHostname(), e);
      }
    }
    return out;
  }

  @Test
  void eachChainsFilterReplacesTheClientsCopyOfEveryNodeHeaderWithTheChosenNodesValue()
      throws Exception {
    for (Cluster c : XdsResources.clusters(List.of(keyed))) {
      HttpFilter filter = options(c).getHttpFilters(0);
      assertThat(filter.getName()).isEqualTo("chainroute.node_headers");
      List<HeaderMutation> m =
          filter
              .getTypedConfig()
              .unpack(
                  io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.HeaderMutation
                      .class)
              .getMutations()
              .getRequestMutationsList();
      // Per header (lowercase, sorted): drop whatever the client sent, then set the node's value;
      // Envoy adds nothing when the chosen node has no such header (its value formats to "").
      assertThat(m).hasSize(4);
      assertThat(m.get(0).getRemove()).isEqualTo("authorization");
      assertThat(m.get(1).getAppend().getHeader().getKey()).isEqualTo("authorization");
      assertThat(m.get(1).getAppend().getHeader().getValue())
          .isEqualTo("%UPSTREAM_METADATA(chainroute:headers:authorization)%");
      assertThat(m.get(1).getAppend().getAppendAction())
          .isEqualTo(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD);
      assertThat(m.get(1).getAppend().getKeepEmptyValue()).isFalse();
      assertThat(m.get(2).getRemove()).isEqualTo("x-api-key");
      assertThat(m.get(3).getAppend().getHeader().getValue())
          .isEqualTo("%UPSTREAM_METADATA(chainroute:headers:x-api-key)%");
      // The cluster (CDS) holds names only; values travel in EDS endpoint metadata.
      // Latin-1 maps each byte to one char: an ASCII value in any field shows as itself.
      assertThat(new String(c.toByteArray(), StandardCharsets.ISO_8859_1)).doesNotContain("s3cret");
    }
  }

  @Test
  void eachEndpointCarriesOnlyItsOwnNodesHeaderValues() {
    ClusterLoadAssignment head = XdsResources.assignments(keyedTopology(), "").get(0);
    assertThat(head.getClusterName()).isEqualTo("prov-head");
    Map<String, LbEndpoint> hosts = byHost(head);
    assertThat(headerMetadata(hosts.get("a")))
        .containsExactly(Map.entry("authorization", SECRET_A));
    assertThat(headerMetadata(hosts.get("b"))).containsExactly(Map.entry("x-api-key", SECRET_B));
    assertThat(hosts.get("arc").hasMetadata()).as("a node without headers").isFalse();
  }

  @Test
  void endpointsAreHealthyOrDegradedByStatusStaleNodesAreLeftOutAndArchiveNodesComeLast() {
    List<ClusterLoadAssignment> all = XdsResources.assignments(keyedTopology(), "eu");
    ClusterLoadAssignment head = all.get(0);
    ClusterLoadAssignment archive = all.get(1);
    assertThat(head.getPolicy().getOverprovisioningFactor().getValue())
        .isEqualTo(XdsResources.OVERPROVISIONING_FACTOR);
    Map<String, LbEndpoint> hosts = byHost(head);
    assertThat(hosts).containsOnlyKeys("a", "b", "arc");
    assertThat(hosts.get("a").getHealthStatus()).isEqualTo(HealthStatus.HEALTHY);
    assertThat(hosts.get("b").getHealthStatus()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(hosts.get("a").getEndpoint().getAddress().getSocketAddress().getPortValue())
        .isEqualTo(8545);
    // Envoy in eu: a (no region) 0, b (us) 1, the archive node after every full node: 2.
    Map<String, Integer> priority = new TreeMap<>();
    for (LocalityLbEndpoints l : head.getEndpointsList()) {
      l.getLbEndpointsList()
          .forEach(e -> priority.put(e.getEndpoint().getHostname(), l.getPriority()));
    }
    assertThat(priority).containsExactly(Map.entry("a", 0), Map.entry("arc", 2), Map.entry("b", 1));
    assertThat(byHost(archive)).containsOnlyKeys("arc");
    assertThat(archive.getEndpoints(0).getPriority()).isZero();
  }

  @Test
  void nothingThatIsLoggedOrShownCarriesAHeaderValue() {
    Topology t = keyedTopology();
    assertThat(t.toString())
        .doesNotContain(SECRET_A, SECRET_B)
        .contains("Authorization from $AUTH_A");
    assertThat(keyed.toString()).doesNotContain(SECRET_A, SECRET_B);
    assertThat(keyedA.headers().get(0).toString()).isEqualTo("Authorization from $AUTH_A");
  }
}
