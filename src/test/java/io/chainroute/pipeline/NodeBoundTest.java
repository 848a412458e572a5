package io.chainroute.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.NodeReply;
import io.chainroute.chain.NodeTag;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.routing.Pool;
import io.chainroute.routing.RouteReason;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Read-your-writes in the pipeline: fake nodes answer what chainroute sends them itself. */
class NodeBoundTest {
  private final NodeConfig a = TestConfigs.node("a", "http://10.0.0.1:8545").build();
  private final NodeConfig b = TestConfigs.node("b", "http://10.0.0.2:8545").build();
  private final NodeConfig arc = TestConfigs.node("arc", "http://10.0.0.3:8545").archive().build();
  private final ChainConfig eth = TestConfigs.evm("eth").nodes(a, b, arc).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final List<Decided> decided = new CopyOnWriteArrayList<>();

  /** What each fake node answers (by name), and what it was sent. */
  private final Map<String, CompletableFuture<NodeReply>> answers = new ConcurrentHashMap<>();

  private final List<String> sentTo = new CopyOnWriteArrayList<>();

  private final NodeCalls calls =
      (chain, node, body, timeout) -> {
        sentTo.add(node.name());
        return answers.computeIfAbsent(node.name(), k -> new CompletableFuture<>());
      };

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  private RequestPipeline pipeline(NodeCalls c) {
    Map<String, ChainAdapter> adapters = Map.of("eth", new EvmAdapter());
    return new RequestPipeline(
        List.of(eth),
        adapters,
        topology::get,
        topology::get,
        new HeldRequests(timer, topology::get, 10),
        Duration.ZERO,
        decided::add,
        c);
  }

  private static NodeView node(NodeConfig n, Health h, EndpointStatus s) {
    return new NodeView(n, 100, 0, h, "", s, 1, 0, n.host());
  }

  private void set(NodeView... nodes) {
    topology.set(Topology.of(1, List.of(new ChainView(eth, 100, List.of(nodes)))));
  }

  private void allSynced() {
    set(
        node(a, Health.SYNCED, EndpointStatus.HEALTHY),
        node(b, Health.SYNCED, EndpointStatus.HEALTHY),
        node(arc, Health.SYNCED, EndpointStatus.HEALTHY));
  }

  private static byte[] call(String method, String params) {
    return RequestPipelineTest.call(method, params);
  }

  /** a and arc synced, b in {@code health} and out of every pool. */
  private void bIs(Health health) {
    set(
        node(a, Health.SYNCED, EndpointStatus.HEALTHY),
        node(b, health, EndpointStatus.NONE),
        node(arc, Health.SYNCED, EndpointStatus.HEALTHY));
  }

  private static NodeReply ok(String node, String result) {
    return new NodeReply(
        node,
        200,
        ("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"" + result + "\"}")
            .getBytes(StandardCharsets.UTF_8),
        null);
  }

  private static NodeReply error(String node, String message) {
    return new NodeReply(
        node,
        200,
        ("{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32000,\"message\":\""
                + message
                + "\"}}")
            .getBytes(StandardCharsets.UTF_8),
        null);
  }

  private static String body(Outcome o) throws Exception {
    assertThat(o).isInstanceOf(Outcome.Later.class);
    Outcome done = ((Outcome.Later) o).outcome().get(5, TimeUnit.SECONDS);
    assertThat(done).isInstanceOf(Outcome.Respond.class);
    return new String(((Outcome.Respond) done).reply().body(), StandardCharsets.UTF_8);
  }

