package io.chainroute.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.ProbeReading;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeProber;
import io.chainroute.height.NodeScore;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.pipeline.Decided;
import io.chainroute.pipeline.Reason;
import io.chainroute.routing.Pool;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The registry's series: names, labels and values after events, read back from a real scrape. */
class ChainrouteMetricsTest {
  private static final long NOW = 1_700_000_000_000L;
  private final NodeConfig full = TestConfigs.node("full-1", "http://10.0.0.1:8545").build();
  private final NodeConfig arc =
      TestConfigs.node("archive-1", "http://10.0.0.2:8545").archive().build();
  private final ChainConfig eth = TestConfigs.evm("eth").nodes(full, arc).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private final Map<String, Integer> held = new HashMap<>();
  private final ChainrouteMetrics metrics =
      new ChainrouteMetrics(Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC), false)
          .watch(topology::get, List.of(eth), () -> Map.copyOf(held), () -> 2);

  private static NodeView node(NodeConfig n, long head, long lag, Health h, EndpointStatus s) {
    return new NodeView(n, head, lag, h, "", s, 1200, NOW - 4_000, "10.0.0.9");
  }

  private void heads(long fullHead, Health fullHealth, EndpointStatus fullStatus) {
    List<NodeView> nodes =
        List.of(
            node(full, fullHead, 1000 - fullHead, fullHealth, fullStatus),
            node(arc, 1000, 0, Health.SYNCED, EndpointStatus.HEALTHY));
    topology.set(Topology.of(1, List.of(new ChainView(eth, 1000, nodes))));
  }

  /** Every sample of a text scrape: {@code name{labels}} to value. */
  private Map<String, Double> scrape() {
    Exposition e = metrics.scrape(null);
    assertThat(e.contentType()).startsWith("text/plain; version=0.0.4");
    Map<String, Double> out = new HashMap<>();
    for (String line : new String(e.body(), StandardCharsets.UTF_8).split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
    }
    return out;
  }

  private static Decided decided(Reason reason, Pool pool, String method, int status, String code) {
    return held(reason, pool, method, status, code, 20_000, -1);
  }

  private static Decided held(
      Reason reason,
      Pool pool,
      String method,
      int status,
      String code,
      long classifyNanos,
      long heldNanos) {
    return new Decided(
        "eth", method, BlockRef.LATEST, reason, pool, 1000, classifyNanos, heldNanos, status, code);
  }

  @Test
  void nodeAndChainGaugesAreReadFromTheTopologyAtScrapeTime() {
    heads(998, Health.LAGGING, EndpointStatus.DEGRADED);
    Map<String, Double> s = scrape();
    assertThat(s)
        .containsEntry("chainroute_node_head{chain=\"eth\",node=\"full-1\"}", 998.0)
        .containsEntry("chainroute_node_lag_blocks{chain=\"eth\",node=\"full-1\"}", 2.0)
        .containsEntry(
            "chainroute_node_health{chain=\"eth\",node=\"full-1\",state=\"lagging\"}", 1.0)
        .containsEntry(
            "chainroute_node_health{chain=\"eth\",node=\"full-1\",state=\"synced\"}", 0.0)
        .containsEntry(
            "chainroute_node_health{chain=\"eth\",node=\"archive-1\",state=\"synced\"}", 1.0)
        .containsEntry("chainroute_node_drained{chain=\"eth\",node=\"full-1\"}", 0.0)
        .containsEntry("chainroute_chain_head{chain=\"eth\"}", 1000.0)
        .containsEntry("chainroute_chain_head_age_seconds{chain=\"eth\"}", 4.0)
        .containsEntry("chainroute_chain_pool_members{chain=\"eth\",pool=\"head\"}", 2.0)
        .containsEntry("chainroute_chain_pool_members{chain=\"eth\",pool=\"archive\"}", 1.0)
        .containsEntry("chainroute_held_requests{chain=\"eth\"}", 0.0)
        .containsEntry("chainroute_xds_connected_envoys", 2.0)
        .containsEntry("chainroute_unavailable_total{chain=\"eth\"}", 0.0);

    // The next scrape sees the next topology: nothing was pushed.
    heads(1000, Health.UNREACHABLE, EndpointStatus.NONE);
    held.put("eth", 3);
    s = scrape();
    assertThat(s)
        .containsEntry("chainroute_node_head{chain=\"eth\",node=\"full-1\"}", 1000.0)
        .containsEntry(
            "chainroute_node_health{chain=\"eth\",node=\"full-1\",state=\"unreachable\"}", 1.0)
        .containsEntry(
            "chainroute_node_health{chain=\"eth\",node=\"full-1\",state=\"lagging\"}", 0.0)
        .containsEntry("chainroute_chain_pool_members{chain=\"eth\",pool=\"head\"}", 1.0)
        .containsEntry("chainroute_held_requests{chain=\"eth\"}", 3.0);
    assertThat(s.keySet()).noneMatch(k -> k.contains("10.0.0.") || k.contains("http"));
  }

  @Test
  void aNodeNotYetHeardFromHasNoHeadSampleButAHealth() {
    heads(-1, Health.UNKNOWN, EndpointStatus.NONE);
    Map<String, Double> s = scrape();
    assertThat(s).doesNotContainKey("chainroute_node_head{chain=\"eth\",node=\"full-1\"}");
    assertThat(s)
        .containsEntry(
            "chainroute_node_health{chain=\"eth\",node=\"full-1\",state=\"unknown\"}", 1.0);
  }

  @Test
  void eachDecisionCountsOnceByPoolReasonAndMethod() {
    heads(1000, Health.SYNCED, EndpointStatus.HEALTHY);
    metrics.decided(decided(Reason.RECENT, Pool.HEAD, "eth_blockNumber", 0, ""));
    metrics.decided(decided(Reason.RECENT, Pool.HEAD, "eth_blockNumber", 0, ""));
    metrics.decided(decided(Reason.ARCHIVE, Pool.ARCHIVE, "eth_getBalance", 0, ""));
    metrics.decided(decided(Reason.ANSWERED, null, "other", 200, "-32700"));
    metrics.decided(decided(Reason.UNAVAILABLE, null, "eth_call", 503, "-32002"));
    // A 503 after a hold is not "answered at once".
    metrics.decided(
        held(Reason.UNAVAILABLE, null, "eth_call", 503, "-32002", 1000, 3_000_000_000L));
    Map<String, Double> s = scrape();
    assertThat(s)
        .containsEntry(
            "chainroute_requests_total{chain=\"eth\",method=\"eth_blockNumber\",pool=\"head\",reason=\"recent\"}",
            2.0)
        .containsEntry(
            "chainroute_requests_total{chain=\"eth\",method=\"eth_getBalance\",pool=\"archive\",reason=\"archive\"}",
            1.0)
        .containsEntry(
            "chainroute_requests_total{chain=\"eth\",method=\"eth_call\",pool=\"none\",reason=\"unavailable\"}",
            2.0)
        .containsEntry(
            "chainroute_replies_total{chain=\"eth\",code=\"-32700\",status=\"200\"}", 1.0)
        .containsEntry(
            "chainroute_replies_total{chain=\"eth\",code=\"-32002\",status=\"503\"}", 2.0)
        .containsEntry("chainroute_unavailable_total{chain=\"eth\"}", 1.0)
        .containsEntry("chainroute_classification_seconds_count{chain=\"eth\"}", 6.0)
        .containsEntry("chainroute_held_wait_seconds_count{chain=\"eth\"}", 1.0)
        .containsEntry("chainroute_held_wait_seconds_bucket{chain=\"eth\",le=\"2.5\"}", 0.0)
        .containsEntry("chainroute_held_wait_seconds_bucket{chain=\"eth\",le=\"5.0\"}", 1.0);
    assertThat(s.get("chainroute_classification_seconds_sum{chain=\"eth\"}"))
        .isCloseTo(5 * 20e-6 + 1e-6, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void probeResultsFeedTheLatencyHistogramAndTheErrorCounter() throws Exception {
    heads(1000, Health.SYNCED, EndpointStatus.HEALTHY);
    AtomicReference<NodeProber.Result> next = new AtomicReference<>();
    NodeProber metered =
        metrics.probes((chain, node, lastHead) -> CompletableFuture.completedFuture(next.get()));
    next.set(new NodeProber.Answered(new ProbeReading(1000, false, ""), 3_000, "10.0.0.1", true));
    metered.probe(eth, full, 999).get();
    next.set(new NodeProber.Failed("probe timed out", NodeProber.Cause.TIMEOUT));
    metered.probe(eth, full, 999).get();
    metered.probe(eth, full, 999).get();
    Map<String, Double> s = scrape();
    assertThat(s)
        .containsEntry(
            "chainroute_node_probe_latency_seconds_count{chain=\"eth\",node=\"full-1\"}", 1.0)
        .containsEntry(
            "chainroute_node_probe_latency_seconds_bucket{chain=\"eth\",node=\"full-1\",le=\"0.0025\"}",
            0.0)
        .containsEntry(
            "chainroute_node_probe_latency_seconds_bucket{chain=\"eth\",node=\"full-1\",le=\"0.005\"}",
            1.0)
        .containsEntry(
            "chainroute_node_probe_errors_total{chain=\"eth\",node=\"full-1\",reason=\"timeout\"}",
            2.0);
  }

  @Test
  void xdsEventsCountPushesByTypeAndAcksAndNacksPerEnvoy() {
    heads(1000, Health.SYNCED, EndpointStatus.HEALTHY);
    String eds = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
    String cds = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    metrics.xdsPushed(cds);
    metrics.xdsPushed(eds);
    metrics.xdsPushed(eds);
    metrics.xdsAcked("envoy-a", eds, 12);
    metrics.xdsNacked("envoy-b", eds);
    Map<String, Double> s = scrape();
    assertThat(s)
        .containsEntry("chainroute_xds_pushes_total{type=\"cluster\"}", 1.0)
        .containsEntry("chainroute_xds_pushes_total{type=\"endpoint\"}", 2.0)
        .containsEntry("chainroute_xds_acks_total{envoy=\"envoy-a\"}", 1.0)
        .containsEntry("chainroute_xds_nacks_total{envoy=\"envoy-b\"}", 1.0)
        .containsEntry("chainroute_xds_push_ack_seconds_count", 1.0)
        .containsEntry("chainroute_xds_push_ack_seconds_bucket{le=\"0.01\"}", 0.0)
        .containsEntry("chainroute_xds_push_ack_seconds_bucket{le=\"0.025\"}", 1.0);
  }

  @Test
  void openMetricsWhenTheAcceptHeaderAsksForIt() {
    heads(1000, Health.SYNCED, EndpointStatus.HEALTHY);
    Exposition e = metrics.scrape("application/openmetrics-text; version=1.0.0; charset=utf-8");
    assertThat(e.contentType()).startsWith("application/openmetrics-text");
    String body = new String(e.body(), StandardCharsets.UTF_8);
    assertThat(body).contains("# TYPE chainroute_node_head gauge").endsWith("# EOF\n");
    assertThat(new String(metrics.scrape("text/plain").body(), StandardCharsets.UTF_8))
        .doesNotContain("# EOF");
  }

  @Test
  void latencyWeightAndRegionSpillGaugesCarryChainNodeAndRegion() {
    NodeConfig eu1 = TestConfigs.node("eu-1", "http://10.0.1.1:8545").region("eu").build();
    NodeConfig eu2 = TestConfigs.node("eu-2", "http://10.0.1.2:8545").region("eu").build();
    NodeConfig eu3 = TestConfigs.node("eu-3", "http://10.0.1.3:8545").region("eu").build();
    NodeConfig us1 = TestConfigs.node("us-1", "http://10.0.2.1:8545").region("us").build();
    ChainConfig regional = TestConfigs.evm("eth").nodes(eu1, eu2, eu3, us1).build();
    List<NodeView> nodes =
        List.of(
            node(eu1, 1000, 0, Health.SYNCED, EndpointStatus.HEALTHY)
                .withScore(new NodeScore(42_000, 10, "smoothed probe latency 42.0 ms")),
            // Two of eu's three nodes are down: below localMinHealthyPercent (50), eu spills.
            node(eu2, 990, 10, Health.UNREACHABLE, EndpointStatus.NONE)
                .withScore(new NodeScore(-1, 0, "in no pool")),
            node(eu3, 990, 10, Health.UNREACHABLE, EndpointStatus.NONE)
                .withScore(new NodeScore(-1, 0, "in no pool")),
            node(us1, 1000, 0, Health.SYNCED, EndpointStatus.HEALTHY)
                .withScore(new NodeScore(2_500, 100, "fastest node")));
    topology.set(Topology.of(1, List.of(new ChainView(regional, 1000, nodes))));

    Map<String, Double> s = scrape();

    assertThat(s)
        .containsEntry(
            "chainroute_node_latency_seconds{chain=\"eth\",node=\"eu-1\",region=\"eu\"}", 0.042)
        .containsEntry(
            "chainroute_node_latency_seconds{chain=\"eth\",node=\"us-1\",region=\"us\"}", 0.0025)
        .containsEntry("chainroute_node_weight{chain=\"eth\",node=\"eu-1\",region=\"eu\"}", 10.0)
        .containsEntry("chainroute_node_weight{chain=\"eth\",node=\"eu-2\",region=\"eu\"}", 0.0)
        .containsEntry("chainroute_node_weight{chain=\"eth\",node=\"us-1\",region=\"us\"}", 100.0)
        .containsEntry("chainroute_region_spill{chain=\"eth\",pool=\"head\",region=\"eu\"}", 1.0)
        .containsEntry("chainroute_region_spill{chain=\"eth\",pool=\"head\",region=\"us\"}", 0.0);
    // No latency sample yet: no latency series (a 0 would read as the fastest node).
    assertThat(s)
        .doesNotContainKey(
            "chainroute_node_latency_seconds{chain=\"eth\",node=\"eu-2\",region=\"eu\"}");
  }

  @Test
  void theJvmCollectorsAreThereWhenAsked() {
    ChainrouteMetrics withJvm =
        new ChainrouteMetrics(Clock.systemUTC(), true)
            .watch(topology::get, List.of(eth), Map::of, () -> 0);
    heads(1000, Health.SYNCED, EndpointStatus.HEALTHY);
    String body = new String(withJvm.scrape(null).body(), StandardCharsets.UTF_8);
    assertThat(body)
        .contains("jvm_memory_used_bytes", "jvm_threads_current", "jvm_gc_collection_seconds");
  }
}
