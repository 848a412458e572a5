package io.chainroute.height;

import java.util.function.Consumer;

/** Where the current {@link Topology} comes from, and who hears of each change. */
public interface TopologySource {
  /** The latest topology; a volatile read of an immutable value. */
  Topology topology();

  /**
   * Called with each topology whose routing meaning changed, on the source's thread: never block.
   */
  void addListener(Consumer<Topology> listener);

  void removeListener(Consumer<Topology> listener);

  /**
   * Drains (takes out of every pool) or undrains a node. Completes with the chain's view after the
   * change, or with null when the chain or node is unknown.
   */
  java.util.concurrent.CompletableFuture<ChainView> setDrained(
      String chain, String node, boolean drained);
}
