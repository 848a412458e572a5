/**
 * The simulated algod, a test fixture (no algod binary is available from the registries): used by
 * the ITs in this JVM and, packaged as {@code target/algod-sim.jar} ({@code bin/simulate-algod}),
 * by the demo. Written from algod's documented behaviour, not from chainroute's adapter; no product
 * package depends on it (ArchitectureTest).
 */
package io.chainroute.testing.algodsim;
