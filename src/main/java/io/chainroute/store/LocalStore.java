package io.chainroute.store;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.chainroute.cache.ResponseStore;
import java.time.Duration;
import java.util.concurrent.atomic.LongAdder;

/**
 * The in-process response store: Caffeine, bounded in bytes (each entry weighs its key and value
 * plus a fixed overhead), each entry expiring after its own time to live. The default store.
 *
 * <p>Threading: any thread; Caffeine's own concurrency (reads lock-free, maintenance amortised on
 * the calling threads, eviction by its size-aware W-TinyLFU policy).
 */
public final class LocalStore implements ResponseStore {
  /** What an entry costs beyond its key and value: the node, the key object, the array header. */
  static final int OVERHEAD_BYTES = 96;

  private record Entry(byte[] value, long ttlNanos) {}

  private final Cache<String, Entry> cache;
  private final LongAdder evictions = new LongAdder();
  private final LongAdder stores = new LongAdder();

  /** A store that holds at most {@code maxBytes} of answers. */
  public LocalStore(long maxBytes) {
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(maxBytes)
            .weigher((String k, Entry e) -> weight(k, e.value()))
            .expireAfter(
                new Expiry<String, Entry>() {
                  @Override
                  public long expireAfterCreate(String key, Entry e, long now) {
                    return e.ttlNanos();
                  }

                  @Override
                  public long expireAfterUpdate(String key, Entry e, long now, long current) {
                    return e.ttlNanos();
                  }

                  @Override
                  public long expireAfterRead(String key, Entry e, long now, long current) {
                    return current;
                  }
                })
            .removalListener(
                (String k, Entry e, RemovalCause cause) -> {
                  if (cause.wasEvicted()) {
                    evictions.increment();
                  }
                })
            .executor(Runnable::run)
            .build();
  }

  static int weight(String key, byte[] value) {
    long w = (long) key.length() * 2 + value.length + OVERHEAD_BYTES;
    return (int) Math.min(Integer.MAX_VALUE, w);
  }

  @Override
  public byte[] get(String chain, String key) {
    Entry e = cache.getIfPresent(chain + '/' + key);
    return e == null ? null : e.value();
  }

  @Override
  public void put(String chain, String key, byte[] value, Duration ttl) {
    cache.put(chain + '/' + key, new Entry(value, ttl.toNanos()));
    stores.increment();
  }

  @Override
  public Stats stats() {
    long bytes = cache.policy().eviction().map(ev -> ev.weightedSize().orElse(0L)).orElse(0L);
    return new Stats(cache.estimatedSize(), bytes, evictions.sum(), stores.sum());
  }

  /** Runs pending maintenance (evictions) now; for tests. */
  void cleanUp() {
    cache.cleanUp();
  }
}
