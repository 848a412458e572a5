package io.chainroute.xds;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.CaBundle;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Per-node TLS sockets and the path/query/Host rewrite, as published to Envoy. */
class NodeRequestsTest {
  private static final CaBundle CUSTOM =
      new CaBundle("/etc/chainroute/provider-ca.pem", "-----BEGIN CERTIFICATE-----\nX\n", false);
  private static final CaBundle SYSTEM =
      new CaBundle(CaBundle.SYSTEM_BUNDLE, "-----BEGIN CERTIFICATE-----\nY\n", true);

  private final NodeConfig own = TestConfigs.node("own", "http://10.0.0.1:8545").build();
  private final NodeConfig hosted =
      TestConfigs.node("hosted", "https://eth.provider.example/v2/k3yInPath").ca(CUSTOM).build();
  private final NodeConfig keyed =
      TestConfigs.node("keyed", "https://rpc.other.example:8443")
          .ca(SYSTEM)
          .header("x-api-key", "OTHER_KEY", "h3aderK3y")
          .build();
  private final ChainConfig mixed = TestConfigs.evm("eth").nodes(own, hosted, keyed).build();

  private static HttpProtocolOptions options(Cluster c) throws Exception {
    return c.getTypedExtensionProtocolOptionsOrThrow(
            HttpProtocolOptions.getDescriptor().getFullName())
        .unpack(HttpProtocolOptions.class);
  }

  @Test
  void eachHttpsNodeGetsItsOwnTlsSocketWithSniAndANameCheckAndHttpNodesStayPlain()
      throws Exception {
    for (Cluster c : XdsResources.clusters(List.of(mixed)).subList(0, 2)) {
      // http nodes match nothing and use the cluster's default (plaintext) socket.
      assertThat(c.hasTransportSocket()).isFalse();
      Map<String, Cluster.TransportSocketMatch> matches =
          c.getTransportSocketMatchesList().stream()
              .collect(Collectors.toMap(Cluster.TransportSocketMatch::getName, m -> m));
      assertThat(matches).containsOnlyKeys("tls-hosted", "tls-keyed");
      Cluster.TransportSocketMatch m = matches.get("tls-hosted");
      assertThat(m.getMatch().getFieldsOrThrow("node").getStringValue()).isEqualTo("hosted");
      UpstreamTlsContext tls =
          m.getTransportSocket().getTypedConfig().unpack(UpstreamTlsContext.class);
      assertThat(tls.getSni()).isEqualTo("eth.provider.example");
      var validation = tls.getCommonTlsContext().getValidationContext();
      assertThat(validation.getTrustedCa().getInlineString()).isEqualTo(CUSTOM.pem());
      assertThat(validation.getMatchTypedSubjectAltNamesList())
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.getSanType()).isEqualTo(SubjectAltNameMatcher.SanType.DNS);
                assertThat(s.getMatcher().getExact()).isEqualTo("eth.provider.example");
              });
      UpstreamTlsContext system =
          matches
              .get("tls-keyed")
              .getTransportSocket()
              .getTypedConfig()
              .unpack(UpstreamTlsContext.class);
      // The system bundle: Envoy reads its own copy of the file.
      assertThat(system.getCommonTlsContext().getValidationContext().getTrustedCa().getFilename())
          .isEqualTo(CaBundle.SYSTEM_BUNDLE);
      // Neither the path's key nor a header value is in CDS.
      assertThat(new String(c.toByteArray(), StandardCharsets.ISO_8859_1))
          .doesNotContain("k3yInPath", "h3aderK3y");
    }
  }

  @Test
  void aSingleNodesClusterHasThatNodesTlsSocketOnly() {
    Map<String, Cluster> byName =
        XdsResources.clusters(List.of(mixed)).stream()
            .collect(Collectors.toMap(Cluster::getName, c -> c));
    assertThat(byName.get("eth-node-hosted").getTransportSocketMatchesList())
        .extracting(Cluster.TransportSocketMatch::getName)
        .containsExactly("tls-hosted");
    assertThat(byName.get("eth-node-own").getTransportSocketMatchesList()).isEmpty();
  }

  @Test
  void theRewriteScriptRunsAfterTheHeaderMutationAndBeforeTheCodecOnlyWhereANodeNeedsIt()
      throws Exception {
    Cluster c = XdsResources.clusters(List.of(mixed)).get(0);
    List<String> filters =
        options(c).getHttpFiltersList().stream().map(HttpFilter::getName).toList();
    assertThat(filters)
        .containsExactly(
            "chainroute.node_headers",
            "chainroute.node_request",
            "envoy.filters.http.upstream_codec");
    ChainConfig plain = TestConfigs.evm("p").nodes(own).build();
    assertThat(options(XdsResources.clusters(List.of(plain)).get(0)).getHttpFiltersCount())
        .as("a chain of http nodes by IP without paths: no filters at all")
        .isZero();
  }

  @Test
  void endpointsCarryTheirOwnPathQueryAuthorityAndTlsMatchOnly() {
    Topology t =
        Topology.of(
            1, List.of(new ChainView(mixed, 100, List.of(view(own), view(hosted), view(keyed)))));
    Map<String, LbEndpoint> byName = new TreeMap<>();
    XdsResources.assignments(t, "")
        .get(0)
        .getEndpointsList()
        .forEach(
            l -> l.getLbEndpointsList().forEach(e -> byName.put(e.getEndpoint().getHostname(), e)));
    assertThat(byName.get("own").hasMetadata()).isFalse();
    var h = byName.get("hosted").getMetadata();
    var ns = h.getFilterMetadataOrThrow("chainroute");
    assertThat(ns.getFieldsOrThrow("path").getStringValue()).isEqualTo("/v2/k3yInPath");
    assertThat(ns.containsFields("query")).isFalse();
    assertThat(ns.getFieldsOrThrow("authority").getStringValue()).isEqualTo("eth.provider.example");
    assertThat(
            h.getFilterMetadataOrThrow("envoy.transport_socket_match")
                .getFieldsOrThrow("node")
                .getStringValue())
        .isEqualTo("hosted");
    var k = byName.get("keyed").getMetadata().getFilterMetadataOrThrow("chainroute");
    assertThat(k.containsFields("path")).isFalse();
    assertThat(k.getFieldsOrThrow("authority").getStringValue())
        .isEqualTo("rpc.other.example:8443");
  }

  @Test
  void theScriptStartsEveryAttemptFromTheRequestsOwnPathSoARetryNeverCarriesAnotherNodesKey() {
    // The saved copy is read before any rewrite and is what the path is built from.
    assertThat(NodeRequests.LUA)
        .contains("meta:get(SAVED)", "meta:set(SAVED, \"path\", path)", "path = saved[\"path\"]")
        .contains("headers:remove(\"x-chainroute-node-path\")");
  }

  private static NodeView view(NodeConfig n) {
    return new NodeView(n, 100, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 900, 0, "10.0.0.9");
  }
}
