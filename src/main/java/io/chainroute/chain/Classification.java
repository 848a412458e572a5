package io.chainroute.chain;

import java.util.List;

/** The outcome of reading one request: forward it (with what it needs) or answer it at once. */
public sealed interface Classification {

  /**
   * Forward to a node.
   *
   * @param requirements one per call (a batch has several)
   * @param errors builds a protocol-native error for this request (ids echoed) when no node can
   *     take it
   * @param echoId the request's id as the client wrote it (JSON text), for errors the proxy itself
   *     writes later; null when there is none to echo (a batch, a notification, not JSON-RPC)
   */
  record Forward(List<Requirement> requirements, ErrorReplier errors, String echoId)
      implements Classification {
    public Forward(List<Requirement> requirements, ErrorReplier errors) {
      this(requirements, errors, null);
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
      implements Classification {}

  /** Builds a protocol-native error reply for the request it was made from. */
  @FunctionalInterface
  interface ErrorReplier {
    Reply reply(int httpStatus, int code, String message);
  }
}
