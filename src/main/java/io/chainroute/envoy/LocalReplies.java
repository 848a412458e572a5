package io.chainroute.envoy;

import static io.chainroute.envoy.BootstrapRenderer.LIMIT_EXCEEDED;
import static io.chainroute.envoy.BootstrapRenderer.RESOURCE_UNAVAILABLE;
import static io.chainroute.envoy.BootstrapRenderer.map;

import io.chainroute.config.ChainConfig;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.Protocol;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The HCM's {@code local_reply_config}: Envoy's own error replies (no healthy node, connect failure
 * or reset, timeout, circuit breaker, rate limit, overload, 413, 408) rewritten into the protocol
 * of the chain the request was for: a JSON-RPC error object for EVM chains, algod's {@code
 * {"message": ...}} for Algorand chains. Status codes stay Envoy's. Pure.
 *
 * <p>local_reply_config is one per listener, so each chain gets its own mappers, selected by the
 * request path. After the router rewrote the path (the chain prefix is stripped before a request
 * goes to a node) the original is in {@code x-envoy-original-path}, before it only in {@code
 * :path}: a chain's mappers match either. Chains with longer prefixes come first; a chain served at
 * "/" matches every path and comes last, and without one a protocol-neutral JSON-RPC set is the
 * fallback.
 *
 * <p>The JSON-RPC {@code id}: chainroute hands Envoy each single request's id as dynamic metadata
 * ({@code chainroute.id}); a twin of each EVM mapper matches when it is there and echoes it, the
 * plain one answers {@code "id":null} (chainroute down, a batch, or a reply before ext_proc read
 * the body: 413, overload). Bodies are fixed strings otherwise (chain name and limits only), never
 * a node address or credential.
 */
@SuppressWarnings("unchecked")
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

  static Map<String, Object> config(ChainrouteConfig config) {
    List<ChainConfig> chains = new ArrayList<>(config.chains());
    // Longer prefixes first (a regex per chain matches exactly its own paths anyway); "/" last.
    chains.sort(
        Comparator.comparing((ChainConfig c) -> c.pathPrefix().equals("/"))
            .thenComparing(c -> -c.pathPrefix().length()));
    List<Object> mappers = new ArrayList<>();
    boolean rootChain = false;
    for (ChainConfig chain : chains) {
      boolean root = chain.pathPrefix().equals("/");
      rootChain |= root;
      for (Kind kind : kinds(config)) {
        String forChain = " for chain '" + chain.name() + "'";
        if (chain.protocol() == Protocol.EVM) {
          // First the twin that echoes the request's id (when ext_proc handed it over), then the
          // one with "id":null.
          mappers.add(
              mapper(kind, root ? null : chain.pathPrefix(), chain.protocol(), forChain, true));
        }
        mappers.add(
            mapper(kind, root ? null : chain.pathPrefix(), chain.protocol(), forChain, false));
      }
    }
    if (!rootChain) {
      // A path no chain serves (e.g. an overloaded Envoy refusing a request for /nothing).
      for (Kind kind : kinds(config)) {
        mappers.add(mapper(kind, null, Protocol.EVM, "", false));
      }
    }
    return map("mappers", mappers);
  }

  /**
   * @param echoId match only when ext_proc left the request's id in metadata, and echo it
   */
  private static Map<String, Object> mapper(
      Kind kind, String prefix, Protocol protocol, String forChain, boolean echoId) {
    List<Object> filters = new ArrayList<>();
    if (prefix != null) {
      filters.add(pathFilter(prefix));
    }
    if (echoId) {
      // match_if_key_not_found must be false: by default a missing key matches, and the body
      // would render "id":- .
      filters.add(
          map(
              "metadata_filter",
              map(
                  "matcher",
                  map(
                      "filter",
                      BootstrapRenderer.METADATA_NAMESPACE,
                      "path",
                      List.of(map("key", "id")),
                      "value",
                      map("present_match", true)),
                  "match_if_key_not_found",
                  false)));
    }
    filters.add(
        kind.flags().isEmpty()
            ? map(
                "status_code_filter",
                map(
                    "comparison",
                    map(
                        "op",
                        "EQ",
                        "value",
                        map(
                            "default_value",
                            kind.status(),
                            "runtime_key",
                            "chainroute.local_reply.status_" + kind.status()))))
            : map("response_flag_filter", map("flags", kind.flags())));
    Map<String, Object> filter =
        filters.size() == 1
            ? (Map<String, Object>) filters.get(0)
            : map("and_filter", map("filters", filters));
    return map(
        "filter",
        filter,
        "body_format_override",
        map(
            "text_format_source",
            map(
                "inline_string",
                body(
                    protocol,
                    kind,
                    String.format(java.util.Locale.ROOT, kind.message(), forChain),
                    echoId ? ECHO_ID : "null")),
            "content_type",
            "application/json"));
  }

  /** The request's id as its JSON text, from the metadata ext_proc set (ExtProcService). */
  static final String ECHO_ID =
      "%DYNAMIC_METADATA(" + BootstrapRenderer.METADATA_NAMESPACE + ":id)%";

  /**
   * The body; {@code message} holds no '%' (chain names are [a-z0-9-]), so the only format operator
   * is the id's.
   */
  static String body(Protocol protocol, Kind kind, String message, String id) {
    String quoted = "\"" + message.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    return protocol == Protocol.ALGORAND
        ? "{\"message\":" + quoted + "}"
        : "{\"jsonrpc\":\"2.0\",\"id\":"
            + id
            + ",\"error\":{\"code\":"
            + kind.code()
            + ",\"message\":"
            + quoted
            + "}}";
  }

  /**
   * Requests under {@code prefix} (path_separated_prefix semantics: the prefix itself, or followed
   * by '/' or '?'): the original path if the router rewrote it, else {@code :path}.
   */
  private static Map<String, Object> pathFilter(String prefix) {
    String regex = "^" + Pattern.quote(prefix) + "([/?].*)?$";
    Map<String, Object> original = header("x-envoy-original-path", regex);
    Map<String, Object> notRewritten =
        map(
            "and_filter",
            map(
                "filters",
                List.of(
                    map(
                        "header_filter",
                        map(
                            "header",
                            map(
                                "name",
                                "x-envoy-original-path",
                                "present_match",
                                true,
                                "invert_match",
                                true))),
                    header(":path", regex))));
    return map("or_filter", map("filters", List.of(original, notRewritten)));
  }

  private static Map<String, Object> header(String name, String regex) {
    return map(
        "header_filter",
        map("header", map("name", name, "string_match", map("safe_regex", map("regex", regex)))));
  }
}
