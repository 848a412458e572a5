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

  /** Builds a protocol-native error reply for the request it was made from. */
  @FunctionalInterface
  interface ErrorReplier {
    Reply reply(int httpStatus, int code, String message);
  }
}
