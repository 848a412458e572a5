package io.chainroute.routing;

import java.util.Locale;

/**
 * Why {@link RoutingPolicy} sent a request to its pool. Few values on purpose: it is a label on
 * metrics and a field of Envoy's access log ({@link #id()}).
 */
public enum RouteReason {
  /** Needs only data every synced node keeps (the head, recent blocks, or no block at all). */
  RECENT,
  /** Needs data older than a full node keeps (old state or logs, traces, a hash, earliest). */
  ARCHIVE,
  /**
   * Needs archive data but no archive node is usable: the head pool, so the client gets the node's
   * own error, unchanged.
   */
  NO_ARCHIVE,
  /** Writes (a transaction): a synced node, never retried blindly. */
  WRITE;

  private final String id = name().toLowerCase(Locale.ROOT);

  /** The lowercase name on metrics and access log lines: {@code recent}, {@code no_archive}. */
  public String id() {
    return id;
  }
}
