package io.chainroute.xds;

import io.chainroute.chain.FastPathTable;
import io.chainroute.height.Topology;
import io.chainroute.routing.FastPathBounds;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The owner of the number bounds the in-Envoy fast path holds: for each chain with a fast-path
 * table it keeps the bounds last published, rebuilds them from the topology only when they are
 * stale ({@link FastPathBounds#stale}: the chain moved half the slack, the archive pool's usability
 * changed, half their lifetime passed) and then publishes the filter configuration over ECDS
 * ({@link FastPathConfigs}). Called with every topology and once a second (lifetimes).
 *
 * <p>Threading: any thread; synchronized.
 */
public final class FastPathPublisher {
  private static final Logger log = LoggerFactory.getLogger(FastPathPublisher.class);

  private final Map<String, FastPathTable> tables;
  private final BiFunction<Map<String, FastPathBounds>, Long, TypedExtensionConfig> render;
  private final FastPathConfigs configs;
  private final LongSupplier clock;
  private final Map<String, FastPathBounds> published = new HashMap<>();
  private boolean started;
  private long serial;

  /**
   * @param render the filter configuration for these bounds and serial (envoy/FastPathFilter)
   */
  public FastPathPublisher(
      Map<String, FastPathTable> tables,
      BiFunction<Map<String, FastPathBounds>, Long, TypedExtensionConfig> render,
      FastPathConfigs configs,
      LongSupplier clock) {
    this.tables = Map.copyOf(tables);
    this.render = render;
    this.configs = configs;
    this.clock = clock;
  }

  public synchronized void onTopology(Topology topology) {
    if (topology == null) {
      return;
    }
    long now = clock.getAsLong();
    boolean changed = !started;
    for (String chain : tables.keySet()) {
      var view = topology.chain(chain);
      FastPathBounds before = published.get(chain);
      if (before != null && !before.stale(view, now)) {
        continue;
      }
      FastPathBounds next = FastPathBounds.of(view, now, before);
      if (next == null && before == null) {
        continue;
      }
      if (next == null) {
        published.remove(chain);
      } else {
        published.put(chain, next);
      }
      changed = true;
      log.debug("Fast path bounds for chain {}: {}", chain, next);
    }
    if (changed) {
      started = true;
      configs.set(render.apply(new TreeMap<>(published), ++serial));
    }
  }

  /** The bounds Envoy was last sent, by chain. */
  public synchronized Map<String, FastPathBounds> published() {
    return Map.copyOf(published);
  }
}
