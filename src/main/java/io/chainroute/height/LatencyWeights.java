package io.chainroute.height;

import io.chainroute.config.ChainConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns each node's smoothed probe latency into its EDS {@code load_balancing_weight}. Pure: the
 * previous view is passed in, no clock, no threads.
 *
 * <ul>
 *   <li>{@code raw = CAP × (best + NOISE) / (latency + NOISE)}, where {@code best} is the fastest
 *       node in a pool: the fastest node weighs {@link #CAP}, one twice as slow about half. {@link
 *       #NOISE_MICROS} keeps sub-millisecond differences (loopback, one rack) from mattering;
 *   <li>clamped to {@code [FLOOR, CAP]}: a slow node gets a twentieth of the fastest one's share at
 *       least, never none, while it is synced (being slow is not being stale);
 *   <li>hysteresis: the weight Envoy already has is kept while the raw weight is within {@link
 *       #DEADBAND} (±25 %) of it, so probe jitter never republishes endpoints; only a real change
 *       (or reaching the cap or the floor) does. Envoy's least-request balancer stays: with unequal
 *       weights it picks by {@code weight / (active requests + 1)}, so load still counts.
 * </ul>
 */
public final class LatencyWeights {
  /** The weight of the fastest node (and of every node when latency weights are off). */
  public static final int CAP = 100;

  /** The smallest weight of a node in a pool. */
  public static final int FLOOR = 5;

  /** Added to every latency before comparing: 2 ms of difference is noise, not a slower node. */
  public static final long NOISE_MICROS = 2_000;

  /** A published weight stands until the raw weight moves more than this factor away from it. */
  public static final double DEADBAND = 1.25;

  private LatencyWeights() {}

  /**
   * The views with their scores set.
   *
   * @param before the chain's previous view (its weights are what Envoy has), or null
   */
  public static List<NodeView> weigh(ChainConfig chain, ChainView before, List<NodeView> views) {
    Map<String, Integer> published = new HashMap<>();
    if (before != null) {
      before.nodes().forEach(n -> published.put(n.name(), n.score().weight()));
    }
    long best = -1;
    for (NodeView n : views) {
      long l = n.score().latencyMicros();
      if (n.status().usable() && l >= 0 && (best < 0 || l < best)) {
        best = l;
      }
    }
    List<NodeView> out = new ArrayList<>(views.size());
    for (NodeView n : views) {
      long latency = n.score().latencyMicros();
      NodeScore score;
      if (!n.status().usable()) {
        score = new NodeScore(latency, 0, "in no pool");
      } else if (!chain.balancing().latencyWeights()) {
        score = new NodeScore(latency, CAP, "latency weights off for this chain");
      } else if (latency < 0) {
        score = new NodeScore(latency, CAP, "no latency sample yet");
      } else {
        score = score(latency, best, published.getOrDefault(n.name(), 0));
      }
      out.add(n.withScore(score));
    }
    return out;
  }

  /** One usable node's score, given the fastest usable node's latency and its published weight. */
  static NodeScore score(long latency, long best, int published) {
    int raw = raw(latency, best);
    String why =
        latency <= best
            ? "fastest node (smoothed probe latency " + ms(latency) + ")"
            : "smoothed probe latency "
                + ms(latency)
                + " vs fastest "
                + ms(best)
                + (raw == FLOOR ? " (the floor)" : "");
    if (published > 0 && published != raw && raw != CAP && raw != FLOOR && within(raw, published)) {
      return new NodeScore(
          latency, published, why + "; raw weight " + raw + " is within 25% of " + published);
    }
    return new NodeScore(latency, raw, why);
  }

  /**
   * {@code CAP × (best + NOISE) / (latency + NOISE)} in steps of {@link #FLOOR}, clamped to {@code
   * [FLOOR, CAP]}: a node that recovers to within 2.5 % of the fastest is back at the cap.
   */
  static int raw(long latency, long best) {
    double w = (double) CAP * (best + NOISE_MICROS) / (latency + NOISE_MICROS);
    long stepped = Math.round(w / FLOOR) * FLOOR;
    return (int) Math.max(FLOOR, Math.min(CAP, stepped));
  }

  private static boolean within(int raw, int published) {
    return raw <= published * DEADBAND && raw * DEADBAND >= published;
  }

  private static String ms(long micros) {
    return String.format(Locale.ROOT, "%.1f ms", micros / 1000.0);
  }
}
