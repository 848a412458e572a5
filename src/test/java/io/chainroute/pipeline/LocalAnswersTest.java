package io.chainroute.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.ProbeReading;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeScore;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.store.TestStores;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Answers from chainroute itself: the chain's facts and stored answers of final data. */
class LocalAnswersTest {
  private final NodeConfig a = TestConfigs.node("a", "http://10.0.0.1:8545").build();
  private final NodeConfig b = TestConfigs.node("b", "http://10.0.0.2:8545").build();
  private final ChainConfig eth = TestConfigs.evm("eth").nodes(a, b).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final HeldRequests held = new HeldRequests(timer, topology::get, 10);
  private final EvmAdapter evm = new EvmAdapter();
  private final Map<String, ChainAdapter> adapters = Map.of("eth", evm);
  private final List<Decided> decided = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final RequestPipeline pipeline =
      new RequestPipeline(
          List.of(eth),
          adapters,
          topology::get,
          topology::get,
          held,
          Duration.ZERO,
          decided::add,
          NodeCalls.NONE,
          TestStores.local());

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  private NodeView node(NodeConfig n, long head, long finalized) {
    String probe =
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x"
            + Long.toHexString(head)
            + "\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":false},"
            + "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"0x539\"},"
            + "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":\"1337\"},"
            + "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32000,"
            + "\"message\":\"finalized block not found\"}}]\n";
    ProbeReading r = evm.readHeadProbe(200, probe.getBytes(StandardCharsets.UTF_8));
    assertThat(r.identity()).isEqualTo("0x539");
    assertThat(r.finalized()).isEqualTo(-1);
    return new NodeView(
        n,
        head,
        0,
        Health.SYNCED,
        "",
        EndpointStatus.HEALTHY,
        1,
        0,
        n.host(),
        r.state(),
        NodeScore.UNSCORED,
        r.identity(),
        finalized,
        -1);
  }

  private void set(long headA, long headB, long finalized) {
    topology.set(
        Topology.of(
            1,
            List.of(
                new ChainView(
                    eth,
                    Math.max(headA, headB),
                    List.of(node(a, headA, finalized), node(b, headB, finalized))))));
  }

  private static byte[] body(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String call(String id, String method, String params) {
    return "{\"jsonrpc\":\"2.0\",\"id\":"
        + id
        + ",\"method\":\""
        + method
        + "\",\"params\":"
        + params
        + "}";
  }

  private static String text(Outcome o) {
    assertThat(o).isInstanceOf(Outcome.Respond.class);
    return new String(((Outcome.Respond) o).reply().body(), StandardCharsets.UTF_8);
  }

  @Test
  void chainIdAndNetVersionComeFromTheNodesWithTheirIdEchoedAndTheirTrailer() {
    set(100, 100, 90);
    assertThat(text(pipeline.onBody(eth, "POST", body(call("\"x\\u0041\"", "eth_chainId", "[]")))))
        .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":\"x\\u0041\",\"result\":\"0x539\"}\n");
    assertThat(
            text(
                pipeline.onBody(
                    eth, "POST", body(call("12345678901234567890", "net_version", "[]")))))
        .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":12345678901234567890,\"result\":\"1337\"}\n");
    assertThat(decided).extracting(Decided::reason).containsOnly(Reason.LOCAL);
  }

  @Test
  void blockNumberNeverGoesBackwards() {
    set(100, 99, 90);
    assertThat(text(pipeline.onBody(eth, "POST", body(call("1", "eth_blockNumber", "[]")))))
        .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x64\"}\n");
    // The node at 100 left the pool (or was seen lower after a restart): still 100.
    set(95, 97, 90);
    assertThat(text(pipeline.onBody(eth, "POST", body(call("2", "eth_blockNumber", "[]")))))
        .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"0x64\"}\n");
    set(101, 97, 90);
    assertThat(text(pipeline.onBody(eth, "POST", body(call("3", "eth_blockNumber", "[]")))))
        .isEqualTo("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"0x65\"}\n");
  }

  @Test
  void aFinalizedBlockIsCapturedThenAnsweredByteForByteWithTheClientsId() {
    set(100, 100, 90);
    String req = call("1", "eth_getBlockByNumber", "[\"0x50\",false]");
    Outcome first = pipeline.onBody(eth, "POST", body(req));
    assertThat(first).isInstanceOf(Outcome.Route.class);
    String capture = ((Outcome.Route) first).capture();
    assertThat(capture).startsWith("A");
    String nodeAnswer =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"number\":\"0x50\",\"hash\":\"0xab\",\"x\":[1, 2]}}\n";
    assertThat(pipeline.onCaptured("eth", capture, body(nodeAnswer))).isEqualTo(1);
    Outcome second =
        pipeline.onBody(
            eth, "POST", body(call("\"q\"", "eth_getBlockByNumber", "[\"0x50\",false]")));
    assertThat(text(second))
        .isEqualTo(
            "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"result\":{\"number\":\"0x50\",\"hash\":\"0xab\",\"x\":[1, 2]}}\n");
    assertThat(decided).extracting(Decided::cache).containsExactly("miss", "hit");
  }

  @Test
  void aBlockAboveFinalizedIsNeitherAnsweredNorCaptured() {
    set(100, 100, 90);
    Outcome o =
        pipeline.onBody(eth, "POST", body(call("1", "eth_getBlockByNumber", "[\"0x5b\",false]")));
    assertThat(o)
        .isInstanceOfSatisfying(Outcome.Route.class, r -> assertThat(r.capture()).isNull());
    assertThat(
            pipeline.onBody(
                eth, "POST", body(call("1", "eth_getBlockByNumber", "[\"latest\",false]"))))
        .isInstanceOfSatisfying(Outcome.Route.class, r -> assertThat(r.capture()).isNull());
  }

  @Test
  void errorsAndNullResultsAreNeverStored() {
    set(100, 100, 90);
    String req = call("1", "eth_getBalance", "[\"0xabc\",\"0x10\"]");
    String capture = ((Outcome.Route) pipeline.onBody(eth, "POST", body(req))).capture();
    assertThat(
            pipeline.onCaptured(
                "eth",
                capture,
                body(
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"missing trie node\"}}")))
        .isZero();
    assertThat(
            pipeline.onCaptured(
                "eth", capture, body("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}")))
        .isZero();
    assertThat(pipeline.onBody(eth, "POST", body(req))).isInstanceOf(Outcome.Route.class);
  }

  @Test
  void aReceiptByHashIsKeptOnlyOnceItsBlockIsFinal() {
    set(100, 100, 90);
    String hash = "\"0x" + "1".repeat(64) + "\"";
    String req = call("1", "eth_getTransactionReceipt", "[" + hash + "]");
    String capture = ((Outcome.Route) pipeline.onBody(eth, "POST", body(req))).capture();
    String recent =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"blockNumber\":\"0x5f\",\"status\":\"0x1\"}}";
    assertThat(pipeline.onCaptured("eth", capture, body(recent))).isZero();
    String old =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"blockNumber\":\"0x5a\",\"status\":\"0x1\"}}";
    assertThat(pipeline.onCaptured("eth", capture, body(old))).isEqualTo(1);
    assertThat(text(pipeline.onBody(eth, "POST", body(req)))).isEqualTo(old);
  }

  @Test
  void aBatchIsAnsweredHereOnlyWhenEveryCallIs() {
    set(100, 100, 90);
    String one = call("1", "eth_getBlockByNumber", "[\"0x1\",false]");
    String two = call("2", "eth_getBlockByNumber", "[\"0x2\",false]");
    String batch = "[" + one + "," + call("3", "eth_chainId", "[]") + "," + two + "]";
    Outcome miss = pipeline.onBody(eth, "POST", body(batch));
    String capture = ((Outcome.Route) miss).capture();
    assertThat(capture.split(",", -1)).hasSize(3);
    String nodeAnswer =
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"number\":\"0x1\"}},"
            + "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"0x539\"},"
            + "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"number\":\"0x2\"}}]\n";
    assertThat(pipeline.onCaptured("eth", capture, body(nodeAnswer))).isEqualTo(2);
    assertThat(text(pipeline.onBody(eth, "POST", body(batch)))).isEqualTo(nodeAnswer);
    // One call not in the store: the whole batch goes to a node.
    String three = call("4", "eth_getBlockByNumber", "[\"0x3\",false]");
    assertThat(pipeline.onBody(eth, "POST", body("[" + one + "," + three + "]")))
        .isInstanceOf(Outcome.Route.class);
  }

  @Test
  void aBatchAnswerOutOfOrderIsNotStoredUnderTheWrongCall() {
    set(100, 100, 90);
    String batch =
        "["
            + call("1", "eth_getBlockByNumber", "[\"0x1\",false]")
            + ","
            + call("2", "eth_getBlockByNumber", "[\"0x2\",false]")
            + "]";
    String capture = ((Outcome.Route) pipeline.onBody(eth, "POST", body(batch))).capture();
    String swapped =
        "[{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"number\":\"0x2\"}},"
            + "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"number\":\"0x1\"}}]";
    assertThat(pipeline.onCaptured("eth", capture, body(swapped))).isZero();
  }

  @Test
  void writesAndNotificationsAreNeverAnsweredHere() {
    set(100, 100, 90);
    assertThat(
            pipeline.onBody(eth, "POST", body(call("1", "eth_sendRawTransaction", "[\"0x00\"]"))))
        .isInstanceOfSatisfying(Outcome.Route.class, r -> assertThat(r.capture()).isNull());
    assertThat(
            pipeline.onBody(
                eth,
                "POST",
                body("[{\"jsonrpc\":\"2.0\",\"method\":\"eth_chainId\",\"params\":[]}]")))
        .isInstanceOf(Outcome.Route.class);
  }
}
