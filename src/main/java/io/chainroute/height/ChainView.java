package io.chainroute.height;

import io.chainroute.config.ChainConfig;
import java.util.List;

/**
 * An immutable picture of one chain: its head and every node's health. Built on the tracker's loop
 * thread and read by any thread without locks.
 *
 * @param head highest height reported by a reachable, non-syncing node; -1 when none answered
 * @param preferences per region with nodes and per pool: whether an Envoy there keeps its traffic
 *     local ({@link RegionPreferences})
 */
public record ChainView(
    ChainConfig config, long head, List<NodeView> nodes, List<RegionPreference> preferences) {
  public ChainView {
    nodes = List.copyOf(nodes);
    preferences = List.copyOf(preferences);
  }

  /** A view whose region preferences are decided from these nodes alone (no earlier decision). */
  public ChainView(ChainConfig config, long head, List<NodeView> nodes) {
    this(config, head, nodes, RegionPreferences.plan(config, nodes, List.of()));
  }

  /**
   * True when an Envoy in {@code region} spreads the pool's traffic over every region (its own is
   * strained); false when it prefers its own region, or has none.
   */
  public boolean spills(String region, boolean archivePool) {
    return preferences.stream()
        .anyMatch(p -> p.region().equals(region) && p.archivePool() == archivePool && p.spill());
  }

  /** The preference of an Envoy in {@code region} for a pool, or null when no node is there. */
  public RegionPreference preference(String region, boolean archivePool) {
    return preferences.stream()
        .filter(p -> p.region().equals(region) && p.archivePool() == archivePool)
        .findFirst()
        .orElse(null);
  }

  public String name() {
    return config.name();
  }

  /** True once a node is synced. */
  public boolean ready() {
    return nodes.stream().anyMatch(n -> n.health() == Health.SYNCED);
  }

  /** True when the head pool has a node Envoy may use. */
  public boolean headUsable() {
    return nodes.stream().anyMatch(n -> n.status().usable());
  }

  /** True when the archive pool has a node Envoy may use. */
  public boolean archiveUsable() {
    return nodes.stream().anyMatch(n -> n.config().archive() && n.status().usable());
  }

  /**
   * When the chain head reached its current height (wall-clock millis): the earliest {@link
   * NodeView#lastAdvancedWallMillis} among the nodes at the head, as the first of them got there; 0
   * when no node is at the head or none has advanced yet.
   */
  public long headAdvancedWallMillis() {
    long at = 0;
    for (NodeView n : nodes) {
      long t = n.lastAdvancedWallMillis();
      if (head >= 0 && n.head() == head && t > 0 && (at == 0 || t < at)) {
        at = t;
      }
    }
    return at;
  }

  /**
   * The chain's finalized height for answers chainroute keeps: the lowest finalized height among
   * the synced nodes Envoy may use (a node that knows less lowers it, never raises it); -1 when
   * none of them knows one.
   */
  public long finalized() {
    long f = Long.MAX_VALUE;
    for (NodeView n : nodes) {
      if (n.health() == Health.SYNCED && n.status().usable()) {
        if (n.finalized() < 0) {
          return -1;
        }
        f = Math.min(f, n.finalized());
      }
    }
    return f == Long.MAX_VALUE ? -1 : f;
  }

  /** The highest head among the nodes Envoy may use for the head pool; -1 when none. */
  public long usableHead() {
    long h = -1;
    for (NodeView n : nodes) {
      if (n.status() == EndpointStatus.HEALTHY && n.head() > h) {
        h = n.head();
      }
    }
    return h;
  }

  /**
   * Same routing meaning as {@code other}: same head, same node heads, health, status and weights,
   * same region spillover decisions.
   */
  public boolean sameRouting(ChainView other) {
    if (other == null || head != other.head || nodes.size() != other.nodes.size()) {
      return false;
    }
    if (preferences.size() != other.preferences.size()) {
      return false;
    }
    for (int i = 0; i < preferences.size(); i++) {
      if (preferences.get(i).spill() != other.preferences.get(i).spill()
          || !preferences.get(i).region().equals(other.preferences.get(i).region())) {
        return false;
      }
    }
    for (int i = 0; i < nodes.size(); i++) {
      if (!nodes.get(i).sameRouting(other.nodes.get(i))) {
        return false;
      }
    }
    return true;
  }
}
