package io.chainroute.routing;

import io.chainroute.chain.DataKind;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The block-number ranges the in-Envoy fast path may decide for one chain, computed from a chain
 * view so that they stay true while the chain moves up to {@link #slack} blocks either way: a
 * number at or above {@link Range#headFrom} is served from the head pool by {@link
 * RoutingPolicy#decide} at every head in {@code [head - slack, head + slack]}, a number at or below
 * {@link Range#archiveTo} needs the archive pool at every one of them. Numbers between the two, and
 * numbers chainroute may answer from its response cache (at or below the finalized height plus the
 * slack, when the chain's cache is on), are left to ext_proc. So a published range is replaced only
 * when the chain has moved by half the slack ({@link #stale}), not on every block, and a range
 * Envoy holds a little longer than planned still errs toward asking chainroute.
 *
 * <p>The ranges expire {@link #ttlMillis} after they are built (the proxy ignores them past that):
 * an Envoy cut off from chainroute falls back to the head tags alone instead of trusting old
 * heights. Pure.
 *
 * @param head the view's head the ranges were built from
 * @param finalized the view's finalized height then (-1: unknown)
 * @param archiveUsable whether the archive pool had a usable node then
 * @param builtAtMillis when they were built
 * @param ttlMillis how long they hold from then ({@link #ttlMillis(ChainConfig, long)})
 * @param ranges per data kind that has a window (kinds every node keeps read {@code headFrom} 0)
 */
public record FastPathBounds(
    long head,
    long finalized,
    boolean archiveUsable,
    long builtAtMillis,
    long ttlMillis,
    Map<DataKind, Range> ranges) {
  public FastPathBounds {
    ranges = Map.copyOf(ranges);
  }

  /** The kinds a fast path may compare numbers for (trace needs the archive at any number). */
  static final List<DataKind> KINDS = List.of(DataKind.STATE, DataKind.LOGS, DataKind.NONE);

  /**
   * The numbers of one data kind the fast path may decide.
   *
   * @param headFrom numbers at or above it go to the head pool ({@link Long#MAX_VALUE}: none)
   * @param archiveTo numbers at or below it go to the archive pool (-1: none)
   */
  public record Range(long headFrom, long archiveTo) {}

  /**
   * Blocks the chain may move before the ranges are replaced: a quarter of the state window (so the
   * head range is most of the window), at least 4.
   */
  public static long slack(ChainConfig chain) {
    long window = Math.max(1, chain.fullNodeStateBlocks() - chain.archiveMarginBlocks());
    return Math.max(4, window / 4);
  }

  /**
   * How long ranges hold without a refresh: the time the chain takes to move {@link #slack} blocks
   * at its configured {@code blockTime}, at least 10 s. chainroute rebuilds them at half of it at
   * the latest.
   */
  public static long ttlMillis(ChainConfig chain) {
    return ttlMillis(chain, -1);
  }

  /**
   * As {@link #ttlMillis(ChainConfig)}, at the observed block interval when the chain is faster
   * than configured ({@code observedMillisPerBlock} ≤ 0: not observed): a chain that makes blocks
   * faster than its {@code blockTime} says must not have its ranges trusted for longer than it
   * takes to move the slack.
   */
  public static long ttlMillis(ChainConfig chain, long observedMillisPerBlock) {
    long perBlock = chain.blockTime().toMillis();
    if (observedMillisPerBlock > 0) {
      perBlock = Math.min(perBlock, observedMillisPerBlock);
    }
    return Math.max(10_000, slack(chain) * perBlock);
  }

  /** The ranges for this view, or null when it has no usable head node or no known head. */
  public static FastPathBounds of(ChainView view, long nowMillis) {
    return of(view, nowMillis, null);
  }

  /**
   * As {@link #of(ChainView, long)}, with the lifetime shortened to the block interval observed
   * since {@code previous} (the ranges these replace; null: none) when the chain moved faster than
   * its configured {@code blockTime}.
   */
  public static FastPathBounds of(ChainView view, long nowMillis, FastPathBounds previous) {
    if (view == null || !view.headUsable() || view.head() < 0) {
      return null;
    }
    ChainConfig chain = view.config();
    long slack = slack(chain);
    long head = view.head();
    long finalized = view.finalized();
    boolean cache = chain.cache().enabled();
    boolean archive = view.archiveUsable();
    long highest = head + slack;
    long lowest = Math.max(0, head - slack);
    // What chainroute may answer from its cache stays with it: every number up to the finalized
    // height the chain may reach meanwhile (unknown: up to the highest head).
    long cachedTo = !cache ? -1 : finalized < 0 ? highest : Math.min(finalized + slack, highest);
    Map<DataKind, Range> ranges = new EnumMap<>(DataKind.class);
    for (DataKind kind : KINDS) {
      long from = RoutingPolicy.firstRecent(kind, chain, highest);
      from = Math.max(from == Long.MIN_VALUE ? 0 : from, cachedTo + 1);
      long to = -1;
      long recentAtLowest = RoutingPolicy.firstRecent(kind, chain, lowest);
      if (archive && !cache && recentAtLowest != Long.MIN_VALUE) {
        to = recentAtLowest - 1;
      }
      ranges.put(kind, new Range(from, to));
    }
    long observed = -1;
    if (previous != null && head > previous.head() && nowMillis > previous.builtAtMillis()) {
      observed = Math.max(1, (nowMillis - previous.builtAtMillis()) / (head - previous.head()));
    }
    return new FastPathBounds(
        head, finalized, archive, nowMillis, ttlMillis(chain, observed), ranges);
  }

  /**
   * True when these ranges should be rebuilt from {@code view}: it moved half the slack from the
   * head or finalized height they were built from, the archive pool's usability changed, the head
   * pool lost its last usable node, or half their lifetime has passed.
   */
  public boolean stale(ChainView view, long nowMillis) {
    if (view == null || !view.headUsable() || view.head() < 0) {
      return true;
    }
    ChainConfig chain = view.config();
    long half = slack(chain) / 2;
    return Math.abs(view.head() - head) >= half
        || (chain.cache().enabled() && finalized >= 0 && view.finalized() - finalized >= half)
        || (finalized < 0 && view.finalized() >= 0)
        || view.archiveUsable() != archiveUsable
        || nowMillis - builtAtMillis >= ttlMillis / 2;
  }
}
