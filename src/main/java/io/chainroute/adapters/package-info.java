/**
 * The adapter registry: the only package that imports the protocol packages ({@code chain.evm},
 * {@code chain.algod}); the engine asks it for a {@link io.chainroute.chain.ChainAdapter} by
 * protocol.
 */
package io.chainroute.adapters;
