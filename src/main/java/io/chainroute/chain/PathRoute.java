package io.chainroute.chain;

import java.util.List;

/**
 * A path the proxy must route apart from a chain's generic pool routes, in proxy-neutral terms; the
 * Envoy bootstrap turns each into one route ahead of the chain's pool routes, in list order.
 *
 * @param pathPrefix under the chain's prefix; starts with "/"
 * @param held chainroute holds these requests itself (a long poll it answers once the chain reaches
 *     a height): they wait up to the longest hold, use ext_proc's hold cluster, and are never
 *     retried once they may have reached a node
 * @param retryElsewhereOn node statuses meaning "another node may have it" (algod's 404 for a
 *     pending transaction another node took): such a read is retried on every other node
 */
public record PathRoute(String pathPrefix, boolean held, List<Integer> retryElsewhereOn) {
  public PathRoute {
    if (!pathPrefix.startsWith("/")) {
      throw new IllegalArgumentException("pathPrefix must start with '/', was " + pathPrefix);
    }
    retryElsewhereOn = List.copyOf(retryElsewhereOn);
    if (held && !retryElsewhereOn.isEmpty()) {
      throw new IllegalArgumentException("a held route is never retried: " + pathPrefix);
    }
  }

  /** Requests chainroute holds (see {@link #held()}). */
  public static PathRoute held(String pathPrefix) {
    return new PathRoute(pathPrefix, true, List.of());
  }

  /** Reads retried on the other nodes when a node answers one of {@code statuses}. */
  public static PathRoute retriedElsewhereOn(String pathPrefix, Integer... statuses) {
    return new PathRoute(pathPrefix, false, List.of(statuses));
  }
}
