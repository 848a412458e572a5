package io.chainroute.routing;

/** Where a request goes, or why it cannot go anywhere. */
public sealed interface Decision {
  /**
   * Send the request to a pool.
   *
   * @param write the request writes: Envoy must not retry it once it may have reached a node
   * @param archiveFallback the request needed the archive pool, which had no usable node: it goes
   *     to the head pool instead (the node answers with its own error)
   */
  record Route(Pool pool, boolean write, boolean archiveFallback) implements Decision {
    public Route(Pool pool, boolean write) {
      this(pool, write, false);
    }
  }

  /** No node can take the request; the message names the chain. */
  record Unavailable(String message) implements Decision {}
}
