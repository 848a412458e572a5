package io.chainroute.chain;

import java.util.List;

/** The outcome of reading one request: forward it (with what it needs) or answer it at once. */
public sealed interface Classification {

  /**
   * The call's label for metrics and the decision log: a name from the adapter's method (or route)
   * table, {@code batch} for a batch, else {@code other}. Bounded: never a name a client made up.
   */
  default String method() {
    return "other";
  }

  /**
   * Forward to a node.
   *
   * @param requirements one per call (a batch has several)
   * @param errors builds a protocol-native error for this request (ids echoed) when no node can
   *     take it
   * @param echoId the request's id as the client wrote it (JSON text), for errors the proxy itself
   *     writes later; null when there is none to echo (a batch, a notification, not JSON-RPC)
   * @param method see {@link Classification#method()}
   * @param local how chainroute may answer it itself ({@link LocalPlan}); null when it may not
   */
  record Forward(
      List<Requirement> requirements,
      ErrorReplier errors,
      String echoId,
      String method,
      LocalPlan local)
      implements Classification {
    public Forward(
        List<Requirement> requirements, ErrorReplier errors, String echoId, String method) {
      this(requirements, errors, echoId, method, null);
    }

    public Forward(List<Requirement> requirements, ErrorReplier errors) {
      this(requirements, errors, null);
    }

    public Forward(List<Requirement> requirements, ErrorReplier errors, String echoId) {
      this(requirements, errors, echoId, "other");
    }
  }

  /** Answer without a node (malformed input and the like). */
  record Answer(Reply reply) implements Classification {}

  /**
   * Answer once a synced node of the chain reaches {@code minHead} (a protocol's "wait for a
   * height" call, such as algod's {@code wait-for-block-after}): held by the request pipeline,
   * costing no thread. The pipeline only watches heights; every answer is the adapter's, built from
   * the {@link AdapterState} it kept for the node the pipeline picked (the synced, usable node with
   * the highest head and a kept state).
   *
   * @param minHead the height a synced node must reach
   * @param timeout how long to hold it
   * @param reached the answer from the state of a node at {@code minHead} or above
   * @param timedOut the answer once {@code timeout} passed: from the freshest synced node's state,
   *     or from null when there is none
   * @param catchingUp the answer at once when every node of the chain is catching up
   * @param shutdownReply the answer when chainroute shuts down while holding it, or cannot hold it
   */
  record WaitForHeight(
      long minHead,
      java.time.Duration timeout,
      java.util.function.Function<AdapterState, Reply> reached,
      java.util.function.Function<AdapterState, Reply> timedOut,
      Reply catchingUp,
      Reply shutdownReply)
      implements Classification {
    @Override
    public String method() {
      return "wait_for_height";
    }
  }

  /**
   * Send the request unchanged to every usable node of the head pool (read-your-writes: a
   * transaction every node has at once, whichever node the client asks next), answered with {@code
   * combine} over the nodes' replies once all answered or the wait ended. Sent by chainroute
   * itself, with each node's own headers; never retried.
   *
   * @param body the request as the client sent it
   * @param combine the client's answer from the replies in arrival order (failures included)
   * @param otherwise how to route it when chainroute does not send it itself (one usable node)
   */
  record Broadcast(
      byte[] body, java.util.function.Function<List<NodeReply>, Reply> combine, Forward otherwise)
      implements Classification {
    @Override
    public String method() {
      return otherwise.method();
    }
  }

  /**
   * Create state that lives on one node (an EVM filter): chainroute sends the request to one synced
   * node itself and answers with {@code tagged}, which marks the node in the answer ({@link
   * NodeTag}) so later calls on that state find it ({@link OnNode}).
   *
   * @param tagged the client's answer from the node's tag and its reply (a failed reply included)
   * @param otherwise how to route it when chainroute does not send it itself
   */
  record CreateOnNode(
      byte[] body,
      java.util.function.BiFunction<String, NodeReply, Reply> tagged,
      Forward otherwise)
      implements Classification {
    @Override
    public String method() {
      return otherwise.method();
    }
  }

  /**
   * Use state that lives on the node whose {@link NodeTag} is {@code nodeTag}: routed to that node
   * alone with {@code body} (the request with the tag taken out); answered with {@code gone} (the
   * node's own "not found" error) when that node is not usable. A tag no configured node has (not
   * one chainroute handed out, or its node was removed) is routed as {@code otherwise}: the nodes
   * answer it themselves.
   */
  record OnNode(String nodeTag, byte[] body, Reply gone, Forward otherwise)
      implements Classification {
    @Override
    public String method() {
      return otherwise.method();
    }
  }

  /** Builds a protocol-native error reply for the request it was made from. */
  @FunctionalInterface
  interface ErrorReplier {
    Reply reply(int httpStatus, int code, String message);
  }
}
