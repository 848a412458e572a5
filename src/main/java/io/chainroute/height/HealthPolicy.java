package io.chainroute.height;

import io.chainroute.config.ChainConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Lag and health math as one pure function of the node records and the current time. No clock, no
 * threads: tests feed states and times.
 *
 * <ul>
 *   <li>chain head = highest head among nodes whose last probe succeeded and that are not syncing;
 *   <li>unreachable (last probe failed) &gt; unknown (never answered) &gt; syncing;
 *   <li>behind the head and not advanced for {@code blockTime} = stalled: a node that stops while
 *       others move on is out once their new head is seen, i.e. within one poll interval plus one
 *       block time;
 *   <li>lag &le; {@code maxLagBlocks} = synced (HEALTHY); lag &le; {@code degradedLagBlocks} =
 *       lagging fallback (DEGRADED); further behind = lagging, left out;
 *   <li>a node that serves another chain (its identity differs from the chain's configured one,
 *       else from the one most nodes report) is WRONG_CHAIN: out of every pool, and its head does
 *       not count.
 * </ul>
 */
public final class HealthPolicy {
  private HealthPolicy() {}

  public static ChainView evaluate(ChainConfig chain, List<NodeState> states, long nowNanos) {
    return evaluate(chain, states, nowNanos, null);
  }

  /**
   * The chain's view, with endpoint weights from {@link LatencyWeights}.
   *
   * @param before the chain's previous view (the weights Envoy has), or null
   */
  public static ChainView evaluate(
      ChainConfig chain, List<NodeState> states, long nowNanos, ChainView before) {
    String identity = identity(chain, states);
    long head = -1;
    for (NodeState s : states) {
      if (s.consecutiveFailures() == 0
          && !s.syncing()
          && s.head() > head
          && !wrongChain(identity, s)) {
        head = s.head();
      }
    }
    long blockTimeNanos = chain.blockTime().toNanos();
    List<NodeView> views = new ArrayList<>(states.size());
    for (NodeState s : states) {
      long lag = head >= 0 && s.head() >= 0 ? Math.max(0, head - s.head()) : 0;
      Health health;
      String reason;
      if (s.drained()) {
        health = Health.DRAINED;
        reason = "drained by an operator";
      } else if (s.consecutiveFailures() > 0) {
        health = Health.UNREACHABLE;
        reason = s.detail();
      } else if (wrongChain(identity, s)) {
        health = Health.WRONG_CHAIN;
        reason =
            "serves chain "
                + s.identity()
                + ", not "
                + identity
                + (chain.chainId() == null ? " (what most nodes serve)" : "");
      } else if (s.head() < 0) {
        health = Health.UNKNOWN;
        reason = s.detail();
      } else if (s.syncing()) {
        health = Health.SYNCING;
        reason = s.detail();
      } else if (lag > 0 && nowNanos - s.lastAdvancedNanos() >= 2 * blockTimeNanos) {
        // Behind and quiet for two block times: stuck, not just a block late. (A node one block
        // behind is already out of the HEALTHY set as LAGGING; this only decides DEGRADED vs out.
        // One block time would flag every node whose clock ticks a little after the others.)
        health = Health.STALLED;
        reason =
            "no new block for "
                + (nowNanos - s.lastAdvancedNanos()) / 1_000_000
                + "ms, "
                + lag
                + " behind";
      } else if (lag <= chain.maxLagBlocks()) {
        health = Health.SYNCED;
        reason = "";
      } else {
        health = Health.LAGGING;
        reason = lag + " blocks behind";
      }
      EndpointStatus status =
          switch (health) {
            case SYNCED -> EndpointStatus.HEALTHY;
            case LAGGING ->
                lag <= chain.degradedLagBlocks() ? EndpointStatus.DEGRADED : EndpointStatus.NONE;
            default -> EndpointStatus.NONE;
          };
      if (s.address() == null && status.usable()) {
        status = EndpointStatus.NONE;
        reason = reason.isEmpty() ? "address not resolved" : reason;
      }
      views.add(
          new NodeView(
              s.config(),
              s.head(),
              lag,
              health,
              reason,
              status,
              s.latencyMicros(),
              s.lastAdvancedWallMillis(),
              s.address(),
              s.adapterState(),
              new NodeScore(s.latency().roundedMicros(), 0, ""),
              s.identity(),
              finalized(chain, s),
              s.safe()));
    }
    List<NodeView> weighed = LatencyWeights.weigh(chain, before, views);
    return new ChainView(
        chain,
        head,
        weighed,
        RegionPreferences.plan(chain, weighed, before == null ? List.of() : before.preferences()));
  }

  /** As the node says; else its head less the chain's confirmations; -1 when unknown. */
  private static long finalized(ChainConfig chain, NodeState s) {
    if (s.finalized() >= 0) {
      return s.finalized();
    }
    long confirmations = chain.cache().confirmations();
    return s.head() >= confirmations ? s.head() - confirmations : -1;
  }

  private static boolean wrongChain(String identity, NodeState s) {
    return identity != null && s.identity() != null && !identity.equals(s.identity());
  }

  /**
   * The chain's identity: configured, else the one most answering nodes report (ties: the first
   * node's in config order); null when none says.
   */
  static String identity(ChainConfig chain, List<NodeState> states) {
    if (chain.chainId() != null) {
      return chain.chainId();
    }
    String best = null;
    int bestCount = 0;
    for (NodeState s : states) {
      if (s.identity() == null || s.consecutiveFailures() > 0) {
        continue;
      }
      int count = 0;
      for (NodeState o : states) {
        if (s.identity().equals(o.identity()) && o.consecutiveFailures() == 0) {
          count++;
        }
      }
      if (count > bestCount) {
        best = s.identity();
        bestCount = count;
      }
    }
    return best;
  }
}
