package io.chainroute.config;

import java.time.Duration;

/**
 * Settings of the Envoy bootstrap that {@code chainroute bootstrap} renders.
 *
 * @param listenerPort port clients send RPC to
 * @param adminPort Envoy's admin port (loopback only)
 * @param region the Envoy's locality region, sent in its xDS node; selects endpoint priorities
 * @param chainrouteHost address Envoy uses to reach chainroute
 * @param messageTimeout ext_proc per-message timeout; past it Envoy fails open to the head pool
 * @param exposeUpstreamHeader adds {@code x-chainroute-upstream: <ip:port>} to responses (demo and
 *     tests; off by default)
 * @param extProcMaxRequests at most this many requests inside ext_proc at once (the processor
 *     cluster's circuit breaker); more skip chainroute and fail open to the head pool. Held requests
 *     (algod waits, graceful startup) count too.
 */
public record EnvoyConfig(
    int listenerPort,
    int adminPort,
    String region,
    String chainrouteHost,
    Duration messageTimeout,
    boolean exposeUpstreamHeader,
    int extProcMaxRequests) {
  public static final int DEFAULT_EXT_PROC_MAX_REQUESTS = 100_000;

  public EnvoyConfig(
      int listenerPort, int adminPort, String region, String chainrouteHost, Duration messageTimeout, boolean exposeUpstreamHeader) {
    this(listenerPort, adminPort, region, chainrouteHost, messageTimeout, exposeUpstreamHeader, DEFAULT_EXT_PROC_MAX_REQUESTS);
  }
}
