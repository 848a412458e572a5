package io.chainroute.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A "slow node": a plain Envoy (no chainroute) in front of one node, whose HTTP fault filter delays
 * every request by a fixed time while {@link #slow} is on. chainroute is given this proxy's URL as
 * the node's, so its probes and Envoy's traffic both see the delay, as they would see a node on an
 * overloaded host or behind a long link. The delay is switched at run time through Envoy's admin
 * runtime layer ({@code fault.http.delay.fixed_delay_percent}), without restarting anything; it
 * starts off (0 %).
 *
 * <p>Lifecycle: {@link #start}, {@link #close}. One test thread drives it.
 */
final class SlowProxy implements AutoCloseable {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  final int port = Ports.free();
  private final int adminPort = Ports.free();
  private final EnvoyProcess envoy;

  private SlowProxy(Path dir, int nodePort, Duration delay) {
    this.envoy = EnvoyProcess.start(dir, bootstrap(nodePort, delay), port, adminPort);
  }

  /** A proxy in {@code dir} (its envoy.yaml and envoy.log) to the node on {@code nodePort}. */
  static SlowProxy start(Path dir, int nodePort, Duration delay) {
    try {
      return new SlowProxy(Files.createDirectories(dir), nodePort, delay);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  /** As Envoy's {@code %UPSTREAM_HOST%} shows the proxy. */
  String address() {
    return "127.0.0.1:" + port;
  }

  /** Every request waits the configured delay from now on. */
  void slow() {
    runtime("fault.http.delay.fixed_delay_percent=100");
  }

  /** No request waits from now on. */
  void fast() {
    runtime("fault.http.delay.fixed_delay_percent=0");
  }

  /** Requests the fault filter delayed so far. */
  long delayed() {
    String s =
        envoy.admin(
            "/stats?filter="
                + java.net.URLEncoder.encode(
                    "^http\\.slow\\.fault\\.delays_injected$",
                    java.nio.charset.StandardCharsets.UTF_8));
    String[] kv = s.trim().split(": ");
    return kv.length == 2 ? Long.parseLong(kv[1].trim()) : 0;
  }

  private void runtime(String keyValue) {
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + adminPort + "/runtime_modify?" + keyValue))
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .timeout(Duration.ofSeconds(5))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(
            "runtime_modify " + keyValue + ": HTTP " + r.statusCode() + " " + r.body());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private String bootstrap(int nodePort, Duration delay) {
    return """
        admin:
          address: { socket_address: { address: 127.0.0.1, port_value: %d } }
        layered_runtime:
          layers:
            - name: admin
              admin_layer: {}
        static_resources:
          listeners:
            - name: slow
              address: { socket_address: { address: 127.0.0.1, port_value: %d } }
              filter_chains:
                - filters:
                    - name: envoy.filters.network.http_connection_manager
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                        stat_prefix: slow
                        route_config:
                          virtual_hosts:
                            - name: node
                              domains: ["*"]
                              routes:
                                - match: { prefix: "/" }
                                  route: { cluster: node, timeout: 30s }
                        http_filters:
                          - name: envoy.filters.http.fault
                            typed_config:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                              delay:
                                fixed_delay: %s
                                percentage: { numerator: 0, denominator: HUNDRED }
                          - name: envoy.filters.http.router
                            typed_config:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          clusters:
            - name: node
              type: STATIC
              connect_timeout: 1s
              load_assignment:
                cluster_name: node
                endpoints:
                  - lb_endpoints:
                      - endpoint:
                          address: { socket_address: { address: 127.0.0.1, port_value: %d } }
        """
        .formatted(adminPort, port, delay.toMillis() / 1000.0 + "s", nodePort);
  }

  @Override
  public void close() {
    envoy.close();
  }
}
