package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.testing.algodsim.AlgodSimulator;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Through a real Envoy to simulated algod nodes ({@link AlgodSimulator}): what real nodes cannot be
 * made to show in a test's time, every node in fast (catchpoint) catchup when the first request
 * arrives; and archival routing at algod's default history (1000 rounds, from round 5000 at once),
 * which {@link AlgodArchivalIT} shows on real nodes with a shortened history. {@link
 * AlgodRoutingIT}, {@link AlgosdkIT}, {@link AlgodDifferentialIT} and {@link AlgodArchivalIT} run
 * against real nodes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AlgodSimulatorIT {
  private static final Duration ROUND = Duration.ofSeconds(1);
  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private Path dir;
  private List<AlgodSimulator> nodes;
  private AlgodSimulator archive;
  private Sidecar sidecar;
  private EnvoyProcess envoy;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algod-sim-it");
    archive = new AlgodSimulator(0, ROUND, 5000, true, 1000, "token-arc");
    nodes =
        List.of(
            new AlgodSimulator(0, ROUND, 5000, false, 1000, "token-a"),
            new AlgodSimulator(0, ROUND, 5000, false, 1000, "token-b"),
            archive);
    nodes.forEach(n -> n.catchup(true));
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 20s }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true }
        chains:
          - name: algo-sim
            protocol: algorand
            pathPrefix: /algo
            blockTime: 1s
            pollInterval: 200ms
            nodes:
              - { name: a, url: "%s", tokenEnv: TOKEN_A }
              - { name: b, url: "%s", tokenEnv: TOKEN_B }
              - { name: archive, url: "%s", archive: true, tokenEnv: TOKEN_ARC }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                nodes.get(0).url(),
                nodes.get(1).url(),
                archive.url());
    Map<String, String> env =
        Map.of("TOKEN_A", "token-a", "TOKEN_B", "token-b", "TOKEN_ARC", "token-arc");
    ChainrouteConfig config = ConfigLoader.parse(yaml, env::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algod-sim-it", listener, envoyAdmin);
  }

  @AfterAll
  void stop() {
    Ports.closeAll(envoy, sidecar);
    if (nodes != null) {
      nodes.forEach(AlgodSimulator::close);
    }
  }

  private HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(envoy.url(path))).timeout(Duration.ofSeconds(70)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String upstream(HttpResponse<?> r) {
    return r.headers().firstValue("x-chainroute-upstream").orElse("");
  }

  private static String addr(AlgodSimulator s) {
    return "127.0.0.1:" + s.port();
  }

  private static JsonNode parse(String body) {
    try {
      return Rpc.JSON.readTree(body);
    } catch (Exception e) {
      throw new AssertionError("not JSON: " + body, e);
    }
  }

  private long lastRound() throws Exception {
    return parse(get("/algo/v2/status").body()).get("last-round").asLong();
  }

  @Test
  @Order(1)
  void aRequestSentWhileEveryNodeIsInFastCatchupSucceedsOnceOneIsDone() throws Exception {
    long sent = System.nanoTime();
    CompletableFuture<HttpResponse<String>> early =
        HTTP.sendAsync(
            HttpRequest.newBuilder(URI.create(envoy.url("/algo/v2/status")))
                .timeout(Duration.ofSeconds(30))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    await("held while every node is in fast catchup")
        .during(Duration.ofMillis(1500))
        .atMost(Duration.ofSeconds(3))
        .until(() -> !early.isDone());
    nodes.forEach(n -> n.catchup(false));
    HttpResponse<String> r = early.get(20, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(parse(r.body()).path("catchpoint").asText("")).isEmpty();
    assertThat(Duration.ofNanos(System.nanoTime() - sent)).isGreaterThan(Duration.ofMillis(1500));
  }

  @Test
  @Order(2)
  void anOldBlockComesFromTheArchivalNode() throws Exception {
    long now = lastRound();
    AlgodSimulator a = nodes.get(0);
    HttpResponse<String> direct =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(a.url() + "/v2/blocks/" + (now - 1500)))
                .header("X-Algo-API-Token", "token-a")
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(direct.statusCode()).isEqualTo(404);

    HttpResponse<String> old = get("/algo/v2/blocks/" + (now - 1500));
    assertThat(old.statusCode()).as(old.body()).isEqualTo(200);
    assertThat(upstream(old)).isEqualTo(addr(archive));
    assertThat(parse(old.body()).get("block").get("rnd").asLong()).isEqualTo(now - 1500);

    HttpResponse<String> recent = get("/algo/v2/blocks/" + (now - 5));
    assertThat(recent.statusCode()).isEqualTo(200);
    assertThat(upstream(recent)).isIn(addr(a), addr(nodes.get(1)));
  }

  @Test
  @Order(3)
  void withTheArchivalNodeDownTheClientSeesAlgodsOwn404() throws Exception {
    archive.close();
    await("archival node out")
        .atMost(Duration.ofSeconds(10))
        .until(() -> !envoy.admin("/clusters").contains("algo-sim-archive::" + addr(archive)));
    long now = lastRound();
    HttpResponse<String> old = get("/algo/v2/blocks/" + (now - 1500));
    assertThat(old.statusCode()).isEqualTo(404);
    assertThat(old.body())
        .isEqualTo("{\"message\":\"failed to retrieve information from the ledger\"}\n");
  }
}
