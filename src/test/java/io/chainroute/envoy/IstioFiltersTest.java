package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.contract.EnvoyContract;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The rendered EnvoyFilters: the resources have exactly the fields of Istio's EnvoyFilter
 * (v1alpha3) that they use, with values from its enums, and every {@code patch.value} parses
 * strictly into the Envoy proto its {@code applyTo} names. {@link #gatewayBootstrap} applies the
 * patches to a gateway-shaped bootstrap the way istiod does, for the real Envoy to validate ({@link
 * EnvoyValidateTest}).
 */
class IstioFiltersTest {
  private static final Set<String> APPLY_TO =
      Set.of("CLUSTER", "NETWORK_FILTER", "HTTP_FILTER", "VIRTUAL_HOST");
  private static final Set<String> OPERATIONS = Set.of("ADD", "MERGE", "INSERT_BEFORE");

  static ChainrouteConfig demo() {
    return ConfigLoader.loadForBootstrap(Path.of("config/demo.yaml"));
  }

  static List<JsonNode> rendered(ChainrouteConfig config) throws Exception {
    String yaml =
        IstioFilters.render(
            config,
            io.chainroute.adapters.ChainAdapters::forChain,
            io.chainroute.xds.XdsResources.clusters(config.chains(), config.envoy()),
            "istio-system",
            "ingressgateway",
            "rpc.example.com");
    List<JsonNode> out = new ArrayList<>();
    try (var parser = new YAMLFactory().createParser(yaml)) {
      Iterator<JsonNode> it = new YAMLMapper().readValues(parser, JsonNode.class);
      it.forEachRemaining(out::add);
    }
    return out;
  }

  private static <T extends Message.Builder> T parse(JsonNode value, T builder) throws Exception {
    // Strict: an unknown field or a wrong type fails here.
    JsonFormat.parser()
        .usingTypeRegistry(BootstrapRenderer.TYPES)
        .merge(new ObjectMapper().writeValueAsString(value), builder);
    return builder;
  }

  private static void onlyKeys(JsonNode n, String... keys) {
    List<String> names = new ArrayList<>();
    n.fieldNames().forEachRemaining(names::add);
    assertThat(names).as(n.toString()).containsExactlyInAnyOrder(keys);
  }

  @Test
  void chainsWithNodeHeadersHostedPathsAndTlsRenderAndParseStrictly() throws Exception {
    // The chain clusters' upstream filters (header mutation, codec, Lua path rewrite) and TLS
    // socket matches are Any-packed: the printer failed on them until TYPES listed them.
    ChainrouteConfig hosted =
        ConfigLoader.parse(
            """
            chains:
              - name: eth
                protocol: evm
                nodes:
                  - { name: own, url: "http://10.0.0.1:8545" }
                  - name: provider
                    url: "https://rpc.provider.example/v2/key?x=1"
                    headers: { x-api-key: { env: K } }
              - name: algo
                protocol: algorand
                nodes:
                  - { name: algod-1, url: "http://10.0.3.2:8080", tokenEnv: T }
            """,
            v -> "secret-value");
    List<String> clusters = new ArrayList<>();
    for (JsonNode d : rendered(hosted)) {
      for (JsonNode p : d.get("spec").get("configPatches")) {
        if (p.get("applyTo").asText().equals("CLUSTER")) {
          clusters.add(parse(p.get("patch").get("value"), Cluster.newBuilder()).getName());
        }
      }
    }
    assertThat(clusters).contains("eth-head", "eth-archive", "algo-head");
    String eds =
        BootstrapRenderer.renderEdsOnly(
            hosted,
            "e",
            io.chainroute.adapters.ChainAdapters::forChain,
            io.chainroute.xds.XdsResources.clusters(hosted.chains(), hosted.envoy()));
    assertThat(eds).contains("envoy.filters.http.upstream_codec").doesNotContain("secret-value");
  }

  @Test
  void everyResourceHasEnvoyFiltersShapeAndEveryValueParsesIntoItsEnvoyProto() throws Exception {
    List<JsonNode> docs = rendered(demo());
    assertThat(docs)
        .extracting(d -> d.get("metadata").get("name").asText())
        .containsExactly("chainroute-clusters", "chainroute-filters", "chainroute-routes");
    List<String> clusters = new ArrayList<>();
    List<String> httpFilters = new ArrayList<>();
    for (JsonNode d : docs) {
      onlyKeys(d, "apiVersion", "kind", "metadata", "spec");
      assertThat(d.get("apiVersion").asText()).isEqualTo("networking.istio.io/v1alpha3");
      assertThat(d.get("kind").asText()).isEqualTo("EnvoyFilter");
      onlyKeys(d.get("metadata"), "name", "namespace");
      onlyKeys(d.get("spec"), "workloadSelector", "configPatches");
      assertThat(d.get("spec").get("workloadSelector").get("labels").get("istio").asText())
          .isEqualTo("ingressgateway");
      for (JsonNode p : d.get("spec").get("configPatches")) {
        onlyKeys(p, "applyTo", "match", "patch");
        onlyKeys(p.get("patch"), "operation", "value");
        assertThat(p.get("match").get("context").asText()).isEqualTo("GATEWAY");
        String applyTo = p.get("applyTo").asText();
        assertThat(applyTo).isIn(APPLY_TO);
        assertThat(p.get("patch").get("operation").asText()).isIn(OPERATIONS);
        JsonNode value = p.get("patch").get("value");
        switch (applyTo) {
          case "CLUSTER" -> clusters.add(parse(value, Cluster.newBuilder()).getName());
          case "HTTP_FILTER" -> httpFilters.add(parse(value, HttpFilter.newBuilder()).getName());
          case "NETWORK_FILTER" ->
              assertThat(
                      parse(value, Filter.newBuilder())
                          .getTypedConfig()
                          .unpack(HttpConnectionManager.class)
                          .getEarlyHeaderMutationExtensionsCount())
                  .isEqualTo(1);
          default ->
              assertThat(parse(value, VirtualHost.newBuilder()).getDomainsList())
                  .containsExactly("rpc.example.com");
        }
      }
    }
    assertThat(clusters)
        .contains(
            EnvoyContract.XDS_CLUSTER,
            EnvoyContract.EXTPROC_CLUSTER,
            "eth-local-head",
            "eth-local-archive");
    assertThat(httpFilters).last().isEqualTo(BootstrapRenderer.EXT_PROC_FILTER);
  }

  @Test
  void theChainClustersTakeTheirEndpointsFromChainrouteOverEds() throws Exception {
    for (JsonNode p : rendered(demo()).get(0).get("spec").get("configPatches")) {
      Cluster c = parse(p.get("patch").get("value"), Cluster.newBuilder()).build();
      if (c.getType() != Cluster.DiscoveryType.EDS) {
        continue;
      }
      assertThat(c.getEdsClusterConfig().getServiceName()).isEqualTo(c.getName());
      assertThat(
              c.getEdsClusterConfig()
                  .getEdsConfig()
                  .getApiConfigSource()
                  .getGrpcServices(0)
                  .getEnvoyGrpc()
                  .getClusterName())
          .isEqualTo(EnvoyContract.XDS_CLUSTER);
    }
  }

  /**
   * A gateway-shaped bootstrap (a listener whose connection manager has only the router and an
   * empty route table, as istiod starts one) with the patches applied as istiod applies them:
   * clusters added, the connection manager merged, filters inserted before the router in order, the
   * virtual host added.
   */
  static Bootstrap gatewayBootstrap(ChainrouteConfig config) throws Exception {
    HttpConnectionManager.Builder hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix("outbound_0.0.0.0_" + config.envoy().listenerPort())
            .setRouteConfig(RouteConfiguration.newBuilder().setName("http.80"))
            .addHttpFilters(
                BootstrapRenderer.filter("envoy.filters.http.router", Router.getDefaultInstance()));
    Bootstrap.StaticResources.Builder resources = Bootstrap.StaticResources.newBuilder();
    for (JsonNode d : rendered(config)) {
      for (JsonNode p : d.get("spec").get("configPatches")) {
        JsonNode value = p.get("patch").get("value");
        switch (p.get("applyTo").asText()) {
          case "CLUSTER" -> resources.addClusters(parse(value, Cluster.newBuilder()));
          case "NETWORK_FILTER" ->
              hcm.mergeFrom(
                  parse(value, Filter.newBuilder())
                      .getTypedConfig()
                      .unpack(HttpConnectionManager.class));
          case "HTTP_FILTER" ->
              hcm.addHttpFilters(
                  hcm.getHttpFiltersCount() - 1, parse(value, HttpFilter.newBuilder()).build());
          default ->
              hcm.getRouteConfigBuilder().addVirtualHosts(parse(value, VirtualHost.newBuilder()));
        }
      }
    }
    return Bootstrap.newBuilder()
        // As istio-proxy names a gateway's node.
        .setNode(
            io.envoyproxy.envoy.config.core.v3.Node.newBuilder()
                .setId("router~10.0.0.7~istio-ingressgateway-7d9f.istio-system~cluster.local")
                .setCluster("istio-ingressgateway.istio-system"))
        .setStaticResources(
            resources.addListeners(
                Listener.newBuilder()
                    .setName("0.0.0.0_" + config.envoy().listenerPort())
                    .setAddress(
                        Address.newBuilder()
                            .setSocketAddress(
                                SocketAddress.newBuilder()
                                    .setAddress("127.0.0.1")
                                    .setPortValue(config.envoy().listenerPort())))
                    .addFilterChains(
                        FilterChain.newBuilder()
                            .addFilters(
                                Filter.newBuilder()
                                    .setName(IstioFilters.HCM)
                                    .setTypedConfig(com.google.protobuf.Any.pack(hcm.build()))))))
        .build();
  }

  @Test
  void onTheGatewayTheRouterStaysLastAndExtProcRunsBeforeIt() throws Exception {
    HttpConnectionManager hcm =
        gatewayBootstrap(demo())
            .getStaticResources()
            .getListeners(0)
            .getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class);
    assertThat(hcm.getHttpFiltersList())
        .extracting(HttpFilter::getName)
        .endsWith(BootstrapRenderer.EXT_PROC_FILTER, "envoy.filters.http.router");
    assertThat(hcm.getRouteConfig().getVirtualHosts(0).getRoutesList()).isNotEmpty();
  }
}
