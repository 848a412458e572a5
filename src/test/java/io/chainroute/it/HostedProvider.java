package io.chainroute.it;

import io.chainroute.testing.TestCerts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;

/**
 * A hosted RPC provider stand-in: a second, TLS-terminating Envoy with a CA and a server
 * certificate for {@code localhost} made in the test ({@link TestCerts}). Like a real provider it
 * serves a node under {@code /v2/<key>} (JSON-RPC over HTTP and WebSocket at {@code /ws/<key>}) on
 * one port and behind an {@code x-api-key} header on another, checks the {@code Host} (a wrong one
 * is 421) and answers 401 with its own JSON body without the key. Each port is also served on
 * 127.0.0.2 by a second node, so a test can move the provider's "DNS" to another address. A key can
 * be revoked while running ({@link #revoke}: Envoy runtime flag, no restart).
 */
final class HostedProvider implements AutoCloseable {
  /** What the provider answers without a valid key (Alchemy's wording). */
  static final String UNAUTHORIZED =
      "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Must be"
          + " authenticated!\"}}";

  final Path caFile;
  final int pathPort;
  final int headerPort;
  final int adminPort;
  private final EnvoyProcess envoy;

  private HostedProvider(Path caFile, int pathPort, int headerPort, int adminPort, EnvoyProcess e) {
    this.caFile = caFile;
    this.pathPort = pathPort;
    this.headerPort = headerPort;
    this.adminPort = adminPort;
    this.envoy = e;
  }

  /**
   * @param first the node behind 127.0.0.1
   * @param second the node behind 127.0.0.2
   * @param pathKeys keys accepted in the path; a key named {@code revocable} can be revoked
   * @param headerKey the {@code x-api-key} accepted on {@link #headerPort}
   * @param basic the {@code Authorization} value also accepted there
   */
  static HostedProvider start(
      Path dir,
      AnvilProcess first,
      AnvilProcess second,
      List<String> pathKeys,
      String revocable,
      String headerKey,
      String basic) {
    TestCerts pki = new TestCerts(dir, "chainroute test CA");
    TestCerts.Leaf server = pki.leaf("server", "localhost");
    Path ca = pki.caCert();
    int pathPort = Ports.free();
    int headerPort = Ports.free();
    int admin = Ports.free();
    StringBuilder listeners = new StringBuilder();
    StringBuilder clusters = new StringBuilder();
    for (String ip : List.of("127.0.0.1", "127.0.0.2")) {
      AnvilProcess node = ip.endsWith(".1") ? first : second;
      String cluster = "path_" + ip.replace('.', '_');
      String headerCluster = "header_" + ip.replace('.', '_');
      for (String c : List.of(cluster, headerCluster)) {
        clusters.append(
            """
              - name: %s
                type: STATIC
                connect_timeout: 1s
                load_assignment:
                  cluster_name: %s
                  endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } } } ] } ]
            """
                .formatted(c, c, node.port));
      }
      StringBuilder pathRoutes = new StringBuilder();
      for (String key : pathKeys) {
        String runtime =
            key.equals(revocable)
                ? ", runtime_fraction: { default_value: { numerator: 100 }, runtime_key: key_valid }"
                : "";
        pathRoutes
            .append(ROUTE_INDENT)
            .append("- match: { path: \"/v2/%s\"%s }\n".formatted(key, runtime))
            .append(ROUTE_INDENT)
            .append("  route: { cluster: %s, prefix_rewrite: \"/\" }\n".formatted(cluster))
            .append(ROUTE_INDENT)
            .append("- match: { path: \"/ws/%s\"%s }\n".formatted(key, runtime))
            .append(ROUTE_INDENT)
            .append(
                ("  route: { cluster: %s, prefix_rewrite: \"/\","
                        + " upgrade_configs: [ { upgrade_type: websocket } ] }\n")
                    .formatted(cluster));
      }
      StringBuilder headerRoute = new StringBuilder();
      for (String[] h : new String[][] {{"x-api-key", headerKey}, {"authorization", basic}}) {
        headerRoute
            .append(ROUTE_INDENT)
            .append(
                "- match: { prefix: \"/\", headers: [ { name: %s, string_match: { exact: \"%s\" } } ] }\n"
                    .formatted(h[0], h[1]))
            .append(ROUTE_INDENT)
            .append("  route: { cluster: %s }\n".formatted(headerCluster));
      }
      listeners.append(listener(ip, pathPort, pathRoutes.toString(), server));
      listeners.append(listener(ip, headerPort, headerRoute.toString(), server));
    }
    String yaml =
        """
        admin: { address: { socket_address: { address: 127.0.0.1, port_value: %d } } }
        layered_runtime: { layers: [ { name: admin, admin_layer: {} } ] }
        static_resources:
          listeners:
        %s
          clusters:
        %s
        """
            .formatted(admin, listeners, clusters);
    Path sub = dir.resolve("provider");
    try {
      Files.createDirectories(sub);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new HostedProvider(
        ca, pathPort, headerPort, admin, EnvoyProcess.start(sub, yaml, pathPort, admin));
  }

  /** Where a route starts in {@link #listener}'s YAML. */
  private static final String ROUTE_INDENT = " ".repeat(14);

  private static String listener(String ip, int port, String routes, TestCerts.Leaf server) {
    return """
          - name: l_%s_%d
            address: { socket_address: { address: %s, port_value: %d } }
            filter_chains:
            - transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  common_tls_context:
                    tls_certificates: [ { certificate_chain: { filename: "%s" }, private_key: { filename: "%s" } } ]
              filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: provider
                  upgrade_configs: [ { upgrade_type: websocket } ]
                  route_config:
                    virtual_hosts:
                    - name: provider
                      domains: [ "localhost:%d" ]
                      routes:
        %s
                      - match: { prefix: "/" }
                        direct_response: { status: 401, body: { inline_string: '%s' } }
                        response_headers_to_add: [ { header: { key: content-type, value: application/json } } ]
                    - name: wrong_host
                      domains: [ "*" ]
                      routes:
                      - match: { prefix: "/" }
                        direct_response: { status: 421, body: { inline_string: "wrong host" } }
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
        """
        .formatted(
            ip.replace('.', '_'),
            port,
            ip,
            port,
            server.cert(),
            server.key(),
            port,
            routes,
            UNAUTHORIZED);
  }

  /** The provider stops accepting the revocable key (as a provider does when a key is revoked). */
  void revoke() {
    Rpc.post("http://127.0.0.1:" + adminPort + "/runtime_modify?key_valid=0", "");
    Awaitility.await("key revoked")
        .atMost(Duration.ofSeconds(5))
        .until(() -> Rpc.get("http://127.0.0.1:" + adminPort + "/runtime").contains("key_valid"));
  }

  /**
   * Requests the provider passed on to a node ({@code upstream_rq_total}).
   *
   * @param kind {@code path} (key in the path) or {@code header} (key header)
   * @param ip the provider address the request reached: 127.0.0.1 or 127.0.0.2
   */
  long requestsTo(String kind, String ip) {
    String stats = Rpc.get("http://127.0.0.1:" + adminPort + "/stats?filter=upstream_rq_total");
    String prefix = "cluster." + kind + "_" + ip.replace('.', '_') + ".upstream_rq_total: ";
    return stats
        .lines()
        .filter(l -> l.startsWith(prefix))
        .mapToLong(l -> Long.parseLong(l.substring(prefix.length()).trim()))
        .sum();
  }

  @Override
  public void close() {
    envoy.close();
  }
}
