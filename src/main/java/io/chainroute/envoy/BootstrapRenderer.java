package io.chainroute.envoy;

import static io.chainroute.contract.EnvoyContract.EXTPROC_CLUSTER;
import static io.chainroute.contract.EnvoyContract.EXTPROC_HOLD_CLUSTER;
import static io.chainroute.contract.EnvoyContract.LONGEST_HOLD;
import static io.chainroute.contract.EnvoyContract.XDS_CLUSTER;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.PathRoute;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.EnvoyConfig;
import io.chainroute.config.ServerConfig;
import io.chainroute.config.ServerTls;
import io.chainroute.contract.EnvoyContract;
import io.envoyproxy.envoy.config.bootstrap.v3.Admin;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.common.mutation_rules.v3.HeaderMutation;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.BackoffStrategy;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.KeepaliveSettings;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.core.v3.RetryPolicy;
import io.envoyproxy.envoy.config.core.v3.RuntimeFeatureFlag;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.overload.v3.OverloadAction;
import io.envoyproxy.envoy.config.overload.v3.OverloadManager;
import io.envoyproxy.envoy.config.overload.v3.ResourceMonitor;
import io.envoyproxy.envoy.config.overload.v3.ScaleTimersOverloadActionConfig;
import io.envoyproxy.envoy.config.overload.v3.ScaledTrigger;
import io.envoyproxy.envoy.config.overload.v3.ThresholdTrigger;
import io.envoyproxy.envoy.config.overload.v3.Trigger;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.compression.gzip.decompressor.v3.Gzip;
import io.envoyproxy.envoy.extensions.filters.http.buffer.v3.Buffer;
import io.envoyproxy.envoy.extensions.filters.http.decompressor.v3.Decompressor;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.MetadataOptions;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig;
import io.envoyproxy.envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig;
import io.envoyproxy.envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate;
import io.envoyproxy.envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.type.matcher.v3.ListStringMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.envoyproxy.envoy.type.v3.StatusCode;
import io.envoyproxy.envoy.type.v3.TokenBucket;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Renders the Envoy bootstrap that pairs with a chainroute configuration: one listener with the
 * ext_proc filter, routes per chain path prefix and per pool header (plus the paths each chain's
 * adapter asks for), ADS to chainroute for clusters and endpoints, and static clusters for
 * chainroute's xDS and ext_proc ports. Built from the Envoy API's protos, printed with protobuf's
 * JSON printer and written as YAML. Pure.
 *
 * <p>Settings follow DESIGN.md "Envoy integration": request headers SEND (the route is re-picked
 * after the body), body BUFFERED, responses SKIP, route cache CLEAR, fail open to the head pool,
 * client-sent {@code x-chainroute-*} headers stripped before any filter runs.
 */
public final class BootstrapRenderer {
  /** A stream with no bytes either way for this long is closed (408): above any hold. */
  static final Duration STREAM_IDLE_TIMEOUT = LONGEST_HOLD.plusSeconds(5);

  /** Headers plus body plus any hold must arrive within this (408), however slowly they trickle. */
  static final Duration REQUEST_TIMEOUT = LONGEST_HOLD.plusSeconds(20);

  static final Duration REQUEST_HEADERS_TIMEOUT = Duration.ofSeconds(10);

  /** A client connection with no request in flight for this long is closed. */
  static final Duration DOWNSTREAM_IDLE_TIMEOUT = Duration.ofSeconds(60);

  /** EIP-1474 "Resource unavailable": no node could serve the request. */
  static final int RESOURCE_UNAVAILABLE = -32002;

  /** EIP-1474 "Limit exceeded": the request or the load is over a configured limit. */
  static final int LIMIT_EXCEEDED = -32005;

  static final String EXT_PROC_FILTER = "envoy.filters.http.ext_proc";
  static final String RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
  static final String DECOMPRESSOR_FILTER = "envoy.filters.http.decompressor";

  /** Refill period of the rate limit's token bucket, before rounding to an exact rate. */
  static final Duration RATE_LIMIT_FILL = Duration.ofMillis(100);

  /** Room above maxHeldRequests on the hold cluster: its other requests, and streams closing. */
  static final int HOLD_HEADROOM = 256;

  static final String HEAP = "envoy.resource_monitors.fixed_heap";
  static final String CONNECTIONS = "envoy.resource_monitors.global_downstream_max_connections";

