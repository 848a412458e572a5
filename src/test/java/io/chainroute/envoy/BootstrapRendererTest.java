package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.contract.EnvoyContract;
import io.envoyproxy.envoy.config.accesslog.v3.AccessLogFilter;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.overload.v3.OverloadAction;
import io.envoyproxy.envoy.config.overload.v3.OverloadManager;
import io.envoyproxy.envoy.config.overload.v3.ScaleTimersOverloadActionConfig;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper;
import io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation;
import io.envoyproxy.envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig;
import io.envoyproxy.envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootstrapRendererTest {
  /** The renderer's registry: every Any type it packs (an omission fails every parse here). */
  private static final JsonFormat.TypeRegistry TYPES = BootstrapRenderer.TYPES;

  /** The renderer with the product's adapters. */
  static String render(ChainrouteConfig config, String nodeId) {
    return BootstrapRenderer.render(config, nodeId, io.chainroute.adapters.ChainAdapters::forChain);
  }

  private static Bootstrap parse(String yaml) throws Exception {
    String json = new ObjectMapper().writeValueAsString(new YAMLMapper().readTree(yaml));
    Bootstrap.Builder b = Bootstrap.newBuilder();
    // Strict: an unknown field or a wrong type fails here, before Envoy ever sees the file.
    JsonFormat.parser().usingTypeRegistry(TYPES).merge(json, b);
    return b.build();
  }

  private static ChainrouteConfig demo() {
    return ConfigLoader.loadForBootstrap(Path.of("config/demo.yaml"));
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({
    "config/demo.yaml, envoy/bootstrap.yaml",
    "config/docker.yaml, envoy/bootstrap-docker.yaml"
  })
  void checkedInBootstrapsMatchTheRenderer(String config, String bootstrap) throws Exception {
    // As `chainroute bootstrap` reads it: config/docker.yaml names the admin token's variable.
    String rendered = render(ConfigLoader.loadForBootstrap(Path.of(config)), "envoy");
    assertThat(Files.readString(Path.of(bootstrap)))
        .as(
            bootstrap
                + " is stale: run bin/chainroute bootstrap --config "
                + config
                + " --out "
                + bootstrap)
        .isEqualTo(rendered);
  }

  @Test
  void aDeadChainrouteReplicaIsEjectedFromTheExtProcClustersButNotFromXds() throws Exception {
    Bootstrap b = parse(render(demo(), "envoy"));
    for (io.envoyproxy.envoy.config.cluster.v3.Cluster c :
        b.getStaticResources().getClustersList()) {
      switch (c.getName()) {
        case "chainroute_extproc", "chainroute_extproc_hold" -> {
          var od = c.getOutlierDetection();
          assertThat(od.getSplitExternalLocalOriginErrors()).isTrue();
          assertThat(od.getConsecutiveLocalOriginFailure().getValue()).isEqualTo(2);
          assertThat(od.getMaxEjectionPercent().getValue()).isEqualTo(50);
          assertThat(od.getBaseEjectionTime().getSeconds()).isEqualTo(10);
        }
        case "chainroute_xds" -> assertThat(c.hasOutlierDetection()).isFalse();
        default -> {}
      }
    }
  }

  @Test
  void bootstrapIsAValidEnvoyBootstrapWithTheDecidedExtProcSettings() throws Exception {
    Bootstrap b = parse(render(demo(), "envoy"));
    assertThat(b.getDynamicResources().getAdsConfig().getApiType().name()).isEqualTo("GRPC");
    assertThat(b.getDynamicResources().getCdsConfig().hasAds()).isTrue();
    HttpConnectionManager hcm =
        b.getStaticResources()
            .getListeners(0)
            .getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class);
    ExternalProcessor ep = hcm.getHttpFilters(2).getTypedConfig().unpack(ExternalProcessor.class);
    assertThat(ep.getFailureModeAllow()).isTrue();
    assertThat(ep.getAllowModeOverride()).isTrue();
    assertThat(ep.getRouteCacheAction()).isEqualTo(ExternalProcessor.RouteCacheAction.CLEAR);
    assertThat(ep.getProcessingMode().getRequestHeaderMode())
        .isEqualTo(ProcessingMode.HeaderSendMode.SEND);
    assertThat(ep.getProcessingMode().getRequestBodyMode())
        .isEqualTo(ProcessingMode.BodySendMode.BUFFERED);
    assertThat(ep.getProcessingMode().getResponseHeaderMode())
        .isEqualTo(ProcessingMode.HeaderSendMode.SKIP);
    assertThat(hcm.getHttpFilters(4).getName()).isEqualTo("envoy.filters.http.router");
    assertThat(
            hcm.getHttpFilters(1)
                .getTypedConfig()
                .unpack(io.envoyproxy.envoy.extensions.filters.http.buffer.v3.Buffer.class)
                .getMaxRequestBytes()
                .getValue())
        .as("bodies are complete before ext_proc or a node sees them")
        .isEqualTo(demo().server().maxRequestBytes());

    HeaderMutation strip =
        hcm.getEarlyHeaderMutationExtensions(0).getTypedConfig().unpack(HeaderMutation.class);
    assertThat(strip.getMutationsList())
        .extracting(m -> m.getRemove())
        .contains("x-chainroute-pool", "x-chainroute-write");
    assertThat(b.getStaticResources().getListeners(0).getPerConnectionBufferLimitBytes().getValue())
        .isEqualTo(4 * 1024 * 1024);
  }

  @Test
  void routesSendWritesAndArchiveRequestsToTheirClustersAndNeverRetryWritesBlindly()
      throws Exception {
    Bootstrap b = parse(render(demo(), "envoy"));
    RouteConfiguration rc =
        b.getStaticResources()
            .getListeners(0)
            .getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class)
            .getRouteConfig();
    List<Route> routes = rc.getVirtualHosts(0).getRoutesList();
    // eth-local: write, capture archive, capture head, archive, head, node, default;
    // algorand-local: wait, pending, write,
    // archive, head, node, default; then the 404 catch-all.
    assertThat(routes).hasSize(15);
    Route write = routes.get(0);
    assertThat(write.getMatch().getHeaders(0).getName()).isEqualTo("x-chainroute-write");
    assertThat(write.getRoute().getCluster()).isEqualTo("eth-local-head");
    // Only retries of what cannot have reached a node: no "reset" (after sending), no 5xx.
    assertThat(java.util.Arrays.asList(write.getRoute().getRetryPolicy().getRetryOn().split(",")))
        .containsExactlyInAnyOrder("connect-failure", "refused-stream", "reset-before-request");
    Route archive = routes.get(3);
    assertThat(archive.getMatch().getHeaders(0).getStringMatch().getExact()).isEqualTo("archive");
    assertThat(archive.getRoute().getCluster()).isEqualTo("eth-local-archive");
    Route node = routes.get(5);
    assertThat(node.getMatch().getHeaders(0).getName()).isEqualTo("x-chainroute-node");
    assertThat(node.getMatch().getHeaders(0).getStringMatch().getPrefix())
        .isEqualTo("eth-local-node-");
    assertThat(node.getRoute().getClusterHeader()).isEqualTo("x-chainroute-node");
    // Only that node has the state: never to another host, never a write twice.
    assertThat(node.getRoute().getRetryPolicy().getRetryOn())
        .isEqualTo("connect-failure,refused-stream,reset-before-request");
    assertThat(node.getRoute().getRetryPolicy().getRetryHostPredicateList()).isEmpty();
    Route fallback = routes.get(6);
    assertThat(fallback.getMatch().getHeadersList()).isEmpty();
    assertThat(fallback.getRoute().getCluster()).isEqualTo("eth-local-head");
    assertThat(
            java.util.Arrays.asList(fallback.getRoute().getRetryPolicy().getRetryOn().split(",")))
        .doesNotContain("reset")
        .contains("reset-before-request");
    assertThat(routes.get(14).getDirectResponse().getStatus()).isEqualTo(404);

    Route wait = routes.get(7);
    assertThat(wait.getMatch().getPrefix()).isEqualTo("/algo/v2/status/wait-for-block-after/");
    assertThat(wait.getRoute().getTimeout().getSeconds()).isGreaterThan(60);
    Route pending = routes.get(8);
    assertThat(pending.getMatch().getPrefix()).isEqualTo("/algo/v2/transactions/pending/");
    assertThat(pending.getRoute().getRetryPolicy().getRetriableStatusCodesList())
        .containsExactly(404);
    assertThat(routes.subList(7, 14))
        .allSatisfy(
            r -> assertThat(r.getRequestHeadersToRemoveList()).contains("x-algo-api-token"));
    assertThat(
            java.util.Arrays.asList(
                routes.get(9).getRoute().getRetryPolicy().getRetryOn().split(",")))
        .doesNotContain("reset");
    assertThat(rc.getVirtualHosts(0).getResponseHeadersToAdd(0).getHeader().getValue())
        .isEqualTo("%UPSTREAM_HOST%");
  }

  private static final String ONE_CHAIN =
      """
      chains:
        - { name: eth, protocol: evm, nodes: [ { name: a, url: "http://10.0.0.1:8545" } ] }
      """;

  @Test
  void everyRequestGetsAJsonAccessLineWithChainroutesDecisionAndTheNodeThatAnswered()
      throws Exception {
    Bootstrap b = parse(render(ConfigLoader.parse(ONE_CHAIN), "envoy"));
    HttpConnectionManager h = hcm(b);
    assertThat(h.getAccessLogList()).hasSize(1);
    FileAccessLog log = h.getAccessLog(0).getTypedConfig().unpack(FileAccessLog.class);
    assertThat(log.getPath()).as("stdout by default").isEqualTo("/dev/stdout");
    var json = log.getLogFormat().getJsonFormat().getFieldsMap();
    assertThat(json.keySet())
        .contains(
            "chain",
            "pool",
            "reason",
            "upstream_host",
            "code",
            "flags",
            "duration_ms",
            "bytes_in",
            "bytes_out");
    assertThat(json.get("pool").getStringValue()).isEqualTo("%DYNAMIC_METADATA(chainroute:pool)%");
    assertThat(json.get("reason").getStringValue())
        .isEqualTo("%DYNAMIC_METADATA(chainroute:reason)%");
    assertThat(json.get("chain").getStringValue()).isEqualTo("%METADATA(ROUTE:chainroute:chain)%");
    assertThat(json.get("upstream_host").getStringValue()).isEqualTo("%UPSTREAM_HOST%");
    assertThat(json.values())
        .as("no path, header or body: they can carry keys and signed transactions")
        .noneSatisfy(v -> assertThat(v.getStringValue()).containsAnyOf(":PATH", "BODY", "(AUTH"));
    // The processor may write the pool and reason: ext_proc accepts chainroute's namespace.
    ExternalProcessor ep = h.getHttpFilters(2).getTypedConfig().unpack(ExternalProcessor.class);
    assertThat(ep.getMetadataOptions().getReceivingNamespaces().getUntypedList())
        .contains(EnvoyContract.METADATA_NAMESPACE);
    // Every chain route names its chain for the log, the write and fail-open routes too.
    List<Route> chainRoutes =
        h.getRouteConfig().getVirtualHosts(0).getRoutesList().stream()
            .filter(r -> r.hasRoute())
            .toList();
    assertThat(chainRoutes).hasSizeGreaterThanOrEqualTo(4);
    assertThat(chainRoutes)
        .allSatisfy(
            r ->
                assertThat(
                        r.getMetadata()
                            .getFilterMetadataOrThrow(EnvoyContract.METADATA_NAMESPACE)
                            .getFieldsOrThrow(EnvoyContract.METADATA_CHAIN)
                            .getStringValue())
                    .isEqualTo("eth"));
  }

  @Test
  void theAccessLogCanGoToAFileOrBeTurnedOffAndTheAdminAddressIsConfigurable() throws Exception {
    Bootstrap file =
        parse(
            render(
                ConfigLoader.parse(
                    "envoy: { accessLog: /var/log/envoy/rpc.log, adminAddress: 10.0.0.7 }\n"
                        + ONE_CHAIN),
                "envoy"));
    assertThat(hcm(file).getAccessLog(0).getTypedConfig().unpack(FileAccessLog.class).getPath())
        .isEqualTo("/var/log/envoy/rpc.log");
    assertThat(file.getAdmin().getAddress().getSocketAddress().getAddress()).isEqualTo("10.0.0.7");
    Bootstrap off =
        parse(render(ConfigLoader.parse("envoy: { accessLog: off }\n" + ONE_CHAIN), "e"));
    assertThat(hcm(off).getAccessLogList()).isEmpty();
    assertThat(off.getAdmin().getAddress().getSocketAddress().getAddress())
        .as("loopback by default")
        .isEqualTo("127.0.0.1");
  }

  @Test
  void theListenerBindsLoopbackByDefaultAndTheConfiguredAddressOtherwise() throws Exception {
    Bootstrap dflt = parse(render(ConfigLoader.parse(ONE_CHAIN), "e"));
    assertThat(dflt.getStaticResources().getListeners(0).getAddress().getSocketAddress())
        .extracting(a -> a.getAddress(), a -> a.getPortValue())
        .containsExactly("127.0.0.1", 10000);
    Bootstrap all =
        parse(render(ConfigLoader.parse("envoy: { listenerAddress: 0.0.0.0 }\n" + ONE_CHAIN), "e"));
    assertThat(
            all.getStaticResources().getListeners(0).getAddress().getSocketAddress().getAddress())
        .isEqualTo("0.0.0.0");
    // The checked-in bootstraps: the demo's serves this machine, the container's every interface.
    assertThat(Files.readString(Path.of("envoy/bootstrap.yaml")))
        .contains("address: 127.0.0.1\n        port_value: 10000");
    assertThat(Files.readString(Path.of("envoy/bootstrap-docker.yaml")))
        .contains("address: 0.0.0.0\n        port_value: 10000");
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
    Bootstrap b = parse(render(c, "edge-1"));
    assertThat(b.getNode().getId()).isEqualTo("edge-1");
    assertThat(b.getNode().getLocality().getRegion()).isEqualTo("eu-west");
    RouteConfiguration rc =
        b.getStaticResources()
            .getListeners(0)
            .getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class)
            .getRouteConfig();
    assertThat(rc.getVirtualHosts(0).getResponseHeadersToAddList()).isEmpty();
    assertThat(b.getStaticResources().getClustersList())
        .allSatisfy(
            cl ->
                assertThat(
                        cl.getLoadAssignment()
                            .getEndpoints(0)
                            .getLbEndpoints(0)
                            .getEndpoint()
                            .getAddress()
                            .getSocketAddress()
                            .getAddress())
                    .isEqualTo("chainroute"));
  }

  @Test
  void extProcMaxRequestsIsTheProcessorClustersRequestLimit() throws Exception {
    java.util.function.Function<
            ChainrouteConfig, io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.Thresholds>
        limits =
            c -> {
              try {
                return parse(render(c, "e")).getStaticResources().getClustersList().stream()
                    .filter(cl -> cl.getName().equals("chainroute_extproc"))
                    .findFirst()
                    .orElseThrow()
                    .getCircuitBreakers()
                    .getThresholds(0);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            };
    String chains =
        "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]\n";
    assertThat(limits.apply(ConfigLoader.parse(chains)).getMaxRequests().getValue())
        .isEqualTo(4096);
    var set = limits.apply(ConfigLoader.parse("envoy: { extProcMaxRequests: 256 }\n" + chains));
    assertThat(set.getMaxRequests().getValue()).isEqualTo(256);
    assertThat(set.getMaxPendingRequests().getValue()).isEqualTo(256);
  }

  @Test
  void
      theRateLimitIsOffByDefaultAndWhenSetRunsBeforeExtProcOnTheWholeRequestWithAHundredMillisecondBucket()
          throws Exception {
    assertThat(hcm(parse(render(ConfigLoader.parse(CHAIN), "e"))).getHttpFiltersList())
        .extracting(f -> f.getName())
        .containsExactly(
            "envoy.filters.http.decompressor",
            "envoy.filters.http.buffer",
            "envoy.filters.http.ext_proc",
            "chainroute.cache_capture",
            "envoy.filters.http.router");

    HttpConnectionManager h =
        hcm(
            parse(
                render(ConfigLoader.parse("envoy: { maxRequestsPerSecond: 698 }\n" + CHAIN), "e")));
    assertThat(h.getHttpFiltersList())
        .extracting(f -> f.getName())
        .containsExactly(
            "envoy.filters.http.decompressor",
            "envoy.filters.http.buffer",
            "envoy.filters.http.local_ratelimit",
            "envoy.filters.http.ext_proc",
            "chainroute.cache_capture",
            "envoy.filters.http.router");
    // The whole request is read before a 429, so the reply keeps the HTTP/1.1 connection open.
    assertThat(
            h.getHttpFilters(1)
                .getTypedConfig()
                .unpack(io.envoyproxy.envoy.extensions.filters.http.buffer.v3.Buffer.class)
                .getMaxRequestBytes()
                .getValue())
        .isEqualTo(4 * 1024 * 1024);
    LocalRateLimit rl = h.getHttpFilters(2).getTypedConfig().unpack(LocalRateLimit.class);
    assertThat(rl.getStatus().getCodeValue()).isEqualTo(429);
    // 70 tokens every 100 ms is 700/s: the rate to within half a percent, refilled ten times a
    // second.
    assertThat(rl.getTokenBucket().getTokensPerFill().getValue()).isEqualTo(70);
    assertThat(rl.getTokenBucket().getFillInterval())
        .isEqualTo(com.google.protobuf.util.Durations.fromMillis(100));
    assertThat(rl.getTokenBucket().getMaxTokens()).isEqualTo(70);
    assertThat(rl.getFilterEnabled().getDefaultValue().getNumerator()).isEqualTo(100);
    assertThat(rl.getFilterEnabled().getDefaultValue().getDenominator().name())
        .isEqualTo("HUNDRED");
    assertThat(rl.getFilterEnforced().getDefaultValue().getNumerator()).isEqualTo(100);
    assertThat(rl.getFilterEnforced().getDefaultValue().getDenominator().name())
        .isEqualTo("HUNDRED");
    assertThat(rl.getLocalRateLimitPerDownstreamConnection()).isFalse();
    assertThat(rl.getResponseHeadersToAdd(0).getHeader().getKey()).isEqualTo("retry-after");

    // Small rates: whole tokens at a longer interval, and a burst of the whole rate below 10.
    LocalRateLimit five =
        hcm(parse(render(ConfigLoader.parse("envoy: { maxRequestsPerSecond: 5 }\n" + CHAIN), "e")))
            .getHttpFilters(2)
            .getTypedConfig()
            .unpack(LocalRateLimit.class);
    assertThat(five.getTokenBucket().getTokensPerFill().getValue()).isEqualTo(1);
    assertThat(five.getTokenBucket().getFillInterval())
        .isEqualTo(com.google.protobuf.util.Durations.fromMillis(200));
    assertThat(five.getTokenBucket().getMaxTokens()).isEqualTo(5);
    LocalRateLimit big =
        hcm(parse(
                render(
                    ConfigLoader.parse("envoy: { maxRequestsPerSecond: 50000 }\n" + CHAIN), "e")))
            .getHttpFilters(2)
            .getTypedConfig()
            .unpack(LocalRateLimit.class);
    assertThat(big.getTokenBucket().getTokensPerFill().getValue()).isEqualTo(5000);
    assertThat(big.getTokenBucket().getMaxTokens()).isEqualTo(5000);

    // Rejections carry the chain's protocol error; the 429 stays.
    var evm = body(match(h, java.util.Map.of(":path", "/eth"), java.util.Set.of(), 429));
    assertThat(evm.get("id").isNull()).isTrue();
    assertThat(evm.get("error").get("code").asInt()).isEqualTo(-32005);
    assertThat(evm.get("error").get("message").asText())
        .isEqualTo("request rate above the limit for chain 'eth', retry later");
    var algod =
        body(
            match(
                hcm(parse(render(demo(), "e"))),
                java.util.Map.of(":path", "/algo/v2/status"),
                java.util.Set.of("RL"),
                429));
    assertThat(algod.get("message").asText())
        .isEqualTo("request rate above the limit for chain 'algorand-local', retry later");
  }

  private static HttpConnectionManager hcm(Bootstrap b) throws Exception {
    return b.getStaticResources()
        .getListeners(0)
        .getFilterChains(0)
        .getFilters(0)
        .getTypedConfig()
        .unpack(HttpConnectionManager.class);
  }

  private static final String FIVE_NODES =
      """
      chains:
        - name: eth
          protocol: evm
          pathPrefix: /eth
          nodes:
            - { name: a, url: "http://10.0.0.1:8545" }
            - { name: b, url: "http://10.0.0.2:8545" }
            - { name: c, url: "http://10.0.0.3:8545" }
            - { name: d, url: "http://10.0.0.4:8545" }
            - { name: arc, url: "http://10.0.0.5:8545", archive: true }
      """;

  @Test
  void envoyReconnectsToChainrouteWithinHalfASecondAndDoesNotWaitLongForClusters()
      throws Exception {
    Bootstrap b = parse(render(demo(), "envoy"));
    var grpc = b.getDynamicResources().getAdsConfig().getGrpcServices(0).getEnvoyGrpc();
    assertThat(grpc.getClusterName()).isEqualTo("chainroute_xds");
    assertThat(grpc.getRetryPolicy().getRetryBackOff().getBaseInterval())
        .isEqualTo(com.google.protobuf.util.Durations.fromMillis(100));
    assertThat(grpc.getRetryPolicy().getRetryBackOff().getMaxInterval())
        .isEqualTo(com.google.protobuf.util.Durations.fromMillis(500));
    assertThat(b.getDynamicResources().getCdsConfig().getInitialFetchTimeout().getSeconds())
        .isEqualTo(5);
    var xds =
        b.getStaticResources().getClustersList().stream()
            .filter(c -> c.getName().equals("chainroute_xds"))
            .findFirst()
            .orElseThrow();
    var keepalive =
        xds.getTypedExtensionProtocolOptionsOrThrow(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
            .unpack(HttpProtocolOptions.class)
            .getExplicitHttpConfig()
            .getHttp2ProtocolOptions()
            .getConnectionKeepalive();
    // chainroute's gRPC servers permit a ping every 10 s; a faster one would be a strike.
    assertThat(keepalive.getInterval().getSeconds()).isBetween(10L, 15L);
    assertThat(keepalive.getTimeout().getSeconds()).isPositive();
  }

  @Test
  void readsHedgeToAnotherNodeAfterTheTryTimeoutAndCanTryEveryNodeWhileWritesAreNeverSentTwice()
      throws Exception {
    List<Route> routes =
        hcm(parse(render(ConfigLoader.parse(FIVE_NODES), "e")))
            .getRouteConfig()
            .getVirtualHosts(0)
            .getRoutesList();
    Route write = routes.get(0);
    Route archive = routes.get(3);
    Route head = routes.get(4);
    Route unclassified = routes.get(6);
    for (Route read : List.of(archive, head)) {
      RetryPolicy p = read.getRoute().getRetryPolicy();
      assertThat(p.getRetryOn()).isEqualTo("connect-failure,refused-stream,reset");
      assertThat(p.getNumRetries().getValue()).as("every other node of 5").isEqualTo(4);
      assertThat(p.getPerTryTimeout()).isEqualTo(com.google.protobuf.util.Durations.fromSeconds(5));
      assertThat(p.getRetryHostPredicate(0).getName())
          .isEqualTo("envoy.retry_host_predicates.previous_hosts");
      assertThat(p.getRetryBackOff().getBaseInterval())
          .isEqualTo(com.google.protobuf.util.Durations.fromMillis(25));
      assertThat(p.getRetryBackOff().getMaxInterval())
          .isEqualTo(com.google.protobuf.util.Durations.fromMillis(250));
      assertThat(read.getRoute().getHedgePolicy().getHedgeOnPerTryTimeout()).isTrue();
    }
    for (Route safe : List.of(write, unclassified)) {
      RetryPolicy p = safe.getRoute().getRetryPolicy();
      assertThat(p.getRetryOn()).isEqualTo("connect-failure,refused-stream,reset-before-request");
      assertThat(p.hasPerTryTimeout()).isFalse();
      assertThat(safe.getRoute().hasHedgePolicy()).isFalse();
      assertThat(p.getNumRetries().getValue()).isEqualTo(4);
    }
    // A one-node chain still retries twice (a connect failure may be a restart of that node).
    List<Route> one =
        hcm(parse(render(ConfigLoader.parse("envoy: { readTryTimeout: 1500ms }\n" + CHAIN), "e")))
            .getRouteConfig()
            .getVirtualHosts(0)
            .getRoutesList();
    assertThat(one.get(4).getRoute().getRetryPolicy().getNumRetries().getValue()).isEqualTo(2);
    assertThat(one.get(4).getRoute().getRetryPolicy().getPerTryTimeout())
        .isEqualTo(com.google.protobuf.util.Durations.fromMillis(1500));
  }

  @Test
  void aChainThatHedgesReadsHedgesThemSoonerAndItsWritesStillNever() throws Exception {
    String two =
        """
        chains:
          - name: eth
            protocol: evm
            balancing: { hedgeReadsAfter: 150ms }
            nodes: [ { name: a, url: "http://10.0.0.1:8545" }, { name: b, url: "http://10.0.0.2:8545" } ]
          - name: base
            protocol: evm
            nodes: [ { name: c, url: "http://10.0.0.3:8545" } ]
        """;
    List<Route> routes =
        hcm(parse(render(ConfigLoader.parse(two), "e")))
            .getRouteConfig()
            .getVirtualHosts(0)
            .getRoutesList();
    // eth: the routes matching a read pool (archive, head, and their cache-capture twins) hedge
    // after 150 ms; the write, per-node and unclassified routes never do.
    int base = routes.stream().map(r -> r.getRoute().getCluster()).toList().indexOf("base-head");
    List<Route> eth = routes.subList(0, base);
    List<Route> reads =
        eth.stream()
            .filter(
                r ->
                    r.getMatch().getHeadersList().stream()
                        .anyMatch(
                            h ->
                                h.getName().equals("x-chainroute-pool")
                                    && List.of("head", "archive")
                                        .contains(h.getStringMatch().getExact())))
            .toList();
    assertThat(reads).hasSizeGreaterThanOrEqualTo(2);
    for (Route r : eth) {
      if (reads.contains(r)) {
        assertThat(r.getRoute().getHedgePolicy().getHedgeOnPerTryTimeout()).isTrue();
        assertThat(r.getRoute().getRetryPolicy().getPerTryTimeout())
            .isEqualTo(com.google.protobuf.util.Durations.fromMillis(150));
      } else {
        assertThat(r.getRoute().hasHedgePolicy()).as(r.getName()).isFalse();
      }
    }
    // base keeps the Envoy-wide try timeout (off by default: hedged only when a node hangs).
    // base's routes follow eth's in the same order: write, archive, head (a read), ...
    int baseArchive =
        routes.stream().map(r -> r.getRoute().getCluster()).toList().indexOf("base-archive");
    Route baseHead = routes.get(baseArchive + 1);
    assertThat(baseHead.getRoute().getCluster()).isEqualTo("base-head");
    assertThat(baseHead.getRoute().getRetryPolicy().getPerTryTimeout())
        .isEqualTo(com.google.protobuf.util.Durations.fromSeconds(5));
  }

  @Test
  void algodWaitsKeepTheirLongTimeoutWithoutATryTimeoutAndPendingLookupsHedge() throws Exception {
    List<Route> routes =
        hcm(parse(render(demo(), "envoy"))).getRouteConfig().getVirtualHosts(0).getRoutesList();
    Route wait = routes.get(7);
    assertThat(wait.getRoute().getTimeout().getSeconds()).isEqualTo(70);
    assertThat(wait.getRoute().getRetryPolicy().hasPerTryTimeout()).isFalse();
    assertThat(wait.getRoute().hasHedgePolicy()).isFalse();
    Route pending = routes.get(8);
    assertThat(pending.getRoute().getRetryPolicy().getRetriableStatusCodesList())
        .containsExactly(404);
    assertThat(pending.getRoute().getRetryPolicy().hasPerTryTimeout()).isTrue();
  }

  @Test
  void downstreamTimeoutsCloseSlowClientsButStayAboveTheLongestHold() throws Exception {
    Bootstrap b = parse(render(demo(), "envoy"));
    HttpConnectionManager h = hcm(b);
    ExternalProcessor ep = h.getHttpFilters(2).getTypedConfig().unpack(ExternalProcessor.class);
    long hold = ep.getMaxMessageTimeout().getSeconds();
    assertThat(hold).isEqualTo(70);
    assertThat(h.getRequestHeadersTimeout().getSeconds()).isEqualTo(10);
    assertThat(h.getStreamIdleTimeout().getSeconds()).isGreaterThan(hold);
    assertThat(h.getRequestTimeout().getSeconds())
        .isGreaterThan(h.getStreamIdleTimeout().getSeconds());
    assertThat(h.getCommonHttpProtocolOptions().getIdleTimeout().getSeconds()).isEqualTo(60);
    assertThat(h.getDelayedCloseTimeout().getSeconds()).isEqualTo(1);
  }

  @Test
  void overloadManagerWatchesHeapAndClientConnectionsWithConfigurableLimits() throws Exception {
    Bootstrap b =
        parse(
            render(
                ConfigLoader.parse(
                    "envoy: { maxHeapBytes: 268435456, maxDownstreamConnections: 1234 }\n" + CHAIN),
                "e"));
    OverloadManager om = b.getOverloadManager();
    assertThat(om.getResourceMonitorsList())
        .extracting(m -> m.getName())
        .containsExactly(
            "envoy.resource_monitors.fixed_heap",
            "envoy.resource_monitors.global_downstream_max_connections");
    assertThat(
            om.getResourceMonitors(0)
                .getTypedConfig()
                .unpack(FixedHeapConfig.class)
                .getMaxHeapSizeBytes())
        .isEqualTo(256L << 20);
    assertThat(
            om.getResourceMonitors(1)
                .getTypedConfig()
                .unpack(DownstreamConnectionsConfig.class)
                .getMaxActiveDownstreamConnections())
        .isEqualTo(1234);
    assertThat(om.getActionsList())
        .extracting(OverloadAction::getName)
        .containsExactly(
            "envoy.overload_actions.shrink_heap",
            "envoy.overload_actions.reduce_timeouts",
            "envoy.overload_actions.stop_accepting_connections",
            "envoy.overload_actions.stop_accepting_requests");
    OverloadAction reduce = om.getActions(1);
    assertThat(reduce.getTriggersList())
        .extracting(t -> t.getName())
        .containsExactly(
            "envoy.resource_monitors.fixed_heap",
            "envoy.resource_monitors.global_downstream_max_connections");
    assertThat(
            reduce
                .getTypedConfig()
                .unpack(ScaleTimersOverloadActionConfig.class)
                .getTimerScaleFactorsList())
        .extracting(f -> f.getTimer())
        .containsExactly(
            ScaleTimersOverloadActionConfig.TimerType.HTTP_DOWNSTREAM_CONNECTION_IDLE,
            ScaleTimersOverloadActionConfig.TimerType.HTTP_DOWNSTREAM_STREAM_IDLE);
    // Requests are refused last, after connections.
    assertThat(om.getActions(3).getTriggers(0).getThreshold().getValue())
        .isGreaterThan(om.getActions(2).getTriggers(0).getThreshold().getValue());
    assertThat(b.getAdmin().getIgnoreGlobalConnLimit()).isTrue();

    OverloadManager defaults = parse(render(ConfigLoader.parse(CHAIN), "e")).getOverloadManager();
    assertThat(
            defaults
                .getResourceMonitors(0)
                .getTypedConfig()
                .unpack(FixedHeapConfig.class)
                .getMaxHeapSizeBytes())
        .isEqualTo(1L << 30);
    assertThat(
            defaults
                .getResourceMonitors(1)
                .getTypedConfig()
                .unpack(DownstreamConnectionsConfig.class)
                .getMaxActiveDownstreamConnections())
        .isEqualTo(50_000);
  }

  @Test
  void theFastPathIsOffByDefaultAndWhenOnRunsBeforeExtProcWithARouteThatSkipsIt() throws Exception {
    HttpConnectionManager off = hcm(parse(render(ConfigLoader.parse(CHAIN), "e")));
    assertThat(off.getHttpFiltersList())
        .extracting(f -> f.getName())
        .doesNotContain(FastPathFilter.NAME);
    assertThat(off.getRouteConfig().getVirtualHosts(0).getRoutesList())
        .noneMatch(r -> r.getTypedPerFilterConfigMap().containsKey(EXT_PROC));

    String chain =
        "chains: [ { name: eth, protocol: evm, pathPrefix: /eth, methods: { deny: [eth_getProof] },"
            + " nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]\n";
    HttpConnectionManager on =
        hcm(parse(render(ConfigLoader.parse("envoy: { fastPath: true }\n" + chain), "e")));
    List<String> names = on.getHttpFiltersList().stream().map(f -> f.getName()).toList();
    assertThat(names.indexOf(FastPathFilter.NAME)).isEqualTo(names.indexOf(EXT_PROC) - 1);
    // The configuration arrives over ECDS on the xDS cluster; until then (or without chainroute)
    // the default, the same tables without number bounds, applies at once.
    var discovery =
        on.getHttpFiltersList().get(names.indexOf(FastPathFilter.NAME)).getConfigDiscovery();
    assertThat(discovery.getApplyDefaultConfigWithoutWarming()).isTrue();
    assertThat(discovery.getTypeUrlsList()).containsExactly(FastPathFilter.TYPE_URL);
    assertThat(
            discovery
                .getConfigSource()
                .getApiConfigSource()
                .getGrpcServices(0)
                .getEnvoyGrpc()
                .getClusterName())
        .isEqualTo(EnvoyContract.XDS_CLUSTER);
    String script =
        discovery
            .getDefaultConfig()
            .unpack(io.envoyproxy.envoy.extensions.filters.http.lua.v3.Lua.class)
            .getDefaultSourceCode()
            .getInlineString();
    assertThat(script)
        .contains(
            "[\"eth\"] = {",
            "[\"eth_getBalance\"] = { 1, \"state\", true, false },",
            "[\"eth_getStorageAt\"] = { 2, \"state\", true, false },",
            "[\"eth_getLogs\"] = { 0, \"logs\", true, true },",
            "local BOUNDS = {\n}")
        .doesNotContain("eth_getProof", "eth_sendRawTransaction", "debug_", "trace_", "__");
    List<Route> routes = on.getRouteConfig().getVirtualHosts(0).getRoutesList();
    List<Route> fast =
        routes.stream().filter(r -> r.getTypedPerFilterConfigMap().containsKey(EXT_PROC)).toList();
    assertThat(fast).hasSize(2);
    assertThat(fast)
        .extracting(r -> r.getMatch().getHeaders(0).getName())
        .containsOnly(EnvoyContract.FAST_HEADER);
    assertThat(fast)
        .extracting(r -> r.getRoute().getCluster())
        .containsExactly("eth-head", "eth-archive");
    assertThat(fast)
        .allSatisfy(
            r ->
                assertThat(
                        r.getTypedPerFilterConfigOrThrow(EXT_PROC)
                            .unpack(
                                io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3
                                    .ExtProcPerRoute.class)
                            .getDisabled())
                    .isTrue());
    // Before the pool routes the fast path's pool header would otherwise match.
    int firstPool =
        routes.indexOf(
            routes.stream()
                .filter(
                    r ->
                        r.getMatch().getHeadersList().stream()
                                .anyMatch(h -> h.getName().equals(EnvoyContract.POOL_HEADER))
                            && !r.getMatch().getHeadersList().stream()
                                .anyMatch(h -> h.getName().equals(EnvoyContract.CACHE_HEADER)))
                .findFirst()
                .orElseThrow());
    assertThat(routes.indexOf(fast.get(1))).isLessThan(firstPool);
    // The route every request matches first names the chain's table; only that one.
    assertThat(routes)
        .filteredOn(r -> r.getMetadata().containsFilterMetadata(FastPathFilter.NAME))
        .singleElement()
        .satisfies(r -> assertThat(r.getMatch().getHeadersList()).isEmpty());
    // Clients cannot send the fast header themselves.
    assertThat(EnvoyContract.ROUTING_HEADERS).contains(EnvoyContract.FAST_HEADER);
  }

  private static final String EXT_PROC = "envoy.filters.http.ext_proc";

  private static final String CHAIN =
      "chains: [ { name: eth, protocol: evm, pathPrefix: /eth, nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]\n";

  /**
   * The mapper a local reply with these request headers, flags and status would get (Envoy's first
   * match).
   */
  private static ResponseMapper match(
      HttpConnectionManager h,
      java.util.Map<String, String> headers,
      java.util.Set<String> flags,
      int status) {
    return h.getLocalReplyConfig().getMappersList().stream()
        .filter(m -> matches(m.getFilter(), headers, flags, status))
        .findFirst()
        .orElse(null);
  }

  /** The subset of AccessLogFilter semantics the renderer uses. */
  @SuppressWarnings("StatementSwitchToExpressionSwitch") // reads as the filter table it mirrors
  private static boolean matches(
      AccessLogFilter f,
      java.util.Map<String, String> headers,
      java.util.Set<String> flags,
      int status) {
    switch (f.getFilterSpecifierCase()) {
      case AND_FILTER:
        return f.getAndFilter().getFiltersList().stream()
            .allMatch(x -> matches(x, headers, flags, status));
      case OR_FILTER:
        return f.getOrFilter().getFiltersList().stream()
            .anyMatch(x -> matches(x, headers, flags, status));
      case RESPONSE_FLAG_FILTER:
        return f.getResponseFlagFilter().getFlagsList().stream().anyMatch(flags::contains);
      case STATUS_CODE_FILTER:
        assertThat(f.getStatusCodeFilter().getComparison().getOp().name()).isEqualTo("EQ");
        return f.getStatusCodeFilter().getComparison().getValue().getDefaultValue() == status;
      case METADATA_FILTER:
        // The request's id in dynamic metadata chainroute.id: given here as the pseudo-header
        // "@id".
        var mm = f.getMetadataFilter().getMatcher();
        assertThat(mm.getFilter()).isEqualTo("chainroute");
        assertThat(mm.getPath(0).getKey()).isEqualTo("id");
        assertThat(f.getMetadataFilter().getMatchIfKeyNotFound().getValue())
            .as("a missing id must not match")
            .isFalse();
        return headers.containsKey("@id");
      case HEADER_FILTER:
        var hm = f.getHeaderFilter().getHeader();
        String v = headers.get(hm.getName());
        boolean m;
        if (hm.getPresentMatch()) {
          m = v != null;
        } else {
          m =
              v != null
                  && java.util.regex.Pattern.compile(hm.getStringMatch().getSafeRegex().getRegex())
                      .matcher(v)
                      .find();
        }
        return m != hm.getInvertMatch();
      default:
        throw new AssertionError("unexpected filter " + f);
    }
  }

  private static com.fasterxml.jackson.databind.JsonNode body(ResponseMapper m) throws Exception {
    return body(m, null);
  }

  /** The body Envoy would send, with the id metadata (JSON text) substituted when given. */
  private static com.fasterxml.jackson.databind.JsonNode body(ResponseMapper m, String id)
      throws Exception {
    assertThat(m).isNotNull();
    assertThat(m.getBodyFormatOverride().getContentType()).isEqualTo("application/json");
    assertThat(m.hasStatusCode()).as("Envoy's status code is kept").isFalse();
    String text = m.getBodyFormatOverride().getTextFormatSource().getInlineString();
    if (id != null) {
      text = text.replace("%DYNAMIC_METADATA(chainroute:id)%", id);
    }
    assertThat(text).doesNotContain("%");
    return new ObjectMapper().readTree(text);
  }

  @Test
  void envoysOwnRepliesEchoTheRequestsIdWhenChainrouteHandedItOver() throws Exception {
    HttpConnectionManager h =
        parse(render(demo(), "envoy"))
            .getStaticResources()
            .getListeners(0)
            .getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class);
    ExternalProcessor ep = h.getHttpFilters(2).getTypedConfig().unpack(ExternalProcessor.class);
    assertThat(ep.getMetadataOptions().getReceivingNamespaces().getUntypedList())
        .containsExactly("chainroute");
    var withId =
        body(
            match(h, java.util.Map.of(":path", "/eth", "@id", "1"), java.util.Set.of("UH"), 503),
            "\"req-\\\"7\"");
    assertThat(withId.get("id").asText()).isEqualTo("req-\"7");
    assertThat(withId.get("error").get("code").asInt()).isEqualTo(-32002);
    assertThat(
            body(
                    match(
                        h,
                        java.util.Map.of(":path", "/eth", "@id", "1"),
                        java.util.Set.of("UT"),
                        504),
                    "42")
                .get("id")
                .asInt())
        .isEqualTo(42);
    assertThat(
            body(match(h, java.util.Map.of(":path", "/eth"), java.util.Set.of("UH"), 503))
                .get("id")
                .isNull())
        .as("no id handed over: null")
        .isTrue();
  }

  @Test
  void envoysOwnRepliesAreJsonRpcErrorsForEvmChainsAndAlgodMessagesForAlgodChains()
      throws Exception {
    HttpConnectionManager h = hcm(parse(render(demo(), "envoy")));
    // Before the router ran (e.g. no healthy upstream): the client's path.
    var evm = body(match(h, java.util.Map.of(":path", "/eth"), java.util.Set.of("UH"), 503));
    assertThat(evm.get("jsonrpc").asText()).isEqualTo("2.0");
    assertThat(evm.get("id").isNull()).isTrue();
    assertThat(evm.get("error").get("code").asInt()).isEqualTo(-32002);
    assertThat(evm.get("error").get("message").asText())
        .isEqualTo("no node available for chain 'eth-local'");
    // After the router stripped the prefix: the original path is in x-envoy-original-path.
    ResponseMapper algodReply =
        match(
            h,
            java.util.Map.of(":path", "/v2/status", "x-envoy-original-path", "/algo/v2/status"),
            java.util.Set.of("UF", "URX"),
            503);
    var rewritten = body(algodReply);
    assertThat(rewritten.has("jsonrpc")).isFalse();
    // Byte for byte an algod error: one JSON object and the newline algod ends its bodies with.
    assertThat(algodReply.getBodyFormatOverride().getTextFormatSource().getInlineString())
        .isEqualTo(
            "{\"message\":\"no node could be reached for chain 'algorand-local' (connection failed"
                + " or reset)\"}\n");
    assertThat(rewritten.get("message").asText())
        .isEqualTo(
            "no node could be reached for chain 'algorand-local' (connection failed or reset)");
    assertThat(
            body(match(h, java.util.Map.of(":path", "/eth?x=1"), java.util.Set.of("UT"), 504))
                .get("error")
                .get("code")
                .asInt())
        .isEqualTo(-32002);
    var tooLarge = body(match(h, java.util.Map.of(":path", "/eth/"), java.util.Set.of(), 413));
    assertThat(tooLarge.get("error").get("code").asInt()).isEqualTo(-32005);
    assertThat(tooLarge.get("error").get("message").asText())
        .isEqualTo("request body larger than 4194304 bytes for chain 'eth-local'");
    var overloaded =
        body(match(h, java.util.Map.of(":path", "/algo/v2/status"), java.util.Set.of("OM"), 503));
    assertThat(overloaded.get("message").asText())
        .contains("overloaded")
        .contains("algorand-local");
    assertThat(
            body(match(h, java.util.Map.of(":path", "/eth"), java.util.Set.of("UO"), 503))
                .get("error")
                .get("code")
                .asInt())
        .isEqualTo(-32005);
    // "/ethx" is not under "/eth": the protocol-neutral JSON-RPC fallback, without a chain name.
    var other = body(match(h, java.util.Map.of(":path", "/ethx"), java.util.Set.of("OM"), 503));
    assertThat(other.get("error").get("code").asInt()).isEqualTo(-32005);
    assertThat(other.get("error").get("message").asText()).doesNotContain("chain");
    // Replies Envoy does not flag (the 404 catch-all, chainroute's own answers) keep their bodies.
    assertThat(match(h, java.util.Map.of(":path", "/nothing"), java.util.Set.of(), 404)).isNull();
    assertThat(match(h, java.util.Map.of(":path", "/eth"), java.util.Set.of(), 503)).isNull();
  }

  @Test
  void aChainServedAtTheRootIsTheFallbackAndLongerPrefixesWinOverPathsRewrittenIntoThem()
      throws Exception {
    HttpConnectionManager h =
        hcm(
            parse(
                render(
                    ConfigLoader.parse(
                        """
                        chains:
                          - { name: algo, protocol: algorand, pathPrefix: /, nodes: [ { name: a, url: "http://10.0.0.1:8080" } ] }
                          - { name: short, protocol: evm, pathPrefix: /b, nodes: [ { name: b, url: "http://10.0.0.2:8545" } ] }
                          - { name: long, protocol: evm, pathPrefix: /v2/status, nodes: [ { name: c, url: "http://10.0.0.3:8545" } ] }
                        """),
                    "e")));
    assertThat(
            body(match(h, java.util.Map.of(":path", "/v2/accounts"), java.util.Set.of("UH"), 503))
                .get("message")
                .asText())
        .contains("'algo'");
    // /b/v2/status rewritten to /v2/status is still chain "short", not "long".
    assertThat(
            body(match(
                    h,
                    java.util.Map.of(
                        ":path", "/v2/status", "x-envoy-original-path", "/b/v2/status"),
                    java.util.Set.of("UF"),
                    503))
                .get("error")
                .get("message")
                .asText())
        .contains("'short'");
    assertThat(
            body(match(h, java.util.Map.of(":path", "/v2/status"), java.util.Set.of("UF"), 503))
                .get("error")
                .get("message")
                .asText())
        .contains("'long'");
    // No protocol-neutral fallback: the root chain answers everything else. EVM chains have a twin
    // of each mapper that echoes the request's id: 1 algod chain + 2 EVM chains x 2, and each EVM
    // chain two for requests to one node whose node is gone.
    assertThat(h.getLocalReplyConfig().getMappersCount())
        .isEqualTo(5 * LocalReplies.kinds(demo()).size() + 2 * 2);
  }

  @Test
  void aFilterCallThatCannotReachItsNodeGetsTheNodesOwnFilterNotFoundWithHttp200()
      throws Exception {
    HttpConnectionManager h = hcm(parse(render(demo(), "envoy")));
    java.util.Map<String, String> toNode =
        java.util.Map.of(
            ":path",
            "/",
            "x-envoy-original-path",
            "/eth",
            "x-chainroute-node",
            "eth-local-node-sealer-1",
            "@id",
            "");
    ResponseMapper gone = match(h, toNode, java.util.Set.of("UF", "URX"), 503);
    assertThat(gone.getStatusCode().getValue()).isEqualTo(200);
    com.fasterxml.jackson.databind.JsonNode body =
        new ObjectMapper()
            .readTree(
                gone.getBodyFormatOverride()
                    .getTextFormatSource()
                    .getInlineString()
                    .replace("%DYNAMIC_METADATA(chainroute:id)%", "7"));
    assertThat(body.get("error").get("message").asText()).isEqualTo("filter not found");
    assertThat(body.get("error").get("code").asInt()).isEqualTo(-32000);
    assertThat(body.get("id").asInt()).isEqualTo(7);
    // Any other request keeps Envoy's 503.
    ResponseMapper other =
        match(
            h,
            java.util.Map.of(":path", "/", "x-envoy-original-path", "/eth"),
            java.util.Set.of("UF"),
            503);
    assertThat(other.hasStatusCode()).isFalse();
    assertThat(body(other).get("error").get("message").asText())
        .contains("no node could be reached");
  }

  @Test
  void localReplyBodiesNeverCarryNodeAddressesOrTokens() throws Exception {
    ChainrouteConfig c =
        ConfigLoader.parse(
            """
            chains:
              - { name: algo, protocol: algorand, pathPrefix: /algo, nodes: [ { name: a, url: "http://10.9.8.7:8080", tokenEnv: T } ] }
            """,
            k -> "s3cret-token");
    String replies = JsonFormat.printer().print(hcm(parse(render(c, "e"))).getLocalReplyConfig());
    assertThat(replies).doesNotContain("10.9.8.7", "8080", "s3cret-token", "%");
  }

  @Test
  void resilienceSettingsOutsideTheirRangeAreRefusedWithTheirPath() {
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ConfigLoader.parse("envoy: { readTryTimeout: 60s }\n" + CHAIN))
        .hasMessageContaining("envoy.readTryTimeout")
        .hasMessageContaining("59000ms");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ConfigLoader.parse("envoy: { upstreamMaxRequests: 0 }\n" + CHAIN))
        .hasMessageContaining("envoy.upstreamMaxRequests");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ConfigLoader.parse("envoy: { maxHeapBytes: 1000 }\n" + CHAIN))
        .hasMessageContaining("envoy.maxHeapBytes");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ConfigLoader.parse("envoy: { maxDownstreamConnections: -1 }\n" + CHAIN))
        .hasMessageContaining("envoy.maxDownstreamConnections");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> ConfigLoader.parse("envoy: { maxRequestsPerSecond: -1 }\n" + CHAIN))
        .hasMessageContaining("envoy.maxRequestsPerSecond");
  }

  @Test
  void algodWaitsUseTheirOwnExtProcClusterSoHoldsNeverTakeTheSlotsOfOrdinaryRequests()
      throws Exception {
    Bootstrap b = parse(render(demo(), "envoy"));
    var clusters = b.getStaticResources().getClustersList();
    var ordinary =
        clusters.stream()
            .filter(c -> c.getName().equals(EnvoyContract.EXTPROC_CLUSTER))
            .findFirst()
            .orElseThrow();
    var hold =
        clusters.stream()
            .filter(c -> c.getName().equals(EnvoyContract.EXTPROC_HOLD_CLUSTER))
            .findFirst()
            .orElseThrow();
    assertThat(ordinary.getCircuitBreakers().getThresholds(0).getMaxRequests().getValue())
        .isEqualTo(demo().envoy().extProcMaxRequests());
    assertThat(hold.getCircuitBreakers().getThresholds(0).getMaxRequests().getValue())
        .isEqualTo(demo().server().maxHeldRequests() + BootstrapRenderer.HOLD_HEADROOM);
    HttpConnectionManager hcm =
        b.getStaticResources()
            .getListeners(0)
            .getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class);
    var waits =
        hcm.getRouteConfig().getVirtualHosts(0).getRoutesList().stream()
            .filter(r -> r.getMatch().getPrefix().endsWith("/v2/status/wait-for-block-after/"))
            .toList();
    assertThat(waits).isNotEmpty();
    for (var r : waits) {
      var perRoute =
          r.getTypedPerFilterConfigOrThrow("envoy.filters.http.ext_proc")
              .unpack(
                  io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute.class);
      assertThat(perRoute.getOverrides().getGrpcService().getEnvoyGrpc().getClusterName())
          .isEqualTo(EnvoyContract.EXTPROC_HOLD_CLUSTER);
    }
    assertThat(
            render(
                io.chainroute.config.ConfigLoader.parse(
                    "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]"),
                "e"))
        .as("no algod chain: no hold cluster")
        .doesNotContain(EnvoyContract.EXTPROC_HOLD_CLUSTER);
  }

  @Test
  void gzipRequestBodiesAreDecodedBeforeTheBufferAndExtProcWhileResponsesAreLeftAlone()
      throws Exception {
    HttpConnectionManager h = hcm(parse(render(ConfigLoader.parse(CHAIN), "e")));
    var filter = h.getHttpFilters(0);
    assertThat(filter.getName()).isEqualTo("envoy.filters.http.decompressor");
    var d =
        filter
            .getTypedConfig()
            .unpack(io.envoyproxy.envoy.extensions.filters.http.decompressor.v3.Decompressor.class);
    assertThat(
            d.getDecompressorLibrary()
                .getTypedConfig()
                .is(io.envoyproxy.envoy.extensions.compression.gzip.decompressor.v3.Gzip.class))
        .isTrue();
    assertThat(
            d.getRequestDirectionConfig()
                .getCommonConfig()
                .getEnabled()
                .getDefaultValue()
                .getValue())
        .isTrue();
    assertThat(
            d.getResponseDirectionConfig()
                .getCommonConfig()
                .getEnabled()
                .getDefaultValue()
                .getValue())
        .as("a node's response is passed on as the node sent it")
        .isFalse();
  }

  @Test
  void theRoutesAndHeadersAProtocolNeedsComeFromItsAdapterNotFromTheRenderer() throws Exception {
    ChainrouteConfig c = ConfigLoader.parse(CHAIN);
    io.chainroute.chain.ChainAdapter evm =
        io.chainroute.adapters.ChainAdapters.forChain(c.chains().get(0));
    io.chainroute.chain.ChainAdapter withNeeds =
        new io.chainroute.chain.ChainAdapter() {
          @Override
          public io.chainroute.config.Protocol protocol() {
            return evm.protocol();
          }

          @Override
          public HeadProbe headProbe(io.chainroute.config.NodeConfig node, long lastHead) {
            return evm.headProbe(node, lastHead);
          }

          @Override
          public io.chainroute.chain.ProbeReading readHeadProbe(int status, byte[] body) {
            return evm.readHeadProbe(status, body);
          }

          @Override
          public io.chainroute.chain.Classification classify(String method, byte[] body) {
            return evm.classify(method, body);
          }

          @Override
          public List<io.chainroute.chain.PathRoute> pathRoutes() {
            return List.of(
                io.chainroute.chain.PathRoute.held("/long-poll/"),
                io.chainroute.chain.PathRoute.retriedElsewhereOn(
                    "/only-one-node-knows/", 404, 410));
          }

          @Override
          public List<String> clientHeadersToDrop() {
            return List.of("x-api-key");
          }

          @Override
          public String proxyErrorBody(int code, String message, String idJson) {
            return "{\"problem\":" + code + "}";
          }
        };
    Bootstrap b = parse(BootstrapRenderer.render(c, "e", chain -> withNeeds));
    List<Route> routes = hcm(b).getRouteConfig().getVirtualHosts(0).getRoutesList();
    Route held = routes.get(0);
    assertThat(held.getMatch().getPrefix()).isEqualTo("/eth/long-poll/");
    assertThat(held.getRoute().getTimeout())
        .isEqualTo(BootstrapRenderer.duration(EnvoyContract.LONGEST_HOLD));
    assertThat(held.getRoute().getRetryPolicy().getRetryOn()).doesNotContain("reset,");
    assertThat(
            held.getTypedPerFilterConfigOrThrow("envoy.filters.http.ext_proc")
                .unpack(
                    io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute.class)
                .getOverrides()
                .getGrpcService()
                .getEnvoyGrpc()
                .getClusterName())
        .isEqualTo(EnvoyContract.EXTPROC_HOLD_CLUSTER);
    Route elsewhere = routes.get(1);
    assertThat(elsewhere.getMatch().getPrefix()).isEqualTo("/eth/only-one-node-knows/");
    assertThat(elsewhere.getRoute().getRetryPolicy().getRetriableStatusCodesList())
        .containsExactly(404, 410);
    assertThat(elsewhere.getRoute().getRetryPolicy().getRetryOn())
        .endsWith(",retriable-status-codes");
    // Then the generic pool routes; every route of the chain drops the client's header.
    assertThat(routes).hasSize(2 + 5 + 1);
    assertThat(routes.subList(0, 7))
        .allSatisfy(
            r -> assertThat(r.getRequestHeadersToRemoveList()).containsExactly("x-api-key"));
    assertThat(b.getStaticResources().getClustersList())
        .extracting(cl -> cl.getName())
        .as("a held route brings the hold cluster, whatever the protocol")
        .contains(EnvoyContract.EXTPROC_HOLD_CLUSTER);
    // Envoy's own errors for the chain are in the adapter's format, without an id twin (the
    // adapter does not echo ids); the fallback for other paths stays plain JSON-RPC.
    List<ResponseMapper> mappers = hcm(b).getLocalReplyConfig().getMappersList();
    int kinds = LocalReplies.kinds(c).size();
    assertThat(mappers).hasSize(2 * kinds);
    assertThat(mappers.subList(0, kinds))
        .allSatisfy(m -> assertThat(body(m).has("problem")).isTrue());
    assertThat(mappers.subList(kinds, 2 * kinds))
        .allSatisfy(m -> assertThat(body(m).path("jsonrpc").asText()).isEqualTo("2.0"));
  }

  @Test
  void renderingIsDeterministic() {
    assertThat(render(demo(), "envoy")).isEqualTo(render(demo(), "envoy"));
  }
}
