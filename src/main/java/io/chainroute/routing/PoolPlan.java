package io.chainroute.routing;

import io.chainroute.height.ChainView;
import io.chainroute.height.NodeView;
import java.util.ArrayList;
import java.util.List;

/**
 * Which nodes each pool offers to an Envoy, with status and priority. Pure; the xDS edge turns it
 * into ClusterLoadAssignments and /status shows it.
 *
 * <p>Priority: nodes in the Envoy's own region (or with no region, or when the Envoy has none) are
 * 0, others 1; when the Envoy's region spills over ({@link ChainView#spills}: its nodes are too
 * few, too far behind or too slow next to the other regions'), every region's nodes are 0 and Envoy
 * spreads the traffic by their latency weights. In the head pool archive nodes come after every
 * full node (+2): they take latest traffic only when no full node can, keeping them free for the
 * requests only they can serve. Envoy wants priorities 0..N without gaps, so the levels used are
 * compacted to ranks here, and /status shows the same numbers Envoy has.
 */
public final class PoolPlan {
  private PoolPlan() {}

  public static List<PoolMember> members(ChainView view, Pool pool, String envoyRegion) {
    List<PoolMember> out = new ArrayList<>();
    boolean spillFull = view.spills(envoyRegion, false);
    boolean spillArchive = view.spills(envoyRegion, true);
    for (NodeView n : view.nodes()) {
      if (!n.status().usable() || (pool == Pool.ARCHIVE && !n.config().archive())) {
        continue;
      }
      boolean spill = n.config().archive() ? spillArchive : spillFull;
      int priority = remote(n, envoyRegion) && !spill ? 1 : 0;
      if (pool == Pool.HEAD && n.config().archive()) {
        priority += 2;
      }
      out.add(new PoolMember(n, n.status(), priority));
    }
    List<Integer> ranks = out.stream().map(PoolMember::priority).distinct().sorted().toList();
    return out.stream()
        .map(m -> new PoolMember(m.node(), m.status(), ranks.indexOf(m.priority())))
        .toList();
  }

  private static boolean remote(NodeView n, String envoyRegion) {
    String region = n.config().region();
    return !envoyRegion.isEmpty() && !region.isEmpty() && !region.equals(envoyRegion);
  }
}
