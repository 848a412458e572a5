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
   */
  record Forward(List<Requirement> requirements, ErrorReplier errors) implements Classification {}

  /** Answer without a node (malformed input and the like). */
  record Answer(Reply reply) implements Classification {}

  /** Builds a protocol-native error reply for the request it was made from. */
  @FunctionalInterface
  interface ErrorReplier {
    Reply reply(int httpStatus, int code, String message);
  }
}
