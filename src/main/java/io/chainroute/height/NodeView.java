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
 * @param identity the chain the node said it serves, or null (see {@link
 *     io.chainroute.chain.ProbeReading#identity})
 * @param finalized the node's finalized height: as it said, else its head less the chain's
 *     confirmations; -1 when unknown
 * @param safe the node's safe height as it said, or -1
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
    NodeScore score,
    String identity,
    long finalized,
    long safe) {

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
        NodeScore.UNSCORED,
        null,
        -1,
        -1);
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
        s,
        identity,
        finalized,
        safe);
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
