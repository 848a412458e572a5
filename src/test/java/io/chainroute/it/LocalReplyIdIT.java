package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Envoy's own error replies echo the request's JSON-RPC id, byte for byte, when chainroute routed
 * the request: a real Envoy, chainroute, and a node that answers chainroute's head probes (so it
 * stays in the pool) but drops the connection on every other call, so every attempt Envoy makes
 * fails and Envoy answers the client itself.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LocalReplyIdIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private HttpServer node;
  private final AtomicInteger dropped = new AtomicInteger();
  private Sidecar sidecar;
  private EnvoyProcess envoy;

  @BeforeAll
  void start() throws IOException {
    RealBinaries.envoy();
    Path dir = Files.createTempDirectory("chainroute-local-reply-id-it");
    node = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    node.createContext(
        "/",
        exchange -> {
          String body =
              new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
          if (body.contains("eth_syncing")) {
            byte[] out =
                "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x10\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":false}]"
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, out.length);
            try (OutputStream o = exchange.getResponseBody()) {
              o.write(out);
            }
            return;
          }
          // Anything a client sends: the connection is dropped before a response (a node that
          // crashes on the call). Envoy retries it on the (only) node, then answers itself.
          dropped.incrementAndGet();
          exchange.close();
        });
    node.start();
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms }
        envoy: { listenerPort: %d, adminPort: %d }
        chains:
          - { name: eth-id, protocol: evm, pathPrefix: /eth, pollInterval: 100ms, blockTime: 1s, probeTimeout: 500ms, nodes: [ { name: n, url: "http://127.0.0.1:%d" } ] }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                node.getAddress().getPort());
    ChainrouteConfig config = ConfigLoader.parse(yaml);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "local-reply-id-it", listener, envoyAdmin);
    await("the node is in Envoy's head pool")
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                envoy
                    .admin("/clusters")
                    .contains("eth-id-head::127.0.0.1:" + node.getAddress().getPort()));
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
    if (node != null) {
      node.stop(0);
    }
  }

  private HttpResponse<String> post(String body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(envoy.url("/eth")))
            .header("content-type", "application/json")
            .timeout(Duration.ofSeconds(20))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void envoysOwnErrorRepliesEchoTheRequestsIdAndAreNullOnlyWhereThereIsNone() throws Exception {
    HttpResponse<String> text =
        post(
            "{\"jsonrpc\":\"2.0\",\"id\":\"req-\\\"7\",\"method\":\"eth_getBalance\",\"params\":[\"0x0000000000000000000000000000000000000001\",\"latest\"]}");
    assertThat(text.statusCode()).as(text.body()).isEqualTo(503);
    assertThat(text.headers().firstValue("content-type")).hasValue("application/json");
    JsonNode t = JSON.readTree(text.body());
    assertThat(t.get("id").asText()).isEqualTo("req-\"7");
    assertThat(t.get("error").get("code").asInt()).isEqualTo(-32002);
    assertThat(t.get("error").get("message").asText())
        .contains("'eth-id'")
        .doesNotContain("127.0.0.1");

    JsonNode number =
        JSON.readTree(
            post("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"eth_chainId\",\"params\":[]}")
                .body());
    assertThat(number.get("id").isInt()).isTrue();
    assertThat(number.get("id").asInt()).isEqualTo(42);

    // A batch has no one id to echo: one error object with id null (JSON-RPC 2.0 section 5).
    JsonNode batch =
        JSON.readTree(
            post("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_chainId\"}]")
                .body());
    assertThat(batch.get("id").isNull()).isTrue();
    assertThat(dropped.get()).as("Envoy really tried the node").isGreaterThanOrEqualTo(3);
  }
}
