package io.chainroute.xds;

/**
 * Told of xDS traffic as it happens: each response sent to an Envoy, and each ACK or NACK of one.
 * The metrics implement it; the composition root wires it.
 *
 * <p>Threading: called on gRPC threads, in order per stream; must be quick and never block.
 */
public interface XdsListener {
  /**
   * A response of {@code typeUrl} went to an Envoy.
   *
   * @param typeUrl the full type URL
   */
  void pushed(String typeUrl);

  /**
   * Envoy {@code envoy} (its node id) ACKed the last response of {@code typeUrl} sent to it, {@code
   * millis} after it was sent.
   */
  void acked(String envoy, String typeUrl, long millis);

  /** Envoy {@code envoy} rejected a response of {@code typeUrl}. */
  void nacked(String envoy, String typeUrl);

  /**
   * An xDS stream was closed before any resource was sent ({@code server.allowedEnvoyNodeIds}).
   *
   * @param reason {@code no_node_id} or {@code unknown_node}: a bounded label, never the node id a
   *     client chose
   */
  default void refused(String reason) {}

  XdsListener NONE =
      new XdsListener() {
        @Override
        public void pushed(String typeUrl) {}

        @Override
        public void acked(String envoy, String typeUrl, long millis) {}

        @Override
        public void nacked(String envoy, String typeUrl) {}
      };
}
