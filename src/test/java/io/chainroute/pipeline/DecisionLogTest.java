package io.chainroute.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
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
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The decision log: what each line holds, what it never holds, and the INFO rate limit. */
class DecisionLogTest {
  /** Records lines; DEBUG on or off. */
  private static final class Recorder implements DecisionLog.Sink {
    final List<String> debug = new ArrayList<>();
    final List<String> info = new ArrayList<>();
    boolean debugOn = true;

    @Override
    public boolean debugEnabled() {
      return debugOn;
    }

    @Override
    public void debug(String line) {
      debug.add(line);
    }

    @Override
    public void info(String line) {
      info.add(line);
    }
  }

  private final Recorder sink = new Recorder();
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final DecisionLog log = new DecisionLog(sink, 3, nanos::get);
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  private static Decided of(Reason reason, Pool pool) {
    return new Decided(
        "eth", "eth_getBalance", BlockRef.number(12), reason, pool, 1000, 5_000, -1, 0, "");
  }

  @Test
  void aHeadRouteIsOneDebugLineWithTheDecisionsFields() {
    log.decided(of(Reason.RECENT, Pool.HEAD));
    assertThat(sink.info).isEmpty();
    assertThat(sink.debug)
        .containsExactly(
            "Routing decision. chain=eth method=eth_getBalance block=12 pool=head reason=recent"
                + " head=1000");
  }

  @Test
  void withDebugOffRoutineDecisionsWriteNothing() {
    sink.debugOn = false;
    log.decided(of(Reason.RECENT, Pool.HEAD));
    assertThat(sink.debug).isEmpty();
    assertThat(sink.info).isEmpty();
  }

  @Test
  void unusualDecisionsAreInfoAtMostNPerSecondAndTheNextSaysHowManyWereLeftOut() {
    for (int i = 0; i < 10; i++) {
      log.decided(of(Reason.ARCHIVE, Pool.ARCHIVE));
    }
    assertThat(sink.info).hasSize(3).allMatch(l -> l.contains("reason=archive"));
    // The ones over the limit still go to DEBUG.
    assertThat(sink.debug).hasSize(7);
    nanos.addAndGet(Duration.ofMillis(999).toNanos());
    log.decided(of(Reason.NO_ARCHIVE, Pool.HEAD));
    assertThat(sink.info).hasSize(3);
    nanos.addAndGet(Duration.ofMillis(1).toNanos());
    log.decided(of(Reason.NO_ARCHIVE, Pool.HEAD));
    assertThat(sink.info).hasSize(4);
    assertThat(sink.info.get(3)).contains("reason=no_archive").endsWith(" suppressed=8");
    log.decided(of(Reason.UNAVAILABLE, null));
    assertThat(sink.info.get(4)).doesNotContain("suppressed");
  }

  @Test
  void heldRequestsAndRepliesShowTheirWaitAndStatus() {
    long waited = Duration.ofMillis(1500).toNanos();
    Decided d = of(Reason.UNAVAILABLE, null);
    log.decided(
        new Decided(
            d.chain(),
            "eth_call",
            BlockRef.LATEST,
            d.reason(),
            null,
            -1,
            1,
            waited,
            503,
            "-32002"));
    assertThat(sink.info)
        .containsExactly(
            "Routing decision. chain=eth method=eth_call block=latest pool=- reason=unavailable"
                + " head=-1 heldMs=1500 status=503 code=-32002");
    // An algod wait is the protocol's normal long poll: held, yet routine.
    log.decided(
        new Decided(
            "algo",
            "wait_for_height",
            BlockRef.number(11),
            Reason.HEIGHT_WAIT,
            null,
            10,
            1,
            3_000_000_000L,
            200,
            ""));
    assertThat(sink.info).hasSize(1);
    assertThat(sink.debug).singleElement().asString().contains("heldMs=3000 status=200");
  }

  @Test
  void aBlockHashIsLoggedAsItsKindNeverItsValue() {
    assertThat(DecisionLog.block(BlockRef.HASH)).isEqualTo("hash");
    assertThat(DecisionLog.block(BlockRef.EARLIEST)).isEqualTo("earliest");
    assertThat(DecisionLog.block(null)).isEqualTo("-");
  }

  @Test
  void noBodyParameterUnknownMethodNameOrSecretReachesTheLog() {
    NodeConfig full = TestConfigs.node("full", "http://user:s3cr3t-pass@10.0.0.1:8545").build();
    NodeConfig arc = TestConfigs.node("arc", "http://10.0.0.2:8545").archive().build();
    ChainConfig eth = TestConfigs.evm("eth").nodes(full, arc).build();
    List<NodeView> nodes =
        List.of(
            new NodeView(full, 1000, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 1, 0, "x"),
            new NodeView(arc, 1000, 0, Health.SYNCED, "", EndpointStatus.NONE, 1, 0, "y"));
    Topology t = Topology.of(1, List.of(new ChainView(eth, 1000, nodes)));
    Map<String, ChainAdapter> adapters = Map.of("eth", new EvmAdapter());
    RequestPipeline p =
        new RequestPipeline(
            List.of(eth),
            adapters,
            () -> t,
            () -> t,
            new HeldRequests(timer, () -> t, 10),
            Duration.ZERO,
            log,
            NodeCalls.NONE);
    String signedTx = "0xf86c0a8502540be40082520894deadbeefcafe0001";
    String hash = "0x" + "ab".repeat(32);
    String account = "0x00000000000000000000000000000000c0ffee01";
    List<String> bodies =
        List.of(
            "{\"jsonrpc\":\"2.0\",\"id\":\"id-s3cr3t\",\"method\":\"eth_sendRawTransaction\","
                + "\"params\":[\""
                + signedTx
                + "\"]}",
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getBalance\",\"params\":[\""
                + account
                + "\",{\"blockHash\":\""
                + hash
                + "\"}]}",
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"personal_unlock_s3cr3t\",\"params\":[]}",
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[{\"data\":\""
                + signedTx
                + "\"},\"0x1\"]}]",
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[\"" + signedTx);
    for (String b : bodies) {
      p.onBody(eth, "POST", b.getBytes(StandardCharsets.UTF_8));
    }
    List<String> all = new ArrayList<>(sink.debug);
    all.addAll(sink.info);
    // One line per request, whichever level.
    assertThat(all).hasSize(bodies.size());
    assertThat(all)
        .noneMatch(
            l ->
                l.contains(signedTx)
                    || l.contains("deadbeef")
                    || l.contains(hash)
                    || l.contains("c0ffee")
                    || l.contains("s3cr3t")
                    || l.contains("10.0.0."));
    assertThat(all)
        .anySatisfy(l -> assertThat(l).contains("method=eth_sendRawTransaction"))
        .anySatisfy(l -> assertThat(l).contains("method=other"))
        .anySatisfy(l -> assertThat(l).contains("method=batch block=1"))
        // The archive has no usable node: the hash-addressed state read falls back to head.
        .anySatisfy(l -> assertThat(l).contains("block=hash pool=head reason=no_archive"))
        .anySatisfy(l -> assertThat(l).contains("reason=answered").contains("code=-32700"));
  }
}
