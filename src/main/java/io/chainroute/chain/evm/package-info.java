/**
 * The EVM chain adapter: the JSON-RPC method table as data (reference/protocols.md part B), block
 * parameter normalisation (tags, quantities, EIP-1898), and the eth_blockNumber + eth_syncing
 * probe. Pure core, stateless.
 */
package io.chainroute.chain.evm;
