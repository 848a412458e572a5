/**
 * Simulated nodes for tests and the demo (no algod binary is available from the registries). Not
 * part of the routing path.
 */
package io.chainroute.sim;
