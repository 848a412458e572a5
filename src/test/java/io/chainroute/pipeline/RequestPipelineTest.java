package io.chainroute.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.algod.AlgodAdapter;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The pipeline without any edge: request in, outcome out. */
class RequestPipelineTest {
  private final NodeConfig full = TestConfigs.node("full", "http://10.0.0.1:8545").build();
  private final NodeConfig arc = TestConfigs.node("arc", "http://10.0.0.2:8545").archive().build();
  private final ChainConfig eth = TestConfigs.evm("eth").nodes(full, arc).build();
  private final NodeConfig algod = TestConfigs.node("a", "http://10.0.0.3:8080").build();
  private final ChainConfig algo =
      TestConfigs.algorand("algo").pathPrefix("/").nodes(algod).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final HeldRequests held = new HeldRequests(timer, topology::get, 10);
  private final Map<String, ChainAdapter> adapters =
      Map.of("eth", new EvmAdapter(), "algo", new AlgodAdapter());

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  private final List<Decided> decided = new java.util.concurrent.CopyOnWriteArrayList<>();

  private RequestPipeline pipeline(Duration unavailableWait) {
    return new RequestPipeline(
        List.of(algo, eth),
        adapters,
        topology::get,
        topology::get,
        held,
        unavailableWait,
        decided::add,
        NodeCalls.NONE);
  }

  private static NodeView node(NodeConfig n, long head, EndpointStatus s) {
    Health h = s == EndpointStatus.NONE ? Health.UNREACHABLE : Health.SYNCED;
    return new NodeView(
        n,
        head,
        0,
        h,
        "",
        s,
        1,
        0,
        n.host(),
        new AlgodAdapter()
            .readHeadProbe(200, ("{\"last-round\":" + head + "}").getBytes(StandardCharsets.UTF_8))
            .state());
  }

  private void set(EndpointStatus fullStatus, EndpointStatus arcStatus, long algodHead) {
    topology.set(
        Topology.of(
            1,
            List.of(
                new ChainView(
                    eth, 1000, List.of(node(full, 1000, fullStatus), node(arc, 1000, arcStatus))),
                new ChainView(
                    algo, algodHead, List.of(node(algod, algodHead, EndpointStatus.HEALTHY))))));
  }

