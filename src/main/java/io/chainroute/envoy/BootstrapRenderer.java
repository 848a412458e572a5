package io.chainroute.envoy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.EnvoyConfig;
import io.chainroute.config.Protocol;
import io.chainroute.config.ServerConfig;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Renders the Envoy bootstrap that pairs with a chainroute configuration: one listener with the
 * ext_proc filter, routes per chain path prefix and per pool header, ADS to chainroute for clusters
 * and endpoints, and static clusters for chainroute's xDS and ext_proc ports. Pure.
 *
 * <p>Settings follow DESIGN.md "Envoy integration": request headers SEND (the route is re-picked
 * after the body), body BUFFERED, responses SKIP, route cache CLEAR, fail open to the head pool,
 * client-sent {@code x-chainroute-*} headers stripped before any filter runs.
 */
@SuppressWarnings("unchecked")
public final class BootstrapRenderer {
  public static final String POOL_HEADER = "x-chainroute-pool";
  public static final String WRITE_HEADER = "x-chainroute-write";
  public static final String UPSTREAM_HEADER = "x-chainroute-upstream";
  static final String XDS_CLUSTER = "chainroute_xds";
  static final String EXTPROC_CLUSTER = "chainroute_extproc";

  /** Dynamic metadata namespace chainroute writes from ext_proc (the request's id: {@code id}). */
  static final String METADATA_NAMESPACE = "chainroute";

  /**
   * The same chainroute port, for the routes whose requests chainroute holds by design (algod
   * {@code wait-for-block-after}): their own circuit breaker, so thousands of waiting clients never
   * take the slots that bound ordinary requests inside ext_proc (see {@link #EXTPROC_CLUSTER}'s).
   */
  static final String EXTPROC_HOLD_CLUSTER = "chainroute_extproc_hold";

  /**
   * The longest chainroute may hold a request inside ext_proc (algod {@code wait-for-block-after}:
   * 60 s; graceful startup: {@code server.unavailableWait}, at most 55 s): ext_proc's
   * max_message_timeout, and the floor of every downstream timeout that runs during a hold.
   */
  static final Duration LONGEST_HOLD = Duration.ofSeconds(70);

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

  /** Reads are idempotent: retry them on another node when the connection fails or resets. */
  private static final String READ_RETRY_ON = "connect-failure,refused-stream,reset";

  /**
   * Writes (and requests the sidecar did not classify) are retried only when the request cannot
   * have reached a node: a transaction is never sent twice blindly. {@code reset-before-request}:
   * the connection was reset before the request went out (a pooled connection the node closed as
   * Envoy picked it), safe for a write.
   */
  private static final String SAFE_RETRY_ON = "connect-failure,refused-stream,reset-before-request";

  private BootstrapRenderer() {}

