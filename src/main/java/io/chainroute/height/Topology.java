package io.chainroute.height;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * All chains at one moment. {@code version} grows by one each time a chain's routing meaning
 * changes. Immutable.
 */
public record Topology(long version, Map<String, ChainView> chains) {
  public Topology {
    chains = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(chains));
  }

  public static Topology of(long version, List<ChainView> views) {
    Map<String, ChainView> m = new LinkedHashMap<>();
    views.forEach(v -> m.put(v.name(), v));
    return new Topology(version, m);
  }

  public ChainView chain(String name) {
    return chains.get(name);
  }

  /** True once every chain has a synced node. */
  public boolean ready() {
    return !chains.isEmpty() && chains.values().stream().allMatch(ChainView::ready);
  }
}
