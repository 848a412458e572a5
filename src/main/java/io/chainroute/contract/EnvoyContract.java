package io.chainroute.contract;

import io.chainroute.routing.Pool;
import java.time.Duration;
import java.util.List;

/**
 * Every name and duration that chainroute's ext_proc service, its xDS publisher and the Envoy
 * bootstrap it renders must spell the same way. A value used by one side only stays with that side;
 * what is here is the wire contract between them.
 */
public final class EnvoyContract {
  private EnvoyContract() {}

  /** Every header chainroute sets or reads starts with this; a client never sets one itself. */
  public static final String HEADER_PREFIX = "x-chainroute-";

  /** Set by ext_proc to the chosen {@link Pool#id()}; the routes match it. */
  public static final String POOL_HEADER = HEADER_PREFIX + "pool";

  /** Set by ext_proc to {@link #WRITE_VALUE} for a write: its route never retries it blindly. */
  public static final String WRITE_HEADER = HEADER_PREFIX + "write";

  public static final String WRITE_VALUE = "true";

  /**
   * Set by ext_proc to a {@link #nodeCluster(String, String) node cluster} for a request that must
   * reach one particular node (state that lives there: an EVM filter); its route sends it there.
   */
  public static final String NODE_HEADER = HEADER_PREFIX + "node";

  /** Added to responses (when configured) with the node that answered. */
  public static final String UPSTREAM_HEADER = HEADER_PREFIX + "upstream";

  /**
   * Set by the in-Envoy fast path (envoy/FastPathFilter) on a request it routed itself: its route
   * skips ext_proc.
   */
  public static final String FAST_HEADER = HEADER_PREFIX + "fast";

  /** Added to responses (with {@link #UPSTREAM_HEADER}) when the fast path routed the request. */
  public static final String DECIDED_HEADER = HEADER_PREFIX + "decided";

  /** The headers Envoy strips from every client request before any filter runs. */
  public static final List<String> ROUTING_HEADERS =
      List.of(
          POOL_HEADER,
          WRITE_HEADER,
          NODE_HEADER,
          UPSTREAM_HEADER,
          FAST_HEADER,
          HEADER_PREFIX + "cache");

  /**
   * The metadata namespace chainroute writes: dynamic metadata from ext_proc ({@link #METADATA_ID},
   * {@link #METADATA_POOL}, {@link #METADATA_REASON}), route metadata in the bootstrap ({@link
   * #METADATA_CHAIN}) and endpoint metadata over EDS ({@link #METADATA_NODE_HEADERS}).
   */
  public static final String METADATA_NAMESPACE = "chainroute";

  /** Dynamic metadata key: the request's JSON-RPC id as JSON text, echoed in Envoy's own errors. */
  public static final String METADATA_ID = "id";

  /** Dynamic metadata key: the pool chainroute chose ({@link Pool#id()}), for the access log. */
  public static final String METADATA_POOL = "pool";

  /**
   * Dynamic metadata key: why chainroute chose that pool ({@code RouteReason#id()}: {@code recent},
   * {@code archive}, {@code no_archive}, {@code write}), for the access log.
   */
  public static final String METADATA_REASON = "reason";

  /**
   * Route metadata key: the chain a route serves, so the access log names the chain even when
   * ext_proc failed open.
   */
  public static final String METADATA_CHAIN = "chain";

  /**
   * Endpoint metadata key: a struct of the node's configured header values (name to value), set on
   * requests to that node only by the {@link #NODE_HEADERS_FILTER} upstream filter.
   */
  public static final String METADATA_NODE_HEADERS = "headers";

  /**
   * Endpoint metadata keys: the node URL's raw path, raw query and authority ({@code host[:port]}),
   * for nodes whose requests Envoy rewrites after picking them ({@link #NODE_REQUEST_FILTER}). The
   * path and query are secrets (a hosted provider's key).
   */
  public static final String METADATA_NODE_PATH = "path";

  public static final String METADATA_NODE_QUERY = "query";
  public static final String METADATA_NODE_AUTHORITY = "authority";

