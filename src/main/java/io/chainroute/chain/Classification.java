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
   */
  record Forward(List<Requirement> requirements, ErrorReplier errors, String echoId, String method)
      implements Classification {
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
   * Answer once a synced node of the chain reaches {@code minHead}, with that node's own status
   * (algod's {@code wait-for-block-after}; any protocol with a "wait for height" call fits): held
   * by the request pipeline, costing no thread.
   *
   * @param minHead the height a synced node must reach
   * @param timeout answer anyway after this long
   * @param statusReply builds the answer from the chosen node's last raw probe answer
   * @param noNodeReply the answer when no synced node exists (e.g. all catching up)
   * @param shutdownReply the answer when chainroute shuts down while holding it
   */
  record WaitForHeight(
      long minHead,
      java.time.Duration timeout,
      java.util.function.Function<byte[], Reply> statusReply,
      Reply noNodeReply,
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
