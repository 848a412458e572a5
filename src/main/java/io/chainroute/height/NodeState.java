package io.chainroute.height;

import io.chainroute.config.NodeConfig;

/**
 * The tracker's raw record of one node. Owned and replaced only by the tracker's loop thread.
 *
 * @param head last reported height, -1 before the first answer
 * @param lastAdvancedNanos monotonic time the head last moved up (or was first seen); -1 before
 * @param lastAdvancedWallMillis the same moment as wall-clock time, for /status
 * @param syncing the node said it is syncing
 * @param detail short note from the last probe (sync progress or failure reason); never a secret
 * @param consecutiveFailures probes failed in a row
 * @param latencyMicros duration of the last successful probe
 * @param backwardJumps how many times the node reported a lower head than before
 * @param address the node's IP address as last resolved, or null
 * @param drained taken out of every pool by an operator (kept out until undrained)
 * @param latency the smoothed latency of the node's probes (long polls excluded)
 * @param identity the chain the node said it serves (see {@link
 *     io.chainroute.chain.ProbeReading#identity}), or null
 * @param finalized the node's finalized height as it last said, or -1
 * @param safe the node's safe height as it last said, or -1
 * @param adapterState what the adapter kept from the node's last answer (opaque here; see {@link
 *     io.chainroute.chain.AdapterState}), or null
 */
public record NodeState(
    NodeConfig config,
    long head,
    long lastAdvancedNanos,
    long lastAdvancedWallMillis,
    boolean syncing,
    String detail,
    int consecutiveFailures,
    long latencyMicros,
    int backwardJumps,
    String address,
    io.chainroute.chain.AdapterState adapterState,
    boolean drained,
    LatencyEwma latency,
    String identity,
    long finalized,
    long safe) {

  public static NodeState initial(NodeConfig config) {
    return new NodeState(
        config,
        -1,
        -1,
        0,
        false,
        "not probed yet",
        0,
        0,
        0,
        null,
        null,
        false,
        LatencyEwma.NONE,
        null,
        -1,
        -1);
  }

  /** The state after a successful probe, keeping what the adapter kept from it. */
  public NodeState answered(
      io.chainroute.chain.ProbeReading r, long latency, String addr, long nowNanos, long nowWall) {
    NodeState s = answered(r.head(), r.syncing(), r.detail(), latency, addr, nowNanos, nowWall);
    return new NodeState(
        s.config,
        s.head,
        s.lastAdvancedNanos,
        s.lastAdvancedWallMillis,
        s.syncing,
        s.detail,
        s.consecutiveFailures,
        s.latencyMicros,
        s.backwardJumps,
        s.address,
        r.state(),
        s.drained,
        s.latency,
        r.identity(),
        r.finalized(),
        r.safe());
  }

  /** The state after a successful probe. */
  public NodeState answered(
      long newHead,
      boolean nowSyncing,
      String note,
      long latency,
      String addr,
      long nowNanos,
      long nowWall) {
    boolean advanced = head < 0 || newHead > head;
    boolean backwards = head >= 0 && newHead < head;
    // A backward jump (restart, reorg) is taken as the node's new truth; it counts as movement so
    // the
    // node is judged afresh rather than as stalled since an old time.
    boolean moved = advanced || backwards;
    return new NodeState(
        config,
        newHead,
        moved ? nowNanos : lastAdvancedNanos,
        moved ? nowWall : lastAdvancedWallMillis,
        nowSyncing,
        note,
        0,
        latency,
        backwardJumps + (backwards ? 1 : 0),
        addr != null ? addr : address,
        adapterState,
        drained,
        this.latency,
        identity,
        finalized,
        safe);
  }

  /** The same state with one more latency sample in its smoothed latency. */
  public NodeState withLatencySample(long sampleMicros, long nowNanos) {
    return new NodeState(
        config,
        head,
        lastAdvancedNanos,
        lastAdvancedWallMillis,
        syncing,
        detail,
        consecutiveFailures,
        latencyMicros,
        backwardJumps,
        address,
        adapterState,
        drained,
        latency.observe(sampleMicros, nowNanos),
        identity,
        finalized,
        safe);
  }

  /** The same state, drained or not. */
  public NodeState withDrained(boolean d) {
    return new NodeState(
        config,
        head,
        lastAdvancedNanos,
        lastAdvancedWallMillis,
        syncing,
        detail,
        consecutiveFailures,
        latencyMicros,
        backwardJumps,
        address,
        adapterState,
        d,
        latency,
        identity,
        finalized,
        safe);
  }

  /** The state after a failed probe; the head is kept for /status but no longer trusted. */
  public NodeState failed(String reason) {
    return new NodeState(
        config,
        head,
        lastAdvancedNanos,
        lastAdvancedWallMillis,
        syncing,
        reason,
        consecutiveFailures + 1,
        latencyMicros,
        backwardJumps,
        address,
        adapterState,
        drained,
        latency,
        identity,
        finalized,
        safe);
  }
}