  /** Every message type packed in an {@code Any} below: the JSON printer needs them by name. */
  static final JsonFormat.TypeRegistry TYPES =
      JsonFormat.TypeRegistry.newBuilder()
          .add(
              List.of(
                  HttpConnectionManager.getDescriptor(),
                  io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3
                      .HeaderMutation.getDescriptor(),
                  Decompressor.getDescriptor(),
                  Gzip.getDescriptor(),
                  Buffer.getDescriptor(),
                  LocalRateLimit.getDescriptor(),
                  ExternalProcessor.getDescriptor(),
                  ExtProcPerRoute.getDescriptor(),
                  FileAccessLog.getDescriptor(),
                  Router.getDescriptor(),
                  PreviousHostsPredicate.getDescriptor(),
                  PreviousPrioritiesConfig.getDescriptor(),
                  HttpProtocolOptions.getDescriptor(),
                  FixedHeapConfig.getDescriptor(),
                  DownstreamConnectionsConfig.getDescriptor(),
                  ScaleTimersOverloadActionConfig.getDescriptor(),
                  UpstreamTlsContext.getDescriptor(),
                  io.envoyproxy.envoy.extensions.filters.http.lua.v3.Lua.getDescriptor(),
                  // The chain clusters' upstream filters (node headers, hosted paths), printed
                  // when the clusters are static (EDS-only bootstrap, Istio EnvoyFilters).
                  io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.HeaderMutation
                      .getDescriptor(),
                  io.envoyproxy.envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec
                      .getDescriptor()))
          .build();

  private BootstrapRenderer() {}

  /**
   * The bootstrap as YAML, for an Envoy whose xDS node id is {@code nodeId}.
   *
   * @param adapters each chain's adapter: the paths and headers its protocol needs
   */
  public static String render(
      ChainrouteConfig config, String nodeId, Function<ChainConfig, ChainAdapter> adapters) {
    return yaml(bootstrap(config, nodeId, adapters));
  }

  /** The bootstrap as the proto Envoy reads. */
  static Bootstrap bootstrap(
      ChainrouteConfig config, String nodeId, Function<ChainConfig, ChainAdapter> adapters) {
    EnvoyConfig envoy = config.envoy();
    Node.Builder node = Node.newBuilder().setId(nodeId).setCluster(EnvoyContract.SERVICE_CLUSTER);
    if (!envoy.region().isEmpty()) {
      node.setLocality(Locality.newBuilder().setRegion(envoy.region()));
    }
    List<Chain> chains =
        config.chains().stream().map(c -> new Chain(c, adapters.apply(c))).toList();
    return Bootstrap.newBuilder()
        .setNode(node)
        .setAdmin(
            Admin.newBuilder()
                // Prometheus scrapes /stats/prometheus here (README "Metrics").
                .setAddress(socket(envoy.adminAddress(), envoy.adminPort()))
                // Stats and /ready stay reachable when the client connection limit is reached.
                .setIgnoreGlobalConnLimit(true))
        .setDynamicResources(
            Bootstrap.DynamicResources.newBuilder()
                .setAdsConfig(chainrouteSource())
                // Without clusters in 5 s Envoy starts serving anyway (503 -32002 until they
                // come) instead of waiting the default 15 s with its listener closed.
                .setCdsConfig(
                    ConfigSource.newBuilder()
                        .setAds(AggregatedConfigSource.getDefaultInstance())
                        .setResourceApiVersion(ApiVersion.V3)
                        .setInitialFetchTimeout(duration(5000))))
        .setStaticResources(
            Bootstrap.StaticResources.newBuilder()
                .addListeners(listener(config, chains))
                .addAllClusters(sidecarClusters(config, chains)))
        .setOverloadManager(overloadManager(envoy))
        .build();
  }

  /**
   * chainroute's xDS port as a gRPC config source: ADS in the full bootstrap, the EDS source of
   * each chain cluster in the EDS-only one.
   */
  private static ApiConfigSource.Builder chainrouteSource() {
    return ApiConfigSource.newBuilder()
        .setApiType(ApiConfigSource.ApiType.GRPC)
        .setTransportApiVersion(ApiVersion.V3)
        .setSetNodeOnFirstMessageOnly(true)
        .addGrpcServices(
            GrpcService.newBuilder()
                .setEnvoyGrpc(
                    GrpcService.EnvoyGrpc.newBuilder()
                        .setClusterName(XDS_CLUSTER)
                        // Reconnect to a restarted chainroute within half a second
                        // (Envoy's default back-off, 0.5 s growing to 30 s,
                        // measured 9-21 s; 0.25-1 s gave 0.8-1.7 s). A refused
                        // connect to a dead port costs nothing.
                        .setRetryPolicy(
                            RetryPolicy.newBuilder()
                                .setRetryBackOff(
                                    BackoffStrategy.newBuilder()
                                        .setBaseInterval(duration(100))
                                        .setMaxInterval(duration(500))))));
  }

