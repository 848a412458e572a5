package io.chainroute.probe;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.algod.AlgodAdapter;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.NodeProber;
import io.chainroute.height.NodeProber.Answered;
import io.chainroute.height.NodeProber.Failed;
import io.chainroute.height.NodeProber.Result;
import io.chainroute.testing.FakeNode;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The prober against a real loopback HTTP node: what it sends, and what each answer becomes. */
class HttpNodeProberTest {
  private static final String SECRET = "Bearer pr0be-s3cret-4d1e";
  private static final String KEY = "k3y-77f0";

  private FakeNode node;
  private HttpNodeProber prober;

  @BeforeEach
  void start() throws Exception {
    node = FakeNode.start();
    prober =
        new HttpNodeProber(
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(),
            Map.of("eth", new EvmAdapter(), "algo", new AlgodAdapter()),
            Runnable::run);
  }

  @AfterEach
  void stop() {
    node.close();
  }

  private NodeConfig keyed(String url) {
    return TestConfigs.node("n", url)
        .header("Authorization", "PROVIDER_AUTH", SECRET)
        .header("x-api-key", "PROVIDER_KEY", KEY)
        .build();
  }

  private Result probe(String chainName, NodeConfig n, long lastHead) throws Exception {
    ChainConfig chain =
        (chainName.equals("eth") ? TestConfigs.evm("eth") : TestConfigs.algorand("algo"))
            .probeTimeout(Duration.ofMillis(300))
            .nodes(n)
            .build();
    return prober.probe(chain, n, lastHead).get(10, TimeUnit.SECONDS);
  }

  private static String reason(Result r) {
    assertThat(r).isInstanceOf(Failed.class);
    return ((Failed) r).reason();
  }

  @Test
  void anAnswerBecomesTheNodesHeadAndTheNodesHeadersAreSent() throws Exception {
    node.answer(FakeNode.evm(0x1b5, false));
    Result r = probe("eth", keyed(node.url()), -1);
    assertThat(r).isInstanceOf(Answered.class);
    Answered a = (Answered) r;
    assertThat(a.reading().head()).isEqualTo(0x1b5);
    assertThat(a.reading().syncing()).isFalse();
    assertThat(a.address()).isEqualTo("127.0.0.1");
    assertThat(a.longPoll()).isFalse();
    FakeNode.Seen seen = node.requests().get(0);
    assertThat(seen.method()).isEqualTo("POST");
    assertThat(seen.body()).contains("eth_blockNumber", "eth_syncing");
    assertThat(seen.headers())
        .containsEntry("content-type", "application/json")
        .containsEntry("authorization", SECRET)
        .containsEntry("x-api-key", KEY);
  }

  @Test
  void aNodeWithoutHeadersIsSentNone() throws Exception {
    probe("eth", TestConfigs.node("n", node.url()).build(), -1);
    assertThat(node.requests().get(0).headers()).doesNotContainKeys("authorization", "x-api-key");
  }

  @Test
  void aSyncingNodeSaysSo() throws Exception {
    node.answer(FakeNode.evm(100, true));
    Answered a = (Answered) probe("eth", keyed(node.url()), -1);
    assertThat(a.reading().syncing()).isTrue();
    assertThat(a.reading().detail()).isEqualTo("syncing 100/105");
  }

  @Test
  void anHttpErrorIsAFailureThatNamesTheStatusButNotTheKeyTheNodeEchoed() throws Exception {
    node.answer(new FakeNode.Answer(401, "{\"error\":\"bad key " + SECRET + "\"}"));
    assertThat(reason(probe("eth", keyed(node.url()), -1)))
        .isEqualTo("HTTP 401 to eth_blockNumber");
  }

