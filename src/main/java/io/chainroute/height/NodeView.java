package io.chainroute.height;

import io.chainroute.config.NodeConfig;

/**
 * One node as the rest of chainroute sees it: immutable, derived from {@link NodeState} by {@link
 * HealthPolicy}.
 *
 * @param adapterState what the chain's adapter kept from the node's last answer, opaque here (see
 *     {@link io.chainroute.chain.AdapterState}); null when none
 * @param score the node's smoothed latency and the endpoint weight it earns ({@link
 *     LatencyWeights})
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
    io.chainroute.chain.AdapterState adapterState,
    NodeScore score) {

  public NodeView(
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
        adapterState,
        NodeScore.UNSCORED);
  }

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

  /** The same view with another score. */
  public NodeView withScore(NodeScore s) {
    return new NodeView(
        config,
        head,
        lag,
        health,
        reason,
        status,
        latencyMicros,
        lastAdvancedWallMillis,
        address,
        adapterState,
        s);
  }

  /**
   * Same routing meaning. Ignores latency and the free-text reasons, which change on every probe (a
   * stalled node's reason counts the milliseconds since its last block): comparing them would
   * republish, and push xDS, once per poll. The endpoint weight counts: {@link LatencyWeights}
   * changes it only on a meaningful change.
   */
  boolean sameRouting(NodeView o) {
    return head == o.head
        && lag == o.lag
        && health == o.health
        && status == o.status
        && score.weight() == o.score.weight()
        && java.util.Objects.equals(address, o.address);
  }
}
