package io.chainroute.chain.evm;

import io.chainroute.config.MethodRules;
import java.util.List;

/**
 * Which JSON-RPC methods a chain's nodes never see. By default, the methods that change a node,
 * expose or use its keys, or drive a test chain are refused ({@link #DEFAULT_DENY}): public
 * providers answer these with "method not found" too. A chain's own rules come first: of the
 * patterns that match a method, the most specific (an exact name over a prefix, a longer prefix
 * over a shorter) decides, a deny winning a tie; only when none of them matches do the defaults
 * apply. So {@code allow: [debug_*]} opens the debug namespace, and {@code deny: ["*"]} with an
 * allow list serves only that list.
 */
public final class MethodPolicy {
  /**
   * Refused unless a chain allows them: node administration (peers, accounts, mining, the engine
   * API), signing with the node's keys, debug calls that change or dump the node (tracing and raw
   * reads stay open), and the test-chain controls of anvil, hardhat and ganache.
   */
  public static final List<String> DEFAULT_DENY =
      List.of(
          "admin_*",
          "personal_*",
          "miner_*",
          "engine_*",
          "clique_propose",
          "clique_discard",
          "les_*",
          "signer_*",
          "parity_set*",
          "parity_addReservedPeer",
          "parity_removeReservedPeer",
          "parity_dropNonReservedPeers",
          "parity_acceptNonReservedPeers",
          "eth_sign",
          "eth_signTransaction",
          "eth_signTypedData*",
          "eth_sendTransaction",
          "debug_set*",
          "debug_start*",
          "debug_stop*",
          "debug_write*",
          "debug_chaindb*",
          "debug_db*",
          "debug_freeOSMemory",
          "debug_verbosity",
          "debug_vmodule",
          "debug_cpuProfile",
          "debug_goTrace",
          "debug_blockProfile",
          "debug_mutexProfile",
          "debug_stacks",
          "debug_memStats",
          "debug_gcStats",
          "anvil_*",
          "hardhat_*",
          "ganache_*",
          "evm_*");

  private static final MethodPolicy DEFAULTS = new MethodPolicy(MethodRules.NONE);

  private final List<String> allow;
  private final List<String> deny;

  private MethodPolicy(MethodRules rules) {
    this.allow = rules.allow();
    this.deny = rules.deny();
  }

  public static MethodPolicy of(MethodRules rules) {
    return rules.allow().isEmpty() && rules.deny().isEmpty() ? DEFAULTS : new MethodPolicy(rules);
  }

  public static MethodPolicy defaults() {
    return DEFAULTS;
  }

  /** Whether {@code method} is refused on this chain. */
  public boolean refused(String method) {
    int allowed = best(allow, method);
    int denied = best(deny, method);
    if (allowed >= 0 || denied >= 0) {
      return denied >= allowed;
    }
    return best(DEFAULT_DENY, method) >= 0;
  }

  /** How specific the most specific matching pattern is, or -1 when none matches. */
  private static int best(List<String> patterns, String method) {
    int best = -1;
    for (String p : patterns) {
      int score;
      if (p.endsWith("*")) {
        String prefix = p.substring(0, p.length() - 1);
        score = method.startsWith(prefix) ? 2 * prefix.length() : -1;
      } else {
        score = method.equals(p) ? 2 * p.length() + 1 : -1;
      }
      best = Math.max(best, score);
    }
    return best;
  }
}