  @Test
  void aKeyInAnErrorMessageTheAdapterRepeatsIsMasked() throws Exception {
    // algod puts the node's own message into the reason; a node that echoes the token in it
    // must not put the token into /status and the logs.
    NodeConfig algod =
        TestConfigs.node("n", node.url()).header("X-Algo-API-Token", "ALGOD_TOKEN", SECRET).build();
    node.answer(new FakeNode.Answer(401, "{\"message\":\"Invalid API Token: " + SECRET + "\"}"));
    String reason = reason(probe("algo", algod, -1));
    assertThat(reason).isEqualTo("HTTP 401 from /v2/status: Invalid API Token: ***");
    assertThat(node.requests().get(0).headers()).containsEntry("x-algo-api-token", SECRET);
    assertThat(node.requests().get(0).path()).isEqualTo("/v2/status");
  }

  @Test
  void malformedJsonIsAFailure() throws Exception {
    node.answer(new FakeNode.Answer(200, "{not json"));
    assertThat(reason(probe("eth", keyed(node.url()), -1)))
        .isEqualTo("eth_blockNumber answer is not JSON");
  }

  @Test
  void aNodeSlowerThanTheProbeTimeoutTimesOut() throws Exception {
    node.answer(new FakeNode.Answer(200, "[]", Duration.ofSeconds(3)));
    long start = System.nanoTime();
    assertThat(reason(probe("eth", keyed(node.url()), -1))).isEqualTo("probe timed out");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
  }

  @Test
  void aClosedPortIsRefusedWithoutTheUrl() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    assertThat(reason(probe("eth", keyed("http://127.0.0.1:" + port), -1)))
        .isEqualTo("connection refused or unreachable");
  }

  @Test
  void anUnknownHostFailsWithoutBeingContacted() throws Exception {
    assertThat(reason(probe("eth", keyed("http://no-such-host.invalid:8545"), -1)))
        .isEqualTo("host name does not resolve");
  }

  @Test
  void aLongPollReportsThePlainStatusRoundTripAsLatencyNotTheWait() throws Exception {
    // algod's wait-for-block-after answers when the next round is there (~3 s on mainnet): that
    // wait is not the node's latency. The prober times a plain /v2/status first.
    node.answer(
        seen ->
            seen.path().startsWith("/v2/status/wait-for-block-after/")
                ? new FakeNode.Answer(200, "{\"last-round\":11}", Duration.ofMillis(800))
                : new FakeNode.Answer(200, "{\"last-round\":10}"));
    long start = System.nanoTime();
    Answered a = (Answered) probe("algo", TestConfigs.node("n", node.url()).build(), 10);
    long took = (System.nanoTime() - start) / 1000;
    assertThat(a.reading().head()).isEqualTo(11);
    assertThat(a.longPoll()).isTrue();
    assertThat(took).isGreaterThanOrEqualTo(800_000);
    assertThat(a.latencyMicros()).isBetween(0L, 400_000L);
    assertThat(node.requests())
        .extracting(FakeNode.Seen::path)
        .containsExactly("/v2/status", "/v2/status/wait-for-block-after/10");
  }

  @Test
  void aPlainProbesLatencyIsItsOwnRoundTrip() throws Exception {
    node.answer(new FakeNode.Answer(200, "{\"last-round\":10}", Duration.ofMillis(150)));
    Answered a = (Answered) probe("algo", TestConfigs.node("n", node.url()).build(), -1);
    assertThat(a.longPoll()).isFalse();
    assertThat(a.latencyMicros()).isGreaterThanOrEqualTo(150_000);
    assertThat(node.requests()).hasSize(1);
  }

  @Test
  void failuresCarryABoundedCause() throws Exception {
    node.answer(new FakeNode.Answer(500, "oops"));
    assertThat(((Failed) probe("eth", keyed(node.url()), -1)).cause())
        .isEqualTo(NodeProber.Cause.BAD_ANSWER);
    node.answer(new FakeNode.Answer(200, "[]", Duration.ofSeconds(3)));
    assertThat(((Failed) probe("eth", keyed(node.url()), -1)).cause())
        .isEqualTo(NodeProber.Cause.TIMEOUT);
    assertThat(((Failed) probe("eth", keyed("http://no-such-host.invalid:8545"), -1)).cause())
        .isEqualTo(NodeProber.Cause.DNS);
  }
}
