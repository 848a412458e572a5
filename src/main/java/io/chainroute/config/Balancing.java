package io.chainroute.config;

import java.time.Duration;
import java.util.Objects;

/**
 * How a chain's traffic is spread over its nodes beyond "synced or not" ({@code balancing:} in a
 * chain's config): latency weights, when an Envoy's own region gives up its preference, and hedged
 * reads. The README's "Latency scoring and regions" section works an example.
 *
 * @param latencyWeights endpoint weights follow each node's smoothed probe latency (a slower node
 *     gets a smaller share, never none while it is synced); false: every node weighs the same
 * @param localSlowerBy an Envoy's own region keeps all its traffic unless its fastest node is more
 *     than this much slower (smoothed probe latency) than the fastest node elsewhere
 * @param localBehindBlocks ... or its most current node is more than this many blocks behind the
 *     most current node elsewhere
 * @param localMinHealthyPercent ... or fewer than this percent of its configured nodes for a pool
 *     are in that pool (the rest are stale, down or drained); 0 turns this test off
 * @param hedgeReadsAfter a read with no response headers after this long is also sent to another
 *     node, the first answer wins (Envoy's {@code hedge_on_per_try_timeout}; never for writes);
 *     {@link Duration#ZERO}: off, reads hedge only after the Envoy-wide {@code readTryTimeout}
 */
public record Balancing(
    boolean latencyWeights,
    Duration localSlowerBy,
    long localBehindBlocks,
    int localMinHealthyPercent,
    Duration hedgeReadsAfter) {
  public static final Duration DEFAULT_LOCAL_SLOWER_BY = Duration.ofMillis(100);
  public static final long DEFAULT_LOCAL_BEHIND_BLOCKS = 1;
  public static final int DEFAULT_LOCAL_MIN_HEALTHY_PERCENT = 50;

  /** Latency weights on, the default thresholds, no hedging below the read try timeout. */
  public static final Balancing DEFAULTS =
      new Balancing(
          true,
          DEFAULT_LOCAL_SLOWER_BY,
          DEFAULT_LOCAL_BEHIND_BLOCKS,
          DEFAULT_LOCAL_MIN_HEALTHY_PERCENT,
          Duration.ZERO);

  public Balancing {
    Objects.requireNonNull(localSlowerBy, "localSlowerBy");
    Objects.requireNonNull(hedgeReadsAfter, "hedgeReadsAfter");
    if (localSlowerBy.isNegative()) {
      throw new IllegalArgumentException(
          "localSlowerBy: " + localSlowerBy + " (expected: zero or more)");
    }
    if (localBehindBlocks < 0) {
      throw new IllegalArgumentException(
          "localBehindBlocks: " + localBehindBlocks + " (expected: zero or more)");
    }
    if (localMinHealthyPercent < 0 || localMinHealthyPercent > 100) {
      throw new IllegalArgumentException(
          "localMinHealthyPercent: " + localMinHealthyPercent + " (expected: 0 to 100)");
    }
    if (hedgeReadsAfter.isNegative()) {
      throw new IllegalArgumentException(
          "hedgeReadsAfter: " + hedgeReadsAfter + " (expected: zero (off) or more)");
    }
  }

  /** True when reads are hedged after {@link #hedgeReadsAfter}. */
  public boolean hedging() {
    return !hedgeReadsAfter.isZero();
  }
}
