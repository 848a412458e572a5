package io.chainroute.xds;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.util.List;
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
        .containsExactly("eth-head", "eth-archive", "algo-head", "algo-archive");
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
  void nodesGetHttp1WithAnIdleTimeoutAndAlgodNodesTheirTokenFilterToo() throws Exception {
    List<Cluster> cs = clusters("");
    HttpProtocolOptions eth = options(cs.get(0));
    assertThat(eth.getExplicitHttpConfig().hasHttpProtocolOptions()).isTrue();
    assertThat(eth.getCommonHttpProtocolOptions().getIdleTimeout().getSeconds()).isEqualTo(30);
    assertThat(eth.getHttpFiltersList()).isEmpty();
    HttpProtocolOptions algo = options(cs.get(2));
    assertThat(algo.getCommonHttpProtocolOptions().getIdleTimeout().getSeconds()).isEqualTo(30);
    assertThat(algo.getHttpFiltersList())
        .extracting(HttpFilter::getName)
        .containsExactly("chainroute.node_token", "envoy.filters.http.upstream_codec");
    assertThat(
            cs.get(0)
                .getUpstreamConnectionOptions()
                .getTcpKeepalive()
                .getKeepaliveTime()
                .getValue())
        .isEqualTo(10);
  }
}
