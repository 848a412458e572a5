package io.chainroute.height;

import java.time.Duration;

/**
 * A node's smoothed probe latency: an exponentially weighted moving average whose weight follows
 * the time between samples, so an irregular probe rhythm (wakes from a head subscription, a probe
 * waiting out its timeout) weighs each sample by the time it stands for. A sample {@code dt} after
 * the last one moves the average by {@code 1 - exp(-dt / TAU)} of the difference: with {@code TAU}
 * = 10 s and one probe a second, each probe moves it by 9.5 %, so a node that turns 200 times
 * slower loses most of its weight on the next probe, while ordinary jitter (±40 % per probe moves
 * the average by about ±7 %) stays inside the weights' deadband. Immutable; time is passed in.
 *
 * @param micros the average, in microseconds; meaningless until {@link #known()}
 * @param atNanos monotonic time of the last sample; -1 before the first
 */
public record LatencyEwma(double micros, long atNanos) {
  /** No sample yet. */
  public static final LatencyEwma NONE = new LatencyEwma(0, -1);

  /** The smoothing time constant. */
  public static final Duration TAU = Duration.ofSeconds(10);

  private static final double TAU_NANOS = TAU.toNanos();

  /** True once a sample was taken. */
  public boolean known() {
    return atNanos >= 0;
  }

  /** The average after one more sample taken at {@code nowNanos}; the first sample seeds it. */
  public LatencyEwma observe(long sampleMicros, long nowNanos) {
    if (!known()) {
      return new LatencyEwma(sampleMicros, nowNanos);
    }
    double dt = Math.max(0, nowNanos - atNanos);
    double w = 1 - Math.exp(-dt / TAU_NANOS);
    return new LatencyEwma(micros + w * (sampleMicros - micros), Math.max(atNanos, nowNanos));
  }

  /** The average rounded to whole microseconds; -1 before the first sample. */
  public long roundedMicros() {
    return known() ? Math.round(micros) : -1;
  }
}
