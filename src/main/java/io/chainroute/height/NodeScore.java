package io.chainroute.height;

/**
 * What a node's latency earns it: the EDS {@code load_balancing_weight} chainroute publishes for it
 * and why. Computed by {@link LatencyWeights}.
 *
 * @param latencyMicros the node's smoothed probe latency ({@link LatencyEwma}); -1 before a sample
 * @param weight 1 to {@link LatencyWeights#CAP} while the node is in a pool; 0 when it is in none
 * @param reason one sentence for /status and the status page
 */
public record NodeScore(long latencyMicros, int weight, String reason) {
  /** Not scored (a node built outside the tracker, e.g. in a test): the full weight. */
  public static final NodeScore UNSCORED =
      new NodeScore(-1, LatencyWeights.CAP, "not scored (no latency sample)");
}
