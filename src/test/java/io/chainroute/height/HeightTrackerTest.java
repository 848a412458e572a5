package io.chainroute.height;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.ProbeReading;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The tracker driven by a hand-written deterministic scheduler and a fake prober: virtual time, no
 * threads, no sleeps.
 */
class HeightTrackerTest {
  private static final Duration POLL = Duration.ofMillis(250);
  private static final Duration BLOCK = Duration.ofSeconds(1);

  private final NodeConfig a = TestConfigs.node("a", "http://10.0.0.1:8545").build();
  private final NodeConfig b = TestConfigs.node("b", "http://10.0.0.2:8545").build();
  private final ChainConfig chain =
      TestConfigs.evm("eth").pollInterval(POLL).blockTime(BLOCK).nodes(a, b).build();
  private final VirtualScheduler loop = new VirtualScheduler();
  private final Map<String, Long> heads = new HashMap<>();
  private final Map<String, Boolean> down = new HashMap<>();
  private final List<Long> probeTimes = new ArrayList<>();
  private final Map<String, java.util.function.LongSupplier> latency = new HashMap<>();

  private final NodeProber prober =
      (c, n, last) -> {
        probeTimes.add(loop.now);
        if (down.getOrDefault(n.name(), false)) {
          return CompletableFuture.completedFuture(
              new NodeProber.Failed("connection refused or unreachable"));
        }
        return CompletableFuture.completedFuture(
            new NodeProber.Answered(
                new ProbeReading(heads.get(n.name()), false, ""),
                latency.getOrDefault(n.name(), () -> 100).getAsLong(),
                n.host()));
      };

  private HeightTracker tracker() {
    return new HeightTracker(List.of(chain), prober, loop, () -> loop.now, Clock.systemUTC());
  }

