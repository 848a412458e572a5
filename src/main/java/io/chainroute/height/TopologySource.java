package io.chainroute.height;

import java.util.function.Consumer;

/** Where the current {@link Topology} comes from, and who hears of each change. */
public interface TopologySource {
  /** The latest topology; a volatile read of an immutable value. */
  Topology topology();

  /** Called with each topology whose routing meaning changed, on the source's thread: never block. */
  void addListener(Consumer<Topology> listener);

  void removeListener(Consumer<Topology> listener);
}
