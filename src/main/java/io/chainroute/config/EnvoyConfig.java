package io.chainroute.config;

import java.time.Duration;

/**
 * Settings of the Envoy bootstrap that {@code chainroute bootstrap} renders, and of the clusters
 * chainroute sends over xDS. What each value does to a request: docs/reliability-envoy.md.
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
 * @param upstreamMaxRequests per node cluster ({@code <chain>-<pool>}): at most this many
 *     connections, requests in flight and requests waiting for a connection; past it that chain's
 *     requests get 503 {@code -32005} while other chains are unaffected
 * @param readTryTimeout a read attempt that got no response headers from its node within this
 *     time is hedged to another node (the first answer wins); writes never are
 * @param maxHeapBytes Envoy's heap budget for the overload manager (shrink heap, shorter idle
 *     timeouts, then no new connections and 503 {@code -32005} for new requests near it)
 * @param maxDownstreamConnections client connections Envoy keeps open at most, across listeners;
 *     connections past it are closed at accept
 */
public record EnvoyConfig(
    int listenerPort,
    int adminPort,
    String region,
    String chainrouteHost,
    Duration messageTimeout,
    boolean exposeUpstreamHeader,
    int extProcMaxRequests,
    int upstreamMaxRequests,
    Duration readTryTimeout,
    long maxHeapBytes,
    int maxDownstreamConnections) {
  public static final int DEFAULT_EXT_PROC_MAX_REQUESTS = 100_000;
  public static final int DEFAULT_UPSTREAM_MAX_REQUESTS = 4096;
  public static final Duration DEFAULT_READ_TRY_TIMEOUT = Duration.ofSeconds(5);
  public static final long DEFAULT_MAX_HEAP_BYTES = 1L << 30;
  public static final int DEFAULT_MAX_DOWNSTREAM_CONNECTIONS = 50_000;

  public EnvoyConfig {
    if (upstreamMaxRequests < 1) {
      throw new IllegalArgumentException("upstreamMaxRequests: " + upstreamMaxRequests + " (expected: at least 1)");
    }
    if (readTryTimeout.isNegative() || readTryTimeout.isZero()) {
      throw new IllegalArgumentException("readTryTimeout: " + readTryTimeout + " (expected: positive)");
    }
    if (maxHeapBytes < 1) {
      throw new IllegalArgumentException("maxHeapBytes: " + maxHeapBytes + " (expected: at least 1)");
    }
    if (maxDownstreamConnections < 1) {
      throw new IllegalArgumentException(
          "maxDownstreamConnections: " + maxDownstreamConnections + " (expected: at least 1)");
    }
  }

  public EnvoyConfig(
      int listenerPort, int adminPort, String region, String chainrouteHost, Duration messageTimeout, boolean exposeUpstreamHeader) {
    this(listenerPort, adminPort, region, chainrouteHost, messageTimeout, exposeUpstreamHeader, DEFAULT_EXT_PROC_MAX_REQUESTS);
  }

  public EnvoyConfig(
      int listenerPort,
      int adminPort,
      String region,
      String chainrouteHost,
      Duration messageTimeout,
      boolean exposeUpstreamHeader,
      int extProcMaxRequests) {
    this(
        listenerPort,
        adminPort,
        region,
        chainrouteHost,
        messageTimeout,
        exposeUpstreamHeader,
        extProcMaxRequests,
        DEFAULT_UPSTREAM_MAX_REQUESTS,
        DEFAULT_READ_TRY_TIMEOUT,
        DEFAULT_MAX_HEAP_BYTES,
        DEFAULT_MAX_DOWNSTREAM_CONNECTIONS);
  }

  /** Defaults for everything (tests and callers that have no configuration file). */
  public static EnvoyConfig defaults() {
    return new EnvoyConfig(10000, 9901, "", "127.0.0.1", Duration.ofMillis(500), false);
  }
}