  private NodeView node(HeightTracker t, String name) {
    return t.topology().chain("eth").nodes().stream()
        .filter(n -> n.name().equals(name))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void noisyProbeLatencyPublishesNoNewTopologyButASlowedNodeDoes() {
    heads.put("a", 100L);
    heads.put("b", 100L);
    java.util.Random random = new java.util.Random(7);
    // Both around 5 ms with ±40 % jitter, four probes a second each.
    latency.put("a", () -> Math.round(5_000 * (0.6 + 0.8 * random.nextDouble())));
    latency.put("b", () -> Math.round(5_000 * (0.6 + 0.8 * random.nextDouble())));
    HeightTracker t = tracker();
    List<Long> published = new ArrayList<>();
    t.addListener(topology -> published.add(topology.version()));
    t.start();
    loop.runFor(Duration.ofSeconds(10));
    int settled = published.size();
    loop.runFor(Duration.ofMinutes(5));
    assertThat(published.size() - settled)
        .as("topologies published by 5 minutes of jittery probes (2,400 probes)")
        .isZero();
    // b turns 100 times slower: its weight steps down as its average climbs, each step a change
    // of more than 25 % (at most 13 from the cap to the floor), then stands.
    latency.put("b", () -> 500_000);
    loop.runFor(Duration.ofSeconds(2));
    assertThat(published.size() - settled).isBetween(1, 8);
    assertThat(node(t, "b").score().weight()).isLessThan(LatencyWeights.CAP / 4);
    assertThat(node(t, "a").score().weight()).isEqualTo(LatencyWeights.CAP);
  }

  @Test
  void aNodeThatStopsAdvancingLeavesTheHeadPoolWithinOnePollPlusOneBlockTime() {
    heads.put("a", 100L);
    heads.put("b", 100L);
    HeightTracker t = tracker();
    t.start();
    loop.runFor(Duration.ofSeconds(2));
    assertThat(node(t, "b").status()).isEqualTo(EndpointStatus.HEALTHY);

    // From now on a advances every block time; b is stuck at 100.
    long stuckAt = loop.now;
    for (int i = 1; i <= 5; i++) {
      loop.runFor(BLOCK.dividedBy(5));
      heads.put("a", 100L + i);
    }
    // b is out of the HEALTHY set as soon as a probe sees a ahead, and out of every pool (STALLED)
    // within poll + block time of its last advance being observed.
    loop.runUntil(() -> node(t, "b").status() == EndpointStatus.NONE, Duration.ofSeconds(5));
    assertThat(loop.now - stuckAt).isLessThanOrEqualTo(POLL.plus(BLOCK).toNanos() + POLL.toNanos());
    assertThat(node(t, "b").health()).isIn(Health.STALLED, Health.LAGGING);
    assertThat(node(t, "a").status()).isEqualTo(EndpointStatus.HEALTHY);
  }

  @Test
  void listenersHearOnlyRoutingChanges() {
    heads.put("a", 100L);
    heads.put("b", 100L);
    HeightTracker t = tracker();
    List<Topology> heard = new ArrayList<>();
    t.addListener(heard::add);
    t.start();
    loop.runFor(Duration.ofSeconds(2));
    int afterStartup = heard.size();
    assertThat(afterStartup).isPositive();
    loop.runFor(Duration.ofSeconds(3));
    assertThat(heard).as("nothing changed: no publication").hasSize(afterStartup);
    heads.put("a", 101L);
    heads.put("b", 101L);
    loop.runFor(Duration.ofSeconds(1));
    assertThat(heard.size()).isGreaterThan(afterStartup);
    assertThat(heard.get(heard.size() - 1).chain("eth").head()).isEqualTo(101);
    assertThat(heard).extracting(Topology::version).isSorted().doesNotHaveDuplicates();
  }

  @Test
  void anUnreachableNodeRejoinsWithinOnePollIntervalOfAnsweringAgainHoweverLongItWasDown() {
    heads.put("a", 100L);
    down.put("b", true);
    HeightTracker t = tracker();
    t.start();
    loop.runFor(Duration.ofSeconds(2));
    assertThat(node(t, "b").health()).isEqualTo(Health.UNREACHABLE);
    assertThat(node(t, "b").reason()).isEqualTo("connection refused or unreachable");

    NodeState s = NodeState.initial(b);
    for (int i = 0; i < 50; i++) {
      s = s.failed("x");
      assertThat(HeightTracker.nextDelay(chain, s))
          .as("no back-off after %d failures", i + 1)
          .isEqualTo(POLL);
    }

    // Down for ten minutes, then answering: back in the pool within one poll interval (plus the
    // probe's own round trip, instant here).
    loop.runFor(Duration.ofMinutes(10));
    down.put("b", false);
    heads.put("b", 100L);
    loop.runFor(POLL);
    assertThat(node(t, "b").status()).isEqualTo(EndpointStatus.HEALTHY);
  }

  @Test
  void aReloadAddsRemovesAndReplacesNodesAndKeepsTheStateOfUnchangedOnes() {
    heads.put("a", 100L);
    heads.put("b", 100L);
    heads.put("c", 100L);
    HeightTracker t = tracker();
    t.start();
    loop.runFor(Duration.ofSeconds(1));
    t.setDrained("eth", "a", true);
    loop.runFor(POLL);
    assertThat(node(t, "a").health()).isEqualTo(Health.DRAINED);

    NodeConfig c = TestConfigs.node("c", "http://10.0.0.3:8545").build();
    ChainConfig next =
        TestConfigs.evm("eth")
            .fullNodeStateBlocks(64)
            .pollInterval(POLL)
            .blockTime(BLOCK)
            .nodes(a, c)
            .build();
    var applied = t.reconfigure(List.of(next));
    loop.runFor(Duration.ofMillis(1));
    assertThat(applied).isCompleted();
    assertThat(t.topology().chain("eth").config().fullNodeStateBlocks()).isEqualTo(64);
    assertThat(t.topology().chain("eth").nodes())
        .extracting(NodeView::name)
        .containsExactly("a", "c");
    assertThat(node(t, "a").health())
        .as("unchanged node keeps its drain")
        .isEqualTo(Health.DRAINED);

    int before = probeTimes.size();
    loop.runFor(Duration.ofSeconds(2));
    assertThat(node(t, "c").status()).isEqualTo(EndpointStatus.HEALTHY);
    // b is no longer probed: 2 s of polling two nodes every 250 ms is 16 probes, not 24.
    assertThat(probeTimes.size() - before).isBetween(15, 17);
  }

  @Test
  void aReloadThatChangesTheChainSetIsRefusedAndChangesNothing() {
    heads.put("a", 100L);
    heads.put("b", 100L);
    HeightTracker t = tracker();
    t.start();
    loop.runFor(Duration.ofSeconds(1));
    ChainConfig other =
        TestConfigs.evm("base").pollInterval(POLL).blockTime(BLOCK).nodes(a).build();
    var applied = t.reconfigure(List.of(other));
    loop.runFor(Duration.ofMillis(1));
    assertThat(applied).isCompletedExceptionally();
    assertThat(t.topology().chain("eth").nodes())
        .extracting(NodeView::name)
        .containsExactly("a", "b");
  }

  @Test
  void theFirstRoundCompletesOnlyOnceEveryNodeAnsweredOrFailed() {
    CompletableFuture<NodeProber.Result> slowB = new CompletableFuture<>();
    NodeProber oneSlow =
        (c, n, last) ->
            n.name().equals("b")
                ? slowB
                : CompletableFuture.completedFuture(
                    new NodeProber.Answered(new ProbeReading(100, false, ""), 100, n.host()));
    HeightTracker t =
        new HeightTracker(List.of(chain), oneSlow, loop, () -> loop.now, Clock.systemUTC());
    t.start();
    loop.runFor(Duration.ofSeconds(1));
    assertThat(t.firstRound()).as("b not heard from yet").isNotDone();
    slowB.complete(new NodeProber.Failed("timed out"));
    loop.runFor(Duration.ofMillis(1));
    assertThat(t.firstRound()).isCompleted();
    assertThat(t.firstRound().join().chain("eth").nodes())
        .extracting(NodeView::health)
        .containsExactly(Health.SYNCED, Health.UNREACHABLE);
  }

  /** A single-threaded scheduler on virtual time: tasks run when the test advances the clock. */
  @Test
  void aWakeProbesTheNodeAtOnceAndRestartsItsPollInterval() {
    heads.put("a", 100L);
    heads.put("b", 100L);
    HeightTracker t = tracker();
    t.start();
    loop.runFor(Duration.ofSeconds(1));
    probeTimes.clear();

    // A newHeads notification for a, mid-interval: a is probed now, not at its next poll.
    loop.runFor(POLL.dividedBy(5));
    heads.put("a", 101L);
    long wokenAt = loop.now;
    t.wake("eth", "a");
    t.wake("eth", "no-such-node");
    t.wake("no-such-chain", "a");
    loop.runFor(Duration.ZERO);
    assertThat(node(t, "a").head()).isEqualTo(101L);
    assertThat(probeTimes).containsExactly(wokenAt);

    // The replaced poll does not fire as well: a's next probe is one interval after the wake.
    probeTimes.clear();
    heads.put("a", 102L);
    loop.runFor(POLL.minusMillis(1));
    assertThat(node(t, "a").head()).isEqualTo(101L);
    loop.runFor(Duration.ofMillis(2));
    assertThat(node(t, "a").head()).isEqualTo(102L);
  }

  @Test
  void wakesDuringAProbeInFlightCoalesceIntoOneMoreProbe() {
    List<CompletableFuture<NodeProber.Result>> pending = new ArrayList<>();
    NodeProber slow =
        (c, n, last) -> {
          CompletableFuture<NodeProber.Result> f = new CompletableFuture<>();
          if (n.name().equals("a")) {
            pending.add(f);
          } else {
            f.complete(new NodeProber.Answered(new ProbeReading(100, false, ""), 100, n.host()));
          }
          return f;
        };
    HeightTracker t =
        new HeightTracker(List.of(chain), slow, loop, () -> loop.now, Clock.systemUTC());
    t.start();
    loop.runFor(Duration.ZERO);
    assertThat(pending).hasSize(1);

    t.wake("eth", "a");
    t.wake("eth", "a");
    t.wake("eth", "a");
    loop.runFor(Duration.ZERO);
    assertThat(pending).as("no second probe while one is in flight").hasSize(1);

    pending
        .get(0)
        .complete(new NodeProber.Answered(new ProbeReading(100, false, ""), 100, "10.0.0.1"));
    loop.runFor(Duration.ZERO);
    assertThat(pending).as("one more probe, at once, for all three wakes").hasSize(2);
    pending
        .get(1)
        .complete(new NodeProber.Answered(new ProbeReading(101, false, ""), 100, "10.0.0.1"));
    loop.runFor(POLL.minusMillis(1));
    assertThat(pending).as("then back to the poll interval").hasSize(2);
    assertThat(node(t, "a").head()).isEqualTo(101L);
  }

  static final class VirtualScheduler extends AbstractExecutorService
      implements ScheduledExecutorService {
    long now;
    private long seq;
    private final PriorityQueue<Task> queue = new PriorityQueue<>();

    private final class Task implements ScheduledFuture<Object> {
      final long at;
      final long order = seq++;
      final Runnable r;
      boolean cancelled;

      Task(long at, Runnable r) {
        this.at = at;
        this.r = r;
      }

      @Override
      public long getDelay(TimeUnit unit) {
        return unit.convert(at - now, TimeUnit.NANOSECONDS);
      }

      @Override
      public int compareTo(Delayed o) {
        Task t = (Task) o;
        return at != t.at ? Long.compare(at, t.at) : Long.compare(order, t.order);
      }

      @Override
      public boolean cancel(boolean b) {
        cancelled = true;
        return true;
      }

      @Override
      public boolean isCancelled() {
        return cancelled;
      }

      @Override
      public boolean isDone() {
        return cancelled;
      }

      @Override
      public Object get() {
        return null;
      }

      @Override
      public Object get(long t, TimeUnit u) {
        return null;
      }
    }

    void runFor(Duration d) {
      long end = now + d.toNanos();
      runUntil(() -> false, end);
      now = end;
    }

    void runUntil(java.util.function.BooleanSupplier done, Duration max) {
      runUntil(done, now + max.toNanos());
      if (!done.getAsBoolean()) {
        throw new AssertionError("condition not reached within " + max);
      }
    }

    private void runUntil(java.util.function.BooleanSupplier done, long end) {
      while (!done.getAsBoolean() && !queue.isEmpty() && queue.peek().at <= end) {
        Task t = queue.poll();
        now = Math.max(now, t.at);
        if (!t.cancelled) {
          t.r.run();
        }
      }
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
      Task t = new Task(now + unit.toNanos(delay), command);
      queue.add(t);
      return t;
    }

    @Override
    public void execute(Runnable command) {
      schedule(command, 0, TimeUnit.NANOSECONDS);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
      throw new UnsupportedOperationException();
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(
        Runnable command, long initialDelay, long period, TimeUnit unit) {
      throw new UnsupportedOperationException();
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(
        Runnable command, long initialDelay, long delay, TimeUnit unit) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void shutdown() {}

    @Override
    public List<Runnable> shutdownNow() {
      return List.of();
    }

    @Override
    public boolean isShutdown() {
      return false;
    }

    @Override
    public boolean isTerminated() {
      return false;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
      return true;
    }
  }
}
