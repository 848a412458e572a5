package io.chainroute.pipeline;

import io.chainroute.height.ChainView;
import io.chainroute.height.Topology;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Requests chainroute holds instead of answering at once: waits for a height (a protocol's long
 * poll for the next block) and requests that arrive while a chain has no usable node (graceful
 * startup). A held request costs one small object and one timer entry, no thread.
 *
 * <p>Each held request is finished exactly once, by whichever comes first: a topology in which its
 * condition holds ({@link #onTopology}, called on the tracker's loop thread), its timeout (on the
 * timer thread), shutdown ({@link #shutdown}), or the client going away ({@link Held#cancel}).
 */
public final class HeldRequests {
  private final ScheduledExecutorService timer;
  private final Supplier<Topology> latest;
  private final Supplier<Topology> routable;
  private final int maxHeld;
  private final Set<Held> held = ConcurrentHashMap.newKeySet();
  private final AtomicInteger count = new AtomicInteger();
  private volatile boolean shuttingDown;

  /** What happens to a held request. All callbacks must be quick and never block. */
  public interface Outcome {
    /** The condition holds in {@code view}: answer. */
    void ready(ChainView view);

    void timedOut(ChainView view);

    void shutdown();
  }

  /**
   * Which topology a held request waits on. A request held for a usable node waits for {@link
   * #ROUTABLE}: the topology every Envoy has ACKed, so the node is in Envoy's endpoints when the
   * request is routed. A request held for a height is answered by chainroute from the node's own
   * status and waits for {@link #LATEST}: the tracker's newest view.
   */
  public enum Source {
    LATEST,
    ROUTABLE
  }

  public HeldRequests(
      ScheduledExecutorService timer,
      Supplier<Topology> latest,
      Supplier<Topology> routable,
      int maxHeld) {
    this.timer = timer;
    this.latest = latest;
    this.routable = routable;
    this.maxHeld = maxHeld;
  }

  /** For tests and single-topology setups: both sources are the same. */
  public HeldRequests(ScheduledExecutorService timer, Supplier<Topology> topology, int maxHeld) {
    this(timer, topology, topology, maxHeld);
  }

  private Supplier<Topology> supplier(Source source) {
    return source == Source.LATEST ? latest : routable;
  }

  /** A held request; {@link #cancel} when its stream ends early. */
  public final class Held {
    final String chain;
    final Source source;
    final Predicate<ChainView> condition;
    final Outcome outcome;
    final AtomicBoolean done = new AtomicBoolean();
    volatile ScheduledFuture<?> timeout;

    Held(String chain, Source source, Predicate<ChainView> condition, Outcome outcome) {
      this.chain = chain;
      this.source = source;
      this.condition = condition;
      this.outcome = outcome;
    }

    /** Claims the right to finish this request; true exactly once. */
    boolean finish() {
      if (!done.compareAndSet(false, true)) {
        return false;
      }
      held.remove(this);
      count.decrementAndGet();
      ScheduledFuture<?> t = timeout;
      if (t != null) {
        t.cancel(false);
      }
      return true;
    }

    public void cancel() {
      finish();
    }
  }

  /**
   * Holds a request until {@code condition} holds for its chain, or {@code maxWait} passes.
   *
   * @return the handle, or null when the request must be answered now: the bound is reached or
   *     chainroute is shutting down
   */
  public Held hold(
      String chain,
      Source source,
      Predicate<ChainView> condition,
      Duration maxWait,
      Outcome outcome) {
    if (shuttingDown) {
      return null;
    }
    if (count.incrementAndGet() > maxHeld) {
      count.decrementAndGet();
      return null;
    }
    Held h = new Held(chain, source, condition, outcome);
    held.add(h);
    h.timeout =
        timer.schedule(
            () -> {
              if (h.finish()) {
                h.outcome.timedOut(supplier(source).get().chain(chain));
              }
            },
            maxWait.toNanos(),
            TimeUnit.NANOSECONDS);
    // The topology may have changed between the caller's check and now.
    ChainView now = supplier(source).get().chain(chain);
    if (condition.test(now) && h.finish()) {
      outcome.ready(now);
    }
    return h;
  }

  /** A new tracker topology: finishes {@link Source#LATEST} holds whose condition now holds. */
  public void onLatest(Topology t) {
    onTopology(t, Source.LATEST);
  }

  /**
   * A topology every Envoy has ACKed: finishes {@link Source#ROUTABLE} holds whose condition holds.
   */
  public void onRoutable(Topology t) {
    onTopology(t, Source.ROUTABLE);
  }

  /** Both at once (tests and single-topology setups). */
  public void onTopology(Topology t) {
    onTopology(t, Source.LATEST);
    onTopology(t, Source.ROUTABLE);
  }

  private void onTopology(Topology t, Source source) {
    for (Held h : held) {
      if (h.source != source) {
        continue;
      }
      ChainView view = t.chain(h.chain);
      if (view != null && h.condition.test(view) && h.finish()) {
        h.outcome.ready(view);
      }
    }
  }

  /** Answers every held request with its shutdown answer; later holds are refused. */
  public void shutdown() {
    shuttingDown = true;
    for (Held h : held) {
      if (h.finish()) {
        h.outcome.shutdown();
      }
    }
  }

  /** False while shutting down or at the bound: a {@link #hold} now would be refused. */
  public boolean canHold() {
    return !shuttingDown && count.get() < maxHeld;
  }

  public int size() {
    return count.get();
  }
}
