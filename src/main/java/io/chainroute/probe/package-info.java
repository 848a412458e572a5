/**
 * Node probes over HTTP (JDK client): sends what the chain adapter asks, reads the answer with it,
 * resolves the node's address for Envoy. Failure reasons never contain a URL.
 */
package io.chainroute.probe;
