package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation;
import io.envoyproxy.envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate;
import io.envoyproxy.envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootstrapRendererTest {
  private static final JsonFormat.TypeRegistry TYPES =
      JsonFormat.TypeRegistry.newBuilder()
          .add(HttpConnectionManager.getDescriptor())
          .add(ExternalProcessor.getDescriptor())
          .add(Router.getDescriptor())
          .add(HeaderMutation.getDescriptor())
          .add(HttpProtocolOptions.getDescriptor())
          .add(PreviousHostsPredicate.getDescriptor())
          .add(PreviousPrioritiesConfig.getDescriptor())
          .build();

  private static Bootstrap parse(String yaml) throws Exception {
    String json = new ObjectMapper().writeValueAsString(new YAMLMapper().readTree(yaml));
    Bootstrap.Builder b = Bootstrap.newBuilder();
    // Strict: an unknown field or a wrong type fails here, before Envoy ever sees the file.
    JsonFormat.parser().usingTypeRegistry(TYPES).merge(json, b);
    return b.build();
  }

  private static ChainrouteConfig demo() {
    return ConfigLoader.load(Path.of("config/demo.yaml"));
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({
    "config/demo.yaml, envoy/bootstrap.yaml",
    "config/docker.yaml, envoy/bootstrap-docker.yaml"
  })
  void checkedInBootstrapsMatchTheRenderer(String config, String bootstrap) throws Exception {
    String rendered = BootstrapRenderer.render(ConfigLoader.load(Path.of(config)), "envoy");
    assertThat(Files.readString(Path.of(bootstrap)))
        .as(bootstrap + " is stale: run bin/chainroute bootstrap --config " + config + " --out " + bootstrap)
        .isEqualTo(rendered);
  }

  @Test
  void bootstrapIsAValidEnvoyBootstrapWithTheDecidedExtProcSettings() throws Exception {
    Bootstrap b = parse(BootstrapRenderer.render(demo(), "envoy"));
    assertThat(b.getDynamicResources().getAdsConfig().getApiType().name()).isEqualTo("GRPC");
    assertThat(b.getDynamicResources().getCdsConfig().hasAds()).isTrue();
    HttpConnectionManager hcm =
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class);
    ExternalProcessor ep = hcm.getHttpFilters(0).getTypedConfig().unpack(ExternalProcessor.class);
    assertThat(ep.getFailureModeAllow()).isTrue();
    assertThat(ep.getAllowModeOverride()).isTrue();
    assertThat(ep.getRouteCacheAction()).isEqualTo(ExternalProcessor.RouteCacheAction.CLEAR);
    assertThat(ep.getProcessingMode().getRequestHeaderMode()).isEqualTo(ProcessingMode.HeaderSendMode.SEND);
    assertThat(ep.getProcessingMode().getRequestBodyMode()).isEqualTo(ProcessingMode.BodySendMode.BUFFERED);
    assertThat(ep.getProcessingMode().getResponseHeaderMode()).isEqualTo(ProcessingMode.HeaderSendMode.SKIP);
    assertThat(hcm.getHttpFilters(1).getName()).isEqualTo("envoy.filters.http.router");

    HeaderMutation strip = hcm.getEarlyHeaderMutationExtensions(0).getTypedConfig().unpack(HeaderMutation.class);
    assertThat(strip.getMutationsList()).extracting(m -> m.getRemove()).contains("x-chainroute-pool", "x-chainroute-write");
    assertThat(b.getStaticResources().getListeners(0).getPerConnectionBufferLimitBytes().getValue()).isEqualTo(4 * 1024 * 1024);
  }

  @Test
  void routesSendWritesAndArchiveRequestsToTheirClustersAndNeverRetryWritesBlindly() throws Exception {
    Bootstrap b = parse(BootstrapRenderer.render(demo(), "envoy"));
    RouteConfiguration rc =
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class).getRouteConfig();
    List<Route> routes = rc.getVirtualHosts(0).getRoutesList();
    // eth-local: write, archive, head, default; algorand-local: wait, pending, write, archive, head,
    // default; then the 404 catch-all.
    assertThat(routes).hasSize(11);
    Route write = routes.get(0);
    assertThat(write.getMatch().getHeaders(0).getName()).isEqualTo("x-chainroute-write");
    assertThat(write.getRoute().getCluster()).isEqualTo("eth-local-head");
    assertThat(write.getRoute().getRetryPolicy().getRetryOn()).doesNotContain("reset", "5xx");
    Route archive = routes.get(1);
    assertThat(archive.getMatch().getHeaders(0).getStringMatch().getExact()).isEqualTo("archive");
    assertThat(archive.getRoute().getCluster()).isEqualTo("eth-local-archive");
    Route fallback = routes.get(3);
    assertThat(fallback.getMatch().getHeadersList()).isEmpty();
    assertThat(fallback.getRoute().getCluster()).isEqualTo("eth-local-head");
    assertThat(fallback.getRoute().getRetryPolicy().getRetryOn()).doesNotContain("reset");
    assertThat(routes.get(10).getDirectResponse().getStatus()).isEqualTo(404);

    Route wait = routes.get(4);
    assertThat(wait.getMatch().getPrefix()).isEqualTo("/algo/v2/status/wait-for-block-after/");
    assertThat(wait.getRoute().getTimeout().getSeconds()).isGreaterThan(60);
    Route pending = routes.get(5);
    assertThat(pending.getMatch().getPrefix()).isEqualTo("/algo/v2/transactions/pending/");
    assertThat(pending.getRoute().getRetryPolicy().getRetriableStatusCodesList()).containsExactly(404);
    assertThat(routes.subList(4, 10)).allSatisfy(r -> assertThat(r.getRequestHeadersToRemoveList()).contains("x-algo-api-token"));
    assertThat(routes.get(6).getRoute().getRetryPolicy().getRetryOn()).doesNotContain("reset");
    assertThat(rc.getVirtualHosts(0).getResponseHeadersToAdd(0).getHeader().getValue()).isEqualTo("%UPSTREAM_HOST%");
  }

  @Test
  void upstreamHeaderIsOffByDefaultAndRegionIsSentAsTheNodeLocality() throws Exception {
    ChainrouteConfig c =
        ConfigLoader.parse(
            """
            envoy: { region: eu-west, chainrouteHost: chainroute }
            chains:
              - { name: eth, protocol: evm, nodes: [ { name: a, url: "http://10.0.0.1:8545" } ] }
            """);
    Bootstrap b = parse(BootstrapRenderer.render(c, "edge-1"));
    assertThat(b.getNode().getId()).isEqualTo("edge-1");
    assertThat(b.getNode().getLocality().getRegion()).isEqualTo("eu-west");
    RouteConfiguration rc =
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class).getRouteConfig();
    assertThat(rc.getVirtualHosts(0).getResponseHeadersToAddList()).isEmpty();
    assertThat(b.getStaticResources().getClustersList())
        .allSatisfy(cl -> assertThat(cl.getLoadAssignment().getEndpoints(0).getLbEndpoints(0).getEndpoint().getAddress().getSocketAddress().getAddress()).isEqualTo("chainroute"));
  }

  @Test
  void extProcMaxRequestsIsTheProcessorClustersRequestLimit() throws Exception {
    java.util.function.Function<ChainrouteConfig, io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.Thresholds> limits =
        c -> {
          try {
            return parse(BootstrapRenderer.render(c, "e")).getStaticResources().getClustersList().stream()
                .filter(cl -> cl.getName().equals("chainroute_extproc"))
                .findFirst()
                .orElseThrow()
                .getCircuitBreakers()
                .getThresholds(0);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        };
    String chains = "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]\n";
    assertThat(limits.apply(ConfigLoader.parse(chains)).getMaxRequests().getValue()).isEqualTo(100_000);
    var set = limits.apply(ConfigLoader.parse("envoy: { extProcMaxRequests: 256 }\n" + chains));
    assertThat(set.getMaxRequests().getValue()).isEqualTo(256);
    assertThat(set.getMaxPendingRequests().getValue()).isEqualTo(256);
  }
}
