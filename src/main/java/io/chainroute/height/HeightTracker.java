package io.chainroute.height;

import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Probes every node on its chain's interval and keeps the current {@link Topology}. A push source
 * (a {@link io.chainroute.chain.HeadSource} its chain's adapter offers) can {@link #wake} a node:
 * it is probed at once instead of at its next poll, so a new head reaches the topology in one probe
 * round trip.
 *
 * <p>Threading: all node state is owned by one loop thread (the injected single-threaded
 * scheduler); probes run elsewhere and hand their results back to it. {@link #topology()} is a
 * volatile read of an immutable value, safe from any thread. Listeners run on the loop thread and
 * must not block.
 *
 * <p>Lifecycle: {@link #start()} once; {@link #close()} stops scheduling (the owner shuts down the
 * scheduler).
 */
public final class HeightTracker implements TopologySource, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HeightTracker.class);

  private List<ChainConfig> chains;
  private final NodeProber prober;
  private final ScheduledExecutorService loop;
  private final LongSupplier nanoClock;
  private final Clock wallClock;
  private final List<Consumer<Topology>> listeners = new CopyOnWriteArrayList<>();

  // Loop-thread state. Each node has an id that lives as long as its config: a probe that returns
  // after a reload removed or changed its node finds no id and is dropped.
  private final List<List<NodeState>> states = new ArrayList<>();
  private final List<List<Long>> ids = new ArrayList<>();
  private final List<ChainView> views = new ArrayList<>();
  private final Map<Long, ScheduledFuture<?>> nextProbe = new HashMap<>();
  private final Set<Long> inFlight = new HashSet<>();
  private final Set<Long> woken = new HashSet<>();
  private long nextId;
  private long version;
  private final Set<Long> unprobed = new HashSet<>();
  private final java.util.concurrent.CompletableFuture<Topology> firstRound =
      new java.util.concurrent.CompletableFuture<>();
  private volatile boolean closed;

  private volatile Topology topology;

  public HeightTracker(
      List<ChainConfig> chains,
      NodeProber prober,
      ScheduledExecutorService loop,
      LongSupplier nanoClock,
      Clock wallClock) {
    this.chains = List.copyOf(chains);
    this.prober = prober;
    this.loop = loop;
    this.nanoClock = nanoClock;
    this.wallClock = wallClock;
    long now = nanoClock.getAsLong();
    for (ChainConfig c : this.chains) {
      List<NodeState> s = new ArrayList<>();
      List<Long> i = new ArrayList<>();
      c.nodes()
          .forEach(
              n -> {
                s.add(NodeState.initial(n));
                i.add(nextId++);
              });
      states.add(s);
      ids.add(i);
      views.add(HealthPolicy.evaluate(c, s, now));
    }
    topology = Topology.of(0, views);
  }

  /** The latest view of every chain. */
  @Override
  public Topology topology() {
    return topology;
  }

  /** Called on the loop thread with each new topology whose routing meaning changed. */
  @Override
  public void addListener(Consumer<Topology> listener) {
    listeners.add(listener);
  }

  @Override
  public void removeListener(Consumer<Topology> listener) {
    listeners.remove(listener);
  }

  @Override
  public java.util.concurrent.CompletableFuture<ChainView> setDrained(
      String chain, String node, boolean drained) {
    java.util.concurrent.CompletableFuture<ChainView> done =
        new java.util.concurrent.CompletableFuture<>();
    loop.execute(
        () -> {
          for (int c = 0; c < chains.size(); c++) {
            if (!chains.get(c).name().equals(chain)) {
              continue;
            }
            List<NodeState> s = states.get(c);
            for (int n = 0; n < s.size(); n++) {
              if (s.get(n).config().name().equals(node)) {
                s.set(n, s.get(n).withDrained(drained));
                log.info(
                    "Node {}. chain={} node={}", drained ? "drained" : "undrained", chain, node);
                republish(c, nanoClock.getAsLong(), false);
                done.complete(views.get(c));
                return;
              }
            }
          }
          done.complete(null);
        });
    return done;
  }

  public void start() {
    loop.execute(
        () -> {
          for (List<Long> chainIds : ids) {
            unprobed.addAll(chainIds);
          }
          for (List<Long> chainIds : ids) {
            chainIds.forEach(this::probe);
          }
          completeFirstRoundIfDone();
        });
  }

  /**
   * Completes (on the loop thread) with the topology once every node has answered or failed its
   * first probe. Until then the topology says nothing about the nodes not yet heard from: a
   * restarted chainroute must not tell Envoy "no endpoints" for nodes it simply has not asked yet.
   */
  public java.util.concurrent.CompletableFuture<Topology> firstRound() {
    return firstRound;
  }

  private void completeFirstRoundIfDone() {
    if (unprobed.isEmpty() && !firstRound.isDone()) {
      firstRound.complete(topology);
    }
  }

  /**
   * Applies a new configuration of the same chains (same names, in the same order): nodes added
   * start unprobed (out of the pools until their first answer), nodes removed leave at once, a node
   * whose settings changed starts afresh, unchanged nodes keep their state (drain included), and
   * every chain is re-evaluated with its new thresholds. Completes on the loop thread once the new
   * topology is published. The caller checks that the chain set is the same.
   */
  public java.util.concurrent.CompletableFuture<Topology> reconfigure(List<ChainConfig> next) {
    java.util.concurrent.CompletableFuture<Topology> done =
        new java.util.concurrent.CompletableFuture<>();
    loop.execute(
        () -> {
          try {
            applyConfig(List.copyOf(next));
            done.complete(topology);
          } catch (RuntimeException e) {
            done.completeExceptionally(e);
          }
        });
    return done;
  }

  private void applyConfig(List<ChainConfig> next) {
    if (next.size() != chains.size()) {
      throw new IllegalArgumentException(
          "a reload must keep the chain set ("
              + chains.size()
              + " chains, got "
              + next.size()
              + ")");
    }
    List<Long> added = new ArrayList<>();
    for (int c = 0; c < next.size(); c++) {
      ChainConfig chain = next.get(c);
      if (!chain.name().equals(chains.get(c).name())) {
        throw new IllegalArgumentException(
            "a reload must keep the chain set (chain "
                + c
                + " is "
                + chains.get(c).name()
                + ", got "
                + chain.name()
                + ")");
      }
      Map<String, Integer> old = new HashMap<>();
      List<NodeState> oldStates = states.get(c);
      for (int n = 0; n < oldStates.size(); n++) {
        old.put(oldStates.get(n).config().name(), n);
      }
      List<NodeState> s = new ArrayList<>();
      List<Long> i = new ArrayList<>();
      Set<Long> kept = new HashSet<>();
      for (NodeConfig node : chain.nodes()) {
        Integer at = old.get(node.name());
        if (at != null && oldStates.get(at).config().equals(node)) {
          s.add(oldStates.get(at));
          i.add(ids.get(c).get(at));
          kept.add(ids.get(c).get(at));
        } else {
          s.add(NodeState.initial(node));
          long id = nextId++;
          i.add(id);
          added.add(id);
          log.info(
              "Node {} by reload. chain={} node={}",
              at == null ? "added" : "changed",
              chain.name(),
              node.name());
        }
      }
      for (long gone : ids.get(c)) {
        if (!kept.contains(gone)) {
          forget(gone);
        }
      }
      old.keySet().stream()
          .filter(name -> chain.nodes().stream().noneMatch(n -> n.name().equals(name)))
          .forEach(
              name -> log.info("Node removed by reload. chain={} node={}", chain.name(), name));
      states.set(c, s);
      ids.set(c, i);
    }
    chains = next;
    long now = nanoClock.getAsLong();
    for (int c = 0; c < chains.size(); c++) {
      // Thresholds may have changed without any node changing: always publish.
      republish(c, now, true);
    }
    added.forEach(this::probe);
  }

  /**
   * Stops probing a node that a reload removed or replaced; an in-flight probe is dropped on
   * return.
   */
  private void forget(long id) {
    ScheduledFuture<?> next = nextProbe.remove(id);
    if (next != null) {
      next.cancel(false);
    }
    inFlight.remove(id);
    woken.remove(id);
    if (unprobed.remove(id)) {
      completeFirstRoundIfDone();
    }
  }

  /** Where a node id is now: {chain, node} indices, or null once a reload removed it. */
  private int[] locate(long id) {
    for (int c = 0; c < ids.size(); c++) {
      int n = ids.get(c).indexOf(id);
      if (n >= 0) {
        return new int[] {c, n};
      }
    }
    return null;
  }

  /**
   * A push source saw news at this node (a new head): probe it now rather than at its next poll.
   * Safe from any thread. Wakes coalesce: while a probe is in flight, any number of wakes cause one
   * more probe when it returns. Unknown names are ignored.
   */
  public void wake(String chain, String node) {
    if (closed) {
      return;
    }
    loop.execute(
        () -> {
          for (int c = 0; c < chains.size(); c++) {
            if (!chains.get(c).name().equals(chain)) {
              continue;
            }
            List<NodeState> nodes = states.get(c);
            for (int n = 0; n < nodes.size(); n++) {
              if (nodes.get(n).config().name().equals(node)) {
                wake(ids.get(c).get(n));
              }
            }
          }
        });
  }

  private void wake(long key) {
    if (closed) {
      return;
    }
    if (inFlight.contains(key)) {
      woken.add(key);
      return;
    }
    ScheduledFuture<?> next = nextProbe.remove(key);
    if (next != null) {
      next.cancel(false);
    }
    probe(key);
  }

  private void probe(long key) {
    if (closed) {
      return;
    }
    int[] at = locate(key);
    if (at == null) {
      return;
    }
    nextProbe.remove(key);
    inFlight.add(key);
    ChainConfig chain = chains.get(at[0]);
    NodeState s = states.get(at[0]).get(at[1]);
    prober
        .probe(chain, s.config(), s.consecutiveFailures() == 0 && !s.syncing() ? s.head() : -1)
        .whenCompleteAsync(
            (result, error) -> {
              NodeProber.Result r =
                  error != null
                      ? new NodeProber.Failed("probe error: " + error.getClass().getSimpleName())
                      : result;
              onResult(key, r);
            },
            loop);
  }

  /** Applies a probe result on the loop thread, republishes, and schedules the next probe. */
  void onResult(long key, NodeProber.Result result) {
    if (closed) {
      return;
    }
    int[] at = locate(key);
    if (at == null) {
      // Removed or replaced by a reload while the probe was out.
      return;
    }
    int c = at[0];
    int n = at[1];
    ChainConfig chain = chains.get(c);
    NodeState before = states.get(c).get(n);
    long now = nanoClock.getAsLong();
    NodeState after;
    if (result instanceof NodeProber.Answered a) {
      after = before.answered(a.reading(), a.latencyMicros(), a.address(), now, wallClock.millis());
      if (!a.longPoll()) {
        // A long poll's time is the wait for the next height, not how fast the node answers.
        after = after.withLatencySample(a.latencyMicros(), now);
      }
      if (after.backwardJumps() > before.backwardJumps()) {
        log.warn(
            "Node head went backwards. chain={} node={} from={} to={}",
            chain.name(),
            before.config().name(),
            before.head(),
            after.head());
      }
    } else {
      after = before.failed(((NodeProber.Failed) result).reason());
    }
    states.get(c).set(n, after);
    republish(c, now, false);
    inFlight.remove(key);
    if (unprobed.remove(key)) {
      completeFirstRoundIfDone();
    }
    // A long poll (the adapter's probe waits for the next height) returns when there is news, and a
    // wake during the
    // probe may mean a head newer than the one just read: ask again at once.
    boolean again = woken.remove(key); // always consume the wake
    again = again || (result instanceof NodeProber.Answered a && a.longPoll());
    nextProbe.put(
        key,
        loop.schedule(
            () -> probe(key), again ? 0 : nextDelay(chain, after).toNanos(), TimeUnit.NANOSECONDS));
  }

  /**
   * Every node, answering or not, is probed once per poll interval. No back-off for an unreachable
   * node: it must rejoin within about one poll interval of answering again (a restarted node, or
   * every node of a chain restarted at once, while requests wait for it). The cost of a dead node
   * is one connection attempt per poll interval; a node that black-holes connections costs at most
   * one pending probe at a time (the next is scheduled when the last one returns or times out).
   */
  static Duration nextDelay(ChainConfig chain, NodeState s) {
    return chain.pollInterval();
  }

  private void republish(int c, long now, boolean force) {
    ChainView before = views.get(c);
    ChainView after = HealthPolicy.evaluate(chains.get(c), states.get(c), now, before);
    views.set(c, after);
    boolean changed = force || !after.sameRouting(before);
    if (changed) {
      version++;
      logTransitions(before, after);
    }
    topology = Topology.of(version, views);
    if (changed) {
      Topology t = topology;
      for (Consumer<Topology> l : listeners) {
        try {
          l.accept(t);
        } catch (RuntimeException e) {
          log.error("Topology listener failed. listener={}", l, e);
        }
      }
    }
  }

  private static void logTransitions(ChainView before, ChainView after) {
    Map<String, NodeView> old = new HashMap<>();
    before.nodes().forEach(n -> old.put(n.name(), n));
    for (NodeView b : after.nodes()) {
      NodeView a = old.get(b.name());
      if (a != null && (a.health() != b.health() || a.status() != b.status())) {
        // A node a block behind for a moment (SYNCED <-> LAGGING, still DEGRADED) is routine on
        // every new block: DEBUG. Leaving or rejoining the pools is news: INFO.
        boolean routine = a.status() != EndpointStatus.NONE && b.status() != EndpointStatus.NONE;
        log.atLevel(routine ? org.slf4j.event.Level.DEBUG : org.slf4j.event.Level.INFO)
            .log(
                "Node health changed. chain={} node={} health={} status={} head={} chainHead={} reason=\"{}\"",
                after.name(),
                b.name(),
                b.health(),
                b.status(),
                b.head(),
                after.head(),
                b.reason());
      }
    }
  }

  @Override
  public void close() {
    closed = true;
  }
}
