package io.chainroute.pipeline;

import java.util.function.LongSupplier;

/**
 * At most {@code perPeriod} permits per fixed window of {@code periodNanos}; counts what it refused
 * so the next permitted line can say how many were left out. Time is injected (tests pass a fake
 * clock).
 *
 * <p>Threading: any thread; synchronized (it guards log lines of unusual requests, not the hot
 * path).
 */
final class RateLimit {
  private final int perPeriod;
  private final long periodNanos;
  private final LongSupplier nanoClock;
  private long windowStart;
  private int used;
  private long suppressed;

  RateLimit(int perPeriod, long periodNanos, LongSupplier nanoClock) {
    if (perPeriod < 1 || periodNanos < 1) {
      throw new IllegalArgumentException(
          "rate limit needs perPeriod >= 1 and periodNanos >= 1, got "
              + perPeriod
              + " and "
              + periodNanos);
    }
    this.perPeriod = perPeriod;
    this.periodNanos = periodNanos;
    this.nanoClock = nanoClock;
    this.windowStart = nanoClock.getAsLong();
  }

  /**
   * -1 when refused; else the number refused since the last permit (0 when none), which the caller
   * reports.
   */
  synchronized long tryAcquire() {
    long now = nanoClock.getAsLong();
    if (now - windowStart >= periodNanos) {
      windowStart = now;
      used = 0;
    }
    if (used >= perPeriod) {
      suppressed++;
      return -1;
    }
    used++;
    long s = suppressed;
    suppressed = 0;
    return s;
  }
}
