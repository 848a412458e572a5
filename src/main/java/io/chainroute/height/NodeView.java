package io.chainroute.height;

import io.chainroute.config.NodeConfig;

/**
 * One node as the rest of chainroute sees it: immutable, derived from {@link NodeState} by {@link
 * HealthPolicy}.
 *
 * @param adapterState what the chain's adapter kept from the node's last answer, opaque here (see
 *     {@link io.chainroute.chain.AdapterState}); null when none
 */
public record NodeView(
    NodeConfig config,
    long head,
    long lag,
    Health health,
    String reason,
    EndpointStatus status,
    long latencyMicros,
    long lastAdvancedWallMillis,
    String address,
    io.chainroute.chain.AdapterState adapterState) {

  public NodeView(
      NodeConfig config,
      long head,
      long lag,
      Health health,
      String reason,
      EndpointStatus status,
      long latencyMicros,
      long lastAdvancedWallMillis,
      String address) {
    this(
        config,
        head,
        lag,
        health,
        reason,
        status,
        latencyMicros,
        lastAdvancedWallMillis,
        address,
        null);
  }

  public String name() {
    return config.name();
  }

  /**
   * Same routing meaning. Ignores latency and the free-text reason, which change on every probe (a
   * stalled node's reason counts the milliseconds since its last block): comparing them would
   * republish, and push xDS, once per poll.
   */
  boolean sameRouting(NodeView o) {
    return head == o.head
        && lag == o.lag
        && health == o.health
        && status == o.status
        && java.util.Objects.equals(address, o.address);
  }
}
