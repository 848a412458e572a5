package io.chainroute.config;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One chain and its nodes.
 *
 * @param name unique; Envoy clusters are {@code <name>-head} and {@code <name>-archive}
 * @param pathPrefix requests whose path starts with it belong to this chain
 * @param maxLagBlocks a node at most this many blocks behind the chain head is synced (serves the
 *     head pool)
 * @param degradedLagBlocks a node further behind than {@code maxLagBlocks} but within this many
 *     blocks is a fallback (Envoy DEGRADED); further behind it leaves the pools
 * @param fullNodeStateBlocks how many recent blocks of state a full node keeps; older state goes to
 *     the archive pool
 * @param fullNodeLogBlocks how many recent blocks of logs a full node serves; older {@code
 *     eth_getLogs} ranges go to the archive pool
 * @param pollInterval how often each node's head is probed
 * @param blockTime expected block interval; a node whose head has not moved for this long while the
 *     chain moved on is stalled
 * @param probeTimeout timeout of one probe
 * @param archiveMarginBlocks state or logs within this many blocks of the edge of a full node's
 *     window also go to the archive pool: a full node's head may be a block or two behind or ahead
 *     of chainroute's view (a geth full node keeps exactly head-127 … head, and answers {@code
 *     missing trie node} for head-128), so a request near the edge errs toward the archive
 * @param methods the chain's own method rules ({@link MethodRules#NONE}: the protocol's defaults)
 * @param balancing latency weights, region preference and hedging ({@link Balancing#DEFAULTS})
 * @param chainId the chain's identity as its nodes report it (EVM: {@code eth_chainId}, e.g. {@code
 *     0x1}); null: the identity most of its nodes report. A node reporting another is left out of
 *     every pool
 * @param cache what chainroute answers itself for this chain ({@link CacheConfig#DEFAULTS})
 */
public record ChainConfig(
    String name,
    Protocol protocol,
    String pathPrefix,
    long maxLagBlocks,
    long degradedLagBlocks,
    long fullNodeStateBlocks,
    long fullNodeLogBlocks,
    Duration pollInterval,
    Duration blockTime,
    Duration probeTimeout,
    List<NodeConfig> nodes,
    long archiveMarginBlocks,
    MethodRules methods,
    Balancing balancing,
    String chainId,
    CacheConfig cache) {
  /** Default {@code archiveMarginBlocks}. */
  public static final long DEFAULT_ARCHIVE_MARGIN_BLOCKS = 4;

  public ChainConfig {
    if (archiveMarginBlocks < 0) {
      throw new IllegalArgumentException(
          "archiveMarginBlocks must be >= 0, was " + archiveMarginBlocks);
    }
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(protocol, "protocol");
    Objects.requireNonNull(pathPrefix, "pathPrefix");
    nodes = List.copyOf(nodes);
    Objects.requireNonNull(methods, "methods");
    Objects.requireNonNull(balancing, "balancing");
    Objects.requireNonNull(cache, "cache");
  }
}
