package io.chainroute.chain.evm;

import io.chainroute.chain.AdapterState;

/**
 * What the EVM adapter keeps from a node's probe answer to answer requests itself.
 *
 * @param chainId {@code eth_chainId} as the node wrote it (e.g. {@code 0x539}), or null
 * @param netVersion {@code net_version} as the node wrote it (e.g. {@code 1337}), or null
 * @param trailer what the node writes after a JSON-RPC answer (geth a newline, anvil nothing): a
 *     reply built here ends the same way
 */
record EvmFacts(String chainId, String netVersion, String trailer) implements AdapterState {

  /** The whitespace after the last JSON value of {@code body} (at most 4 bytes; "" when none). */
  static String trailer(byte[] body) {
    int end = body.length;
    while (end > 0
        && body.length - end < 4
        && (body[end - 1] == '\n' || body[end - 1] == '\r' || body[end - 1] == ' ')) {
      end--;
    }
    return new String(body, end, body.length - end, java.nio.charset.StandardCharsets.US_ASCII);
  }
}
