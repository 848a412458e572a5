package io.chainroute.pipeline;

import io.chainroute.chain.Reply;
import io.chainroute.height.ChainView;
import io.chainroute.routing.Decision;
import io.chainroute.routing.Pool;
import io.chainroute.routing.RouteReason;
import java.time.Duration;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A request's fate as the {@link RequestPipeline} decides it. Protocol- and Envoy-neutral: an edge
 * (ext_proc today) turns each case into its own messages.
 */
public sealed interface Outcome {

  /**
   * Send it to a node of {@code pool}; a write is never retried once it may have reached a node.
   * {@code echoId} (the request's id as JSON text, or null) lets the proxy echo it in errors it
   * writes itself (Envoy's local replies). {@code reason}: why this pool (metrics, access logs).
   */
  record Route(Pool pool, boolean write, String echoId, RouteReason reason, String capture)
      implements Outcome {
    public Route(Pool pool, boolean write, String echoId, RouteReason reason) {
      this(pool, write, echoId, reason, null);
    }

    /** The policy's decision for a request whose id is {@code echoId} (or null). */
    public Route(Decision.Route d, String echoId) {
      this(d.pool(), d.write(), echoId, d.reason(), null);
    }

    /**
     * The policy's decision, with the note of what the node's answer may leave in the store ({@code
     * capture}, null when nothing): the edge has the answer captured and hands it back with {@link
     * RequestPipeline#onCaptured}.
     */
    public Route(Decision.Route d, String echoId, String capture) {
      this(d.pool(), d.write(), echoId, d.reason(), capture);
    }
  }

  /** chainroute answers it itself. */
  record Respond(Reply reply, Reason reason) implements Outcome {
    public Respond(Reply reply) {
      this(reply, Reason.ANSWERED);
    }
  }

  /**
   * Not for chainroute to route (no chain at this path, or a method the protocol never carries a
   * body for): the proxy's default route, body not read.
   */
  record Pass() implements Outcome {}

  /** The request line is not enough: decide again with the body. */
  record NeedBody() implements Outcome {}

  /**
   * Hold the request (no thread) until {@code ready} holds for its chain in the {@code source}
   * topology, then answer with {@code onReady}; after {@code timeout} with {@code onTimeout}; on
   * shutdown with {@code onShutdown}. When the bound on held requests is reached, {@code onRefused}
   * answers at once. {@code request} is what the pipeline read, for the decision it reports when
   * the hold ends.
   */
  record Hold(
      String chain,
      HeldRequests.Source source,
      Predicate<ChainView> ready,
      Function<ChainView, Outcome> onReady,
      Duration timeout,
      Function<ChainView, Outcome> onTimeout,
      Outcome onShutdown,
      Outcome onRefused,
      RequestPipeline.Read request)
      implements Outcome {}

  /**
   * Send it to the one node named {@code node} (state that lives there: an EVM filter), with {@code
   * body} instead of the client's when not null. Never retried on another node.
   */
  record ToNode(String node, byte[] body, String echoId, Reason reason) implements Outcome {}

  /**
   * chainroute is working on it (sending it to nodes itself): the final outcome completes {@code
   * outcome} within {@code timeout} (it never completes exceptionally), already reported.
   */
  record Later(java.util.concurrent.CompletableFuture<Outcome> outcome, Duration timeout)
      implements Outcome {}

  Outcome PASS = new Pass();
  Outcome NEED_BODY = new NeedBody();
}
