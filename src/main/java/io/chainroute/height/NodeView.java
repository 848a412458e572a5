package io.chainroute.height;

import io.chainroute.config.NodeConfig;

/**
 * One node as the rest of chainroute sees it: immutable, derived from {@link NodeState} by {@link
 * HealthPolicy}.
 *
 * @param adapterState what the chain's adapter kept from the node's last answer, opaque here (see
 *     {@link io.chainroute.chain.AdapterState}); null when none
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
        null,
        null,
        -1,
        -1);
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
