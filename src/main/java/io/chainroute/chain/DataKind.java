package io.chainroute.chain;

/**
 * What kind of data a call needs. The routing engine maps each kind to a retention window (how far
 * behind the head a full node still has it); the adapter never decides pools itself.
 */
public enum DataKind {
  /** No chain data (chain id, client version) or data every node keeps (blocks, tx lookups). */
  NONE,
  /** World state at a height (balances, code, storage, calls). */
  STATE,
  /** Logs over a block range. */
  LOGS,
  /** Re-execution (debug_trace*, trace_*): archive only. */
  TRACE,
  /** State held only by one node (filters, mempool); routed to the head pool. */
  NODE_LOCAL
}
