package io.chainroute.pipeline;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.jsonrpc.JsonRpcErrors;
import io.chainroute.routing.Decision;
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
 *   <li><b>route</b> with {@link RoutingPolicy} on the topology every Envoy has ACKed (a chosen
 *       pool always has endpoints in Envoy);
 *   <li><b>no usable node</b>: hold for one up to {@code unavailableWait} (graceful startup), else
 *       a 503 in the protocol's error format.
 * </ol>
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
    this.chains = List.copyOf(chains);
    this.adapters = Map.copyOf(adaptersByChain);
    this.latest = latest;
    this.routable = routable;
    this.held = held;
    this.unavailableWait = unavailableWait;
  }

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
    Classification early =
        adapter(chain)
            .classifyRequestLine(
                method, rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest);
    if (early != null) {
      return decide(chain, early);
    }
    if (!"POST".equals(method)) {
      return Outcome.PASS;
    }
    if (endOfStream) {
      // A POST with no body is not a JSON-RPC request: classify the empty body (a parse error).
      return onBody(chain, method, new byte[0]);
    }
    return Outcome.NEED_BODY;
  }

  /** Decides from the complete body. */
  public Outcome onBody(ChainConfig chain, String method, byte[] body) {
    return decide(chain, adapter(chain).classify(method, body));
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
                answer.accept(h.onReady().apply(view));
              }

              @Override
              public void timedOut(ChainView view) {
                answer.accept(h.onTimeout().apply(view));
              }

              @Override
              public void shutdown() {
                answer.accept(h.onShutdown());
              }
            });
    if (handle == null) {
      answer.accept(h.onRefused());
    }
    return handle;
  }

  /**
   * False when a hold now would be refused (an edge then answers {@link Outcome.Hold#onRefused} at
   * once).
   */
  public boolean canHold() {
    return held.canHold();
  }

  private ChainAdapter adapter(ChainConfig chain) {
    return adapters.get(chain.name());
  }

  private Outcome decide(ChainConfig chain, Classification c) {
    if (c instanceof Classification.Answer a) {
      return new Outcome.Respond(a.reply());
    }
    if (c instanceof Classification.Forward f) {
      return forward(chain, f);
    }
    return waitForHeight(chain, (Classification.WaitForHeight) c);
  }

  private Outcome forward(ChainConfig chain, Classification.Forward f) {
    Decision d = RoutingPolicy.decide(f.requirements(), routable.get().chain(chain.name()));
    if (d instanceof Decision.Route r) {
      return new Outcome.Route(r, f.echoId());
    }
    String unavailable = ((Decision.Unavailable) d).message();
    Outcome now = unavailable(f, unavailable);
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
        v -> unavailable(f, unavailable + " (waited " + unavailableWait.toMillis() + " ms)"),
        unavailable(f, "chainroute is shutting down"),
        unavailable(f, unavailable + " (too many requests waiting)"));
  }

  private static Outcome unavailable(Classification.Forward f, String message) {
    return new Outcome.Respond(f.errors().reply(503, JsonRpcErrors.RESOURCE_UNAVAILABLE, message));
  }

  private Outcome waitForHeight(ChainConfig chain, Classification.WaitForHeight w) {
    ChainView view = latest.get().chain(chain.name());
    NodeView best = freshestSynced(view);
    if (best != null && best.head() >= w.minHead()) {
      return new Outcome.Respond(w.reached().apply(best.adapterState()));
    }
    if (best == null
        && !view.nodes().isEmpty()
        && view.nodes().stream().allMatch(n -> n.health() == Health.SYNCING)) {
      return new Outcome.Respond(w.catchingUp());
    }
    Outcome shutdown = new Outcome.Respond(w.shutdownReply());
    return new Outcome.Hold(
        chain.name(),
        HeldRequests.Source.LATEST,
        v -> {
          NodeView n = freshestSynced(v);
          return n != null && n.head() >= w.minHead();
        },
        v -> new Outcome.Respond(w.reached().apply(freshestSynced(v).adapterState())),
        w.timeout(),
        v -> {
          NodeView n = v == null ? null : freshestSynced(v);
          return new Outcome.Respond(w.timedOut().apply(n == null ? null : n.adapterState()));
        },
        shutdown,
        shutdown);
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
