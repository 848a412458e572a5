package io.chainroute.pipeline;

import io.chainroute.cache.ResponseStore;
import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.Requirement;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.jsonrpc.JsonRpcErrors;
import io.chainroute.routing.Decision;
import io.chainroute.routing.Pool;
import io.chainroute.routing.RoutingPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The one place a request's fate is decided: route it to a pool, answer it, or hold it. Pure
 * decisions over immutable snapshots, plus the {@link HeldRequests} it hands holds to.
 *
 * <p>Stages, in order:
 *
 * <ol>
 *   <li><b>chain</b> by path prefix ({@link #chainFor}); none: {@link Outcome.Pass};
 *   <li><b>classify</b> with the chain's adapter, from the request line ({@link #onRequestLine}),
 *       else from the body ({@link #onBody});
 *   <li><b>answer</b> what the adapter answers itself (bad input), or <b>wait for a height</b> (a
 *       protocol's long poll for the next block): at once when a synced node has it, else held on
 *       the tracker's newest topology, answered with the adapter's replies;
 *   <li><b>node-bound</b> requests ({@link NodeBound}: read-your-writes): a write sent to every
 *       head-pool node by chainroute itself and answered later, node-local state created on one
 *       node, or routed to the node that holds it (answered with the node's own "not found" when it
 *       is gone);
 *   <li><b>route</b> with {@link RoutingPolicy} on the topology every Envoy has ACKed (a chosen
 *       pool always has endpoints in Envoy);
 *   <li><b>no usable node</b>: hold for one up to {@code unavailableWait} (graceful startup), else
 *       a 503 in the protocol's error format.
 * </ol>
 *
 * <p>Each request's fate is reported once to the {@link DecisionListener} (metrics, the decision
 * log) from {@link #report}, when it is decided, or for a held request when the hold ends.
 *
 * <p>Threading: any thread; never blocks. Lifecycle: none of its own (the held requests' owner
 * shuts them down).
 */
public final class RequestPipeline {
  private final List<ChainConfig> chains;
  private final Map<String, ChainAdapter> adapters;
  private final Supplier<Topology> latest;
  private final Supplier<Topology> routable;
  private final HeldRequests held;
  private final Duration unavailableWait;
  private final DecisionListener listener;
  private final LocalAnswers locals;

  /**
   * What the pipeline read from one request: carried by a {@link Outcome.Hold} to the decision it
   * reports when the hold ends.
   *
   * @param decidedNanos when it was classified ({@link System#nanoTime}): a hold's time runs from
   *     here
   */
  public record Read(
      ChainConfig chain, String method, BlockRef block, long classifyNanos, long decidedNanos) {}

  /**
   * @param latest the tracker's newest topology: height waits are answered from it
   * @param routable the topology every Envoy has ACKed: pool decisions use it
   * @param held where requests wait
   * @param unavailableWait how long a request waits for a usable node; zero answers 503 at once
   */
  public RequestPipeline(
      List<ChainConfig> chains,
      Map<String, ChainAdapter> adaptersByChain,
      Supplier<Topology> latest,
      Supplier<Topology> routable,
      HeldRequests held,
      Duration unavailableWait) {
    this(
        chains,
        adaptersByChain,
        latest,
        routable,
        held,
        unavailableWait,
        DecisionListener.NONE,
        NodeCalls.NONE);
  }

  /**
   * @param listener told of each request's fate once (see the class comment)
   * @param calls how chainroute sends a request to a node itself (read-your-writes: {@link
   *     NodeBound}); {@link NodeCalls#NONE} routes every request through Envoy
   */
  public RequestPipeline(
      List<ChainConfig> chains,
      Map<String, ChainAdapter> adaptersByChain,
      Supplier<Topology> latest,
      Supplier<Topology> routable,
      HeldRequests held,
      Duration unavailableWait,
      DecisionListener listener,
      NodeCalls calls) {
    this(
        chains,
        adaptersByChain,
        latest,
        routable,
        held,
        unavailableWait,
        listener,
        calls,
        ResponseStore.NONE);
  }

  /**
   * @param store where answers of data that can no longer change are kept ({@link
   *     ResponseStore#NONE}: none are; the chain's identity answers stay)
   */
  public RequestPipeline(
      List<ChainConfig> chains,
      Map<String, ChainAdapter> adaptersByChain,
      Supplier<Topology> latest,
      Supplier<Topology> routable,
      HeldRequests held,
      Duration unavailableWait,
      DecisionListener listener,
      NodeCalls calls,
      ResponseStore store) {
    this.locals = new LocalAnswers(store);
    this.listener = listener;
    this.chains = List.copyOf(chains);
    this.adapters = Map.copyOf(adaptersByChain);
    this.latest = latest;
    this.routable = routable;
    this.held = held;
    this.unavailableWait = unavailableWait;
    this.nodeBound = new NodeBound(calls, routable);
  }

  private final NodeBound nodeBound;

  /**
   * The chain whose path prefix matches ({@code /eth} matches {@code /eth}, {@code /eth/..}, {@code
   * /eth?..}), or null.
   */
  public ChainConfig chainFor(String path) {
    ChainConfig root = null;
    for (ChainConfig c : chains) {
      String p = c.pathPrefix();
      if (p.equals("/")) {
        root = c;
        continue;
      }
      if (path.startsWith(p)
          && (path.length() == p.length()
              || path.charAt(p.length()) == '/'
              || path.charAt(p.length()) == '?')) {
        return c;
      }
    }
    return root;
  }

  /**
   * Decides from the request line alone when the protocol can (it routes on the path), or says the
   * body is needed (a POST), or passes it on (any other method: JSON-RPC is POST).
   *
   * @param path the full request path, chain prefix included
   * @param endOfStream the request has no body
   */
  public Outcome onRequestLine(ChainConfig chain, String method, String path, boolean endOfStream) {
    String rest =
        chain.pathPrefix().equals("/") ? path : path.substring(chain.pathPrefix().length());
    long start = System.nanoTime();
    Classification early =
        adapter(chain)
            .classifyRequestLine(
                method, rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest);
    if (early != null) {
      return decide(chain, early, start);
    }
    if (!"POST".equals(method)) {
      return report(new Read(chain, "other", null, 0, start), Outcome.PASS, -1);
    }
    if (endOfStream) {
      // A POST with no body is not a JSON-RPC request: classify the empty body (a parse error).
      return onBody(chain, method, new byte[0]);
    }
    return Outcome.NEED_BODY;
  }

  /** Decides from the complete body. */
  public Outcome onBody(ChainConfig chain, String method, byte[] body) {
    long start = System.nanoTime();
    return decide(chain, adapter(chain).classify(method, body), start);
  }

  /**
   * Holds a request; {@code answer} gets its outcome exactly once, later, from another thread
   * (unless the returned handle is cancelled first). Returns null when it was answered at once (the
   * bound on held requests is reached, or chainroute is shutting down).
   */
  public HeldRequests.Held hold(Outcome.Hold h, Consumer<Outcome> answer) {
    HeldRequests.Held handle =
        held.hold(
            h.chain(),
            h.source(),
            h.ready(),
            h.timeout(),
            new HeldRequests.Outcome() {
              @Override
              public void ready(ChainView view) {
                answer.accept(report(h.request(), h.onReady().apply(view), heldFor(h)));
              }

              @Override
              public void timedOut(ChainView view) {
                answer.accept(report(h.request(), h.onTimeout().apply(view), heldFor(h)));
              }

              @Override
              public void shutdown() {
                answer.accept(report(h.request(), h.onShutdown(), heldFor(h)));
              }
            });
    if (handle == null) {
      answer.accept(refused(h));
    }
    return handle;
  }

  /**
   * The answer to a hold refused at once (an edge that saw {@link #canHold} false): {@link
   * Outcome.Hold#onRefused}, reported as the request's fate.
   */
  public Outcome refused(Outcome.Hold h) {
    return report(h.request(), h.onRefused(), -1);
  }

  private static long heldFor(Outcome.Hold h) {
    return Math.max(0, System.nanoTime() - h.request().decidedNanos());
  }

  /**
   * False when a hold now would be refused (an edge then answers with {@link #refused} at once).
   */
  public boolean canHold() {
    return held.canHold();
  }

  private ChainAdapter adapter(ChainConfig chain) {
    return adapters.get(chain.name());
  }

  private Outcome decide(ChainConfig chain, Classification c, long start) {
    long now = System.nanoTime();
    Read read = new Read(chain, c.method(), block(c), now - start, now);
    if (c instanceof Classification.Answer a) {
      return report(read, new Outcome.Respond(a.reply()), -1);
    }
    if (c instanceof Classification.Forward f) {
      return report(read, forward(chain, f, read), -1);
    }
    if (c instanceof Classification.WaitForHeight w) {
      return report(read, waitForHeight(chain, w, read), -1);
    }
    Outcome bound = nodeBound.decide(chain, c);
    if (bound == null) {
      return report(read, forward(chain, NodeBound.otherwise(c), read), -1);
    }
    if (bound instanceof Outcome.Later later) {
      // Reported when the nodes answered: that is the request's fate (not a hold: it waited for
      // nodes to answer, not for a usable node).
      return new Outcome.Later(
          later.outcome().thenApply(o -> report(read, o, -1)), later.timeout());
    }
    return report(read, bound, -1);
  }

  /**
   * The one place a request's fate is reported to the listener: a final outcome as it is decided, a
   * held one when its hold ends (a {@link Outcome.Hold} itself is not a fate and passes through).
   */
  private Outcome report(Read read, Outcome o, long heldNanos) {
    if (listener == DecisionListener.NONE
        || o instanceof Outcome.Hold
        || o instanceof Outcome.Later
        || o instanceof Outcome.NeedBody) {
      return o;
    }
    Reason reason = Reason.PASS;
    Pool pool = null;
    int status = 0;
    String code = "";
    String cache = "";
    if (o instanceof Outcome.Route r) {
      reason = Reason.of(r.reason());
      pool = r.pool();
      cache = r.capture() != null ? "miss" : "";
    } else if (o instanceof Outcome.ToNode n) {
      reason = n.reason();
    } else if (o instanceof Outcome.Respond r) {
      cache = r.reason() == Reason.CACHE_HIT ? "hit" : "";
      reason = r.reason();
      status = r.reply().httpStatus();
      code = JsonRpcErrors.codeOf(r.reply().body());
    }
    ChainView view = routable.get().chain(read.chain().name());
    try {
      listener.decided(
          new Decided(
              read.chain().name(),
              read.method(),
              read.block(),
              reason,
              pool,
              view == null ? -1 : view.head(),
              read.classifyNanos(),
              heldNanos,
              status,
              code,
              cache));
    } catch (RuntimeException e) {
      // Observing must never change a request's fate.
    }
    return o;
  }

  /** The height reference that decides the pool: the oldest of the calls' (a batch has several). */
  private static BlockRef block(Classification c) {
    if (c instanceof Classification.WaitForHeight w) {
      return BlockRef.number(w.minHead());
    }
    if (!(c instanceof Classification.Forward f) || f.requirements().isEmpty()) {
      return null;
    }
    BlockRef oldest = f.requirements().get(0).ref();
    for (Requirement r : f.requirements()) {
      if (rank(r.ref()) < rank(oldest)) {
        oldest = r.ref();
      }
    }
    return oldest;
  }

  /** Older first: earliest, a hash (any height), a number by value, then the tags. */
  private static double rank(BlockRef ref) {
    return switch (ref.kind()) {
      case EARLIEST -> -2;
      case HASH -> -1;
      case NUMBER -> ref.number();
      default -> Double.MAX_VALUE;
    };
  }

  private Outcome forward(ChainConfig chain, Classification.Forward f, Read read) {
    ChainView view = routable.get().chain(chain.name());
    LocalAnswers.Result local = locals.answer(chain, f.local(), view);
    if (local.reply() != null) {
      return new Outcome.Respond(
          local.reply(), local.fromStore() ? Reason.CACHE_HIT : Reason.LOCAL);
    }
    Decision d = RoutingPolicy.decide(f.requirements(), view);
    if (d instanceof Decision.Route r) {
      return new Outcome.Route(r, f.echoId(), r.write() ? null : local.capture());
    }
    String unavailable = ((Decision.Unavailable) d).message();
    Outcome now = unavailable(f, unavailable, Reason.UNAVAILABLE);
    if (unavailableWait.isZero()) {
      return now;
    }
    // Graceful startup (or a short outage): wait for a usable node instead of failing.
    return new Outcome.Hold(
        chain.name(),
        HeldRequests.Source.ROUTABLE,
        v -> RoutingPolicy.decide(f.requirements(), v) instanceof Decision.Route,
        v ->
            RoutingPolicy.decide(f.requirements(), v) instanceof Decision.Route r
                ? new Outcome.Route(r, f.echoId())
                : now,
        unavailableWait,
        v ->
            unavailable(
                f,
                unavailable + " (waited " + unavailableWait.toMillis() + " ms)",
                Reason.UNAVAILABLE),
        unavailable(f, "chainroute is shutting down", Reason.SHUTDOWN),
        unavailable(f, unavailable + " (too many requests waiting)", Reason.HOLD_REFUSED),
        read);
  }

  private static Outcome unavailable(Classification.Forward f, String message, Reason reason) {
    return new Outcome.Respond(
        f.errors().reply(503, JsonRpcErrors.RESOURCE_UNAVAILABLE, message), reason);
  }

  private Outcome waitForHeight(ChainConfig chain, Classification.WaitForHeight w, Read read) {
    ChainView view = latest.get().chain(chain.name());
    NodeView best = freshestSynced(view);
    if (best != null && best.head() >= w.minHead()) {
      return new Outcome.Respond(w.reached().apply(best.adapterState()), Reason.HEIGHT_WAIT);
    }
    if (best == null
        && !view.nodes().isEmpty()
        && view.nodes().stream().allMatch(n -> n.health() == Health.SYNCING)) {
      return new Outcome.Respond(w.catchingUp(), Reason.UNAVAILABLE);
    }
    return new Outcome.Hold(
        chain.name(),
        HeldRequests.Source.LATEST,
        v -> {
          NodeView n = freshestSynced(v);
          return n != null && n.head() >= w.minHead();
        },
        v ->
            new Outcome.Respond(
                w.reached().apply(freshestSynced(v).adapterState()), Reason.HEIGHT_WAIT),
        w.timeout(),
        v -> {
          NodeView n = v == null ? null : freshestSynced(v);
          return new Outcome.Respond(
              w.timedOut().apply(n == null ? null : n.adapterState()),
              n == null ? Reason.UNAVAILABLE : Reason.HEIGHT_WAIT);
        },
        new Outcome.Respond(w.shutdownReply(), Reason.SHUTDOWN),
        new Outcome.Respond(w.shutdownReply(), Reason.HOLD_REFUSED),
        read);
  }

  /**
   * Keeps what may be kept of a node's answer to a request routed with a capture note ({@link
   * Outcome.Route#capture}); the edge calls it with the answer's body once the node answered with
   * success (HTTP 200, no content encoding). Returns how many answers were stored.
   */
  public int onCaptured(String chainName, String capture, byte[] body) {
    ChainConfig chain = null;
    for (ChainConfig c : chains) {
      if (c.name().equals(chainName)) {
        chain = c;
      }
    }
    if (chain == null || capture == null || capture.isEmpty()) {
      return 0;
    }
    return locals.captured(
        chain, adapter(chain), capture, body, routable.get().chain(chain.name()));
  }

  /** The synced node with the highest head and a kept adapter state, or null. */
  static NodeView freshestSynced(ChainView view) {
    NodeView best = null;
    if (view == null) {
      return null;
    }
    for (NodeView n : view.nodes()) {
      if (n.health() == Health.SYNCED
          && n.status().usable()
          && n.adapterState() != null
          && (best == null || n.head() > best.head())) {
        best = n;
      }
    }
    return best;
  }
}
