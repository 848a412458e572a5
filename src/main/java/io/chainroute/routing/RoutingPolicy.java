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
    long window =
        switch (r.kind()) {
          case STATE -> chain.fullNodeStateBlocks();
          case LOGS -> chain.fullNodeLogBlocks();
          case TRACE -> 0;
          case NONE, NODE_LOCAL -> Long.MAX_VALUE;
        };
    if (window == Long.MAX_VALUE || r.write()) {
      return false;
    }
    if (r.kind() == DataKind.TRACE) {
      return true;
    }
    BlockRef ref = r.ref();
    return switch (ref.kind()) {
      case EARLIEST, HASH -> true;
      // The margin errs toward the archive near the window's edge
      // (ChainConfig#archiveMarginBlocks).
      case NUMBER ->
          head >= 0 && head - ref.number() >= Math.max(1, window - chain.archiveMarginBlocks());
      case LATEST, PENDING, SAFE, FINALIZED -> false;
    };
  }
}
