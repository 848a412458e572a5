package io.chainroute.config;

import java.time.Duration;

/**
 * Where chainroute listens.
 *
 * @param bindAddress address of every listening socket
 * @param xdsPort ADS (xDS) gRPC port Envoy connects to
 * @param extProcPort ext_proc gRPC port Envoy calls for each request
 * @param adminHttpPort /status, /healthz, /readyz
 * @param adminGrpcPort chainroute.admin.v1 gRPC API
 * @param xdsCoalesce how long height changes are gathered before one xDS push
 * @param maxRequestBytes largest request body accepted (Envoy answers 413 above it); also the gRPC
 *     inbound message limit of the ext_proc server
 * @param unavailableWait how long a request waits for a usable node (graceful startup) before a
 *     503; zero answers at once
 * @param maxHeldRequests bound on requests held at once (waiting for a node or an algod round)
 * @param shutdownGrace on SIGTERM, how long in-flight requests get to finish
 * @param adminTokenEnv name of the environment variable holding the admin token that authorizes
 *     {@code POST /config/reload}; empty: that endpoint is off (SIGHUP still reloads)
 * @param adminToken the admin token (a secret: never logged or shown; see {@link #toString()})
 * @param metrics serve {@code GET /metrics} and keep the metrics (default); false turns both off
 *     (the decision log stays)
 * @param tls mutual TLS on the xDS and ext_proc ports; null: plaintext (loopback or a private
 *     network only)
 * @param allowedEnvoyNodeIds the Envoy node ids served over xDS; any other Envoy is refused before
 *     it gets a resource. Empty: every Envoy that reaches the port is served
 * @param cacheMaxBytes the in-process response cache holds at most this many bytes of answers (0
 *     turns it off; identity answers stay)
 * @param cacheRedisUrl {@code redis://[:password@]host:port} of a Redis shared by the replicas as
 *     the response cache's second tier; empty: none (a secret when it holds a password: never
 *     shown)
 * @param cacheRedisTimeout connect and socket timeout of each Redis call (a failure serves from the
 *     local cache alone for a second)
 * @param extProcSocket a Unix domain socket chainroute also serves ext_proc on, and the rendered
 *     bootstrap points Envoy's ext_proc clusters at (same host only); null: TCP only
 */
public record ServerConfig(
    String bindAddress,
    int xdsPort,
    int extProcPort,
    int adminHttpPort,
    int adminGrpcPort,
    Duration xdsCoalesce,
    int maxRequestBytes,
    Duration unavailableWait,
    int maxHeldRequests,
    Duration shutdownGrace,
    String adminTokenEnv,
    String adminToken,
    boolean metrics,
    ServerTls tls,
    java.util.List<String> allowedEnvoyNodeIds,
    long cacheMaxBytes,
    String cacheRedisUrl,
    Duration cacheRedisTimeout,
    java.nio.file.Path extProcSocket) {

  public ServerConfig {
    adminTokenEnv = adminTokenEnv == null ? "" : adminTokenEnv;
    adminToken = adminToken == null ? "" : adminToken;
    allowedEnvoyNodeIds =
        allowedEnvoyNodeIds == null
            ? java.util.List.of()
            : java.util.List.copyOf(allowedEnvoyNodeIds);
  }

  /** Redacted: records print every field, and the admin token is a secret. */
  @Override
  public String toString() {
    return "ServerConfig[bindAddress="
        + bindAddress
        + ", xdsPort="
        + xdsPort
        + ", extProcPort="
        + extProcPort
        + ", adminHttpPort="
        + adminHttpPort
        + ", adminGrpcPort="
        + adminGrpcPort
        + ", adminToken="
        + (adminToken.isEmpty() ? "none" : "$" + adminTokenEnv)
        + ", extProcSocket="
        + (extProcSocket == null ? "none" : extProcSocket)
        + ", tls="
        + (tls == null ? "off" : "on")
        + ", allowedEnvoyNodeIds="
        + allowedEnvoyNodeIds
        + "]";
  }

  public static final int DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

  /** Default {@code cacheMaxBytes}: the in-process response cache's bound. */
  public static final long DEFAULT_CACHE_MAX_BYTES = 64L * 1024 * 1024;
}
