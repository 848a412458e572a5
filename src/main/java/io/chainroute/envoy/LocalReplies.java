package io.chainroute.envoy;

import static io.chainroute.envoy.BootstrapRenderer.LIMIT_EXCEEDED;
import static io.chainroute.envoy.BootstrapRenderer.RESOURCE_UNAVAILABLE;

import com.google.protobuf.BoolValue;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.jsonrpc.JsonRpcErrors;
import io.envoyproxy.envoy.config.accesslog.v3.AccessLogFilter;
import io.envoyproxy.envoy.config.accesslog.v3.AndFilter;
import io.envoyproxy.envoy.config.accesslog.v3.ComparisonFilter;
import io.envoyproxy.envoy.config.accesslog.v3.HeaderFilter;
import io.envoyproxy.envoy.config.accesslog.v3.MetadataFilter;
import io.envoyproxy.envoy.config.accesslog.v3.OrFilter;
import io.envoyproxy.envoy.config.accesslog.v3.ResponseFlagFilter;
import io.envoyproxy.envoy.config.accesslog.v3.StatusCodeFilter;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.RuntimeUInt32;
import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper;
import io.envoyproxy.envoy.type.matcher.v3.MetadataMatcher;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.matcher.v3.ValueMatcher;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The HCM's {@code local_reply_config}: Envoy's own error replies (no healthy node, connect failure
 * or reset, timeout, circuit breaker, rate limit, overload, 413, 408) rewritten into the protocol
 * of the chain the request was for, in the error format its adapter writes ({@link
 * io.chainroute.chain.ChainAdapter#proxyErrorBody}). Status codes stay Envoy's. Pure.
 *
 * <p>local_reply_config is one per listener, so each chain gets its own mappers, selected by the
 * request path. After the router rewrote the path (the chain prefix is stripped before a request
 * goes to a node) the original is in {@code x-envoy-original-path}, before it only in {@code
 * :path}: a chain's mappers match either. Chains with longer prefixes come first; a chain served at
 * "/" matches every path and comes last, and without one a protocol-neutral JSON-RPC set is the
 * fallback.
 *
 * <p>The JSON-RPC {@code id}: chainroute hands Envoy each single request's id as dynamic metadata
 * ({@code chainroute.id}); for a protocol whose errors carry the id ({@link
 * io.chainroute.chain.ChainAdapter#proxyErrorsEchoId}) a twin of each mapper matches when it is
 * there and echoes it, the plain one answers {@code "id":null} (chainroute down, a batch, or a
 * reply before ext_proc read the body: 413, overload). Bodies are fixed strings otherwise (chain
 * name and limits only), never a node address or credential.
 */
final class LocalReplies {
  private LocalReplies() {}

  /**
   * One kind of local reply: the response flags (or, with none, the status) that select it, and its
   * error; {@code message} has one {@code %s} for " for chain 'name'" (or "" when no chain).
   */
  record Kind(List<String> flags, int status, int code, String message) {}

  /** In match order: a reply can carry several flags (e.g. UF + URX); the first kind wins. */
  static List<Kind> kinds(ChainrouteConfig config) {
    return List.of(
        // The overload manager refused the request (stop_accepting_requests): 503.
        new Kind(
            List.of("OM"), 0, LIMIT_EXCEEDED, "request%s refused: proxy overloaded, retry later"),
        // The local rate limit (envoy.maxRequestsPerSecond) refused the request: 429. Matched on
        // the status: the filter sets response flag RL only after its local reply went through
        // this mapping (seen with Envoy 1.40: an RL filter left the body text/plain). Only this
        // filter makes Envoy itself answer 429; a node's 429 is not a local reply.
        new Kind(List.of(), 429, LIMIT_EXCEEDED, "request rate above the limit%s, retry later"),
        // The cluster's circuit breaker (upstreamMaxRequests) is open: 503.
        new Kind(List.of("UO"), 0, LIMIT_EXCEEDED, "too many requests in flight%s"),
        // Route timeout: no node answered in time: 504.
        new Kind(List.of("UT"), 0, RESOURCE_UNAVAILABLE, "no node answered in time%s"),
        // No endpoint (all nodes unusable, or the cluster not yet received over xDS): 503.
        new Kind(List.of("UH", "NC"), 0, RESOURCE_UNAVAILABLE, "no node available%s"),
        // Every attempt failed to connect or was reset (retries exhausted): 503.
        new Kind(
            List.of("UF", "UC", "UR", "LR", "URX", "UPE"),
            0,
            RESOURCE_UNAVAILABLE,
            "no node could be reached%s (connection failed or reset)"),
        // Body above server.maxRequestBytes (listener buffer limit): 413.
        new Kind(
            List.of(),
            413,
            LIMIT_EXCEEDED,
            "request body larger than " + config.server().maxRequestBytes() + " bytes%s"),
        // request_timeout / stream_idle_timeout: the client sent too slowly: 408.
        new Kind(List.of(), 408, LIMIT_EXCEEDED, "request not received in time%s"));
  }

  /** The error format of requests no chain serves: plain JSON-RPC. */
  private static final ErrorFormat JSON_RPC =
      (code, message, idJson) ->
          new String(
              JsonRpcErrors.error(idJson.getBytes(StandardCharsets.UTF_8), code, message, null),
              StandardCharsets.UTF_8);

  /** How one chain's errors are written (its adapter's {@code proxyErrorBody}). */
  @FunctionalInterface
  private interface ErrorFormat {
    String body(int code, String message, String idJson);
  }

  static LocalReplyConfig config(ChainrouteConfig config, List<BootstrapRenderer.Chain> chainList) {
    List<BootstrapRenderer.Chain> chains = new ArrayList<>(chainList);
    // Longer prefixes first (a regex per chain matches exactly its own paths anyway); "/" last.
    chains.sort(
        Comparator.comparing(BootstrapRenderer.Chain::root)
            .thenComparing(c -> -c.config().pathPrefix().length()));
    LocalReplyConfig.Builder out = LocalReplyConfig.newBuilder();
    boolean rootChain = false;
    for (BootstrapRenderer.Chain chain : chains) {
      boolean root = chain.root();
      rootChain |= root;
      String prefix = root ? null : chain.config().pathPrefix();
      ErrorFormat format = chain.adapter()::proxyErrorBody;
      ChainAdapter.NodeStateGone gone = chain.adapter().nodeStateGone();
      if (gone != null) {
        // A request for one node's state (x-chainroute-node) that could not reach the node: the
        // node is gone, and so is its state. HTTP 200, as the node itself answers it.
        Kind kind = new Kind(NODE_GONE_FLAGS, 0, gone.code(), gone.message());
        if (chain.adapter().proxyErrorsEchoId()) {
          out.addMappers(nodeGone(mapper(kind, prefix, format, "", true)));
        }
        out.addMappers(nodeGone(mapper(kind, prefix, format, "", false)));
      }
      for (Kind kind : kinds(config)) {
        String forChain = " for chain '" + chain.config().name() + "'";
        if (chain.adapter().proxyErrorsEchoId()) {
          // First the twin that echoes the request's id (when ext_proc handed it over), then the
          // one with "id":null.
          out.addMappers(mapper(kind, prefix, format, forChain, true));
        }
        out.addMappers(mapper(kind, prefix, format, forChain, false));
      }
    }
    if (!rootChain) {
      // A path no chain serves (e.g. an overloaded Envoy refusing a request for /nothing).
      for (Kind kind : kinds(config)) {
        out.addMappers(mapper(kind, null, JSON_RPC, "", false));
      }
    }
    return out.build();
  }

  /**
   * @param echoId match only when ext_proc left the request's id in metadata, and echo it
   */
  private static ResponseMapper mapper(
      Kind kind, String prefix, ErrorFormat format, String forChain, boolean echoId) {
    List<AccessLogFilter> filters = new ArrayList<>();
    if (prefix != null) {
      filters.add(pathFilter(prefix));
    }
    if (echoId) {
      // match_if_key_not_found must be false: by default a missing key matches, and the body
      // would render "id":- .
      filters.add(
          AccessLogFilter.newBuilder()
              .setMetadataFilter(
                  MetadataFilter.newBuilder()
                      .setMatcher(
                          MetadataMatcher.newBuilder()
                              .setFilter(EnvoyContract.METADATA_NAMESPACE)
                              .addPath(
                                  MetadataMatcher.PathSegment.newBuilder()
                                      .setKey(EnvoyContract.METADATA_ID))
                              .setValue(ValueMatcher.newBuilder().setPresentMatch(true)))
                      .setMatchIfKeyNotFound(BoolValue.of(false)))
              .build());
    }
    filters.add(
        kind.flags().isEmpty()
            ? AccessLogFilter.newBuilder()
                .setStatusCodeFilter(
                    StatusCodeFilter.newBuilder()
                        .setComparison(
                            ComparisonFilter.newBuilder()
                                .setOp(ComparisonFilter.Op.EQ)
                                .setValue(
                                    RuntimeUInt32.newBuilder()
                                        .setDefaultValue(kind.status())
                                        .setRuntimeKey(
                                            "chainroute.local_reply.status_" + kind.status()))))
                .build()
            : AccessLogFilter.newBuilder()
                .setResponseFlagFilter(ResponseFlagFilter.newBuilder().addAllFlags(kind.flags()))
                .build());
    AccessLogFilter filter =
        filters.size() == 1
            ? filters.get(0)
            : AccessLogFilter.newBuilder()
                .setAndFilter(AndFilter.newBuilder().addAllFilters(filters))
                .build();
    return ResponseMapper.newBuilder()
        .setFilter(filter)
        .setBodyFormatOverride(
            SubstitutionFormatString.newBuilder()
                .setTextFormatSource(
                    DataSource.newBuilder()
                        .setInlineString(
                            format.body(
                                kind.code(),
                                String.format(Locale.ROOT, kind.message(), forChain),
                                echoId ? ECHO_ID : "null")))
                .setContentType("application/json"))
        .build();
  }

  /** No endpoint, or every attempt failed to connect or was reset. */
  private static final List<String> NODE_GONE_FLAGS =
      List.of("UH", "NC", "UF", "UC", "UR", "LR", "URX", "UPE");

  /** {@code m} only for requests routed to one node, answered with HTTP 200. */
  private static ResponseMapper nodeGone(ResponseMapper m) {
    AccessLogFilter toNode =
        header(HeaderMatcher.newBuilder().setName(EnvoyContract.NODE_HEADER).setPresentMatch(true));
    List<AccessLogFilter> filters =
        m.getFilter().hasAndFilter()
            ? new ArrayList<>(m.getFilter().getAndFilter().getFiltersList())
            : new ArrayList<>(List.of(m.getFilter()));
    filters.add(0, toNode);
    return m.toBuilder()
        .setFilter(
            AccessLogFilter.newBuilder()
                .setAndFilter(AndFilter.newBuilder().addAllFilters(filters)))
        .setStatusCode(com.google.protobuf.UInt32Value.of(200))
        .build();
  }

  /** The request's id as its JSON text, from the metadata ext_proc set (ExtProcService). */
  static final String ECHO_ID =
      "%DYNAMIC_METADATA("
          + EnvoyContract.METADATA_NAMESPACE
          + ":"
          + EnvoyContract.METADATA_ID
          + ")%";

  /**
   * Requests under {@code prefix} (path_separated_prefix semantics: the prefix itself, or followed
   * by '/' or '?'): the original path if the router rewrote it, else {@code :path}.
   */
  private static AccessLogFilter pathFilter(String prefix) {
    String regex = "^" + Pattern.quote(prefix) + "([/?].*)?$";
    AccessLogFilter notRewritten =
        AccessLogFilter.newBuilder()
            .setAndFilter(
                AndFilter.newBuilder()
                    .addFilters(
                        header(
                            HeaderMatcher.newBuilder()
                                .setName(ORIGINAL_PATH)
                                .setPresentMatch(true)
                                .setInvertMatch(true)))
                    .addFilters(header(regex(":path", regex))))
            .build();
    return AccessLogFilter.newBuilder()
        .setOrFilter(
            OrFilter.newBuilder()
                .addFilters(header(regex(ORIGINAL_PATH, regex)))
                .addFilters(notRewritten))
        .build();
  }

  /** Where the router keeps the client's path once it rewrote it. */
  private static final String ORIGINAL_PATH = "x-envoy-original-path";

  private static HeaderMatcher.Builder regex(String name, String regex) {
    return HeaderMatcher.newBuilder()
        .setName(name)
        .setStringMatch(
            StringMatcher.newBuilder().setSafeRegex(RegexMatcher.newBuilder().setRegex(regex)));
  }

  private static AccessLogFilter header(HeaderMatcher.Builder matcher) {
    return AccessLogFilter.newBuilder()
        .setHeaderFilter(HeaderFilter.newBuilder().setHeader(matcher))
        .build();
  }
}
