package io.chainroute.config;

import java.time.Duration;
import java.util.Objects;

/**
 * A chain's answers from chainroute itself: its identity answers ({@code eth_chainId}, {@code
 * net_version}, {@code eth_blockNumber}) and its response cache for data that can no longer change.
 *
 * @param enabled false: every request goes to a node (nothing answered here, nothing stored)
 * @param confirmations a block this many blocks below a node's head counts as final when the node
 *     has no finality tag (EVM: {@code eth_getBlockByNumber("finalized")} unsupported, as on a
 *     Clique chain); ignored for a node that says what is finalized
 * @param ttl how long a stored answer is kept (it can no longer change; the bound keeps a wrong
 *     finality setting from living forever)
 */
public record CacheConfig(boolean enabled, long confirmations, Duration ttl) {
  /** The defaults: on, 64 confirmations, one hour. */
  public static final CacheConfig DEFAULTS = new CacheConfig(true, 64, Duration.ofHours(1));

  public CacheConfig {
    if (confirmations < 0) {
      throw new IllegalArgumentException("confirmations must be >= 0, was " + confirmations);
    }
    Objects.requireNonNull(ttl, "ttl");
  }
}
