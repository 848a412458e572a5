package io.chainroute.envoy;

import static io.chainroute.contract.EnvoyContract.EXTPROC_HOLD_CLUSTER;
import static io.chainroute.contract.EnvoyContract.LONGEST_HOLD;
import static io.chainroute.contract.EnvoyContract.POOL_HEADER;
import static io.chainroute.contract.EnvoyContract.UPSTREAM_HEADER;
import static io.chainroute.contract.EnvoyContract.WRITE_HEADER;
import static io.chainroute.contract.EnvoyContract.WRITE_VALUE;
import static io.chainroute.envoy.BootstrapRenderer.EXT_PROC_FILTER;
import static io.chainroute.envoy.BootstrapRenderer.duration;
import static io.chainroute.envoy.BootstrapRenderer.envoyGrpc;
import static io.chainroute.envoy.BootstrapRenderer.headerValue;

import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.Struct;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.Value;
import io.chainroute.chain.FastPathTable;
import io.chainroute.chain.PathRoute;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.EnvoyConfig;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.envoy.BootstrapRenderer.Chain;
import io.chainroute.routing.Pool;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.Metadata;
import io.envoyproxy.envoy.config.route.v3.DirectResponseAction;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.HedgePolicy;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExtProcOverrides;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate;
import io.envoyproxy.envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatchAndSubstitute;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The listener's route table. Per chain, in order: the paths its adapter asks for ({@link
 * io.chainroute.chain.ChainAdapter#pathRoutes}), writes, the archive pool, the head pool, one node
 * (state that lives there), and the fallback for requests ext_proc did not route; a 404 catch-all
 * last. Protocol-neutral: paths and dropped headers come from the adapter. Pure.
 */
final class ChainRoutes {
  private ChainRoutes() {}

  /** An ordinary route's timeout: a node that has not answered by then is given up on (504). */
  static final Duration ROUTE_TIMEOUT = Duration.ofSeconds(60);

  /** Reads are idempotent: retry them on another node when the connection fails or resets. */
  private static final String READ_RETRY_ON = "connect-failure,refused-stream,reset";

  /**
   * Writes (and requests the sidecar did not classify) are retried only when the request cannot
   * have reached a node: a transaction is never sent twice blindly. {@code reset-before-request}:
   * the connection was reset before the request went out (a pooled connection the node closed as
   * Envoy picked it), safe for a write.
   */
  private static final String SAFE_RETRY_ON = "connect-failure,refused-stream,reset-before-request";

