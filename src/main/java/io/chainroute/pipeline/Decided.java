package io.chainroute.pipeline;

import io.chainroute.chain.BlockRef;
import io.chainroute.routing.Pool;

/**
 * One request's decided fate, as the {@link RequestPipeline} reports it to its {@link
 * DecisionListener} once per request. Only bounded, normalised values: no body, no parameter, no
 * header, so a listener can log or count it as it is.
 *
 * @param chain the chain's configured name
 * @param method the adapter's label for the call: a name from its method table (or route table),
 *     else {@code other}; {@code batch} for a JSON-RPC batch
 * @param block the height reference that decided the pool (the oldest of a batch); null when none
 * @param reason why
 * @param pool the pool routed to; null when not routed
 * @param head the chain head when decided (-1 unknown)
 * @param classifyNanos time the adapter took to read the request
 * @param heldNanos time the request was held; -1 when it was not held
 * @param httpStatus the status of the reply chainroute made itself; 0 when it made none
 * @param errorCode the JSON-RPC error code of that reply, or "" (none, or not JSON-RPC)
 * @param cache the response cache's part: {@code hit} (answered from it), {@code miss} (sent to a
 *     node, its answer captured for the store), or "" (not a cacheable request)
 */
public record Decided(
    String chain,
    String method,
    BlockRef block,
    Reason reason,
    Pool pool,
    long head,
    long classifyNanos,
    long heldNanos,
    int httpStatus,
    String errorCode,
    String cache) {

  public Decided(
      String chain,
      String method,
      BlockRef block,
      Reason reason,
      Pool pool,
      long head,
      long classifyNanos,
      long heldNanos,
      int httpStatus,
      String errorCode) {
    this(
        chain,
        method,
        block,
        reason,
        pool,
        head,
        classifyNanos,
        heldNanos,
        httpStatus,
        errorCode,
        "");
  }

  public boolean held() {
    return heldNanos >= 0;
  }

  /** chainroute answered the request itself (no node saw it). */
  public boolean replied() {
    return httpStatus != 0;
  }
}
