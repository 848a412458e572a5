package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.algorand.algosdk.v2.client.common.AlgodClient;
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
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * algod through a real Envoy: three simulated algod nodes (one archival, each with its own API
 * token: two by the {@code tokenEnv} shorthand, one by an explicit {@code headers:} entry; a node
 * given another node's token answers 401), chainroute in this JVM with its real gRPC servers. Tests
 * run in order; later ones stop nodes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AlgodRoutingIT {
  private static final Duration ROUND = Duration.ofSeconds(1);
  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private Path dir;
  private AlgodSimulator a;
  private AlgodSimulator b;
  private AlgodSimulator archive;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private int adminGrpcPort;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algod-it");
    a = new AlgodSimulator(0, ROUND, 5000, false, 1000, "token-a");
    b = new AlgodSimulator(0, ROUND, 5000, false, 1000, "token-b");
    archive = new AlgodSimulator(0, ROUND, 5000, true, 1000, "token-arc");
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    adminGrpcPort = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 20s }
        # 1000 connections opening at once on a 2-core CI machine (Envoy, this JVM and the client)
        # can delay an ext_proc answer past the 500 ms default; Envoy would then fail open.
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true, messageTimeout: 3s }
        chains:
          - name: algo-it
            protocol: algorand
            pathPrefix: /algo
            blockTime: 1s
            pollInterval: 200ms
            nodes:
              - { name: a, url: "%s", tokenEnv: TOKEN_A }
              # The explicit form of what tokenEnv is shorthand for.
              - { name: b, url: "%s", headers: { X-Algo-API-Token: { env: TOKEN_B } } }
              - { name: archive, url: "%s", archive: true, tokenEnv: TOKEN_ARC }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                adminGrpcPort,
                listener,
                envoyAdmin,
                a.url(),
                b.url(),
                archive.url());
    Map<String, String> env =
        Map.of("TOKEN_A", "token-a", "TOKEN_B", "token-b", "TOKEN_ARC", "token-arc");
    ChainrouteConfig config = ConfigLoader.parse(yaml, env::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algod-it", listener, envoyAdmin);
    await("algod requests flow")
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              HttpResponse<String> r = get("/algo/v2/status");
              assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            });
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar, a, b, archive}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
  }

  private HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(URI.create(envoy.url(path))).timeout(Duration.ofSeconds(70));
    for (int i = 0; i < headers.length; i += 2) {
      r.header(headers[i], headers[i + 1]);
    }
    return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String upstream(HttpResponse<?> r) {
    return r.headers().firstValue("x-chainroute-upstream").orElse("");
  }

  private static String addr(AlgodSimulator s) {
    return "127.0.0.1:" + s.port();
  }

  private static long lastRound(HttpResponse<String> r) {
    return Rpc.JSON.valueToTree(parse(r.body())).get("last-round").asLong();
  }

  private static JsonNode parse(String body) {
    try {
      return Rpc.JSON.readTree(body);
    } catch (Exception e) {
      throw new AssertionError("not JSON: " + body, e);
    }
  }

  @Test
  @Order(1)
  void eachNodeGetsItsOwnTokenAndTheClientsTokenIsNotForwarded() throws Exception {
    Set<String> upstreams = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      HttpResponse<String> r = get("/algo/v2/status", "X-Algo-API-Token", "the-clients-own-token");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      upstreams.add(upstream(r));
    }
    assertThat(upstreams).isSubsetOf(addr(a), addr(b), addr(archive)).hasSizeGreaterThan(1);
  }

  @Test
  @Order(2)
  void waitForBlockAfterIsAnsweredByChainrouteWhenTheFirstNodeReachesTheRound() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    long start = System.nanoTime();
    HttpResponse<String> r = get("/algo/v2/status/wait-for-block-after/" + now);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(lastRound(r)).isGreaterThan(now);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(ROUND.multipliedBy(3));
    // An old round is answered at once.
    HttpResponse<String> old = get("/algo/v2/status/wait-for-block-after/10");
    assertThat(lastRound(old)).isGreaterThan(10);
  }

  @Test
  @Order(3)
  void invalidRoundsGetAlgodsExact400() throws Exception {
    HttpResponse<String> abc = get("/algo/v2/status/wait-for-block-after/abc");
    assertThat(abc.statusCode()).isEqualTo(400);
    assertThat(abc.body())
        .isEqualTo(
            "{\"message\":\"Invalid format for parameter round: error binding string parameter: strconv.ParseUint: parsing \\\"abc\\\": invalid syntax\"}");
    HttpResponse<String> big = get("/algo/v2/status/wait-for-block-after/18446744073709551616");
    assertThat(big.statusCode()).isEqualTo(400);
    assertThat(big.body()).endsWith("value out of range\"}");
    // chainroute answers these itself; the simulator writes algod's bytes independently.
    for (String round :
        new String[] {
          "abc", "-1", "1.5", "18446744073709551616", "%3C", "a%22b", "%C3%A9", "%31%30x"
        }) {
      String path = "/v2/status/wait-for-block-after/" + round;
      HttpResponse<String> direct =
          HTTP.send(
              HttpRequest.newBuilder(URI.create(a.url() + path))
                  .header("X-Algo-API-Token", "token-a")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> routed = get("/algo" + path);
      assertThat(routed.body()).as(round).isEqualTo(direct.body());
      assertThat(routed.statusCode()).as(round).isEqualTo(direct.statusCode());
    }
  }

  @Test
  @Order(4)
  void algosdkWithAPathPrefixInItsBaseUrlReachesTheChainUnderIt() throws Exception {
    // The Java algosdk keeps the path of the URL it is given and appends its own.
    AlgodClient client =
        new AlgodClient("http://127.0.0.1/algo", envoy.listenerPort, "the-clients-token");
    var status = client.GetStatus().execute();
    assertThat(status.isSuccessful()).as(status.message()).isTrue();
    assertThat(status.body().lastRound).isGreaterThan(5000);
    // versionsCheck() and genesis() in algosdk: /versions and /genesis, which need no token.
    var version = client.GetVersion().execute();
    assertThat(version.isSuccessful()).as(version.message()).isTrue();
    assertThat(version.body().genesis_id).isEqualTo(AlgodSimulator.GENESIS_ID);
    HttpResponse<String> genesis = get("/algo/genesis");
    assertThat(genesis.statusCode()).as(genesis.body()).isEqualTo(200);
    assertThat(parse(genesis.body()).get("network").asText()).isEqualTo("sim");
  }

  @Test
  @Order(5)
  void aThousandConcurrentWaitsAreHeldAndAllAnswered() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<CompletableFuture<HttpResponse<String>>> waits = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      if (i % 100 == 99) {
        // Open the 1000 connections over about a second, not in one burst: on 2 cores a burst of
        // new connections can exceed ext_proc's 500 ms message timeout before the hold starts.
        Thread.sleep(100);
      }
      waits.add(
          client.sendAsync(
              HttpRequest.newBuilder(
                      URI.create(envoy.url("/algo/v2/status/wait-for-block-after/" + (now + 2))))
                  .timeout(Duration.ofSeconds(60))
                  .build(),
              HttpResponse.BodyHandlers.ofString()));
    }
    CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new))
        .get(60, java.util.concurrent.TimeUnit.SECONDS);
    for (CompletableFuture<HttpResponse<String>> w : waits) {
      HttpResponse<String> r = w.get();
      assertThat(r.statusCode()).as(r.body() + " " + r.headers().map()).isEqualTo(200);
      assertThat(lastRound(r)).isGreaterThan(now + 2);
      // Answered by chainroute itself (an ImmediateResponse), not by a node.
      assertThat(upstream(r))
          .as("upstream (Envoy: %s)", envoy.admin("/stats?filter=ext_proc"))
          .isIn("", "-");
    }
    // They were held on the hold cluster, not on the one that bounds ordinary requests.
    assertThat(stat("cluster.chainroute_extproc_hold.upstream_rq_total"))
        .isGreaterThanOrEqualTo(1000);
    assertThat(stat("cluster.chainroute_extproc.upstream_rq_total")).isLessThan(1000);
  }

  private long stat(String name) {
    String regex = "^" + name.replace(".", "[.]") + "$";
    String line =
        envoy
            .admin(
                "/stats?filter="
                    + java.net.URLEncoder.encode(regex, java.nio.charset.StandardCharsets.UTF_8))
            .trim();
    return line.isEmpty() ? 0 : Long.parseLong(line.substring(line.lastIndexOf(' ') + 1));
  }

  @Test
  @Order(6)
  void anOldBlockComesFromTheArchivalNode() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
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
    assertThat(upstream(recent)).isIn(addr(a), addr(b));
  }

  @Test
  @Order(7)
  void aStalledNodeStopsReceivingRequestsWithinOneRoundPlusOneSecond() throws Exception {
    b.stall();
    long stalledAt = System.nanoTime();
    Duration bound = ROUND.plusSeconds(1);
    List<String> late = new ArrayList<>();
    while (System.nanoTime() - stalledAt < bound.multipliedBy(3).toNanos()) {
      HttpResponse<String> r = get("/algo/v2/status");
      assertThat(r.statusCode()).isEqualTo(200);
      if (System.nanoTime() - stalledAt > bound.toNanos() && upstream(r).equals(addr(b))) {
        late.add(r.body());
      }
    }
    assertThat(late).as("requests that reached the stalled node after %s", bound).isEmpty();
    b.advanceTo(a.round());
    b.resume();
  }

  @Test
  @Order(8)
  void aDrainedNodeGetsNoNewRequestsAndUndrainRestoresItWithoutFailedRequests() throws Exception {
    io.grpc.ManagedChannel channel =
        io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", adminGrpcPort).usePlaintext().build();
    try {
      var admin = io.chainroute.admin.v1.AdminServiceGrpc.newBlockingStub(channel);
      var request =
          io.chainroute.admin.v1.DrainNodeRequest.newBuilder()
              .setChain("algo-it")
              .setNode("a")
              .build();
      assertThat(admin.drainNode(request).getHealth())
          .isEqualTo(io.chainroute.admin.v1.Health.HEALTH_DRAINED);
      await("Envoy drops the drained node")
          .atMost(Duration.ofSeconds(5))
          .until(() -> !envoy.admin("/clusters").contains("algo-it-head::" + addr(a)));
      for (int i = 0; i < 30; i++) {
        HttpResponse<String> r = get("/algo/v2/status");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(upstream(r)).isNotEqualTo(addr(a));
      }
      assertThat(admin.undrainNode(request).getHealth())
          .isNotEqualTo(io.chainroute.admin.v1.Health.HEALTH_DRAINED);
      await("undrained node serves again")
          .atMost(Duration.ofSeconds(10))
          .until(() -> upstream(get("/algo/v2/status")).equals(addr(a)));
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  @Order(9)
  void withTheArchivalNodeDownTheClientSeesAlgodsOwn404() throws Exception {
    archive.close();
    await("archival node out")
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                !Rpc.get("http://127.0.0.1:" + envoy.adminPort + "/clusters")
                    .contains("algo-it-archive::" + addr(archive)));
    long now = lastRound(get("/algo/v2/status"));
    HttpResponse<String> old = get("/algo/v2/blocks/" + (now - 1500));
    assertThat(old.statusCode()).isEqualTo(404);
    assertThat(old.body())
        .isEqualTo("{\"message\":\"failed to retrieve information from the ledger\"}");
  }

  @Test
  @Order(10)
  void onShutdownAHeldWaitGetsAlgodsShutdownAnswer() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    CompletableFuture<HttpResponse<String>> wait =
        HTTP.sendAsync(
            HttpRequest.newBuilder(
                    URI.create(envoy.url("/algo/v2/status/wait-for-block-after/" + (now + 1000))))
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    await("held")
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(2))
        .until(() -> !wait.isDone());
    long start = System.nanoTime();
    sidecar.close();
    HttpResponse<String> r = wait.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body())
        .isEqualTo("{\"message\":\"operation aborted as server is shutting down\"}");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }
}
