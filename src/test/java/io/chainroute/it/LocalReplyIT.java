package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.testing.algodsim.AlgodSimulator;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Envoy's own replies (not chainroute's) in the chain's protocol, with a real Envoy: an EVM chain
 * on a real anvil, an algod chain on a simulated algod, and a chain whose only node never answered.
 * The 413 comes while chainroute runs (its body buffering is on); the rest after chainroute and the
 * nodes are gone, so Envoy answers from the endpoints it last had.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalReplyIT {
  private static final int MAX_BODY = 16 * 1024;
  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(2))
          .build();

  private Path dir;
  private AnvilProcess anvil;
  private AlgodSimulator algod;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private String yaml;

  @BeforeAll
  void start() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-local-reply-it");
    anvil = AnvilProcess.start(dir, "lr", null);
    algod = new AlgodSimulator(0, Duration.ofSeconds(1), 5000, false, 1000, "");
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 0ms, maxRequestBytes: %d }
        envoy: { listenerPort: %d, adminPort: %d }
        chains:
          - { name: eth-lr, protocol: evm, pathPrefix: /eth, pollInterval: 100ms, blockTime: 1s, probeTimeout: 500ms, nodes: [ { name: n, url: "%s" } ] }
          - { name: algo-lr, protocol: algorand, pathPrefix: /algo, pollInterval: 100ms, blockTime: 1s, nodes: [ { name: a, url: "%s" } ] }
          - { name: gone, protocol: evm, pathPrefix: /gone, pollInterval: 100ms, probeTimeout: 200ms, nodes: [ { name: g, url: "http://127.0.0.1:%d" } ] }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                MAX_BODY,
                listener,
                envoyAdmin,
                anvil.url(),
                algod.url(),
                Ports.free());
    ChainrouteConfig config = ConfigLoader.parse(yaml);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "local-reply-it", listener, envoyAdmin);
    await("both chains served through Envoy")
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                send("POST", "/eth", Rpc.call("eth_blockNumber", "[]")).statusCode() == 200
                    && send("GET", "/algo/v2/status", null).statusCode() == 200);
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar, anvil, algod}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  private HttpResponse<String> send(String method, String path, String body) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(envoy.url(path))).timeout(Duration.ofSeconds(10));
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("content-type", "application/json");
    }
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A JSON-RPC error object as Envoy rendered it: content type, null id, code, message. */
  private static JsonNode jsonRpcError(HttpResponse<String> r, int status, int code) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
    JsonNode j = new Rpc.Reply(r.statusCode(), "", r.body()).json();
    assertThat(j.get("jsonrpc").asText()).isEqualTo("2.0");
    assertThat(j.has("id")).isTrue();
    assertThat(j.get("id").isNull()).isTrue();
    assertThat(j.get("error").get("code").asInt()).as(r.body()).isEqualTo(code);
    assertThat(r.body()).doesNotContain("127.0.0.1");
    return j.get("error");
  }

  @Test
  @Order(1)
  void aBodyAboveTheLimitGetsAJsonRpcLimitExceededError() throws Exception {
    String big = Rpc.call("eth_call", "[\"" + "a".repeat(2 * MAX_BODY) + "\"]");
    JsonNode error = jsonRpcError(send("POST", "/eth", big), 413, -32005);
    assertThat(error.get("message").asText())
        .isEqualTo("request body larger than " + MAX_BODY + " bytes for chain 'eth-lr'");
    // chainroute's own answer for a chain without a usable node passes unchanged (id echoed).
    HttpResponse<String> own = send("POST", "/gone", Rpc.call("eth_blockNumber", "[]"));
    assertThat(own.statusCode()).isEqualTo(503);
    JsonNode ownJson = Rpc.JSON.readTree(own.body());
    assertThat(ownJson.get("id").asInt()).as(own.body()).isEqualTo(1);
    assertThat(ownJson.get("error").get("message").asText())
        .contains("no synced node available for chain 'gone'");
  }

  @Test
  @Order(2)
  void aBurstAboveTheRateLimitGetsFast429sWithAJsonRpcLimitExceededError() throws Exception {
    // A second Envoy on the same chainroute, limited to 5 requests/s (bucket of 5).
    int listener = Ports.free();
    int admin = Ports.free();
    String limited =
        yaml.replaceFirst(
            "envoy: \\{ listenerPort: \\d+, adminPort: \\d+ \\}",
            "envoy: { listenerPort: "
                + listener
                + ", adminPort: "
                + admin
                + ", maxRequestsPerSecond: 5 }");
    Path sub = Files.createDirectories(dir.resolve("rate-limited"));
    try (EnvoyProcess rl =
        EnvoyProcess.start(
            sub, ConfigLoader.parse(limited), "local-reply-it-rl", listener, admin)) {
      HttpRequest call =
          HttpRequest.newBuilder(URI.create(rl.url("/eth")))
              .timeout(Duration.ofSeconds(10))
              .header("content-type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(Rpc.call("eth_blockNumber", "[]")))
              .build();
      await("the rate-limited Envoy serves the chain")
          .atMost(Duration.ofSeconds(15))
          .pollInterval(Duration.ofMillis(300))
          .until(() -> HTTP.send(call, HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
      Thread.sleep(1100); // a full bucket: the burst below is what the limit sees
      long streamsBefore = stat(rl, "http.rpc.ext_proc.streams_started");

      java.util.List<java.util.concurrent.CompletableFuture<long[]>> sent =
          new java.util.ArrayList<>();
      java.util.List<HttpResponse<String>> replies =
          java.util.Collections.synchronizedList(new java.util.ArrayList<>());
      for (int i = 0; i < 50; i++) {
        long t0 = System.nanoTime();
        sent.add(
            HTTP.sendAsync(call, HttpResponse.BodyHandlers.ofString())
                .thenApply(
                    r -> {
                      replies.add(r);
                      return new long[] {r.statusCode(), (System.nanoTime() - t0) / 1_000_000};
                    }));
      }
      java.util.concurrent.CompletableFuture.allOf(
              sent.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
          .get(20, java.util.concurrent.TimeUnit.SECONDS);
      long ok = replies.stream().filter(r -> r.statusCode() == 200).count();
      java.util.List<HttpResponse<String>> refused =
          replies.stream().filter(r -> r.statusCode() == 429).toList();
      assertThat(ok + refused.size()).as("every reply is 200 or 429").isEqualTo(50);
      assertThat(ok).as("the bucket's 5 tokens (plus refills) are served").isBetween(1L, 20L);
      assertThat(refused).hasSizeGreaterThanOrEqualTo(30);
      JsonNode error = jsonRpcError(refused.get(0), 429, -32005);
      assertThat(error.get("message").asText())
          .isEqualTo("request rate above the limit for chain 'eth-lr', retry later");
      assertThat(refused.get(0).headers().firstValue("retry-after")).hasValue("1");
      assertThat(
              sent.stream()
                  .map(f -> f.join())
                  .filter(x -> x[0] == 429)
                  .mapToLong(x -> x[1])
                  .max()
                  .orElseThrow())
          .as("ms until the slowest 429")
          .isLessThan(2000);
      assertThat(rl.admin("/stats?filter=rate_limited"))
          .contains("chainroute_rate_limit.http_local_rate_limit.rate_limited: " + refused.size());
      // Refused before ext_proc: chainroute never saw those requests.
      assertThat(stat(rl, "http.rpc.ext_proc.streams_started") - streamsBefore).isEqualTo(ok);
    }
  }

  private static long stat(EnvoyProcess e, String name) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("(?m)^" + java.util.regex.Pattern.quote(name) + ": (\\d+)$")
            .matcher(e.admin("/stats?filter=" + name));
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  @Test
  @Order(3)
  void withChainrouteAndTheNodesGoneEnvoysRepliesAreInEachChainsProtocol() throws Exception {
    sidecar.close();
    anvil.close();
    algod.close();

    // EVM: every connect attempt to the last known node failed (after the prefix rewrite).
    JsonNode eth =
        jsonRpcError(send("POST", "/eth", Rpc.call("eth_blockNumber", "[]")), 503, -32002);
    assertThat(eth.get("message").asText())
        .isEqualTo("no node could be reached for chain 'eth-lr' (connection failed or reset)");

    // algod: algod's own error shape, no JSON-RPC framing, byte for byte (its final newline).
    HttpResponse<String> algo = send("GET", "/algo/v2/status", null);
    assertThat(algo.statusCode()).as(algo.body()).isEqualTo(503);
    assertThat(algo.headers().firstValue("content-type")).hasValue("application/json");
    assertThat(algo.body())
        .isEqualTo(
            "{\"message\":\"no node could be reached for chain 'algo-lr' (connection failed or"
                + " reset)\"}\n");

    // A chain whose cluster never had an endpoint: Envoy's "no healthy upstream".
    JsonNode gone =
        jsonRpcError(send("POST", "/gone", Rpc.call("eth_blockNumber", "[]")), 503, -32002);
    assertThat(gone.get("message").asText()).isEqualTo("no node available for chain 'gone'");

    assertThat(envoy.admin("/stats?filter=upstream_cx_connect_fail"))
        .contains("cluster.eth-lr-head.upstream_cx_connect_fail: 3");
  }
}
