package io.chainroute.chain.evm;

import io.chainroute.chain.DataKind;
import java.util.Map;

/**
 * The EVM method table as data: where each method carries its block parameter and what data it
 * needs. Source: shared/reference/protocols.md part B.2 (geth {@code internal/ethapi/api.go}, reth
 * {@code rpc-api}, EIP-1898). Methods not listed read the latest data; {@code debug_trace*} and
 * {@code trace_*} not listed are treated as traces.
 */
final class EvmMethods {

  /** Where the block reference lives in {@code params}. */
  enum Locator {
    /** No block parameter: the call reads latest data. */
    NONE,
    /** {@code params[position]}, missing meaning latest. */
    POSITION,
    /** {@code params[0]} is a filter object with fromBlock / toBlock / blockHash. */
    FILTER_OBJECT,
    /** {@code params[position]} is a block hash. */
    HASH_AT_POSITION
  }

  /**
   * @param kind data the method needs
   * @param locator where its block reference is
   * @param position index in {@code params} for {@link Locator#POSITION} and {@link
   *     Locator#HASH_AT_POSITION}
   * @param write true for methods that change chain state (never retried blindly)
   */
  record Rule(DataKind kind, Locator locator, int position, boolean write) {}

  static final Rule LATEST = new Rule(DataKind.NONE, Locator.NONE, -1, false);
  static final Rule TRACE_BY_HASH = new Rule(DataKind.TRACE, Locator.NONE, -1, false);

  static final Map<String, Rule> TABLE =
      Map.ofEntries(
          // state at a block
          state("eth_getBalance", 1),
          state("eth_getCode", 1),
          state("eth_getStorageAt", 2),
          state("eth_getTransactionCount", 1),
          state("eth_call", 1),
          state("eth_estimateGas", 1),
          state("eth_createAccessList", 1),
          state("eth_getProof", 2),
          state("eth_simulateV1", 1),
          // blocks, headers, receipts: a full node keeps them all
          block("eth_getBlockByNumber", 0),
          block("eth_getBlockByHash", 0),
          block("eth_getBlockReceipts", 0),
          block("eth_getBlockTransactionCountByNumber", 0),
          block("eth_getBlockTransactionCountByHash", 0),
          block("eth_getTransactionByBlockNumberAndIndex", 0),
          block("eth_getTransactionByBlockHashAndIndex", 0),
          block("eth_getUncleByBlockNumberAndIndex", 0),
          block("eth_getUncleByBlockHashAndIndex", 0),
          block("eth_getUncleCountByBlockNumber", 0),
          block("eth_getUncleCountByBlockHash", 0),
          block("eth_feeHistory", 1),
          // logs over a range
          Map.entry("eth_getLogs", new Rule(DataKind.LOGS, Locator.FILTER_OBJECT, 0, false)),
          // traces: archive
          trace("debug_traceCall", 1),
          trace("debug_traceBlockByNumber", 0),
          Map.entry(
              "debug_traceBlockByHash",
              new Rule(DataKind.TRACE, Locator.HASH_AT_POSITION, 0, false)),
          Map.entry(
              "debug_storageRangeAt", new Rule(DataKind.TRACE, Locator.HASH_AT_POSITION, 0, false)),
          Map.entry("debug_traceTransaction", TRACE_BY_HASH),
          trace("trace_block", 0),
          trace("trace_replayBlockTransactions", 0),
          trace("trace_call", 2),
          trace("trace_callMany", 1),
          trace("trace_rawTransaction", 2),
          Map.entry("trace_filter", new Rule(DataKind.TRACE, Locator.FILTER_OBJECT, 0, false)),
          Map.entry("trace_transaction", TRACE_BY_HASH),
          Map.entry("trace_get", TRACE_BY_HASH),
          Map.entry("trace_replayTransaction", TRACE_BY_HASH),
          // node-local state
          local("eth_newFilter"),
          local("eth_newBlockFilter"),
          local("eth_newPendingTransactionFilter"),
          local("eth_getFilterChanges"),
          local("eth_getFilterLogs"),
          local("eth_uninstallFilter"),
          // writes
          write("eth_sendRawTransaction"),
          write("eth_sendTransaction"),
          write("eth_sendRawTransactionConditional"));

  /**
   * Methods outside {@link #TABLE} (they read latest data) that are common enough to have their own
   * metric label; any other name is {@code other}, so a client cannot grow the label set.
   */
  static final java.util.Set<String> LATEST_LABELLED =
      java.util.Set.of(
          "eth_blockNumber",
          "eth_chainId",
          "net_version",
          "net_listening",
          "net_peerCount",
          "web3_clientVersion",
          "eth_syncing",
          "eth_gasPrice",
          "eth_maxPriorityFeePerGas",
          "eth_blobBaseFee",
          "eth_getTransactionByHash",
          "eth_getTransactionReceipt",
          "eth_accounts",
          "eth_subscribe",
          "eth_unsubscribe");

  private EvmMethods() {}

  /** The metric and log label of a method: its name when known, else {@code other}. */
  static String label(String method) {
    return TABLE.containsKey(method) || LATEST_LABELLED.contains(method) ? method : "other";
  }

  static Rule rule(String method) {
    Rule r = TABLE.get(method);
    if (r != null) {
      return r;
    }
    if (method.startsWith("debug_trace") || method.startsWith("trace_")) {
      return TRACE_BY_HASH;
    }
    return LATEST;
  }

  private static Map.Entry<String, Rule> state(String m, int pos) {
    return Map.entry(m, new Rule(DataKind.STATE, Locator.POSITION, pos, false));
  }

  private static Map.Entry<String, Rule> block(String m, int pos) {
    return Map.entry(m, new Rule(DataKind.NONE, Locator.POSITION, pos, false));
  }

  private static Map.Entry<String, Rule> trace(String m, int pos) {
    return Map.entry(m, new Rule(DataKind.TRACE, Locator.POSITION, pos, false));
  }

  private static Map.Entry<String, Rule> local(String m) {
    return Map.entry(m, new Rule(DataKind.NODE_LOCAL, Locator.NONE, -1, false));
  }

  private static Map.Entry<String, Rule> write(String m) {
    return Map.entry(m, new Rule(DataKind.NONE, Locator.NONE, -1, true));
  }
}
