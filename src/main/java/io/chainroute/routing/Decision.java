package io.chainroute.routing;

/** Where a request goes, or why it cannot go anywhere. */
public sealed interface Decision {
  /**
   * Send the request to a pool.
   *
   * @param write the request writes: Envoy must not retry it once it may have reached a node
   * @param reason why this pool
   */
  record Route(Pool pool, boolean write, RouteReason reason) implements Decision {}

  /** No node can take the request; the message names the chain. */
  record Unavailable(String message) implements Decision {}
}
