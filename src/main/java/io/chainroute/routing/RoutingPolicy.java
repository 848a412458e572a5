package io.chainroute.routing;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.Requirement;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import java.util.List;

/**
 * Chooses the pool for a request from its requirements and the chain's current view. Pure: no I/O,
 * no clock, no protocol knowledge.
 *
 * <ul>
 *   <li>each data kind has a window a full node keeps (state: {@code fullNodeStateBlocks}, logs:
 *       {@code fullNodeLogBlocks}, traces: none); a height at or beyond the window (less the
 *       chain's {@code archiveMarginBlocks}), {@code earliest}, or an unknown height (a hash)
 *       inside a windowed kind needs the archive pool;
 *   <li>a batch goes to the archive pool if any call needs it, and is a write if any call writes;
 *   <li>with no usable archive node the request goes to the head pool, so the client sees the
 *       node's own error; with no usable node at all it is unavailable.
 * </ul>
 */
public final class RoutingPolicy {
  private RoutingPolicy() {}

  public static Decision decide(List<Requirement> requirements, ChainView view) {
    boolean archive = false;
    boolean write = false;
    for (Requirement r : requirements) {
      write |= r.write();
      archive |= needsArchive(r, view.config(), view.head());
    }
    if (archive && view.archiveUsable()) {
      return new Decision.Route(Pool.ARCHIVE, write, RouteReason.ARCHIVE);
    }
    if (view.headUsable()) {
      RouteReason reason =
          archive ? RouteReason.NO_ARCHIVE : write ? RouteReason.WRITE : RouteReason.RECENT;
      return new Decision.Route(Pool.HEAD, write, reason);
    }
    return new Decision.Unavailable("no synced node available for chain '" + view.name() + "'");
  }

  static boolean needsArchive(Requirement r, ChainConfig chain, long head) {
    if (r.write() || window(r.kind(), chain) == Long.MAX_VALUE) {
      return false;
    }
    if (r.kind() == DataKind.TRACE) {
      return true;
    }
    BlockRef ref = r.ref();
    return switch (ref.kind()) {
      case EARLIEST, HASH -> true;
      case NUMBER -> ref.number() < firstRecent(r.kind(), chain, head);
      case LATEST, PENDING, SAFE, FINALIZED -> false;
    };
  }

  /**
   * The lowest block number a read of {@code kind} at that number may be served from the head pool
   * when the chain's head is {@code head}: every lower number needs the archive pool. The margin
   * errs toward the archive near the window's edge ({@link ChainConfig#archiveMarginBlocks}).
   * {@link Long#MIN_VALUE} when no number needs the archive (a kind every node keeps, or no head
   * known); {@link Long#MAX_VALUE} when every number does.
   */
  public static long firstRecent(DataKind kind, ChainConfig chain, long head) {
    long window = window(kind, chain);
    if (window == Long.MAX_VALUE || head < 0) {
      return Long.MIN_VALUE;
    }
    if (kind == DataKind.TRACE) {
      return Long.MAX_VALUE;
    }
    return head - Math.max(1, window - chain.archiveMarginBlocks()) + 1;
  }

  /** How many recent blocks of {@code kind} a full node keeps; MAX_VALUE for all of them. */
  private static long window(DataKind kind, ChainConfig chain) {
    return switch (kind) {
      case STATE -> chain.fullNodeStateBlocks();
      case LOGS -> chain.fullNodeLogBlocks();
      case TRACE -> 0;
      case NONE, NODE_LOCAL -> Long.MAX_VALUE;
    };
  }
}
