/**
 * The protocol seam: a {@link io.chainroute.chain.ChainAdapter} per protocol family says how to
 * read a node's head and what each request needs (data kind, height, write). The engine knows
 * heights and pools, never a method name. Pure core.
 */
package io.chainroute.chain;
