package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.testing.FakeNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Node headers from the environment through a real Envoy: three loopback EVM nodes that record
 * every request, one with an {@code Authorization} value, one with an {@code x-api-key}, one with
 * none; chainroute in this JVM with its log captured. Each node gets its own header and no other
 * node's, the client's copies of those headers never reach a node, and no value appears in the log,
 * on /status, or in Envoy's log.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeHeadersIT {
  private static final String AUTH_ONE = "Bearer one-s3cret-8c1d";
  private static final String KEY_TWO = "two-s3cret-41be";
  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private Path dir;
  private FakeNode one;
  private FakeNode two;
  private FakeNode plain;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private int adminHttpPort;
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();
  private PrintStream realErr;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    // chainroute logs through slf4j-simple to System.err: keep it visible and keep a copy.
    realErr = System.err;
    System.setErr(new PrintStream(new Tee(realErr, log), true, StandardCharsets.UTF_8));
    dir = Files.createTempDirectory("chainroute-node-headers-it");
    one = FakeNode.start();
    two = FakeNode.start();
    plain = FakeNode.start();
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    adminHttpPort = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true }
        chains:
          - name: prov
            protocol: evm
            pathPrefix: /eth
            pollInterval: 100ms
            blockTime: 1s
            probeTimeout: 500ms
            nodes:
              - { name: one, url: "%s", headers: { Authorization: { env: ONE_AUTH } } }
              - { name: two, url: "%s", headers: { X-API-Key: { env: TWO_KEY } } }
              - { name: plain, url: "%s" }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                adminHttpPort,
                Ports.free(),
                listener,
                envoyAdmin,
                one.url(),
                two.url(),
                plain.url());
    Map<String, String> env = Map.of("ONE_AUTH", AUTH_ONE, "TWO_KEY", KEY_TWO);
    ChainrouteConfig config = ConfigLoader.parse(yaml, env::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "node-headers-it", listener, envoyAdmin);
    await("all three nodes are in Envoy's head pool")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              String clusters = envoy.admin("/clusters");
              return List.of(one, two, plain).stream()
                  .allMatch(n -> clusters.contains("prov-head::127.0.0.1:" + n.port() + "::"));
            });
  }

  @AfterAll
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar, one, two, plain}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing
      }
    }
    if (realErr != null) {
      System.setErr(realErr);
    }
  }

  private HttpResponse<String> call(int id) throws Exception {
    return post("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"eth_chainId\"}");
  }

  private HttpResponse<String> post(String body) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(envoy.url("/eth")))
            .header("content-type", "application/json")
            // The client's own credentials: never forwarded where chainroute sets node headers.
            .header("Authorization", "Bearer the-clients-own")
            .header("X-API-Key", "the-clients-key")
            .timeout(Duration.ofSeconds(10))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The client calls (not chainroute's probes) a node received. */
  private static List<FakeNode.Seen> calls(FakeNode n) {
    Predicate<FakeNode.Seen> client = s -> s.body().contains("eth_chainId");
    return n.requests().stream().filter(client).toList();
  }

  @Test
  void eachNodeGetsItsOwnHeaderOnlyAndNoValueIsLoggedOrShown() throws Exception {
    // Least-request over three healthy nodes: keep calling until each node has had some.
    await("every node served client calls")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              HttpResponse<String> r = call(7);
              assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
              assertThat(r.body()).contains("\"id\":7");
              return List.of(one, two, plain).stream().allMatch(n -> calls(n).size() >= 3);
            });

    for (FakeNode.Seen s : calls(one)) {
      assertThat(s.headers())
          .containsEntry("authorization", AUTH_ONE)
          .doesNotContainKey("x-api-key");
    }
    for (FakeNode.Seen s : calls(two)) {
      assertThat(s.headers())
          .containsEntry("x-api-key", KEY_TWO)
          .doesNotContainKey("authorization");
    }
    for (FakeNode.Seen s : calls(plain)) {
      assertThat(s.headers()).doesNotContainKeys("authorization", "x-api-key");
    }
    // chainroute's own probes carry the same headers.
    assertThat(one.requests())
        .filteredOn(s -> s.body().contains("eth_syncing"))
        .isNotEmpty()
        .allSatisfy(s -> assertThat(s.headers()).containsEntry("authorization", AUTH_ONE));

    String status = Rpc.get("http://127.0.0.1:" + adminHttpPort + "/status");
    assertThat(status).contains("\"one\"").doesNotContain("one-s3cret", "two-s3cret");
    assertThat(log.toString(StandardCharsets.UTF_8))
        .as("chainroute's log")
        .contains("chainroute started")
        .doesNotContain("one-s3cret", "two-s3cret");
    assertThat(Files.readString(dir.resolve("envoy.log")))
        .as("Envoy's log")
        .doesNotContain("one-s3cret", "two-s3cret");
  }

  private HttpResponse<String> send(String method, String params) throws Exception {
    return post(
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"" + method + "\",\"params\":" + params + "}");
  }

  @Test
  void transactionsChainrouteSendsItselfAndCallsOnAFilterCarryEachNodesOwnHeaderOnly()
      throws Exception {
    HttpResponse<String> tx = send("eth_sendRawTransaction", "[\"0x02f8\"]");
    assertThat(tx.statusCode()).isEqualTo(200);
    assertThat(tx.body()).contains("\"id\":9").contains("\"result\":\"0x1\"");
    Predicate<FakeNode.Seen> isTx = s -> s.body().contains("eth_sendRawTransaction");
    // Every node of the head pool got it once, from chainroute, with its own header only.
    for (FakeNode n : List.of(one, two, plain)) {
      assertThat(n.requests())
          .filteredOn(isTx)
          .hasSize(1)
          .allSatisfy(seen -> ownHeadersOnly(n, seen));
    }

    // A filter: created on one node by chainroute, polled on that node through Envoy.
    String id = Rpc.JSON.readTree(send("eth_newBlockFilter", "[]").body()).get("result").asText();
    assertThat(id).startsWith("0x1").hasSize(3 + io.chainroute.chain.NodeTag.LENGTH);
    String tag = id.substring(3);
    FakeNode holder = null;
    String holderName = null;
    for (Map.Entry<String, FakeNode> e :
        Map.of("one", one, "two", two, "plain", plain).entrySet()) {
      if (io.chainroute.chain.NodeTag.of(e.getKey()).equals(tag)) {
        holder = e.getValue();
        holderName = e.getKey();
      }
    }
    assertThat(holder).as("the id names a node").isNotNull();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = send("eth_getFilterChanges", "[\"" + id + "\"]");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("\"id\":9");
    }
    Predicate<FakeNode.Seen> isPoll = s -> s.body().contains("eth_getFilterChanges");
    assertThat(holder.requests())
        .filteredOn(isPoll)
        .as("all polls on %s, with its own id", holderName)
        .hasSize(5)
        .allSatisfy(s -> assertThat(s.body()).contains("[\"0x1\"]"));
    for (FakeNode n : List.of(one, two, plain)) {
      if (n != holder) {
        assertThat(n.requests()).filteredOn(isPoll).isEmpty();
      }
    }
    FakeNode.Seen poll = holder.requests().stream().filter(isPoll).findFirst().orElseThrow();
    ownHeadersOnly(holder, poll);
  }

  /** {@code n}'s configured header and no other node's, and never the client's. */
  private void ownHeadersOnly(FakeNode n, FakeNode.Seen seen) {
    Map<String, String> h = seen.headers();
    if (n == one) {
      assertThat(h).containsEntry("authorization", AUTH_ONE).doesNotContainKey("x-api-key");
    } else if (n == two) {
      assertThat(h).containsEntry("x-api-key", KEY_TWO).doesNotContainKey("authorization");
    } else {
      assertThat(h).doesNotContainKeys("authorization", "x-api-key");
    }
  }
}
