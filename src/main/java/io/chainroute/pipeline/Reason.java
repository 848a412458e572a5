package io.chainroute.pipeline;

/**
 * Why a request got the fate it got: the {@code reason} of the decision log and of {@code
 * chainroute_requests_total}. A small fixed set, so it can be a metric label.
 */
public enum Reason {
  /** Routed to the head pool: the data is at or near the head (or the call has no height). */
  HEAD("head"),
  /** Routed to the archive pool: an old height, {@code earliest}, a hash in a windowed kind. */
  ARCHIVE("archive"),
  /** Needed the archive pool, which had no usable node: sent to the head pool instead. */
  ARCHIVE_FALLBACK("archive_fallback"),
  /** chainroute answered it itself: bad input the protocol answers without a node. */
  ANSWERED("answered"),
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

  /** The value of the {@code reason} label and log field. */
  public String label() {
    return label;
  }

  /** Worth an INFO line in the decision log (rate-limited): everything but plain head routing. */
  public boolean unusual() {
    return this == ARCHIVE
        || this == ARCHIVE_FALLBACK
        || this == UNAVAILABLE
        || this == HOLD_REFUSED
        || this == SHUTDOWN;
  }
}
