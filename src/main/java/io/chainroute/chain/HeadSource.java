package io.chainroute.chain;

/**
 * Head news a protocol can push (EVM's {@code eth_subscribe("newHeads")}), offered by its adapter
 * ({@link ChainAdapter#headSource}). A doorbell, not a data source: each push {@link Wake wakes} a
 * node, which the tracker then probes at once; heights, sync state and health still come from the
 * probe, and polling goes on as the fallback while the push is down.
 *
 * <p>Lifecycle: {@link #start} once; {@link #close} stops it for good (a reload makes a new one).
 */
public interface HeadSource extends AutoCloseable {

  void start();

  @Override
  void close();

  /** Where a head source rings. Thread-safe; never blocks. */
  @FunctionalInterface
  interface Wake {
    /** The node (by name, of the source's chain) may have a new head: probe it now. */
    void node(String nodeName);
  }
}
