package io.chainroute.height;

/** A node's health as the tracker sees it. Only SYNCED and LAGGING nodes ever take traffic. */
public enum Health {
  /** Within {@code maxLagBlocks} of the chain head: serves the head pool. */
  SYNCED,
  /** Behind the head but still moving: a fallback (Envoy DEGRADED) while close, else left out. */
  LAGGING,
  /** Behind the head and not advancing for a block time while the chain moved on: left out. */
  STALLED,
  /** The node says it is still syncing: left out. */
  SYNCING,
  /** The last probe failed: left out. */
  UNREACHABLE,
  /** Not probed yet: left out. */
  UNKNOWN,
  /** Taken out of every pool by an operator (admin drain), whatever its height. */
  DRAINED,
  /** It serves another chain than the one configured (EVM: its chain id differs): left out. */
  WRONG_CHAIN
}
