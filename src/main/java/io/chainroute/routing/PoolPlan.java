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
 * 0, others 1. In the head pool archive nodes come after every full node (+2): they take latest
 * traffic only when no full node can, keeping them free for the requests only they can serve.
 */
public final class PoolPlan {
  private PoolPlan() {}

  public static List<PoolMember> members(ChainView view, Pool pool, String envoyRegion) {
    List<PoolMember> out = new ArrayList<>();
    for (NodeView n : view.nodes()) {
      if (!n.status().usable() || (pool == Pool.ARCHIVE && !n.config().archive())) {
        continue;
      }
      int priority = remote(n, envoyRegion) ? 1 : 0;
      if (pool == Pool.HEAD && n.config().archive()) {
        priority += 2;
      }
      out.add(new PoolMember(n, n.status(), priority));
    }
    return out;
  }

  private static boolean remote(NodeView n, String envoyRegion) {
    String region = n.config().region();
    return !envoyRegion.isEmpty() && !region.isEmpty() && !region.equals(envoyRegion);
  }
}
