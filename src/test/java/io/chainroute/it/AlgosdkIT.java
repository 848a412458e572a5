package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.algorand.algosdk.v2.client.common.AlgodClient;
import com.algorand.algosdk.v2.client.common.Response;
import com.algorand.algosdk.v2.client.model.NodeStatusResponse;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.sim.AlgodSimulator;
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
 * The Java algosdk as the client, through a real Envoy, with the algod chain served at the root
 * (algosdk cannot add a path prefix). The nodes start in fast catchup: the first request is sent
 * before any node is ready.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AlgosdkIT {
  private static final Duration ROUND = Duration.ofSeconds(1);
  private Path dir;
  private List<AlgodSimulator> nodes;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private AlgodClient client;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algosdk-it");
    nodes =
        List.of(
            new AlgodSimulator(0, ROUND, 7000, false, 1000, "t1"),
            new AlgodSimulator(0, ROUND, 7000, false, 1000, "t2"),
            new AlgodSimulator(0, ROUND, 7000, true, 1000, "t3"));
    nodes.forEach(n -> n.catchup(true));
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 20s }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true }
        chains:
          - name: algorand
            protocol: algorand
            pathPrefix: /
            blockTime: 1s
            pollInterval: 200ms
            nodes:
              - { name: n1, url: "%s", tokenEnv: T1 }
              - { name: n2, url: "%s", tokenEnv: T2 }
              - { name: n3, url: "%s", archive: true, tokenEnv: T3 }
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
                nodes.get(2).url());
    ChainrouteConfig config =
        ConfigLoader.parse(yaml, Map.of("T1", "t1", "T2", "t2", "T3", "t3")::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algosdk-it", listener, envoyAdmin);
    // The client's own token is not what the nodes want: chainroute swaps in each node's token.
    client = new AlgodClient("http://127.0.0.1", listener, "the-clients-token");
  }

  @AfterAll
  void stop() {
    if (envoy != null) {
      envoy.close();
    }
    if (sidecar != null) {
      sidecar.close();
    }
    if (nodes != null) {
      nodes.forEach(AlgodSimulator::close);
    }
  }

  private long lastRound() throws Exception {
    Response<NodeStatusResponse> r = client.GetStatus().execute();
    assertThat(r.isSuccessful()).as(r.message()).isTrue();
    return r.body().lastRound;
  }

  @Test
  @Order(1)
  void aRequestSentBeforeAnyNodeIsReadySucceedsOnceOneIs() throws Exception {
    long sent = System.nanoTime();
    CompletableFuture<Response<NodeStatusResponse>> early =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return client.GetStatus().execute();
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    await("held while every node is catching up")
        .during(Duration.ofMillis(1500))
        .atMost(Duration.ofSeconds(3))
        .until(() -> !early.isDone());
    nodes.forEach(n -> n.catchup(false));
    Response<NodeStatusResponse> r = early.get(20, TimeUnit.SECONDS);
    assertThat(r.isSuccessful()).as(r.message()).isTrue();
    assertThat(r.body().catchpoint).isNullOrEmpty();
    assertThat(Duration.ofNanos(System.nanoTime() - sent)).isGreaterThan(Duration.ofMillis(1500));
  }

  @Test
  @Order(2)
  void waitForBlockReturnsWhenTheFirstNodeReachesTheRound() throws Exception {
    long now = lastRound();
    Response<NodeStatusResponse> r = client.WaitForBlock(now).execute();
    assertThat(r.isSuccessful()).as(r.message()).isTrue();
    assertThat(r.body().lastRound).isGreaterThan(now);
  }

  @Test
  @Order(3)
  void waitForBlockSurvivesTheLeadingNodeStalling() throws Exception {
    long now = lastRound();
    AlgodSimulator leader =
        nodes.stream().max(java.util.Comparator.comparingLong(AlgodSimulator::round)).orElseThrow();
    CompletableFuture<Response<NodeStatusResponse>> wait =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return client.WaitForBlock(now + 2).execute();
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    leader.stall();
    Response<NodeStatusResponse> r = wait.get(15, TimeUnit.SECONDS);
    assertThat(r.isSuccessful()).as(r.message()).isTrue();
    assertThat(r.body().lastRound).isGreaterThan(now + 2);
    long others =
        nodes.stream()
            .filter(n -> n != leader)
            .mapToLong(AlgodSimulator::round)
            .max()
            .orElseThrow();
    leader.advanceTo(others);
    leader.resume();
  }

  @Test
  @Order(4)
  void transactionParamsComeFromASyncedNode() throws Exception {
    var params = client.TransactionParams().execute();
    assertThat(params.isSuccessful()).as(params.message()).isTrue();
    assertThat(params.body().lastRound).isGreaterThanOrEqualTo(lastRound() - 1);
    assertThat(params.body().genesisId).isEqualTo("sim-v1");
  }

  @Test
  @Order(5)
  void invalidRoundsGetAlgodsExactError() throws Exception {
    var r = client.GetBlock(-1L).execute();
    assertThat(r.isSuccessful()).isFalse();
    assertThat(r.code()).isEqualTo(400);
    assertThat(r.message()).contains("Invalid format for parameter round");
  }

  @Test
  @Order(6)
  void aSignedTransactionReachesANodeAndItsPendingLookupSucceeds() throws Exception {
    com.algorand.algosdk.account.Account sender = new com.algorand.algosdk.account.Account();
    var params = client.TransactionParams().execute();
    assertThat(params.isSuccessful()).as(params.message()).isTrue();
    com.algorand.algosdk.transaction.Transaction tx =
        com.algorand.algosdk.transaction.Transaction.PaymentTransactionBuilder()
            .sender(sender.getAddress())
            .receiver(sender.getAddress())
            .amount(0)
            .suggestedParams(params.body())
            .build();
    com.algorand.algosdk.transaction.SignedTransaction signed = sender.signTransaction(tx);
    byte[] bytes = com.algorand.algosdk.util.Encoder.encodeToMsgPack(signed);
    var posted = client.RawTransaction().rawtxn(bytes).execute();
    assertThat(posted.isSuccessful()).as(posted.message()).isTrue();
    assertThat(posted.body().txId).isEqualTo(signed.transactionID);

    // The pool is node-local, so lookups that land elsewhere would 404; Envoy retries a miss on the
    // other nodes. None of these lookups may fail.
    long confirmed = 0;
    for (int i = 0; i < 15; i++) {
      var pending = client.PendingTransactionInformation(posted.body().txId).execute();
      assertThat(pending.isSuccessful()).as("lookup %d: %s", i, pending.message()).isTrue();
      assertThat(pending.body().poolError).isEmpty();
      if (pending.body().confirmedRound != null) {
        confirmed = pending.body().confirmedRound;
      }
    }
    long seenConfirmed = confirmed;
    org.awaitility.Awaitility.await("confirmed")
        .atMost(Duration.ofSeconds(5))
        .until(
            () -> {
              Long r =
                  client.PendingTransactionInformation(posted.body().txId)
                      .execute()
                      .body()
                      .confirmedRound;
              return seenConfirmed > 0 || (r != null && r > 0);
            });
  }
}