  /**
   * The EDS-only bootstrap: the shape a mesh produces when it owns the listener, routes and
   * clusters (issue 12). Listener, routes, ext_proc filter and sidecar clusters as in {@link
   * #render}; no ADS. The chain clusters are static, as a mesh would add them, each taking its
   * endpoints from chainroute's xDS port over its own EDS stream ({@code eds_config} with an {@code
   * api_config_source}, not ADS) under its chainroute name ({@code service_name}, so a mesh may
   * name the cluster as it likes).
   *
   * @param chainClusters the clusters chainroute serves over CDS in ADS mode (the composition root
   *     passes the xDS edge's); their EDS source is replaced here
   */
  public static String renderEdsOnly(
      ChainrouteConfig config,
      String nodeId,
      Function<ChainConfig, ChainAdapter> adapters,
      List<Cluster> chainClusters) {
    return yaml(edsOnly(config, nodeId, adapters, chainClusters), EDS_ONLY_HEADER);
  }

  static Bootstrap edsOnly(
      ChainrouteConfig config,
      String nodeId,
      Function<ChainConfig, ChainAdapter> adapters,
      List<Cluster> chainClusters) {
    Bootstrap.Builder b = bootstrap(config, nodeId, adapters).toBuilder().clearDynamicResources();
    for (Cluster c : chainClusters) {
      b.getStaticResourcesBuilder().addClusters(edsFromChainroute(c));
    }
    return b.build();
  }

  /** {@code cluster} taking its endpoints from chainroute over a plain (non-ADS) EDS stream. */
  static Cluster edsFromChainroute(Cluster cluster) {
    Cluster.Builder c = cluster.toBuilder();
    ConfigSource.Builder eds =
        c.getEdsClusterConfigBuilder()
            .setServiceName(cluster.getName())
            .getEdsConfigBuilder()
            .clearAds()
            .setApiConfigSource(chainrouteSource());
    if (!eds.hasInitialFetchTimeout()) {
      eds.setInitialFetchTimeout(duration(5000));
    }
    return c.build();
  }

  private static final String EDS_ONLY_HEADER =
      """
      # Envoy bootstrap for chainroute in EDS-only mode, rendered by `chainroute bootstrap --eds-only`.
      # Listener, routes and clusters are static (as a mesh would hold them); endpoints arrive over EDS
      # from chainroute. Edit the chainroute config, not this file.
      """;

  /** A chain with its adapter. */
  record Chain(ChainConfig config, ChainAdapter adapter) {
    boolean root() {
      return config.pathPrefix().equals("/");
    }

    boolean holds() {
      return adapter.pathRoutes().stream().anyMatch(PathRoute::held);
    }
  }

  private static final String HEADER =
      """
      # Envoy bootstrap for chainroute, rendered by `chainroute bootstrap`.
      # Clusters and endpoints arrive over ADS from chainroute; edit the chainroute config, not this file.
      """;

  /** Protobuf's JSON (field-number order, snake_case names, defaults left out) as YAML. */
  static String yaml(Bootstrap bootstrap) {
    return yaml(bootstrap, HEADER);
  }