  static RouteConfiguration config(EnvoyConfig envoy, List<Chain> chains) {
    // A chain served at the root matches every path: its routes go after every other chain's.
    List<Chain> ordered = chains.stream().sorted(Comparator.comparing(Chain::root)).toList();
    VirtualHost.Builder vhost = VirtualHost.newBuilder().setName("chains").addDomains("*");
    for (Chain chain : ordered) {
      ChainConfig c = chain.config();
      String head = EnvoyContract.nodeCluster(c.name(), Pool.HEAD);
      List<Route.Builder> routes = new ArrayList<>();
      for (PathRoute p : chain.adapter().pathRoutes()) {
        routes.add(pathRoute(c, p, envoy));
      }
      Duration readTry = readTryTimeout(c, envoy);
      routes.add(route(c, head, SAFE_RETRY_ON, exact(WRITE_HEADER, WRITE_VALUE), null));
      // Reads whose answer may go into the response cache: the same routes, with the capture
      // filter on (before the plain ones: they match a subset of these requests).
      for (Pool pool :
          chain.adapter().storesAnswers() && c.cache().enabled()
              ? List.of(Pool.ARCHIVE, Pool.HEAD)
              : List.<Pool>of()) {
        routes.add(
            capture(
                route(
                    c,
                    EnvoyContract.nodeCluster(c.name(), pool),
                    READ_RETRY_ON,
                    exact(POOL_HEADER, pool.id()),
                    readTry)));
      }
      // Before the pool routes: the fast path sets the pool header too (for logs).
      boolean fast = envoy.fastPath() && chain.adapter().fastPath() != null;
      if (fast) {
        routes.add(fastRoute(c, Pool.HEAD, readTry, envoy));
        if (chain.adapter().fastPath().methods().values().stream()
            .anyMatch(FastPathTable.Method::numbers)) {
          routes.add(fastRoute(c, Pool.ARCHIVE, readTry, envoy));
        }
      }
      routes.add(
          route(
              c,
              EnvoyContract.nodeCluster(c.name(), Pool.ARCHIVE),
              READ_RETRY_ON,
              exact(POOL_HEADER, Pool.ARCHIVE.id()),
              readTry));
      routes.add(route(c, head, READ_RETRY_ON, exact(POOL_HEADER, Pool.HEAD.id()), readTry));
      routes.add(nodeRoute(c));
      // No pool header: ext_proc failed open (or was skipped). Serve from the head pool, and
      // retry only where the request cannot have reached a node (it may be a write).
      Route.Builder fallback = route(c, head, SAFE_RETRY_ON, null, null);
      if (fast) {
        // The route every request of the chain matches first: it names the fast path's table.
        fallback
            .getMetadataBuilder()
            .putFilterMetadata(FastPathFilter.NAME, FastPathFilter.routeMetadata(c.name()));
      }
      routes.add(fallback);
      for (Route.Builder r : routes) {
        // E.g. a client's own node token: the chosen node's is set per node (see XdsResources).
        vhost.addRoutes(r.addAllRequestHeadersToRemove(chain.adapter().clientHeadersToDrop()));
      }
    }
    vhost.addRoutes(
        Route.newBuilder()
            .setMatch(RouteMatch.newBuilder().setPrefix("/"))
            .addResponseHeadersToAdd(headerValue("content-type", "application/json"))
            .setDirectResponse(
                DirectResponseAction.newBuilder()
                    .setStatus(404)
                    .setBody(
                        DataSource.newBuilder()
                            .setInlineString(
                                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
                                    + "\"message\":\"No chain is served at this path.\"}}"))));
    if (envoy.exposeUpstreamHeader()) {
      vhost.addResponseHeadersToAdd(
          HeaderValueOption.newBuilder()
              .setHeader(
                  HeaderValue.newBuilder().setKey(UPSTREAM_HEADER).setValue("%UPSTREAM_HOST%")));
    }
    // Clusters arrive over ADS after the listener exists: do not reject routes to them at load.
    return RouteConfiguration.newBuilder()
        .setName("chains")
        .setValidateClusters(BoolValue.of(false))
        .addVirtualHosts(vhost)
        .build();
  }

  /**
   * A read the fast path routed itself to {@code pool} ({@link FastPathFilter}): ext_proc is off
   * for it. The header is set only by the Lua filter (clients' copies are stripped before any
   * filter runs).
   */
  private static Route.Builder fastRoute(
      ChainConfig chain, Pool pool, Duration readTry, EnvoyConfig envoy) {
    Route.Builder r =
        route(
                chain,
                EnvoyContract.nodeCluster(chain.name(), pool),
                READ_RETRY_ON,
                exact(EnvoyContract.FAST_HEADER, pool.id()),
                readTry)
            .addRequestHeadersToRemove(EnvoyContract.FAST_HEADER)
            .putTypedPerFilterConfig(
                EXT_PROC_FILTER, Any.pack(ExtProcPerRoute.newBuilder().setDisabled(true).build()));
    if (envoy.exposeUpstreamHeader()) {
      // Tests and the demo: who decided (the differential test counts on it).
      r.addResponseHeadersToAdd(
          HeaderValueOption.newBuilder()
              .setHeader(
                  HeaderValue.newBuilder()
                      .setKey(EnvoyContract.DECIDED_HEADER)
                      .setValue("fast-path")));
    }
    return r;
  }

  /**
   * State that lives on one node (an EVM filter): the node's own cluster, named by the header
   * ext_proc sets ({@code cluster_header}). Retried only where the request cannot have reached the
   * node, and only on that node: no other node has the state.
   */
  private static Route.Builder nodeRoute(ChainConfig chain) {
    Route.Builder r =
        route(
            chain,
            EnvoyContract.nodeCluster(chain.name(), Pool.HEAD),
            SAFE_RETRY_ON,
            HeaderMatcher.newBuilder()
                .setName(EnvoyContract.NODE_HEADER)
                .setStringMatch(
                    StringMatcher.newBuilder()
                        .setPrefix(EnvoyContract.nodeCluster(chain.name(), "")))
                .build(),
            null);
    RouteAction.Builder action = r.getRouteBuilder();
    action.setClusterHeader(EnvoyContract.NODE_HEADER);
    action.getRetryPolicyBuilder().clearRetryHostPredicate().clearRetryPriority();
    return r;
  }

