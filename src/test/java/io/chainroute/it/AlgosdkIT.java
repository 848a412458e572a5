package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.algorand.algosdk.account.Account;
import com.algorand.algosdk.transaction.SignedTransaction;
import com.algorand.algosdk.transaction.Transaction;
import com.algorand.algosdk.util.Encoder;
import com.algorand.algosdk.v2.client.common.AlgodClient;
import com.algorand.algosdk.v2.client.common.Response;
import com.algorand.algosdk.v2.client.model.NodeStatusResponse;
import com.algorand.algosdk.v2.client.model.PendingTransactionResponse;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
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
 * The Java algosdk as the client, through a real Envoy, to a private network of real algod nodes
 * ({@link AlgodNet}) with the chain served at the root (AlgodRoutingIT has algosdk under a path
 * prefix). The network is started once (algod writes each node's API token at its first start),
 * then stopped: chainroute starts while every node is down, and the first request is sent before
 * any node is up again.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AlgosdkIT {
  private Path dir;
  private AlgodNet net;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private AlgodClient client;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algosdk-it");
    net = AlgodNet.start(dir);
    net.stopAll();
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 30s }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true }
        chains:
          - name: algorand
            protocol: algorand
            pathPrefix: /
            blockTime: 3s
            pollInterval: 200ms
            probeTimeout: 1s
            nodes:
              - { name: relay, url: "%s", tokenEnv: T1 }
              - { name: follower, url: "%s", tokenEnv: T2 }
              - { name: archive, url: "%s", archive: true, tokenEnv: T3 }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                net.relay().url(),
                net.follower().url(),
                net.archive().url());
    Map<String, String> tokens =
        Map.of(
            "T1", net.relay().token(), "T2", net.follower().token(), "T3", net.archive().token());
    ChainrouteConfig config = ConfigLoader.parse(yaml, tokens::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algosdk-it", listener, envoyAdmin);
    // The client's own token is not what the nodes want: chainroute swaps in each node's token.
    client = new AlgodClient("http://127.0.0.1", listener, "the-clients-token");
  }

  @AfterAll
  void stop() {
    Ports.closeAll(envoy, sidecar, net);
  }

  private long lastRound() throws Exception {
    Response<NodeStatusResponse> r = client.GetStatus().execute();
    assertThat(r.isSuccessful()).as(r.message()).isTrue();
    return r.body().lastRound;
  }

  @Test
  @Order(1)
  void aRequestSentWhileEveryNodeIsDownSucceedsOnceOneIsUpAndSynced() throws Exception {
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
    await("held while every node is down")
        .during(Duration.ofMillis(1500))
        .atMost(Duration.ofSeconds(3))
        .until(() -> !early.isDone());
    long startedAt = System.nanoTime();
    net.startAll();
    Response<NodeStatusResponse> r = early.get(30, TimeUnit.SECONDS);
    long answered = System.nanoTime();
    DrillRig.report(
        "algod-graceful-startup",
        "heldMs=%d answeredAfterNetworkStartMs=%d"
            .formatted(DrillRig.ms(sent, answered), DrillRig.ms(startedAt, answered)));
    assertThat(r.isSuccessful()).as(r.message()).isTrue();
    assertThat(r.body().catchpoint).isNullOrEmpty();
    assertThat(r.body().lastRound).isPositive();
    assertThat(Duration.ofNanos(answered - sent)).isGreaterThan(Duration.ofMillis(1500));
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
  void blocksComeAsAlgosdkDecodesThem() throws Exception {
    long now = lastRound();
    // algosdk asks for msgpack and decodes the real block (with its certificate).
    var block = client.GetBlock(now).execute();
    assertThat(block.isSuccessful()).as(block.message()).isTrue();
    assertThat(((Number) block.body().block.get("rnd")).longValue()).isEqualTo(now);
    assertThat(block.body().block.get("gen")).isEqualTo(AlgodNet.GENESIS_ID);
    assertThat(block.body().cert).isNotEmpty();
    var hash = client.GetBlockHash(now).execute();
    assertThat(hash.isSuccessful()).as(hash.message()).isTrue();
    assertThat(hash.body().blockHash).isNotBlank();
  }

  @Test
  @Order(4)
  void transactionParamsComeFromASyncedNode() throws Exception {
    var params = client.TransactionParams().execute();
    assertThat(params.isSuccessful()).as(params.message()).isTrue();
    assertThat(params.body().lastRound).isGreaterThanOrEqualTo(lastRound() - 1);
    assertThat(params.body().genesisId).isEqualTo(AlgodNet.GENESIS_ID);
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
  void aPaymentFromTheNetworksWalletIsSentAndFoundPendingAndConfirmedThroughChainroute()
      throws Exception {
    // The genesis account's key, from the relay's kmd wallet (goal account export).
    Account sender = new Account(net.fundedMnemonic());
    Account receiver = new Account();
    long amount = 1_234_567;
    var params = client.TransactionParams().execute();
    assertThat(params.isSuccessful()).as(params.message()).isTrue();
    Transaction tx =
        Transaction.PaymentTransactionBuilder()
            .sender(sender.getAddress())
            .receiver(receiver.getAddress())
            .amount(amount)
            .suggestedParams(params.body())
            .build();
    SignedTransaction signed = sender.signTransaction(tx);
    var posted = client.RawTransaction().rawtxn(Encoder.encodeToMsgPack(signed)).execute();
    assertThat(posted.isSuccessful()).as(posted.message()).isTrue();
    String txId = posted.body().txId;
    assertThat(txId).isEqualTo(signed.transactionID);

    // The pool is node-local: a lookup that lands on a node without it is retried (Envoy) on the
    // others. None of these lookups may fail, pending or confirmed.
    long confirmed = 0;
    boolean sawPending = false;
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (confirmed == 0 && System.nanoTime() < deadline) {
      Response<PendingTransactionResponse> p = client.PendingTransactionInformation(txId).execute();
      assertThat(p.isSuccessful()).as("pending lookup: %s", p.message()).isTrue();
      assertThat(p.body().poolError).isEmpty();
      if (p.body().confirmedRound != null && p.body().confirmedRound > 0) {
        confirmed = p.body().confirmedRound;
      } else {
        sawPending = true;
        DrillRig.sleep(Duration.ofMillis(100));
      }
    }
    assertThat(confirmed).as("confirmed within 20 s").isPositive();
    assertThat(sawPending).as("seen pending before it was confirmed").isTrue();
    // Once confirmed, every node knows the transaction and the receiver's balance.
    long round = confirmed;
    Set<String> nodesAsked = new HashSet<>();
    for (AlgodNet.Node n : net.nodes()) {
      await(n.name + " has round " + round)
          .atMost(Duration.ofSeconds(10))
          .until(() -> n.lastRound() >= round);
      var direct = n.get("/v2/transactions/pending/" + txId);
      assertThat(direct.statusCode()).as(n.name).isEqualTo(200);
      assertThat(Rpc.JSON.readTree(direct.body()).get("confirmed-round").asLong()).isEqualTo(round);
      nodesAsked.add(n.name);
    }
    assertThat(nodesAsked).hasSize(3);
    for (int i = 0; i < 10; i++) {
      var lookup = client.PendingTransactionInformation(txId).execute();
      assertThat(lookup.isSuccessful()).as(lookup.message()).isTrue();
      assertThat(lookup.body().confirmedRound).isEqualTo(round);
      var account = client.AccountInformation(receiver.getAddress()).execute();
      assertThat(account.isSuccessful()).as(account.message()).isTrue();
      assertThat(account.body().amount).isEqualTo(amount);
    }
  }
}
