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
 *     cluster's circuit breaker), i.e. ext_proc streams open on chainroute; more skip chainroute
 *     and fail open to the head pool. Not a load-shedding knob (see {@link
 *     #DEFAULT_EXT_PROC_MAX_REQUESTS}); algod waits use their own cluster and do not count.
 * @param upstreamMaxRequests per node cluster ({@code <chain>-<pool>}): at most this many
 *     connections, requests in flight and requests waiting for a connection; past it that chain's
 *     requests get 503 {@code -32005} while other chains are unaffected
 * @param readTryTimeout a read attempt that got no response headers from its node within this time
 *     is hedged to another node (the first answer wins); writes never are
 * @param maxHeapBytes Envoy's heap budget for the overload manager (shrink heap, shorter idle
 *     timeouts, then no new connections and 503 {@code -32005} for new requests near it)
 * @param maxDownstreamConnections client connections Envoy keeps open at most, across listeners;
 *     connections past it are closed at accept
 * @param maxRequestsPerSecond Envoy's local rate limit (one token bucket per Envoy process, shared
 *     by its workers and all chains): requests above it get 429 {@code -32005} before ext_proc
 *     runs. 0 (the default) turns it off: the right value is the measured capacity of the
 *     deployment (bench/overload.sh, or the rate at which p99 starts to climb), which chainroute
 *     cannot know
 * @param adminAddress the address Envoy's admin listens on ({@code 127.0.0.1} by default): where
 *     Prometheus scrapes {@code /stats/prometheus}. The admin API has no authentication and can
 *     stop Envoy; bind it beyond loopback only on a private network
 * @param accessLog where Envoy writes one JSON line per request: a file path ({@link
 *     #ACCESS_LOG_STDOUT} for Envoy's standard output), or {@link #ACCESS_LOG_OFF} for none
 * @param listenerAddress the address Envoy's RPC listener binds ({@code 127.0.0.1} by default, so a
 *     first run serves this machine only); {@code 0.0.0.0} serves every interface, as a container
 *     needs (its port is then published, or not, by the container runtime)
 * @param fastPath a Lua filter before ext_proc routes the calls chainroute's tables say are always
 *     head reads ({@link io.chainroute.chain.FastPathTable}) without an ext_proc call; off by
 *     default (README: "The fast path")
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
    int maxDownstreamConnections,
    int maxRequestsPerSecond,
    String adminAddress,
    String accessLog,
    String listenerAddress,
    boolean fastPath) {
  /** {@code accessLog: stdout} in the configuration. */
  public static final String ACCESS_LOG_STDOUT = "/dev/stdout";

  /** {@code accessLog: off} in the configuration: Envoy writes no access log. */
  public static final String ACCESS_LOG_OFF = "";

  /**
   * 4096: a bound on chainroute's open ext_proc streams, not a load-shedding knob. Every request
   * inside ext_proc holds one stream, including a client that sent its headers and trickles the
   * body (10,000 such clients would otherwise hold 10,000 streams on chainroute for up to the
   * request timeout). A healthy Envoy never comes near it: at twice capacity with 512 client
   * connections the cap of 1024 never overflowed (bench/OVERLOAD.md). Lower caps (256, 64) did not
   * bound latency (the queue forms in front of Envoy's worker, not inside ext_proc) and made
   * 9,000-17,000 of 19,000 requests skip routing. Overload is shed by {@code maxRequestsPerSecond};
   * algod waits have their own cluster ({@code maxHeldRequests} + 256).
   */
  public static final int DEFAULT_EXT_PROC_MAX_REQUESTS = 4096;

  /** Off: the right limit is the measured capacity of the deployment. */
  public static final int DEFAULT_MAX_REQUESTS_PER_SECOND = 0;

  public static final int DEFAULT_UPSTREAM_MAX_REQUESTS = 4096;
  public static final Duration DEFAULT_READ_TRY_TIMEOUT = Duration.ofSeconds(5);
  public static final long DEFAULT_MAX_HEAP_BYTES = 1L << 30;
  public static final int DEFAULT_MAX_DOWNSTREAM_CONNECTIONS = 50_000;

  public EnvoyConfig {
    if (upstreamMaxRequests < 1) {
      throw new IllegalArgumentException(
          "upstreamMaxRequests: " + upstreamMaxRequests + " (expected: at least 1)");
    }
    if (readTryTimeout.isNegative() || readTryTimeout.isZero()) {
      throw new IllegalArgumentException(
          "readTryTimeout: " + readTryTimeout + " (expected: positive)");
    }
    if (maxHeapBytes < 1) {
      throw new IllegalArgumentException(
          "maxHeapBytes: " + maxHeapBytes + " (expected: at least 1)");
    }
    if (maxDownstreamConnections < 1) {
      throw new IllegalArgumentException(
          "maxDownstreamConnections: " + maxDownstreamConnections + " (expected: at least 1)");
    }
    if (maxRequestsPerSecond < 0) {
      throw new IllegalArgumentException(
          "maxRequestsPerSecond: " + maxRequestsPerSecond + " (expected: 0 (off) or more)");
    }
    if (!accessLog.isEmpty() && !accessLog.startsWith("/")) {
      throw new IllegalArgumentException(
          "accessLog: '" + accessLog + "' (expected: an absolute path, stdout or off)");
    }
  }

  /** Envoy writes an access log line per request. */
  public boolean accessLogOn() {
    return !accessLog.isEmpty();
  }

  /** Defaults for everything (tests and callers that have no configuration file). */
  public static EnvoyConfig defaults() {
    return new EnvoyConfig(
        10000,
        9901,
        "",
        "127.0.0.1",
        Duration.ofMillis(500),
        false,
        DEFAULT_EXT_PROC_MAX_REQUESTS,
        DEFAULT_UPSTREAM_MAX_REQUESTS,
        DEFAULT_READ_TRY_TIMEOUT,
        DEFAULT_MAX_HEAP_BYTES,
        DEFAULT_MAX_DOWNSTREAM_CONNECTIONS,
        DEFAULT_MAX_REQUESTS_PER_SECOND,
        "127.0.0.1",
        ACCESS_LOG_STDOUT,
        "127.0.0.1",
        false);
  }
}
