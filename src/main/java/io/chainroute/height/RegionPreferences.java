package io.chainroute.height;

import io.chainroute.config.Balancing;
import io.chainroute.config.ChainConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * When an Envoy's own region stops being preferred. Pure: the previous decisions are passed in.
 *
 * <p>Envoy's own spillover (priority levels with an overprovisioning factor, locality health)
 * counts only the hosts in an assignment, and chainroute leaves stale, down and drained nodes out
 * of it on purpose (panic mode can never reach them): a region that lost two of its three nodes
 * still looks 100 % healthy to Envoy. chainroute knows the configured nodes, so it decides here:
 * for each region with nodes and each pool, the region's nodes stay the first priority (other
 * regions are used only when none of them is usable) unless one of the chain's {@link Balancing}
 * thresholds is crossed:
 *
 * <ul>
 *   <li>fewer than {@code localMinHealthyPercent} of the region's nodes for the pool are in it;
 *   <li>the region's most current node is more than {@code localBehindBlocks} behind the most
 *       current node elsewhere;
 *   <li>the region's fastest node (smoothed probe latency) is more than {@code localSlowerBy}
 *       slower than the fastest elsewhere. Once spilling for latency, the region is preferred again
 *       only when the gap is under half the threshold, so a gap near it does not flap.
 * </ul>
 *
 * Spilling puts every region's nodes at the first priority: Envoy then spreads traffic by the
 * latency weights ({@link LatencyWeights}) and least-request, so the healthy, fast nodes elsewhere
 * take over the strained region's share while its own nodes keep what they can serve.
 */
public final class RegionPreferences {
  private RegionPreferences() {}

  /**
   * One preference per (region with nodes, pool), head pool first, regions sorted.
   *
   * @param before the previous decisions (for hysteresis); empty when none
   */
  public static List<RegionPreference> plan(
      ChainConfig chain, List<NodeView> nodes, List<RegionPreference> before) {
    TreeSet<String> regions = new TreeSet<>();
    nodes.forEach(n -> regions.add(n.config().region()));
    regions.remove("");
    List<RegionPreference> out = new ArrayList<>();
    for (boolean archive : new boolean[] {false, true}) {
      for (String region : regions) {
        boolean spilling =
            before.stream()
                .anyMatch(
                    p -> p.region().equals(region) && p.archivePool() == archive && p.spill());
        out.add(decide(chain.balancing(), nodes, region, archive, spilling));
      }
    }
    return out;
  }

  static RegionPreference decide(
      Balancing b, List<NodeView> nodes, String region, boolean archive, boolean spilling) {
    List<NodeView> local = new ArrayList<>();
    List<NodeView> remote = new ArrayList<>();
    for (NodeView n : nodes) {
      if (n.config().archive() != archive) {
        continue;
      }
      String r = n.config().region();
      // A node with no region is everyone's (priority 0 for every Envoy): it is local.
      (r.isEmpty() || r.equals(region) ? local : remote).add(n);
    }
    List<NodeView> localUsable = local.stream().filter(n -> n.status().usable()).toList();
    List<NodeView> remoteUsable = remote.stream().filter(n -> n.status().usable()).toList();
    if (local.isEmpty()) {
      return keep(region, archive, "no node of this pool in " + region);
    }
    if (remoteUsable.isEmpty()) {
      return keep(region, archive, "no usable node of this pool in another region");
    }
    if (localUsable.isEmpty()) {
      return keep(
          region, archive, "no usable node in " + region + ": Envoy uses the next priority");
    }
    int percent = localUsable.size() * 100 / local.size();
    if (percent < b.localMinHealthyPercent()) {
      return spill(
          region,
          archive,
          "only %d of %d nodes in %s are usable (%d%%, below %d%%)"
              .formatted(
                  localUsable.size(), local.size(), region, percent, b.localMinHealthyPercent()));
    }
    long localLag = localUsable.stream().mapToLong(NodeView::lag).min().orElse(0);
    long remoteLag = remoteUsable.stream().mapToLong(NodeView::lag).min().orElse(0);
    if (localLag - remoteLag > b.localBehindBlocks()) {
      return spill(
          region,
          archive,
          "%s is %d blocks behind another region (more than %d)"
              .formatted(region, localLag - remoteLag, b.localBehindBlocks()));
    }
    long localFast = fastest(localUsable);
    long remoteFast = fastest(remoteUsable);
    if (localFast >= 0 && remoteFast >= 0) {
      long gap = localFast - remoteFast;
      long threshold = b.localSlowerBy().toNanos() / 1000;
      // Entering: more than the threshold slower; leaving: under half of it (hysteresis).
      boolean slow = spilling ? gap * 2 > threshold : gap > threshold;
      String figures =
          "fastest in %s %s vs %s elsewhere".formatted(region, ms(localFast), ms(remoteFast));
      if (slow) {
        return spill(
            region,
            archive,
            figures
                + (spilling
                    ? " (spilling until under half of " + ms(threshold) + " slower)"
                    : " (more than " + ms(threshold) + " slower)"));
      }
      return keep(region, archive, "prefer " + region + ": " + figures);
    }
    return keep(region, archive, "prefer " + region);
  }

  private static long fastest(List<NodeView> nodes) {
    return nodes.stream()
        .mapToLong(n -> n.score().latencyMicros())
        .filter(l -> l >= 0)
        .min()
        .orElse(-1);
  }

  private static RegionPreference keep(String region, boolean archive, String reason) {
    return new RegionPreference(region, archive, false, reason);
  }

  private static RegionPreference spill(String region, boolean archive, String reason) {
    return new RegionPreference(region, archive, true, "spill over: " + reason);
  }

  private static String ms(long micros) {
    return String.format(Locale.ROOT, "%.1f ms", micros / 1000.0);
  }
}
