package io.chainroute.adapters;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.algod.AlgodAdapter;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.Protocol;
import java.util.EnumMap;
import java.util.Map;

/**
 * The one place that knows every protocol's adapter: a new protocol is registered here with one
 * line (see docs/adding-a-protocol.md). The rest of chainroute sees {@link ChainAdapter} only.
 * Adapters are stateless and thread-safe; a chain with rules of its own gets its own instance.
 */
public final class ChainAdapters {
  private static final Map<Protocol, ChainAdapter> BY_PROTOCOL = new EnumMap<>(Protocol.class);

  static {
    register(new EvmAdapter());
    register(new AlgodAdapter());
  }

  private ChainAdapters() {}

  private static void register(ChainAdapter adapter) {
    if (BY_PROTOCOL.put(adapter.protocol(), adapter) != null) {
      throw new IllegalStateException("two adapters for " + adapter.protocol());
    }
  }

  /** The adapter of a protocol. */
  public static ChainAdapter forProtocol(Protocol protocol) {
    ChainAdapter a = BY_PROTOCOL.get(protocol);
    if (a == null) {
      throw new IllegalStateException("no adapter registered for protocol " + protocol);
    }
    return a;
  }

  /** The adapter of the chain's protocol, set up with the chain's own rules. */
  public static ChainAdapter forChain(ChainConfig chain) {
    return forProtocol(chain.protocol()).forChain(chain);
  }
}