  private static String yaml(Bootstrap bootstrap, String header) {
    try {
      String json =
          JsonFormat.printer()
              .usingTypeRegistry(TYPES)
              .preservingProtoFieldNames()
              .sortingMapKeys()
              .print(bootstrap);
      return header + YAML.writeValueAsString(JSON.readTree(json));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("an Any type is missing from TYPES", e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Listener listener(ChainrouteConfig config, List<Chain> chains) {
    EnvoyConfig envoy = config.envoy();
    int maxRequestBytes = config.server().maxRequestBytes();
    var strip =
        io.envoyproxy.envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation
            .newBuilder();
    EnvoyContract.ROUTING_HEADERS.forEach(
        h -> strip.addMutations(HeaderMutation.newBuilder().setRemove(h)));
    HttpConnectionManager.Builder hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix("rpc")
            .setGenerateRequestId(BoolValue.of(false))
            // Strip client-sent routing headers before any filter or route sees them: a client
            // must not pick its own pool (ext_proc also removes them; this holds when ext_proc
            // fails open).
            .addEarlyHeaderMutationExtensions(
                extension("chainroute.strip_routing_headers", strip.build()))
            // Downstream timeouts (docs/reliability-envoy.md): slow or silent clients are closed;
            // every timeout that runs while chainroute holds a request is above the longest hold.
            .setRequestHeadersTimeout(duration(REQUEST_HEADERS_TIMEOUT))
            .setRequestTimeout(duration(REQUEST_TIMEOUT))
            .setStreamIdleTimeout(duration(STREAM_IDLE_TIMEOUT))
            .setCommonHttpProtocolOptions(
                io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.newBuilder()
                    .setIdleTimeout(duration(DOWNSTREAM_IDLE_TIMEOUT)))
            .setDelayedCloseTimeout(duration(1000))
            .setLocalReplyConfig(LocalReplies.config(config, chains))
            .setRouteConfig(ChainRoutes.config(config.envoy(), chains))
            // A gzip-encoded body is decoded first, so ext_proc and the buffer see JSON.
            .addHttpFilters(decompressorFilter())
            // The whole request is read next, always: a slow or unfinished body then costs Envoy
            // a buffer, not an ext_proc stream or a node connection (see bufferFilter); and a 429
            // sent before the body was read would make Envoy close the connection (one reconnect
            // per rejection, measured).
            .addHttpFilters(bufferFilter(maxRequestBytes));
    var accessLog = AccessLog.config(envoy);
    if (accessLog != null) {
      hcm.addAccessLog(accessLog);
    }
    if (envoy.maxRequestsPerSecond() > 0) {
      // Then the limit, before ext_proc: a rejection costs no ext_proc stream, no node call.
      hcm.addHttpFilters(rateLimitFilter(envoy.maxRequestsPerSecond()));
    }
    HttpFilter fastPath = envoy.fastPath() ? FastPathFilter.filter(chains) : null;
    if (fastPath != null) {
      // After the limit (a rejected request costs no scan), before ext_proc (FastPathFilter).
      hcm.addHttpFilters(fastPath);
    }
    hcm.addHttpFilters(extProcFilter(envoy))
        .addHttpFilters(captureFilter(envoy))
        .addHttpFilters(filter("envoy.filters.http.router", Router.getDefaultInstance()));
    return Listener.newBuilder()
        .setName("rpc")
        .setAddress(socket(envoy.listenerAddress(), envoy.listenerPort()))
        // Bodies above this get 413 from Envoy; chainroute's gRPC inbound limit is sized to match.
        .setPerConnectionBufferLimitBytes(UInt32Value.of(maxRequestBytes))
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(
                    Filter.newBuilder()
                        .setName("envoy.filters.network.http_connection_manager")
                        .setTypedConfig(Any.pack(hcm.build()))))
        .build();
  }

  /**
   * Decodes {@code Content-Encoding: gzip} request bodies before any other filter, so chainroute
   * classifies (and the node receives) the JSON the client meant; the buffer filter after it sets
   * the decoded length. Responses are left as the node sent them: Envoy never asks a node for
   * compression on its own.
   */
  static HttpFilter decompressorFilter() {
    return filter(
        DECOMPRESSOR_FILTER,
        Decompressor.newBuilder()
            .setDecompressorLibrary(extension("gzip", Gzip.getDefaultInstance()))
            .setRequestDirectionConfig(
                Decompressor.RequestDirectionConfig.newBuilder().setCommonConfig(direction(true)))
            .setResponseDirectionConfig(
                Decompressor.ResponseDirectionConfig.newBuilder().setCommonConfig(direction(false)))
            .build());
  }

  private static Decompressor.CommonDirectionConfig direction(boolean enabled) {
    return Decompressor.CommonDirectionConfig.newBuilder()
        .setEnabled(
            RuntimeFeatureFlag.newBuilder()
                .setDefaultValue(BoolValue.of(enabled))
                .setRuntimeKey(
                    "chainroute.decompressor." + (enabled ? "request" : "response") + ".enabled"))
        .build();
  }

  /**
   * Holds each request until its whole body has arrived, before ext_proc or a node sees it. A
   * client that sends headers and then trickles (or never finishes) its body costs Envoy only the
   * buffer until request_timeout: no ext_proc stream, no upstream connection. Without it 5,000 such
   * clients held ext_proc streams, some failed open to the nodes with half a body, filled the node
   * clusters' connection limits and failed 679 of 4,871 ordinary reads (EnvoyDrillsIT). Bodies
   * (decoded) above {@code maxBytes} get 413, as before.
   */
  static HttpFilter bufferFilter(int maxBytes) {
    return filter(
        "envoy.filters.http.buffer",
        Buffer.newBuilder().setMaxRequestBytes(UInt32Value.of(maxBytes)).build());
  }

  /**
   * Envoy's local rate limit: one token bucket per Envoy process (shared by its workers and every
   * chain; {@code local_rate_limit_per_downstream_connection: false}), refilled about every 100 ms
   * so the rate holds over short windows. The bucket holds 100 ms of the rate (at least 10
   * requests, or the whole rate if below 10): that is the burst Envoy admits at once, and with a
   * limit at capacity the queueing delay it can add. A 1 s bucket would admit a second's worth of
   * work at the onset of overload, a backlog a system running at its limit never drains. Past it:
   * 429, response flag {@code RL}, mapped to {@code -32005} by {@link LocalReplies}.
   */
  static HttpFilter rateLimitFilter(int perSecond) {
    long fillTokens = Math.max(1, Math.round(perSecond * RATE_LIMIT_FILL.toMillis() / 1000.0));
    // The interval that makes fillTokens per interval exactly perSecond (to the millisecond).
    long fillMillis = Math.max(1, Math.round(fillTokens * 1000.0 / perSecond));
    long maxTokens = Math.max(fillTokens, Math.max(perSecond / 10, Math.min(perSecond, 10)));
    return filter(
        RATE_LIMIT_FILTER,
        LocalRateLimit.newBuilder()
            .setStatPrefix("chainroute_rate_limit")
            .setStatus(HttpStatus.newBuilder().setCode(StatusCode.TooManyRequests))
            .setTokenBucket(
                TokenBucket.newBuilder()
                    .setMaxTokens((int) maxTokens)
                    .setTokensPerFill(UInt32Value.of((int) fillTokens))
                    .setFillInterval(duration(fillMillis)))
            .setFilterEnabled(always("chainroute.rate_limit.enabled"))
            .setFilterEnforced(always("chainroute.rate_limit.enforced"))
            // Per Envoy, not per client connection: the limit protects this Envoy's capacity.
            .setLocalRateLimitPerDownstreamConnection(false)
            // The bucket refills within a second; clients that honour it back off for that long.
            .addResponseHeadersToAdd(headerValue("retry-after", "1"))
            .build());
  }

  private static RuntimeFractionalPercent always(String runtimeKey) {
    return RuntimeFractionalPercent.newBuilder()
        .setDefaultValue(
            FractionalPercent.newBuilder()
                .setNumerator(100)
                .setDenominator(FractionalPercent.DenominatorType.HUNDRED))
        .setRuntimeKey(runtimeKey)
        .build();
  }

  static HttpFilter extProcFilter(EnvoyConfig envoy) {
    return filter(
        EXT_PROC_FILTER,
        ExternalProcessor.newBuilder()
            .setGrpcService(envoyGrpc(EXTPROC_CLUSTER))
            // chainroute down or slow: Envoy continues without a pool header, so the default
            // route sends the request to the head pool it last knew.
            .setFailureModeAllow(true)
            .setMessageTimeout(duration(envoy.messageTimeout()))
            // chainroute may hold a request (a wait for a height: up to 60 s; graceful startup)
            // and extends the timeout of that one message with override_message_timeout, up to
            // this.
            .setMaxMessageTimeout(duration(LONGEST_HOLD))
            .setProcessingMode(
                ProcessingMode.newBuilder()
                    // SEND is required: with SKIP the route is picked before the body is read.
                    .setRequestHeaderMode(ProcessingMode.HeaderSendMode.SEND)
                    .setResponseHeaderMode(ProcessingMode.HeaderSendMode.SKIP)
                    .setRequestBodyMode(ProcessingMode.BodySendMode.BUFFERED)
                    .setResponseBodyMode(ProcessingMode.BodySendMode.NONE)
                    .setRequestTrailerMode(ProcessingMode.HeaderSendMode.SKIP)
                    .setResponseTrailerMode(ProcessingMode.HeaderSendMode.SKIP))
            // The pool header is set after the route was first picked: re-pick it.
            .setRouteCacheAction(ExternalProcessor.RouteCacheAction.CLEAR)
            // A GET (or an unknown path) tells Envoy not to buffer its body.
            .setAllowModeOverride(true)
            // chainroute hands Envoy the request's JSON-RPC id as dynamic metadata
            // (chainroute.id), so Envoy's own error replies can echo it (LocalReplies).
            .setMetadataOptions(
                MetadataOptions.newBuilder()
                    .setReceivingNamespaces(
                        MetadataOptions.MetadataNamespaces.newBuilder()
                            .addUntyped(EnvoyContract.METADATA_NAMESPACE)))
            // chainroute reads only the method and path: every other header would be encoded,
            // sent and decoded for nothing on each request.
            .setForwardRules(forwardOnly(":path", ":method"))
            .build());
  }

  /** ext_proc header forwarding: only these headers are sent to chainroute. */
  private static io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.HeaderForwardingRules
      forwardOnly(String... headers) {
    ListStringMatcher.Builder allowed = ListStringMatcher.newBuilder();
    for (String h : headers) {
      allowed.addPatterns(StringMatcher.newBuilder().setExact(h));
    }
    return io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.HeaderForwardingRules
        .newBuilder()
        .setAllowedHeaders(allowed)
        .build();
  }

  /**
   * The response cache's capture filter: every phase off here (no stream is opened), turned on by
   * the capture routes' per-route config (ChainRoutes) for the node's answer only. It runs after
   * chainroute's first filter has re-picked the route, so it reads the capture route's config.
   */
  private static HttpFilter captureFilter(EnvoyConfig envoy) {
    return filter(
        EnvoyContract.CAPTURE_FILTER,
        ExternalProcessor.newBuilder()
            .setGrpcService(envoyGrpc(EXTPROC_CLUSTER))
            // Its own counters (http.<prefix>.ext_proc.capture.*): the routing filter's
            // streams_started and failure_mode_allowed, which the alert rules read, count routing
            // decisions only.
            .setStatPrefix("capture")
            // A capture that fails leaves the answer unchanged and uncached.
            .setFailureModeAllow(true)
            .setMessageTimeout(duration(envoy.messageTimeout()))
            .setProcessingMode(
                ProcessingMode.newBuilder()
                    .setRequestHeaderMode(ProcessingMode.HeaderSendMode.SKIP)
                    .setResponseHeaderMode(ProcessingMode.HeaderSendMode.SKIP)
                    .setRequestBodyMode(ProcessingMode.BodySendMode.NONE)
                    .setResponseBodyMode(ProcessingMode.BodySendMode.NONE)
                    .setRequestTrailerMode(ProcessingMode.HeaderSendMode.SKIP)
                    .setResponseTrailerMode(ProcessingMode.HeaderSendMode.SKIP))
            // An answer chainroute will not keep (an error status, compressed, too large) is let
            // through without its body being sent.
            .setAllowModeOverride(true)
            // The capture note chainroute set on the request comes back with the answer.
            .setMetadataOptions(
                MetadataOptions.newBuilder()
                    .setForwardingNamespaces(
                        MetadataOptions.MetadataNamespaces.newBuilder()
                            .addUntyped(EnvoyContract.METADATA_NAMESPACE)))
            .setForwardRules(forwardOnly(":status", "content-encoding", "content-length"))
            .build());
  }

  static List<Cluster> sidecarClusters(ChainrouteConfig config, List<Chain> chains) {
    EnvoyConfig envoy = config.envoy();
    ServerConfig server = config.server();
    List<Cluster> out = new ArrayList<>();
    // xDS stays on TCP: one long-lived stream, nothing to gain from the socket.
    out.add(sidecarCluster(XDS_CLUSTER, socket(envoy.chainrouteHost(), server.xdsPort()), 0));
    // ext_proc over chainroute's Unix socket when it serves one (same host), else over TCP.
    Address extProc =
        server.extProcSocket() == null
            ? socket(envoy.chainrouteHost(), server.extProcPort())
            : pipe(server.extProcSocket().toString());
    out.add(sidecarCluster(EXTPROC_CLUSTER, extProc, envoy.extProcMaxRequests()));
    if (chains.stream().anyMatch(Chain::holds)) {
      out.add(
          sidecarCluster(EXTPROC_HOLD_CLUSTER, extProc, server.maxHeldRequests() + HOLD_HEADROOM));
    }
    if (server.tls() == null) {
      return out;
    }
    TransportSocket tls = sidecarTls(server.tls());
    return out.stream().map(c -> c.toBuilder().setTransportSocket(tls).build()).toList();
  }

  /**
   * Envoy's side of the mTLS link to chainroute's xDS and ext_proc ports: its client certificate,
   * the CA it checks chainroute's certificate with, and the name it sends (SNI) and requires in
   * that certificate's DNS subjectAltName (a CA-signed certificate for another name is refused).
   * ALPN h2 because gRPC servers refuse a TLS connection that did not negotiate HTTP/2.
   */
  static TransportSocket sidecarTls(ServerTls tls) {
    UpstreamTlsContext context =
        UpstreamTlsContext.newBuilder()
            .setSni(tls.serverName())
            .setCommonTlsContext(
                CommonTlsContext.newBuilder()
                    .addAlpnProtocols("h2")
                    .addTlsCertificates(
                        TlsCertificate.newBuilder()
                            .setCertificateChain(
                                DataSource.newBuilder().setFilename(tls.envoyCert()))
                            .setPrivateKey(DataSource.newBuilder().setFilename(tls.envoyKey())))
                    .setValidationContext(
                        CertificateValidationContext.newBuilder()
                            .setTrustedCa(DataSource.newBuilder().setFilename(tls.envoyCa()))
                            .addMatchTypedSubjectAltNames(
                                SubjectAltNameMatcher.newBuilder()
                                    .setSanType(SubjectAltNameMatcher.SanType.DNS)
                                    .setMatcher(
                                        StringMatcher.newBuilder().setExact(tls.serverName())))))
            .build();
    return TransportSocket.newBuilder()
        .setName("envoy.transport_sockets.tls")
        .setTypedConfig(Any.pack(context))
        .build();
  }

  /**
   * A cluster for chainroute: explicit HTTP/2 (gRPC) with keepalive; for the ext_proc clusters also
   * circuit breakers and outlier detection.
   *
   * <p>Sizing: {@code EXTPROC_CLUSTER} allows {@code envoy.extProcMaxRequests} (default {@value
   * io.chainroute.config.EnvoyConfig#DEFAULT_EXT_PROC_MAX_REQUESTS}) streams and pending requests
   * at once, one stream per client request in ext_proc: far above what one chainroute decides
   * concurrently at its measured sub-millisecond decision time, and a bound on the queue in front
   * of it; past it the request fails open to the head pool. {@code EXTPROC_HOLD_CLUSTER} allows
   * {@code server.maxHeldRequests} plus {@value #HOLD_HEADROOM}, since every held request (a wait
   * for a block or round) keeps its stream open for up to a minute and chainroute bounds holds
   * itself. Connections are capped at 100 000, i.e. not at all: HTTP/2 multiplexes, Envoy opens one
   * per worker.
   *
   * @param address host:port (STRICT_DNS: a name may stand for several replicas) or a pipe (STATIC)
   * @param extProcMaxRequests the processor cluster's request limit; 0 for the xDS cluster
   */
  private static Cluster sidecarCluster(String name, Address address, int extProcMaxRequests) {
    Cluster.Builder c =
        Cluster.newBuilder()
            .setName(name)
            // A pipe has no name to resolve: Envoy refuses STRICT_DNS for it.
            .setType(
                address.hasPipe() ? Cluster.DiscoveryType.STATIC : Cluster.DiscoveryType.STRICT_DNS)
            .setConnectTimeout(duration(1000))
            .putTypedExtensionProtocolOptions(
                HttpProtocolOptions.getDescriptor().getFullName(),
                Any.pack(
                    HttpProtocolOptions.newBuilder()
                        .setExplicitHttpConfig(
                            // A chainroute host that vanished without closing the connection is
                            // noticed within about 20 s (a killed process closes it at once).
                            // chainroute permits pings every 10 s (Sidecar permitKeepAliveTime);
                            // more often is a strike.
                            HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                                .setHttp2ProtocolOptions(
                                    Http2ProtocolOptions.newBuilder()
                                        .setConnectionKeepalive(
                                            KeepaliveSettings.newBuilder()
                                                .setInterval(duration(15_000))
                                                .setTimeout(duration(5_000)))))
                        .build()));
    if (extProcMaxRequests > 0) {
      // One gRPC stream per HTTP request, so this caps requests inside ext_proc at once: the
      // bounded queue in front of chainroute. Past it Envoy does not wait: the request skips
      // routing and goes to the head pool (failure_mode_allow), the degraded path of README
      // "Overload". Holds by design use EXTPROC_HOLD_CLUSTER.
      c.setCircuitBreakers(
          CircuitBreakers.newBuilder()
              .addThresholds(
                  CircuitBreakers.Thresholds.newBuilder()
                      .setMaxConnections(UInt32Value.of(100_000))
                      .setMaxPendingRequests(UInt32Value.of(extProcMaxRequests))
                      .setMaxRequests(UInt32Value.of(extProcMaxRequests))));
      // Several replicas behind one name (a headless Kubernetes Service): Envoy spreads ext_proc
      // streams over them and does not retry a stream on another host, so a dead replica that is
      // still an address of the name would fail open every request sent to it until the name
      // drops it (half of them with two replicas, ReplicasDrillIT). Two refused or reset
      // connections in a row eject it for 10 s (doubling while it stays dead); at most half the
      // hosts, and with one host Envoy's panic mode still sends to it, as before.
      c.setOutlierDetection(
          io.envoyproxy.envoy.config.cluster.v3.OutlierDetection.newBuilder()
              .setSplitExternalLocalOriginErrors(true)
              .setConsecutiveLocalOriginFailure(UInt32Value.of(2))
              .setInterval(duration(1000))
              .setBaseEjectionTime(duration(10_000))
              .setMaxEjectionPercent(UInt32Value.of(50)));
    }
    return c.setLoadAssignment(
            ClusterLoadAssignment.newBuilder()
                .setClusterName(name)
                .addEndpoints(
                    LocalityLbEndpoints.newBuilder()
                        .addLbEndpoints(
                            LbEndpoint.newBuilder()
                                .setEndpoint(Endpoint.newBuilder().setAddress(address)))))
        .build();
  }

  /**
   * Envoy's own protection against overload, in the order it acts as its heap fills: return free
   * memory (90 %), shorten idle timeouts (scaled from 80 % to 95 %, and as client connections near
   * their limit), stop accepting connections (95 %), refuse new requests with 503 {@code -32005}
   * (98 %). The client connection limit itself closes connections past it at accept.
   */
  private static OverloadManager overloadManager(EnvoyConfig envoy) {
    return OverloadManager.newBuilder()
        .setRefreshInterval(duration(250))
        .addResourceMonitors(
            monitor(
                HEAP,
                FixedHeapConfig.newBuilder().setMaxHeapSizeBytes(envoy.maxHeapBytes()).build()))
        // Replaces the deprecated runtime key overload.global_downstream_max_connections (Envoy
        // warns at start when neither is set).
        .addResourceMonitors(
            monitor(
                CONNECTIONS,
                DownstreamConnectionsConfig.newBuilder()
                    .setMaxActiveDownstreamConnections(envoy.maxDownstreamConnections())
                    .build()))
        .addActions(action("envoy.overload_actions.shrink_heap", threshold(HEAP, 0.90)))
        .addActions(
            action(
                    "envoy.overload_actions.reduce_timeouts",
                    // Verified with Envoy 1.40: the proactive connection monitor works as a
                    // trigger (8 of 10 connections: pressure 80, scale_percent 40).
                    scaled(HEAP, 0.80, 0.95),
                    scaled(CONNECTIONS, 0.70, 0.95))
                .setTypedConfig(
                    Any.pack(
                        ScaleTimersOverloadActionConfig.newBuilder()
                            .addTimerScaleFactors(
                                timerScale(
                                    ScaleTimersOverloadActionConfig.TimerType
                                        .HTTP_DOWNSTREAM_CONNECTION_IDLE,
                                    2))
                            .addTimerScaleFactors(
                                timerScale(
                                    ScaleTimersOverloadActionConfig.TimerType
                                        .HTTP_DOWNSTREAM_STREAM_IDLE,
                                    10))
                            .build())))
        .addActions(
            action("envoy.overload_actions.stop_accepting_connections", threshold(HEAP, 0.95)))
        .addActions(action("envoy.overload_actions.stop_accepting_requests", threshold(HEAP, 0.98)))
        .build();
  }

  private static ResourceMonitor monitor(String name, Message config) {
    return ResourceMonitor.newBuilder().setName(name).setTypedConfig(Any.pack(config)).build();
  }

  private static OverloadAction.Builder action(String name, Trigger... triggers) {
    return OverloadAction.newBuilder().setName(name).addAllTriggers(List.of(triggers));
  }

  private static Trigger threshold(String monitor, double value) {
    return Trigger.newBuilder()
        .setName(monitor)
        .setThreshold(ThresholdTrigger.newBuilder().setValue(value))
        .build();
  }

  private static Trigger scaled(String monitor, double from, double to) {
    return Trigger.newBuilder()
        .setName(monitor)
        .setScaled(ScaledTrigger.newBuilder().setScalingThreshold(from).setSaturationThreshold(to))
        .build();
  }

  private static ScaleTimersOverloadActionConfig.ScaleTimer timerScale(
      ScaleTimersOverloadActionConfig.TimerType timer, long minSeconds) {
    return ScaleTimersOverloadActionConfig.ScaleTimer.newBuilder()
        .setTimer(timer)
        .setMinTimeout(duration(minSeconds * 1000))
        .build();
  }

  static HttpFilter filter(String name, Message config) {
    return HttpFilter.newBuilder().setName(name).setTypedConfig(Any.pack(config)).build();
  }

  static TypedExtensionConfig extension(String name, Message config) {
    return TypedExtensionConfig.newBuilder().setName(name).setTypedConfig(Any.pack(config)).build();
  }

  /**
   * An ext_proc filter's gRPC service. {@code skip_envoy_headers}: Envoy adds no {@code x-envoy-*}
   * or {@code x-forwarded-for} headers to each stream it opens to chainroute; chainroute reads no
   * gRPC metadata on ext_proc (no interceptor, no header read in ExtProcService), so they were
   * encoded, sent and decoded for nothing.
   */
  static GrpcService envoyGrpc(String cluster) {
    return GrpcService.newBuilder()
        .setEnvoyGrpc(
            GrpcService.EnvoyGrpc.newBuilder().setClusterName(cluster).setSkipEnvoyHeaders(true))
        .build();
  }

  /** A header set on a request or response, replacing any the peer sent. */
  static HeaderValueOption headerValue(String key, String value) {
    return HeaderValueOption.newBuilder()
        .setHeader(HeaderValue.newBuilder().setKey(key).setValue(value))
        .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)
        .build();
  }

  private static Address pipe(String path) {
    return Address.newBuilder()
        .setPipe(io.envoyproxy.envoy.config.core.v3.Pipe.newBuilder().setPath(path))
        .build();
  }

  private static Address socket(String address, int port) {
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(address).setPortValue(port))
        .build();
  }

  static com.google.protobuf.Duration duration(Duration d) {
    return Durations.fromMillis(d.toMillis());
  }

  static com.google.protobuf.Duration duration(long millis) {
    return Durations.fromMillis(millis);
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private static final YAMLMapper YAML =
      new YAMLMapper(
          YAMLFactory.builder()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
              // A string that looks like a number (the retry-after value, a 64-bit integer that
              // protobuf's JSON writes as a string) stays a string.
              .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
              .build());
}