  /**
   * A capture route: {@code r} for requests chainroute marked with {@link
   * EnvoyContract#CACHE_HEADER}, the mark stripped before the node, the capture filter on for the
   * answer: response headers (status, encoding, length) then the buffered body. With SEND headers,
   * BUFFERED keeps the answer's content-length.
   */
  private static Route.Builder capture(Route.Builder r) {
    r.getMatchBuilder().addHeaders(exact(EnvoyContract.CACHE_HEADER, EnvoyContract.CACHE_CAPTURE));
    return r.addRequestHeadersToRemove(EnvoyContract.CACHE_HEADER)
        .putTypedPerFilterConfig(
            EnvoyContract.CAPTURE_FILTER,
            Any.pack(
                ExtProcPerRoute.newBuilder()
                    .setOverrides(
                        ExtProcOverrides.newBuilder()
                            .setProcessingMode(
                                ProcessingMode.newBuilder()
                                    .setRequestHeaderMode(ProcessingMode.HeaderSendMode.SKIP)
                                    .setResponseHeaderMode(ProcessingMode.HeaderSendMode.SEND)
                                    .setRequestBodyMode(ProcessingMode.BodySendMode.NONE)
                                    .setResponseBodyMode(ProcessingMode.BodySendMode.BUFFERED)
                                    .setRequestTrailerMode(ProcessingMode.HeaderSendMode.SKIP)
                                    .setResponseTrailerMode(ProcessingMode.HeaderSendMode.SKIP)))
                    .build()));
  }

  /** A path the chain's adapter routes apart, to the head pool. */
  private static Route.Builder pathRoute(ChainConfig chain, PathRoute p, EnvoyConfig envoy) {
    String head = EnvoyContract.nodeCluster(chain.name(), Pool.HEAD);
    RouteMatch match = RouteMatch.newBuilder().setPrefix(under(chain, p.pathPrefix())).build();
    if (p.held()) {
      // Reaches a node only when chainroute is down (it answers these itself): wait up to the
      // longest hold. chainroute holds them on the hold cluster, whose breaker is sized by
      // maxHeldRequests, not on the one that bounds ordinary requests inside ext_proc.
      Route.Builder r = route(chain, head, SAFE_RETRY_ON, null, null).setMatch(match);
      r.getRouteBuilder().setTimeout(duration(LONGEST_HOLD));
      return r.putTypedPerFilterConfig(
          EXT_PROC_FILTER,
          Any.pack(
              ExtProcPerRoute.newBuilder()
                  .setOverrides(
                      ExtProcOverrides.newBuilder().setGrpcService(envoyGrpc(EXTPROC_HOLD_CLUSTER)))
                  .build()));
    }
    Route.Builder r =
        route(
                chain,
                head,
                p.retryElsewhereOn().isEmpty()
                    ? READ_RETRY_ON
                    : READ_RETRY_ON + ",retriable-status-codes",
                null,
                readTryTimeout(chain, envoy))
            .setMatch(match);
    if (!p.retryElsewhereOn().isEmpty()) {
      // Every other node, not the next priority: the answer is on one particular node.
      r.getRouteBuilder()
          .getRetryPolicyBuilder()
          .addAllRetriableStatusCodes(p.retryElsewhereOn())
          .setNumRetries(UInt32Value.of(Math.max(1, chain.nodes().size() - 1)))
          .clearRetryPriority();
    }
    return r;
  }

  /**
   * When a read with no response headers yet is hedged to another node: the Envoy-wide {@code
   * readTryTimeout} (a hung node), or sooner where the chain hedges reads ({@code
   * balancing.hedgeReadsAfter}), so one slow node does not set the chain's tail latency. Each hedge
   * is one more request on a node: at most {@code num_retries} per read, inside the retry budget.
   */
  static Duration readTryTimeout(ChainConfig chain, EnvoyConfig envoy) {
    Duration all = envoy.readTryTimeout();
    Duration hedge = chain.balancing().hedgeReadsAfter();
    return chain.balancing().hedging() && hedge.compareTo(all) < 0 ? hedge : all;
  }