  static byte[] call(String method, String params) {
    return ("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\""
            + method
            + "\",\"params\":"
            + params
            + "}")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aPrefixChainWinsOverTheRootChain() {
    RequestPipeline p = pipeline(Duration.ZERO);
    assertThat(p.chainFor("/eth").name()).isEqualTo("eth");
    assertThat(p.chainFor("/eth?x=1").name()).isEqualTo("eth");
    assertThat(p.chainFor("/ethereum").name()).isEqualTo("algo");
    assertThat(p.chainFor("/v2/status").name()).isEqualTo("algo");
  }

  @Test
  void jsonRpcNeedsTheBodyAndOldStateGoesToTheArchive() {
    set(EndpointStatus.HEALTHY, EndpointStatus.HEALTHY, 10);
    RequestPipeline p = pipeline(Duration.ZERO);
    assertThat(p.onRequestLine(eth, "POST", "/eth", false)).isEqualTo(Outcome.NEED_BODY);
    assertThat(p.onRequestLine(eth, "GET", "/eth", true)).isEqualTo(Outcome.PASS);
    assertThat(p.onBody(eth, "POST", call("eth_getBalance", "[\"0xabc\",\"0x1\"]")))
        .isEqualTo(new Outcome.Route(Pool.ARCHIVE, false, "7", RouteReason.ARCHIVE));
    assertThat(p.onBody(eth, "POST", call("eth_sendRawTransaction", "[\"0x00\"]")))
        .isEqualTo(new Outcome.Route(Pool.HEAD, true, "7", RouteReason.WRITE));
    Outcome bad = p.onBody(eth, "POST", "{nope".getBytes(StandardCharsets.UTF_8));
    assertThat(bad)
        .isInstanceOfSatisfying(
            Outcome.Respond.class,
            r ->
                assertThat(new String(r.reply().body(), StandardCharsets.UTF_8))
                    .contains("-32700"));
  }

  @Test
  void noUsableNodeIsA503AtOnceOrAHoldThatRoutesWhenOneIsBack() {
    set(EndpointStatus.NONE, EndpointStatus.NONE, 10);
    Outcome now = pipeline(Duration.ZERO).onBody(eth, "POST", call("eth_gasPrice", "[]"));
    assertThat(now)
        .isInstanceOfSatisfying(
            Outcome.Respond.class, r -> assertThat(r.reply().httpStatus()).isEqualTo(503));

    RequestPipeline p = pipeline(Duration.ofSeconds(5));
    Outcome o = p.onBody(eth, "POST", call("eth_gasPrice", "[]"));
    assertThat(o).isInstanceOf(Outcome.Hold.class);
    List<Outcome> answers = new ArrayList<>();
    assertThat(p.hold((Outcome.Hold) o, answers::add)).isNotNull();
    assertThat(answers).isEmpty();
    set(EndpointStatus.HEALTHY, EndpointStatus.NONE, 10);
    held.onTopology(topology.get());
    assertThat(answers)
        .containsExactly(new Outcome.Route(Pool.HEAD, false, "7", RouteReason.RECENT));
  }

  @Test
  void aWaitForAHeightIsAnsweredAtOnceWhenANodeHasItElseHeldUntilOneDoes() {
    set(EndpointStatus.HEALTHY, EndpointStatus.HEALTHY, 10);
    RequestPipeline p = pipeline(Duration.ZERO);
    Outcome at = p.onRequestLine(algo, "GET", "/v2/status/wait-for-block-after/9", true);
    assertThat(at)
        .isInstanceOfSatisfying(
            Outcome.Respond.class,
            r ->
                assertThat(new String(r.reply().body(), StandardCharsets.UTF_8))
                    .isEqualTo("{\"last-round\":10}"));

    Outcome later = p.onRequestLine(algo, "GET", "/v2/status/wait-for-block-after/10", true);
    assertThat(later).isInstanceOf(Outcome.Hold.class);
    List<Outcome> answers = new ArrayList<>();
    p.hold((Outcome.Hold) later, answers::add);
    set(EndpointStatus.HEALTHY, EndpointStatus.HEALTHY, 11);
    held.onTopology(topology.get());
    assertThat(answers)
        .singleElement()
        .isInstanceOfSatisfying(
            Outcome.Respond.class,
            r ->
                assertThat(new String(r.reply().body(), StandardCharsets.UTF_8))
                    .isEqualTo("{\"last-round\":11}"));
  }

  @Test
  void pastTheBoundAHoldIsRefusedWithItsOwnAnswer() {
    set(EndpointStatus.NONE, EndpointStatus.NONE, 10);
    RequestPipeline p = pipeline(Duration.ofSeconds(5));
    Outcome.Hold h = (Outcome.Hold) p.onBody(eth, "POST", call("eth_gasPrice", "[]"));
    for (int i = 0; i < 10; i++) {
      assertThat(p.hold(h, o -> {})).isNotNull();
    }
    assertThat(p.canHold()).isFalse();
    List<Outcome> answers = new ArrayList<>();
    assertThat(p.hold(h, answers::add)).isNull();
    assertThat(answers)
        .singleElement()
        .isInstanceOfSatisfying(
            Outcome.Respond.class,
            r ->
                assertThat(new String(r.reply().body(), StandardCharsets.UTF_8))
                    .contains("too many requests waiting"));
  }

  @Test
  void eachRequestsFateIsReportedOnceWithItsReason() {
    set(EndpointStatus.HEALTHY, EndpointStatus.NONE, 10);
    RequestPipeline p = pipeline(Duration.ofSeconds(5));
    p.onBody(eth, "POST", call("eth_gasPrice", "[]"));
    p.onBody(eth, "POST", call("eth_getBalance", "[\"0xabc\",\"0x1\"]"));
    p.onBody(eth, "POST", call("eth_madeUp", "[]"));
    p.onRequestLine(eth, "GET", "/eth", true);
    assertThat(p.onRequestLine(eth, "POST", "/eth", false)).isEqualTo(Outcome.NEED_BODY);
    assertThat(decided)
        .extracting(Decided::method, Decided::reason, Decided::pool, Decided::head)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("eth_gasPrice", Reason.RECENT, Pool.HEAD, 1000L),
            org.assertj.core.groups.Tuple.tuple(
                "eth_getBalance", Reason.NO_ARCHIVE, Pool.HEAD, 1000L),
            org.assertj.core.groups.Tuple.tuple("other", Reason.RECENT, Pool.HEAD, 1000L),
            org.assertj.core.groups.Tuple.tuple("other", Reason.PASS, null, 1000L));
    assertThat(decided.get(1).block()).isEqualTo(io.chainroute.chain.BlockRef.number(1));
    assertThat(decided).allMatch(d -> !d.held() && !d.replied());
  }

  @Test
  void aHeldRequestIsReportedWhenItsHoldEndsWithTheTimeItWaited() {
    set(EndpointStatus.NONE, EndpointStatus.NONE, 10);
    RequestPipeline p = pipeline(Duration.ofSeconds(5));
    Outcome.Hold h = (Outcome.Hold) p.onBody(eth, "POST", call("eth_call", "[]"));
    assertThat(decided).isEmpty();
    p.hold(h, o -> {});
    set(EndpointStatus.HEALTHY, EndpointStatus.NONE, 10);
    held.onTopology(topology.get());
    assertThat(decided)
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.reason()).isEqualTo(Reason.RECENT);
              assertThat(d.method()).isEqualTo("eth_call");
              assertThat(d.held()).isTrue();
            });
    // Refused at once by an edge that saw the bound: a 503, reported as not held.
    Outcome refused = p.refused(h);
    assertThat(decided).hasSize(2);
    assertThat(decided.get(1).reason()).isEqualTo(Reason.HOLD_REFUSED);
    assertThat(decided.get(1).held()).isFalse();
    assertThat(decided.get(1).httpStatus()).isEqualTo(503);
    assertThat(decided.get(1).errorCode()).isEqualTo("-32002");
    assertThat(refused).isInstanceOf(Outcome.Respond.class);
  }
}
