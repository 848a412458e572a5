package io.chainroute.cache;

import java.time.Duration;

/**
 * Where chainroute keeps answers that can no longer change (the request pipeline decides what and
 * when; see {@link io.chainroute.chain.LocalPlan}). The seam between the pure core and a storage
 * engine: in-process by default, optionally shared by several replicas.
 *
 * <p>Threading: any thread, never blocking for long (a shared tier answers from its local copy or
 * not at all). A failing store is a miss, never an error.
 */
public interface ResponseStore {

  /** The stored answer for {@code key} of {@code chain}, or null. */
  byte[] get(String chain, String key);

  /** Keeps {@code value} for at most {@code ttl}; may drop it (size bound, outage). */
  void put(String chain, String key, byte[] value, Duration ttl);

  /** Counts since start, for metrics. */
  default Stats stats() {
    return Stats.NONE;
  }

  /**
   * The store's counts.
   *
   * @param entries answers held now
   * @param bytes their size (the bound's measure)
   * @param evictions answers dropped for room or age
   * @param stores answers put
   */
  record Stats(long entries, long bytes, long evictions, long stores) {
    public static final Stats NONE = new Stats(0, 0, 0, 0);
  }

  /** Stores nothing. */
  ResponseStore NONE =
      new ResponseStore() {
        @Override
        public byte[] get(String chain, String key) {
          return null;
        }

        @Override
        public void put(String chain, String key, byte[] value, Duration ttl) {}
      };
}