  /**
   * Endpoint metadata under Envoy's {@code envoy.transport_socket_match}: {@code {node: <name>}}
   * picks the node's own TLS socket (its SNI and certificate check) from the cluster's matches.
   */
  public static final String TLS_MATCH_KEY = "node";

  /** The upstream Lua filter that sets the chosen node's path, query and Host. */
  public static final String NODE_REQUEST_FILTER = "chainroute.node_request";

  /**
   * Request header chainroute sets (value {@link #CACHE_CAPTURE}) on a request whose answer may go
   * into its response cache: the request takes a route where {@link #CAPTURE_FILTER} hands the
   * node's answer back to chainroute. Stripped before the request reaches a node.
   */
  public static final String CACHE_HEADER = HEADER_PREFIX + "cache";

  /** The value of {@link #CACHE_HEADER}. */
  public static final String CACHE_CAPTURE = "capture";

  /**
   * The second ext_proc filter: off on every route but the capture routes, where it sends the
   * node's answer (headers, then the buffered body) to chainroute. Uncached traffic never opens a
   * stream to it.
   */
  public static final String CAPTURE_FILTER = "chainroute.cache_capture";

  /**
   * Dynamic metadata key: what the node's answer may leave in the response cache (the pipeline's
   * capture note), read back from the capture stream's metadata.
   */
  public static final String METADATA_CAPTURE = "capture";

  /** Dynamic metadata key: the chain of a captured request. */
  public static final String METADATA_CAPTURE_CHAIN = "capture_chain";

  /** The upstream HTTP filter on node clusters that sets the chosen node's headers. */
  public static final String NODE_HEADERS_FILTER = "chainroute.node_headers";

  /** Envoy's {@code node.cluster}: the service cluster every chainroute-driven Envoy joins. */
  public static final String SERVICE_CLUSTER = "chainroute";

  /** The static cluster for ADS (chainroute's xDS port). */
  public static final String XDS_CLUSTER = "chainroute_xds";

  /** The static cluster for ext_proc (chainroute's ext_proc port); its breaker bounds requests. */
  public static final String EXTPROC_CLUSTER = "chainroute_extproc";

  /**
   * The same ext_proc port, for routes whose requests chainroute holds by design (a long poll an
   * adapter answers itself): its own circuit breaker, so thousands of waiting clients never take
   * the slots that bound ordinary requests inside ext_proc.
   */
  public static final String EXTPROC_HOLD_CLUSTER = "chainroute_extproc_hold";

  /** The ext_proc response details on replies chainroute writes itself. */
  public static final String REPLY_DETAILS = "chainroute";

  /** The EDS cluster of one chain's pool: {@code <chain>-head} or {@code <chain>-archive}. */
  public static String nodeCluster(String chain, Pool pool) {
    return chain + "-" + pool.id();
  }

  /**
   * The EDS cluster of one node alone, {@code <chain>-node-<node>}: for requests on state that
   * lives on that node ({@link #NODE_HEADER}).
   */
  public static String nodeCluster(String chain, String node) {
    return chain + "-node-" + node;
  }

  /**
   * The longest chainroute may hold a request inside ext_proc (algod {@code wait-for-block-after}:
   * 60 s; graceful startup: {@code server.unavailableWait}, at most 55 s): ext_proc's {@code
   * max_message_timeout}, the timeout of held routes, and the floor of every downstream timeout
   * that runs during a hold.
   */
  public static final Duration LONGEST_HOLD = Duration.ofSeconds(70);

  /**
   * How much longer than a hold ext_proc waits for chainroute's answer (the {@code
   * override_message_timeout} sent when it starts holding): chainroute answers a hold that timed
   * out itself, Envoy's own timeout is the backstop.
   */
  public static final Duration HOLD_MESSAGE_SLACK = Duration.ofSeconds(5);

  /** The ext_proc message timeout for a request held up to {@code hold}. */
  public static Duration holdMessageTimeout(Duration hold) {
    return hold.plus(HOLD_MESSAGE_SLACK);
  }
}