  /** A path under the chain's prefix ("/" prefix: the path itself). */
  private static String under(ChainConfig chain, String path) {
    return chain.pathPrefix().equals("/") ? path : chain.pathPrefix() + path;
  }

  private static HeaderMatcher exact(String header, String value) {
    return HeaderMatcher.newBuilder()
        .setName(header)
        .setStringMatch(StringMatcher.newBuilder().setExact(value))
        .build();
  }

  /**
   * @param headerMatch the header the route requires, or null
   * @param readTryTimeout for reads: an attempt without response headers after this is hedged to
   *     another node (the original keeps running; the first answer wins). Null for writes and
   *     unclassified requests: they are never sent twice.
   */
  private static Route.Builder route(
      ChainConfig chain,
      String cluster,
      String retryOn,
      HeaderMatcher headerMatch,
      Duration readTryTimeout) {
    boolean root = chain.pathPrefix().equals("/");
    RouteMatch.Builder match =
        root
            ? RouteMatch.newBuilder().setPrefix("/")
            : RouteMatch.newBuilder().setPathSeparatedPrefix(chain.pathPrefix());
    if (headerMatch != null) {
      match.addHeaders(headerMatch);
    }
    RetryPolicy.Builder retry =
        RetryPolicy.newBuilder()
            .setRetryOn(retryOn)
            // Enough to try every other node of the chain once (at least 2).
            .setNumRetries(UInt32Value.of(Math.max(2, chain.nodes().size() - 1)))
            // Envoy's defaults, made explicit: a dead node's neighbour is tried at once.
            .setRetryBackOff(
                RetryPolicy.RetryBackOff.newBuilder()
                    .setBaseInterval(duration(25))
                    .setMaxInterval(duration(250)))
            .addRetryHostPredicate(
                RetryPolicy.RetryHostPredicate.newBuilder()
                    .setName("envoy.retry_host_predicates.previous_hosts")
                    .setTypedConfig(Any.pack(PreviousHostsPredicate.getDefaultInstance())))
            .setHostSelectionRetryMaxAttempts(3)
            // A retry moves on to the next priority (e.g. from the only node in the Envoy's
            // region, just gone, to the others) instead of the same host.
            .setRetryPriority(
                RetryPolicy.RetryPriority.newBuilder()
                    .setName("envoy.retry_priorities.previous_priorities")
                    .setTypedConfig(
                        Any.pack(
                            PreviousPrioritiesConfig.newBuilder().setUpdateFrequency(1).build())));
    RouteAction.Builder action =
        RouteAction.newBuilder().setCluster(cluster).setTimeout(duration(ROUTE_TIMEOUT));
    if (!root) {
      // Nodes serve at "/": drop the chain prefix (a root chain keeps the path as it is).
      action.setRegexRewrite(
          RegexMatchAndSubstitute.newBuilder()
              .setPattern(
                  RegexMatcher.newBuilder()
                      .setRegex("^" + Pattern.quote(chain.pathPrefix()) + "/?"))
              .setSubstitution("/"));
    }
    if (readTryTimeout != null) {
      // A hung node (connections accepted, nothing answered) costs a read one try timeout, not
      // the route timeout; the hedge goes to another node (previous_hosts predicate).
      retry.setPerTryTimeout(duration(readTryTimeout));
      action.setHedgePolicy(HedgePolicy.newBuilder().setHedgeOnPerTryTimeout(true));
    }
    return Route.newBuilder()
        .setMatch(match)
        .setRoute(action.setRetryPolicy(retry))
        // The access log's chain (AccessLog), whether or not ext_proc answered.
        .setMetadata(
            Metadata.newBuilder()
                .putFilterMetadata(
                    EnvoyContract.METADATA_NAMESPACE,
                    Struct.newBuilder()
                        .putFields(
                            EnvoyContract.METADATA_CHAIN,
                            Value.newBuilder().setStringValue(chain.name()).build())
                        .build()));
  }
}