  @Test
  void aTransactionGoesToEveryHeadPoolNodeAndAnEarlierDuplicateNeverHidesTheAcceptance()
      throws Exception {
    allSynced();
    Outcome o = pipeline(calls).onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x02\"]"));
    assertThat(sentTo).containsExactlyInAnyOrder("a", "b", "arc");
    // b got it over p2p from a before chainroute's copy arrived, and answers first.
    answers.get("b").complete(error("b", "already known"));
    assertThat(((Outcome.Later) o).outcome()).as("waits for the others").isNotDone();
    answers.get("a").complete(ok("a", "0xhash"));
    answers.get("arc").complete(error("arc", "nonce too low"));
    assertThat(body(o)).contains("\"result\":\"0xhash\"").contains("\"id\":7");
    assertThat(decided).extracting(Decided::reason).containsExactly(Reason.BROADCAST);
    assertThat(decided.get(0).held()).as("not a hold for a usable node").isFalse();
  }

  @Test
  void aTransactionEveryNodeAlreadyKnowsGetsTheNodesOwnDuplicateError() throws Exception {
    allSynced();
    Outcome o = pipeline(calls).onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x02\"]"));
    answers.get("a").complete(NodeReply.failed("a", "timeout"));
    answers.get("b").complete(error("b", "insufficient funds for gas"));
    answers.get("arc").complete(error("arc", "already known"));
    assertThat(body(o)).contains("already known");
  }

  @Test
  void aTransactionNoNodeAnsweredIsA503ThatSaysItMayStillReachTheChain() throws Exception {
    allSynced();
    Outcome o = pipeline(calls).onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x02\"]"));
    for (String n : List.of("a", "b", "arc")) {
      answers.get(n).complete(NodeReply.failed(n, "timeout"));
    }
    Outcome done = ((Outcome.Later) o).outcome().get(5, TimeUnit.SECONDS);
    assertThat(((Outcome.Respond) done).reply().httpStatus()).isEqualTo(503);
    assertThat(body(o)).contains("may still reach the chain");
  }

  @Test
  void aHungNodeHoldsATransactionOnlyForTheGraceAfterTheFirstAcceptance() throws Exception {
    allSynced();
    Outcome o = pipeline(calls).onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x02\"]"));
    answers.get("a").complete(ok("a", "0xhash"));
    answers.get("b").complete(ok("b", "0xhash"));
    long start = System.nanoTime();
    assertThat(body(o)).contains("0xhash");
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isLessThan(NodeBound.GRACE.multipliedBy(4));
  }

  @Test
  void withOneUsableNodeOrNoNodeCallsATransactionIsRoutedThroughEnvoyAsBefore() {
    set(
        node(a, Health.SYNCED, EndpointStatus.HEALTHY),
        node(b, Health.UNREACHABLE, EndpointStatus.NONE),
        node(arc, Health.UNREACHABLE, EndpointStatus.NONE));
    Outcome write = new Outcome.Route(Pool.HEAD, true, "7", RouteReason.WRITE);
    assertThat(pipeline(calls).onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x02\"]")))
        .isEqualTo(write);
    allSynced();
    assertThat(
            pipeline(NodeCalls.NONE)
                .onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x02\"]")))
        .isEqualTo(write);
    assertThat(sentTo).isEmpty();
  }

  @Test
  void aFilterIsCreatedOnAFullNodeAndItsIdCarriesThatNode() throws Exception {
    allSynced();
    RequestPipeline p = pipeline(calls);
    Outcome o = p.onBody(eth, "POST", call("eth_newBlockFilter", "[]"));
    String node = sentTo.get(0);
    assertThat(node).as("full nodes before the archive").isIn("a", "b");
    answers.get(node).complete(ok(node, "0xabc123"));
    assertThat(body(o)).contains("\"result\":\"0xabc123" + NodeTag.of(node) + "\"");
    assertThat(decided).extracting(Decided::reason).containsExactly(Reason.STICKY);
  }

  @Test
  void aCallOnATaggedFilterGoesToItsNodeWithTheNodesOwnId() {
    allSynced();
    String id = "0xabc123" + NodeTag.of("b");
    Outcome o =
        pipeline(calls).onBody(eth, "POST", call("eth_getFilterChanges", "[\"" + id + "\"]"));
    assertThat(o).isInstanceOf(Outcome.ToNode.class);
    Outcome.ToNode n = (Outcome.ToNode) o;
    assertThat(n.node()).isEqualTo("b");
    assertThat(new String(n.body(), StandardCharsets.UTF_8))
        .isEqualTo(
            new String(call("eth_getFilterChanges", "[\"0xabc123\"]"), StandardCharsets.UTF_8));
    assertThat(n.reason()).isEqualTo(Reason.STICKY);
    assertThat(sentTo).as("routed by Envoy, not sent by chainroute").isEmpty();
  }

  @Test
  void aCallOnAFilterWhoseNodeIsGoneGetsTheNodesOwnFilterNotFound() {
    bIs(Health.UNREACHABLE);
    String id = "0xabc123" + NodeTag.of("b");
    Outcome o =
        pipeline(calls).onBody(eth, "POST", call("eth_uninstallFilter", "[\"" + id + "\"]"));
    assertThat(o).isInstanceOf(Outcome.Respond.class);
    Outcome.Respond r = (Outcome.Respond) o;
    assertThat(r.reply().httpStatus()).isEqualTo(200);
    assertThat(new String(r.reply().body(), StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32000,\"message\":\"filter not found\"}}");
    assertThat(r.reason()).isEqualTo(Reason.STICKY_GONE);
  }

  @Test
  void aLaggingNodeStillHoldsItsFilters() {
    bIs(Health.STALLED);
    String id = "0x1" + NodeTag.of("b");
    assertThat(pipeline(calls).onBody(eth, "POST", call("eth_getFilterLogs", "[\"" + id + "\"]")))
        .isInstanceOf(Outcome.ToNode.class);
  }

  @Test
  void anUntaggedFilterIdIsRoutedAsBefore() {
    allSynced();
    assertThat(pipeline(calls).onBody(eth, "POST", call("eth_getFilterChanges", "[\"0x1f\"]")))
        .isEqualTo(new Outcome.Route(Pool.HEAD, false, "7", RouteReason.RECENT));
  }
}