  /** The bootstrap as YAML, for an Envoy whose xDS node id is {@code nodeId}. */
  public static String render(ChainrouteConfig config, String nodeId) {
    Map<String, Object> root = new LinkedHashMap<>();
    EnvoyConfig envoy = config.envoy();
    Map<String, Object> node = map("id", nodeId, "cluster", "chainroute");
    if (!envoy.region().isEmpty()) {
      node.put("locality", map("region", envoy.region()));
    }
    root.put("node", node);
    root.put(
        "admin",
        map(
            "address",
            socket("127.0.0.1", envoy.adminPort()),
            // Stats and /ready stay reachable when the client connection limit is reached.
            "ignore_global_conn_limit",
            true));
    root.put(
        "dynamic_resources",
        map(
            "ads_config",
            map(
                "api_type",
                "GRPC",
                "transport_api_version",
                "V3",
                "set_node_on_first_message_only",
                true,
                "grpc_services",
                List.of(
                    map(
                        "envoy_grpc",
                        map(
                            "cluster_name",
                            XDS_CLUSTER,
                            // Reconnect to a restarted chainroute within half a second
                            // (Envoy's default back-off, 0.5 s growing to 30 s, measured
                            // 9-21 s; 0.25-1 s gave 0.8-1.7 s). A refused connect to a
                            // dead port costs nothing.
                            "retry_policy",
                            map(
                                "retry_back_off",
                                map("base_interval", "0.1s", "max_interval", "0.5s")))))),
            // Without clusters in 5 s Envoy starts serving anyway (503 -32002 until they come)
            // instead of waiting the default 15 s with its listener closed.
            "cds_config",
            map("ads", map(), "resource_api_version", "V3", "initial_fetch_timeout", "5s")));
    root.put(
        "static_resources",
        map(
            "listeners", List.of(listener(config)),
            "clusters", sidecarClusters(config)));
    root.put("overload_manager", overloadManager(envoy));
    try {
      return HEADER + YAML.writeValueAsString(root);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static final String HEADER =
      """
      # Envoy bootstrap for chainroute, rendered by `chainroute bootstrap`.
      # Clusters and endpoints arrive over ADS from chainroute; edit the chainroute config, not this file.
      """;

  private static Map<String, Object> listener(ChainrouteConfig config) {
    EnvoyConfig envoy = config.envoy();
    Map<String, Object> hcm = new LinkedHashMap<>();
    hcm.put(
        "@type",
        "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
    hcm.put("stat_prefix", "rpc");
    hcm.put("generate_request_id", false);
    // Strip client-sent routing headers before any filter or route sees them: a client must not
    // pick its own pool (ext_proc also removes them; this holds when ext_proc fails open).
    hcm.put(
        "early_header_mutation_extensions",
        List.of(
            map(
                "name",
                "chainroute.strip_routing_headers",
                "typed_config",
                map(
                    "@type",
                    "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation",
                    "mutations",
                    List.of(
                        map("remove", POOL_HEADER),
                        map("remove", WRITE_HEADER),
                        map("remove", UPSTREAM_HEADER))))));
    // Downstream timeouts (docs/reliability-envoy.md): slow or silent clients are closed; every
    // timeout that runs while chainroute holds a request is above the longest hold.
    hcm.put("request_headers_timeout", duration(REQUEST_HEADERS_TIMEOUT));
    hcm.put("request_timeout", duration(REQUEST_TIMEOUT));
    hcm.put("stream_idle_timeout", duration(STREAM_IDLE_TIMEOUT));
    hcm.put("common_http_protocol_options", map("idle_timeout", duration(DOWNSTREAM_IDLE_TIMEOUT)));
    hcm.put("delayed_close_timeout", "1s");
    hcm.put("local_reply_config", LocalReplies.config(config));
    hcm.put("route_config", routes(config));
    List<Object> filters = new ArrayList<>();
    // The whole request is read first, always: a slow or unfinished body then costs Envoy a buffer,
    // not an ext_proc stream or a node connection (see bufferFilter); and a 429 sent before the
    // body was read would make Envoy close the connection (one reconnect per rejection, measured).
    filters.add(bufferFilter(config.server().maxRequestBytes()));
    if (envoy.maxRequestsPerSecond() > 0) {
      // Then the limit, before ext_proc: a rejection costs no ext_proc stream, no node call.
      filters.add(rateLimitFilter(envoy.maxRequestsPerSecond()));
    }
    filters.add(extProcFilter(envoy));
    filters.add(
        map(
            "name",
            "envoy.filters.http.router",
            "typed_config",
            map("@type", "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")));
    hcm.put("http_filters", filters);
    return map(
        "name", "rpc",
        "address", socket("0.0.0.0", envoy.listenerPort()),
        // Bodies above this get 413 from Envoy; chainroute's gRPC inbound limit is sized to match.
        "per_connection_buffer_limit_bytes", config.server().maxRequestBytes(),
        "filter_chains",
            List.of(
                map(
                    "filters",
                    List.of(
                        map(
                            "name",
                            "envoy.filters.network.http_connection_manager",
                            "typed_config",
                            hcm)))));
  }

  static final String RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";

  /** Refill period of the rate limit's token bucket, before rounding to an exact rate. */
  static final Duration RATE_LIMIT_FILL = Duration.ofMillis(100);

  /**
   * Holds each request until its whole body has arrived, before ext_proc or a node sees it. A
   * client that sends headers and then trickles (or never finishes) its body costs Envoy only the
   * buffer until request_timeout: no ext_proc stream, no upstream connection. Without it 5,000 such
   * clients held ext_proc streams, some failed open to the nodes with half a body, filled the node
   * clusters' connection limits and failed 679 of 4,871 ordinary reads (EnvoyDrillsIT). Bodies
   * above {@code maxBytes} get 413, as before.
   */
  static Map<String, Object> bufferFilter(int maxBytes) {
    return map(
        "name",
        "envoy.filters.http.buffer",
        "typed_config",
        map(
            "@type",
            "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
            "max_request_bytes",
            maxBytes));
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
  static Map<String, Object> rateLimitFilter(int perSecond) {
    long fillTokens = Math.max(1, Math.round(perSecond * RATE_LIMIT_FILL.toMillis() / 1000.0));
    // The interval that makes fillTokens per interval exactly perSecond (to the millisecond).
    long fillMillis = Math.max(1, Math.round(fillTokens * 1000.0 / perSecond));
    long maxTokens = Math.max(fillTokens, Math.max(perSecond / 10, Math.min(perSecond, 10)));
    Map<String, Object> always =
        map(
            "default_value",
            map("numerator", 100, "denominator", "HUNDRED"),
            "runtime_key",
            "chainroute.rate_limit.enabled");
    Map<String, Object> enforced =
        map(
            "default_value",
            map("numerator", 100, "denominator", "HUNDRED"),
            "runtime_key",
            "chainroute.rate_limit.enforced");
    return map(
        "name",
        RATE_LIMIT_FILTER,
        "typed_config",
        map(
            "@type",
            "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix",
            "chainroute_rate_limit",
            "status",
            map("code", "TooManyRequests"),
            "token_bucket",
            map(
                "max_tokens",
                maxTokens,
                "tokens_per_fill",
                fillTokens,
                "fill_interval",
                duration(Duration.ofMillis(fillMillis))),
            "filter_enabled",
            always,
            "filter_enforced",
            enforced,
            // Per Envoy, not per client connection: the limit protects this Envoy's capacity.
            "local_rate_limit_per_downstream_connection",
            false,
            // The bucket refills within a second; clients that honour it back off for that long.
            "response_headers_to_add",
            List.of(
                map(
                    "header",
                    map("key", "retry-after", "value", "1"),
                    "append_action",
                    "OVERWRITE_IF_EXISTS_OR_ADD"))));
  }

  private static Map<String, Object> extProcFilter(EnvoyConfig envoy) {
    return map(
        "name",
        "envoy.filters.http.ext_proc",
        "typed_config",
        map(
            "@type",
                "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
            "grpc_service", map("envoy_grpc", map("cluster_name", EXTPROC_CLUSTER)),
            // chainroute down or slow: Envoy continues without a pool header, so the default
            // route sends the request to the head pool it last knew.
            "failure_mode_allow", true,
            "message_timeout", duration(envoy.messageTimeout()),
            // chainroute may hold a request (algod wait-for-block-after: 60 s; graceful startup)
            // and
            // extends the timeout of that one message with override_message_timeout, up to this.
            "max_message_timeout", duration(LONGEST_HOLD),
            "processing_mode",
                map(
                    // SEND is required: with SKIP the route is picked before the body is read.
                    "request_header_mode", "SEND",
                    "response_header_mode", "SKIP",
                    "request_body_mode", "BUFFERED",
                    "response_body_mode", "NONE",
                    "request_trailer_mode", "SKIP",
                    "response_trailer_mode", "SKIP"),
            // The pool header is set after the route was first picked: re-pick it.
            "route_cache_action", "CLEAR",
            // A GET (or an unknown path) tells Envoy not to buffer its body.
            "allow_mode_override", true,
            // chainroute hands Envoy the request's JSON-RPC id as dynamic metadata (chainroute.id),
            // so Envoy's own error replies can echo it (LocalReplies).
            "metadata_options",
                map("receiving_namespaces", map("untyped", List.of(METADATA_NAMESPACE))),
            // chainroute reads only the method and path: every other header would be encoded,
            // sent and decoded for nothing on each request.
            "forward_rules",
                map(
                    "allowed_headers",
                    map("patterns", List.of(map("exact", ":path"), map("exact", ":method"))))));
  }

  private static Map<String, Object> routes(ChainrouteConfig config) {
    EnvoyConfig envoy = config.envoy();
    List<Object> routes = new ArrayList<>();
    List<ChainConfig> ordered = new ArrayList<>(config.chains());
    // A chain served at the root matches every path: its routes go after every other chain's.
    ordered.sort(java.util.Comparator.comparing(c -> c.pathPrefix().equals("/")));
    for (ChainConfig chain : ordered) {
      String head = chain.clusterName("head");
      if (chain.protocol() == Protocol.ALGORAND) {
        // Only reached when chainroute is down (it answers these waits itself): algod waits up to
        // 60 s.
        Map<String, Object> wait = route(chain, head, SAFE_RETRY_ON, null, null);
        wait.put("match", map("prefix", under(chain, "/v2/status/wait-for-block-after/")));
        ((Map<String, Object>) wait.get("route")).put("timeout", duration(LONGEST_HOLD));
        // chainroute holds these (up to 60 s each): they use the hold cluster's breaker, sized by
        // maxHeldRequests, not the one that bounds ordinary requests inside ext_proc.
        wait.put(
            "typed_per_filter_config",
            map(
                "envoy.filters.http.ext_proc",
                map(
                    "@type",
                    "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
                    "overrides",
                    map(
                        "grpc_service",
                        map("envoy_grpc", map("cluster_name", EXTPROC_HOLD_CLUSTER))))));
        routes.add(algod(wait, chain));
        // The transaction pool is node-local: a pending lookup that misses (404) is retried on the
        // other nodes, so it finds the node that took the submission (see README).
        Map<String, Object> pending =
            route(
                chain,
                head,
                READ_RETRY_ON + ",retriable-status-codes",
                null,
                envoy.readTryTimeout());
        pending.put("match", map("prefix", under(chain, "/v2/transactions/pending/")));
        Map<String, Object> retry =
            (Map<String, Object>) ((Map<String, Object>) pending.get("route")).get("retry_policy");
        retry.put("retriable_status_codes", List.of(404));
        retry.put("num_retries", Math.max(1, chain.nodes().size() - 1));
        retry.remove("retry_priority");
        routes.add(algod(pending, chain));
      }
      Duration readTry = envoy.readTryTimeout();
      routes.add(
          algod(
              route(
                  chain,
                  head,
                  SAFE_RETRY_ON,
                  map("name", WRITE_HEADER, "string_match", map("exact", "true")),
                  null),
              chain));
      routes.add(
          algod(
              route(
                  chain,
                  chain.clusterName("archive"),
                  READ_RETRY_ON,
                  map("name", POOL_HEADER, "string_match", map("exact", "archive")),
                  readTry),
              chain));
      routes.add(
          algod(
              route(
                  chain,
                  head,
                  READ_RETRY_ON,
                  map("name", POOL_HEADER, "string_match", map("exact", "head")),
                  readTry),
              chain));
      // No pool header: ext_proc failed open (or was skipped). Serve from the head pool, and
      // retry only where the request cannot have reached a node (it may be a write).
      routes.add(algod(route(chain, head, SAFE_RETRY_ON, null, null), chain));
    }
    routes.add(
        map(
            "match", map("prefix", "/"),
            "response_headers_to_add",
                List.of(
                    map(
                        "header",
                        map("key", "content-type", "value", "application/json"),
                        "append_action",
                        "OVERWRITE_IF_EXISTS_OR_ADD")),
            "direct_response",
                map(
                    "status",
                    404,
                    "body",
                    map(
                        "inline_string",
                        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,\"message\":\"No chain is served at this path.\"}}"))));
    Map<String, Object> vhost = map("name", "chains", "domains", List.of("*"), "routes", routes);
    if (config.envoy().exposeUpstreamHeader()) {
      vhost.put(
          "response_headers_to_add",
          List.of(map("header", map("key", UPSTREAM_HEADER, "value", "%UPSTREAM_HOST%"))));
    }
    // Clusters arrive over ADS after the listener exists: do not reject routes to them at load.
    return map("name", "chains", "validate_clusters", false, "virtual_hosts", List.of(vhost));
  }

  /**
   * For algod chains: the client's own token is dropped; the chosen node's token (EDS endpoint
   * metadata {@code chainroute.token}) is set by the cluster's upstream filter.
   */
  private static Map<String, Object> algod(Map<String, Object> route, ChainConfig chain) {
    if (chain.protocol() != Protocol.ALGORAND) {
      return route;
    }
    // The node's own token is set by the cluster's upstream filter (see XdsResources).
    route.put("request_headers_to_remove", List.of("x-algo-api-token", "authorization"));
    return route;
  }

  /** A path under the chain's prefix ("/" prefix: the path itself). */
  private static String under(ChainConfig chain, String path) {
    return chain.pathPrefix().equals("/") ? path : chain.pathPrefix() + path;
  }

  /**
   * @param readTryTimeout for reads: an attempt without response headers after this is hedged to
   *     another node (the original keeps running; the first answer wins). Null for writes and
   *     unclassified requests: they are never sent twice.
   */
  private static Map<String, Object> route(
      ChainConfig chain,
      String cluster,
      String retryOn,
      Map<String, Object> headerMatch,
      Duration readTryTimeout) {
    boolean root = chain.pathPrefix().equals("/");
    Map<String, Object> match =
        root ? map("prefix", "/") : map("path_separated_prefix", chain.pathPrefix());
    if (headerMatch != null) {
      match.put("headers", List.of(headerMatch));
    }
    Map<String, Object> action =
        map(
            "cluster",
            cluster,
            // Nodes serve at "/": drop the chain prefix (a root chain keeps the path as it is).
            "regex_rewrite",
            map(
                "pattern",
                map("regex", "^" + Pattern.quote(chain.pathPrefix()) + "/?"),
                "substitution",
                "/"),
            "timeout",
            "60s",
            "retry_policy",
            map(
                "retry_on", retryOn,
                // Enough to try every other node of the chain once (at least 2).
                "num_retries", Math.max(2, chain.nodes().size() - 1),
                // Envoy's defaults, made explicit: a dead node's neighbour is tried at once.
                "retry_back_off", map("base_interval", "0.025s", "max_interval", "0.25s"),
                "retry_host_predicate",
                    List.of(
                        map(
                            "name",
                            "envoy.retry_host_predicates.previous_hosts",
                            "typed_config",
                            map(
                                "@type",
                                "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"))),
                "host_selection_retry_max_attempts", 3,
                // A retry moves on to the next priority (e.g. from the only node in the
                // Envoy's region, just gone, to the others) instead of the same host.
                "retry_priority",
                    map(
                        "name",
                        "envoy.retry_priorities.previous_priorities",
                        "typed_config",
                        map(
                            "@type",
                            "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
                            "update_frequency",
                            1))));
    if (root) {
      action.remove("regex_rewrite");
    }
    if (readTryTimeout != null) {
      // A hung node (connections accepted, nothing answered) costs a read one try timeout, not
      // the route timeout; the hedge goes to another node (previous_hosts predicate).
      ((Map<String, Object>) action.get("retry_policy"))
          .put("per_try_timeout", duration(readTryTimeout));
      action.put("hedge_policy", map("hedge_on_per_try_timeout", true));
    }
    return map("match", match, "route", action);
  }

  private static List<Object> sidecarClusters(ChainrouteConfig config) {
    EnvoyConfig envoy = config.envoy();
    ServerConfig server = config.server();
    List<Object> out = new ArrayList<>();
    out.add(sidecarCluster(XDS_CLUSTER, envoy.chainrouteHost(), server.xdsPort(), 0));
    out.add(
        sidecarCluster(
            EXTPROC_CLUSTER,
            envoy.chainrouteHost(),
            server.extProcPort(),
            envoy.extProcMaxRequests()));
    if (config.chains().stream().anyMatch(c -> c.protocol() == Protocol.ALGORAND)) {
      out.add(
          sidecarCluster(
              EXTPROC_HOLD_CLUSTER,
              envoy.chainrouteHost(),
              server.extProcPort(),
              server.maxHeldRequests() + HOLD_HEADROOM));
    }
    return out;
  }

  /** Room above maxHeldRequests on the hold cluster: its other requests, and streams closing. */
  static final int HOLD_HEADROOM = 256;

  /**
   * @param extProcMaxRequests the processor cluster's request limit; 0 for the xDS cluster
   */
  private static Map<String, Object> sidecarCluster(
      String name, String host, int port, int extProcMaxRequests) {
    boolean extProc = extProcMaxRequests > 0;
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("name", name);
    c.put("type", "STRICT_DNS");
    c.put("connect_timeout", "1s");
    c.put(
        "typed_extension_protocol_options",
        map(
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            map(
                "@type",
                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config",
                // A chainroute host that vanished without closing the connection is noticed
                // within about 20 s (a killed process closes it at once). chainroute permits
                // pings every 10 s (Sidecar permitKeepAliveTime); more often is a strike.
                map(
                    "http2_protocol_options",
                    map("connection_keepalive", map("interval", "15s", "timeout", "5s"))))));
    if (extProc) {
      // One gRPC stream per HTTP request, so this caps requests inside ext_proc at once: the
      // bounded queue in front of chainroute. Past it Envoy does not wait: the request skips
      // routing and goes to the head pool (failure_mode_allow), the degraded path of README
      // "Overload". Holds by design use EXTPROC_HOLD_CLUSTER.
      int max = extProcMaxRequests;
      c.put(
          "circuit_breakers",
          map(
              "thresholds",
              List.of(
                  map(
                      "priority",
                      "DEFAULT",
                      "max_connections",
                      100000,
                      "max_pending_requests",
                      max,
                      "max_requests",
                      max))));
    }
    c.put(
        "load_assignment",
        map(
            "cluster_name",
            name,
            "endpoints",
            List.of(
                map(
                    "lb_endpoints",
                    List.of(map("endpoint", map("address", socket(host, port))))))));
    return c;
  }

  static final String HEAP = "envoy.resource_monitors.fixed_heap";
  static final String CONNECTIONS = "envoy.resource_monitors.global_downstream_max_connections";

  /**
   * Envoy's own protection against overload, in the order it acts as its heap fills: return free
   * memory (90 %), shorten idle timeouts (scaled from 80 % to 95 %, and as client connections near
   * their limit), stop accepting connections (95 %), refuse new requests with 503 {@code -32005}
   * (98 %). The client connection limit itself closes connections past it at accept.
   */
  private static Map<String, Object> overloadManager(EnvoyConfig envoy) {
    return map(
        "refresh_interval", "0.25s",
        "resource_monitors",
            List.of(
                map(
                    "name",
                    HEAP,
                    "typed_config",
                    map(
                        "@type",
                        "type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig",
                        "max_heap_size_bytes",
                        envoy.maxHeapBytes())),
                // Replaces the deprecated runtime key overload.global_downstream_max_connections
                // (Envoy warns at start when neither is set).
                map(
                    "name",
                    CONNECTIONS,
                    "typed_config",
                    map(
                        "@type",
                        "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
                        "max_active_downstream_connections",
                        envoy.maxDownstreamConnections()))),
        "actions",
            List.of(
                action("envoy.overload_actions.shrink_heap", List.of(threshold(HEAP, 0.90)), null),
                action(
                    "envoy.overload_actions.reduce_timeouts",
                    // Verified with Envoy 1.40: the proactive connection monitor works as a
                    // trigger (8 of 10 connections: pressure 80, scale_percent 40).
                    List.of(scaled(HEAP, 0.80, 0.95), scaled(CONNECTIONS, 0.70, 0.95)),
                    map(
                        "@type",
                        "type.googleapis.com/envoy.config.overload.v3.ScaleTimersOverloadActionConfig",
                        "timer_scale_factors",
                        List.of(
                            map("timer", "HTTP_DOWNSTREAM_CONNECTION_IDLE", "min_timeout", "2s"),
                            map("timer", "HTTP_DOWNSTREAM_STREAM_IDLE", "min_timeout", "10s")))),
                action(
                    "envoy.overload_actions.stop_accepting_connections",
                    List.of(threshold(HEAP, 0.95)),
                    null),
                action(
                    "envoy.overload_actions.stop_accepting_requests",
                    List.of(threshold(HEAP, 0.98)),
                    null)));
  }

  private static Map<String, Object> action(
      String name, List<Object> triggers, Map<String, Object> typedConfig) {
    Map<String, Object> a = map("name", name, "triggers", triggers);
    if (typedConfig != null) {
      a.put("typed_config", typedConfig);
    }
    return a;
  }

  private static Map<String, Object> threshold(String monitor, double value) {
    return map("name", monitor, "threshold", map("value", value));
  }

  private static Map<String, Object> scaled(String monitor, double from, double to) {
    return map(
        "name", monitor, "scaled", map("scaling_threshold", from, "saturation_threshold", to));
  }

  private static Map<String, Object> socket(String address, int port) {
    return map("socket_address", map("address", address, "port_value", port));
  }

  static String duration(Duration d) {
    long millis = d.toMillis();
    return millis % 1000 == 0
        ? (millis / 1000) + "s"
        : String.format(java.util.Locale.ROOT, "%.3fs", millis / 1000.0);
  }

  static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static final YAMLMapper YAML =
      new YAMLMapper(
          YAMLFactory.builder()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
              // A string that looks like a number (the retry-after value) stays a string.
              .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
              .build());
}
