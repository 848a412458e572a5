package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** How Envoy reaches chainroute's ext_proc server: TCP or the Unix socket, and its gRPC service. */
class ExtProcTransportTest {
  private static final String CHAINS =
      """
      chains:
        - { name: eth, protocol: evm, nodes: [ { name: a, url: "http://10.0.0.1:8545" } ] }
        - { name: algo, protocol: algorand, pathPrefix: /algo,
            nodes: [ { name: b, url: "http://10.0.0.2:8080" } ] }
      """;

  private static Bootstrap bootstrap(String yaml) throws Exception {
    ChainrouteConfig config = ConfigLoader.parseForBootstrap(yaml);
    String rendered =
        BootstrapRenderer.render(config, "e", io.chainroute.adapters.ChainAdapters::forChain);
    String json = new ObjectMapper().writeValueAsString(new YAMLMapper().readTree(rendered));
    Bootstrap.Builder b = Bootstrap.newBuilder();
    JsonFormat.parser().usingTypeRegistry(BootstrapRenderer.TYPES).merge(json, b);
    return b.build();
  }

  private static Map<String, Cluster> clusters(Bootstrap b) {
    return b.getStaticResources().getClustersList().stream()
        .collect(Collectors.toMap(Cluster::getName, c -> c));
  }

  private static Address address(Cluster c) {
    return c.getLoadAssignment().getEndpoints(0).getLbEndpoints(0).getEndpoint().getAddress();
  }

  /** Every ext_proc gRPC service: the two filters' and the hold routes' per-route override. */
  private static List<GrpcService> extProcServices(Bootstrap b) throws Exception {
    List<GrpcService> out = new ArrayList<>();
    Filter hcmFilter = b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0);
    HttpConnectionManager hcm = hcmFilter.getTypedConfig().unpack(HttpConnectionManager.class);
    for (HttpFilter f : hcm.getHttpFiltersList()) {
      if (f.getTypedConfig().is(ExternalProcessor.class)) {
        out.add(f.getTypedConfig().unpack(ExternalProcessor.class).getGrpcService());
      }
    }
    RouteConfiguration routes = hcm.getRouteConfig();
    routes.getVirtualHostsList().stream()
        .flatMap(v -> v.getRoutesList().stream())
        .flatMap(r -> r.getTypedPerFilterConfigMap().values().stream())
        .filter(any -> any.is(ExtProcPerRoute.class))
        .forEach(
            any -> {
              try {
                ExtProcPerRoute p = any.unpack(ExtProcPerRoute.class);
                if (p.getOverrides().hasGrpcService()) {
                  out.add(p.getOverrides().getGrpcService());
                }
              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalStateException(e);
              }
            });
    return out;
  }

  @Test
  void withoutASocketEveryProcessorClusterIsTcpToChainroutesExtProcPort() throws Exception {
    Map<String, Cluster> c =
        clusters(bootstrap("server: { extProcPort: 18991, xdsPort: 18990 }\n" + CHAINS));
    for (String name : List.of("chainroute_extproc", "chainroute_extproc_hold")) {
      assertThat(c.get(name).getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
      assertThat(address(c.get(name)).getSocketAddress().getPortValue()).isEqualTo(18991);
      assertThat(address(c.get(name)).hasPipe()).isFalse();
    }
    assertThat(address(c.get("chainroute_xds")).getSocketAddress().getPortValue()).isEqualTo(18990);
  }

  @Test
  void withASocketBothProcessorClustersUseThePipeAndKeepHttp2BreakersAndEjectionWhileXdsStaysTcp()
      throws Exception {
    Map<String, Cluster> c =
        clusters(
            bootstrap(
                "server: { extProcSocket: /run/chainroute/extproc.sock, xdsPort: 18990 }\n"
                    + CHAINS));
    for (String name : List.of("chainroute_extproc", "chainroute_extproc_hold")) {
      Cluster cluster = c.get(name);
      assertThat(cluster.getType()).as(name).isEqualTo(Cluster.DiscoveryType.STATIC);
      assertThat(address(cluster).getPipe().getPath()).isEqualTo("/run/chainroute/extproc.sock");
      assertThat(address(cluster).hasSocketAddress()).isFalse();
      HttpProtocolOptions http =
          cluster
              .getTypedExtensionProtocolOptionsOrThrow(
                  HttpProtocolOptions.getDescriptor().getFullName())
              .unpack(HttpProtocolOptions.class);
      assertThat(http.getExplicitHttpConfig().hasHttp2ProtocolOptions()).isTrue();
      assertThat(
              http.getExplicitHttpConfig()
                  .getHttp2ProtocolOptions()
                  .getConnectionKeepalive()
                  .getInterval()
                  .getSeconds())
          .isEqualTo(15);
      assertThat(cluster.getCircuitBreakers().getThresholds(0).getMaxRequests().getValue())
          .isPositive();
      assertThat(cluster.getOutlierDetection().getConsecutiveLocalOriginFailure().getValue())
          .isEqualTo(2);
    }
    assertThat(c.get("chainroute_extproc").getCircuitBreakers().getThresholds(0).getMaxRequests())
        .hasFieldOrPropertyWithValue("value", 4096);
    assertThat(c.get("chainroute_xds").getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
    assertThat(address(c.get("chainroute_xds")).getSocketAddress().getPortValue()).isEqualTo(18990);
  }

  @Test
  void everyExtProcGrpcServiceSkipsEnvoysOwnHeaders() throws Exception {
    for (String server : List.of("", "server: { extProcSocket: /tmp/x.sock }\n")) {
      List<GrpcService> services = extProcServices(bootstrap(server + CHAINS));
      // The routing filter, the capture filter and the algod hold routes' override.
      assertThat(services).hasSizeGreaterThanOrEqualTo(3);
      assertThat(services)
          .extracting(s -> s.getEnvoyGrpc().getClusterName())
          .contains("chainroute_extproc", "chainroute_extproc_hold");
      assertThat(services)
          .allSatisfy(s -> assertThat(s.getEnvoyGrpc().getSkipEnvoyHeaders()).isTrue());
    }
  }

  @Test
  void theIstioFiltersRoutingFilterSkipsEnvoysOwnHeadersToo() {
    ChainrouteConfig config = ConfigLoader.parseForBootstrap(CHAINS);
    String rendered =
        IstioFilters.render(
            config,
            io.chainroute.adapters.ChainAdapters::forChain,
            io.chainroute.xds.XdsResources.clusters(config.chains(), config.envoy()),
            "istio-system",
            "ingressgateway",
            "rpc.example.com");
    assertThat(rendered)
        .containsPattern(
            "envoy_grpc:\\s+cluster_name: chainroute_extproc\\s+skip_envoy_headers: true");
    // No ext_proc gRPC service there without it (the xDS config sources are not ext_proc).
    assertThat(rendered)
        .doesNotContainPattern(
            "envoy_grpc:\\s+cluster_name: chainroute_extproc(_hold)?\\n(?!\\s+skip_envoy_headers: true)");
  }
}
