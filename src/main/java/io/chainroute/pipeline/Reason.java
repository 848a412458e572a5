package io.chainroute.pipeline;

import io.chainroute.routing.RouteReason;

/**
 * Why a request got the fate it got: the {@code reason} of the decision log and of {@code
 * chainroute_requests_total}. A small fixed set, so it can be a metric label. A routed request's
 * reason is the policy's {@link RouteReason}, with the same spelling as Envoy's access log.
 */
public enum Reason {
  /** Routed to the head pool: data every synced node keeps ({@link RouteReason#RECENT}). */
  RECENT("recent"),
  /** Routed to the archive pool: data older than a full node keeps. */
  ARCHIVE("archive"),
  /** Needed the archive pool, which had no usable node: sent to the head pool instead. */
  NO_ARCHIVE("no_archive"),
  /** A write: the head pool, never retried blindly. */
  WRITE("write"),
  /**
   * A write chainroute sent to every node of the head pool itself (read-your-writes), answered with
   * the first node's acceptance.
   */
  BROADCAST("broadcast"),
  /**
   * A call on state that lives on one node (an EVM filter): created there by chainroute, or routed
   * to the node that holds it.
   */
  STICKY("sticky"),
  /** A call on state whose node is gone: answered with that node's own "not found" error. */
  STICKY_GONE("sticky_gone"),
  /** chainroute answered it itself: bad input the protocol answers without a node. */
  ANSWERED("answered"),
  /** Answered from what chainroute knows of the chain (its identity, its head). */
  LOCAL("local"),
  /** Answered from stored answers of data that can no longer change (at least one call). */
  CACHE_HIT("cache_hit"),
  /** A wait for a height (algod wait-for-block-after), answered from a node's own status. */
  HEIGHT_WAIT("height_wait"),
  /**
   * No usable node: answered with the protocol's "unavailable" (HTTP 503), at once or after a hold.
   */
  UNAVAILABLE("unavailable"),
  /** Would have waited for a node, but the bound on held requests was reached: a 503 at once. */
  HOLD_REFUSED("hold_refused"),
  /** Held when chainroute shut down: the protocol's shutdown answer. */
  SHUTDOWN("shutdown"),
  /**
   * Not for chainroute to route (a method the protocol never carries a body for): default route.
   */
  PASS("pass");

  private final String label;

  Reason(String label) {
    this.label = label;
  }

  /** A routed request's reason. */
  public static Reason of(RouteReason r) {
    return switch (r) {
      case RECENT -> RECENT;
      case ARCHIVE -> ARCHIVE;
      case NO_ARCHIVE -> NO_ARCHIVE;
      case WRITE -> WRITE;
    };
  }

  /** The value of the {@code reason} label and log field. */
  public String label() {
    return label;
  }

  /**
   * Worth an INFO line in the decision log (rate-limited): archive routing, fallback, 503s, a
   * filter whose node is gone.
   */
  public boolean unusual() {
    return this == ARCHIVE
        || this == NO_ARCHIVE
        || this == STICKY_GONE
        || this == UNAVAILABLE
        || this == HOLD_REFUSED
        || this == SHUTDOWN;
  }
}
