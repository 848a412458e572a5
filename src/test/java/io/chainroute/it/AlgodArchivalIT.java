package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Archival routing on real algod nodes: a private network ({@link AlgodNet}) whose consensus
 * protocol keeps a short history and makes a round about every {@link #ROUND} ({@link
 * AlgodNet#startWithShortHistory}), so that the relay and the follower, both non-archival, really
 * delete old blocks within seconds while the archive keeps every one. Then old blocks through Envoy
 * + chainroute come from the archive, and with the archive stopped the client gets the 404 algod
 * itself answers for a block it does not have. Tests run in order: the second stops the archive.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AlgodArchivalIT {
  private static final Duration ROUND = Duration.ofMillis(500);

  /**
   * Below what a non-archival node keeps on this network (about 30 rounds), so chainroute sends a
   * block to the archive before the others delete it.
   */
  private static final int FULL_NODE_BLOCKS = 10;

  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private Path dir;
  private AlgodNet net;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private long networkStarted;
  private long networkUpMillis;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algod-archival-it");
    networkStarted = System.nanoTime();
    net = AlgodNet.startWithShortHistory(dir, ROUND);
    networkUpMillis = millisSince(networkStarted);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 20s }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true, messageTimeout: 3s }
        chains:
          - name: algo-arc
            protocol: algorand
            pathPrefix: /algo
            blockTime: 1s
            pollInterval: 200ms
            probeTimeout: 1s
            fullNodeStateBlocks: %d
            nodes:
              - { name: relay, url: "%s", tokenEnv: TOKEN_RELAY }
              - { name: follower, url: "%s", tokenEnv: TOKEN_FOLLOWER }
              - { name: archive, url: "%s", archive: true, tokenEnv: TOKEN_ARCHIVE }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                FULL_NODE_BLOCKS,
                net.relay().url(),
                net.follower().url(),
                net.archive().url());
    Map<String, String> env =
        Map.of(
            "TOKEN_RELAY", net.relay().token(),
            "TOKEN_FOLLOWER", net.follower().token(),
            "TOKEN_ARCHIVE", net.archive().token());
    ChainrouteConfig config = ConfigLoader.parse(yaml, env::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algod-archival-it", listener, envoyAdmin);
    await("the archive in Envoy's archive pool and a status through Envoy")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () ->
                envoy.admin("/clusters").contains("algo-arc-archive::" + net.archive().address())
                    && get("/algo/v2/status").statusCode() == 200);
  }

  @AfterAll
  void stop() {
    Ports.closeAll(envoy, sidecar, net);
  }

  private static long millisSince(long nanos) {
    return (System.nanoTime() - nanos) / 1_000_000;
  }

  private HttpResponse<byte[]> get(String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(envoy.url(path))).timeout(Duration.ofSeconds(70)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String upstream(HttpResponse<?> r) {
    return r.headers().firstValue("x-chainroute-upstream").orElse("");
  }

  private static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  @Test
  @Order(1)
  void blocksTheNonArchivalNodesDeletedComeFromTheArchive() throws Exception {
    // Block 1 leaves both non-archival nodes once the chain is past their history.
    await("block 1 deleted by the relay and the follower")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () ->
                net.relay().get("/v2/blocks/1").statusCode() == 404
                    && net.follower().get("/v2/blocks/1").statusCode() == 404);
    long goneAfter = millisSince(networkStarted);
    long goneAt = net.relay().lastRound();
    HttpResponse<byte[]> fromArchive = net.archive().get("/v2/blocks/1");
    assertThat(fromArchive.statusCode()).as("the archive keeps block 1").isEqualTo(200);
    HttpResponse<byte[]> msgpackFromArchive = net.archive().get("/v2/blocks/1?format=msgpack");

    Set<String> upstreams = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      HttpResponse<byte[]> r = get("/algo/v2/blocks/1");
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      assertThat(r.body()).isEqualTo(fromArchive.body());
      upstreams.add(upstream(r));
    }
    assertThat(upstreams).containsExactly(net.archive().address());
    HttpResponse<byte[]> msgpack = get("/algo/v2/blocks/1?format=msgpack");
    assertThat(msgpack.statusCode()).isEqualTo(200);
    assertThat(upstream(msgpack)).isEqualTo(net.archive().address());
    assertThat(msgpack.body()).isEqualTo(msgpackFromArchive.body());

    // A recent block stays with the head pool.
    long recent = net.relay().lastRound() - 2;
    Set<String> recentUpstreams = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      HttpResponse<byte[]> r = get("/algo/v2/blocks/" + recent);
      assertThat(r.statusCode()).as(text(r)).isEqualTo(200);
      recentUpstreams.add(upstream(r));
    }
    assertThat(recentUpstreams).containsAnyOf(net.relay().address(), net.follower().address());
    DrillRig.report(
        "algod-archival",
        "network up in %d ms (create, short-history consensus, start, in sync); block 1 gone"
                .formatted(networkUpMillis)
            + " from both non-archival nodes %d ms after the network was created (round %d,"
                .formatted(goneAfter, goneAt)
            + " %d ms rounds); 20 of 20 reads of it through Envoy from the archive"
                .formatted(ROUND.toMillis()));
  }

  @Test
  @Order(2)
  void withTheArchiveStoppedTheClientGetsAlgodsOwn404() throws Exception {
    HttpResponse<byte[]> algods = net.follower().get("/v2/blocks/1");
    assertThat(algods.statusCode()).isEqualTo(404);
    assertThat(text(algods))
        .isEqualTo("{\"message\":\"failed to retrieve information from the ledger\"}\n");
    long stopped = System.nanoTime();
    net.archive().stop();
    // Until chainroute sees the archive go, a request can still be sent to it (and fail to
    // connect): wait for the first 404, then every answer must be algod's own.
    await("old blocks answered by a synced node")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> get("/algo/v2/blocks/1").statusCode() == 404);
    long switched = millisSince(stopped);
    for (int i = 0; i < 20; i++) {
      HttpResponse<byte[]> r = get("/algo/v2/blocks/1");
      assertThat(r.statusCode()).as(text(r)).isEqualTo(404);
      assertThat(r.body()).isEqualTo(algods.body());
      assertThat(r.headers().firstValue("content-type"))
          .isEqualTo(algods.headers().firstValue("content-type"));
      assertThat(upstream(r)).isIn(net.relay().address(), net.follower().address());
    }
    DrillRig.report(
        "algod-archival-down",
        "archive stopped (goal node stop): old blocks answered with algod's own 404 by a synced"
            + " node %d ms later, 20 of 20 after".formatted(switched));
  }
}
