package io.chainroute.store;

import io.chainroute.cache.ResponseStore;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.SetParams;

/**
 * The shared response store: the {@link LocalStore} first, then Redis (shared by every chainroute
 * replica; keys {@code chainroute:<chain>:<key>}, each with its time to live). A Redis answer fills
 * the local store. Writes go to Redis from one background thread (a bounded queue: dropped when
 * full). Any Redis failure (refused, timeout, error) opens a breaker: for {@code backoff} only the
 * local store is used, so an outage costs a request at most one short timeout and never fails it.
 *
 * <p>Threading: any thread. A read that misses locally waits for Redis up to {@code timeout}
 * (loopback or same-zone: well under a millisecond). Lifecycle: {@link #close} stops the writer and
 * the client.
 */
public final class SharedStore implements ResponseStore, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SharedStore.class);
  private static final int WRITE_QUEUE = 10_000;

  private final LocalStore local;
  private final RedisClient redis;
  private final ThreadPoolExecutor writer;
  private final LongSupplier nanos;
  private final long backoffNanos;
  private volatile long closedUntilNanos;
  private final AtomicBoolean down = new AtomicBoolean();

  /**
   * @param url {@code redis://[:password@]host:port}
   * @param timeout connect and socket timeout of each Redis call
   * @param backoff how long the local store alone serves after a Redis failure
   */
  public SharedStore(
      LocalStore local, URI url, Duration timeout, Duration backoff, LongSupplier nanos) {
    this.local = local;
    this.nanos = nanos;
    this.backoffNanos = backoff.toNanos();
    int ms = (int) Math.max(1, timeout.toMillis());
    DefaultJedisClientConfig.Builder config =
        DefaultJedisClientConfig.builder().connectionTimeoutMillis(ms).socketTimeoutMillis(ms);
    String userInfo = url.getUserInfo();
    if (userInfo != null && userInfo.contains(":")) {
      config.password(userInfo.substring(userInfo.indexOf(':') + 1));
    }
    this.redis =
        RedisClient.builder()
            .hostAndPort(url.getHost(), url.getPort() < 0 ? 6379 : url.getPort())
            .clientConfig(config.build())
            .build();
    this.writer =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(WRITE_QUEUE),
            r -> {
              Thread t = new Thread(r, "chainroute-redis-writer");
              t.setDaemon(true);
              return t;
            },
            new ThreadPoolExecutor.DiscardPolicy());
  }

  private static byte[] redisKey(String chain, String key) {
    return ("chainroute:" + chain + ":" + key).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public byte[] get(String chain, String key) {
    byte[] v = local.get(chain, key);
    if (v != null || nanos.getAsLong() < closedUntilNanos) {
      return v;
    }
    try {
      byte[] stored = redis.get(redisKey(chain, key));
      up();
      if (stored == null || stored.length < Long.BYTES) {
        return null;
      }
      // Value: the expiry (epoch millis) then the answer, so the local copy expires with it.
      long left = ByteBuffer.wrap(stored).getLong() - System.currentTimeMillis();
      byte[] answer = java.util.Arrays.copyOfRange(stored, Long.BYTES, stored.length);
      if (left > 0) {
        local.put(chain, key, answer, Duration.ofMillis(left));
      }
      return answer;
    } catch (RuntimeException e) {
      fail(e);
      return null;
    }
  }

  @Override
  public void put(String chain, String key, byte[] value, Duration ttl) {
    local.put(chain, key, value, ttl);
    if (nanos.getAsLong() < closedUntilNanos) {
      return;
    }
    writer.execute(
        () -> {
          try {
            byte[] v =
                ByteBuffer.allocate(Long.BYTES + value.length)
                    .putLong(System.currentTimeMillis() + ttl.toMillis())
                    .put(value)
                    .array();
            redis.set(redisKey(chain, key), v, SetParams.setParams().px(ttl.toMillis()));
            up();
          } catch (RuntimeException e) {
            fail(e);
          }
        });
  }

  private void up() {
    if (down.compareAndSet(true, false)) {
      log.info("Redis answers again; the shared response cache is back.");
    }
  }

  private void fail(RuntimeException e) {
    closedUntilNanos = nanos.getAsLong() + backoffNanos;
    if (down.compareAndSet(false, true)) {
      log.warn(
          "Redis failed; serving from the local response cache only. retryInMs={} error={}",
          backoffNanos / 1_000_000,
          e.getClass().getSimpleName());
    }
  }

  /** True while Redis is considered down (the local store alone serves). */
  public boolean degraded() {
    return down.get();
  }

  @Override
  public Stats stats() {
    return local.stats();
  }

  @Override
  public void close() {
    writer.shutdownNow();
    redis.close();
  }
}
