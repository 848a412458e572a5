package io.chainroute.bench;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.metrics.ChainrouteMetrics;
import io.chainroute.pipeline.Decided;
import io.chainroute.pipeline.DecisionListener;
import io.chainroute.pipeline.DecisionLog;
import io.chainroute.pipeline.HeldRequests;
import io.chainroute.pipeline.Outcome;
import io.chainroute.pipeline.Reason;
import io.chainroute.pipeline.RequestPipeline;
import io.chainroute.routing.Pool;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the metrics and the decision log add per request: the pipeline deciding one eth_getBalance
 * (classification included) with no listener, with the decision log (DEBUG off, as in production),
 * and with the decision log and the metrics (as chainroute runs by default); and the listeners
 * alone on one decision.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DecisionBenchmark {
  private static final byte[] BODY =
      ("{\"jsonrpc\":\"2.0\",\"id\":340801,\"method\":\"eth_getBalance\",\"params\":"
              + "[\"0x52d32377e78131c132decd6b8efbc170a26a25c8\",\"latest\"]}")
          .getBytes(StandardCharsets.UTF_8);
  private static final Decided DECIDED =
      new Decided(
          "eth", "eth_getBalance", BlockRef.LATEST, Reason.RECENT, Pool.HEAD, 1000, 5_000, -1, 0, "");

  private ScheduledExecutorService timer;
  private ChainConfig eth;
  private RequestPipeline bare;
  private RequestPipeline logged;
  private RequestPipeline metered;
  private ChainrouteMetrics metrics;
  private DecisionLog log;

  @Setup
  public void setUp() {
    eth =
        ConfigLoader.parse(
                "chains:\n  - name: eth\n    protocol: evm\n    pathPrefix: /eth\n    nodes:\n"
                    + "      - { name: full-1, url: \"http://127.0.0.1:9001\" }\n"
                    + "      - { name: archive-1, url: \"http://127.0.0.1:9003\", archive: true }\n")
            .chains()
            .get(0);
    List<NodeView> nodes =
        eth.nodes().stream()
            .map(
                n ->
                    new NodeView(
                        n, 1000, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 500, 1, "127.0.0.1"))
            .toList();
    Topology t = Topology.of(1, List.of(new ChainView(eth, 1000, nodes)));
    timer = Executors.newSingleThreadScheduledExecutor();
    HeldRequests held = new HeldRequests(timer, () -> t, 100);
    Map<String, ChainAdapter> adapters = Map.of("eth", new EvmAdapter());
    metrics = new ChainrouteMetrics(Clock.systemUTC(), true);
    metrics.watch(() -> t, List.of(eth), held::sizeByChain, () -> 1);
    log = new DecisionLog();
    bare = new RequestPipeline(List.of(eth), adapters, () -> t, () -> t, held, Duration.ZERO);
    logged =
        new RequestPipeline(List.of(eth), adapters, () -> t, () -> t, held, Duration.ZERO, log);
    metered =
        new RequestPipeline(
            List.of(eth),
            adapters,
            () -> t,
            () -> t,
            held,
            Duration.ZERO,
            DecisionListener.all(List.of(log, metrics)));
  }

  @TearDown
  public void tearDown() {
    timer.shutdownNow();
  }

  @Benchmark
  public Outcome pipelineNoListener() {
    return bare.onBody(eth, "POST", BODY);
  }

  @Benchmark
  public Outcome pipelineDecisionLog() {
    return logged.onBody(eth, "POST", BODY);
  }

  @Benchmark
  public Outcome pipelineDecisionLogAndMetrics() {
    return metered.onBody(eth, "POST", BODY);
  }

  @Benchmark
  public void metricsAlone() {
    metrics.decided(DECIDED);
  }
}
