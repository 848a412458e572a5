package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.testing.PromQlNames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * What an operator sees of Envoy, end to end: a real Envoy, two real anvil nodes ({@code full},
 * pruned to the last 16 blocks of state, and {@code archive}), chainroute in this JVM, and a real
 * Prometheus server scraping Envoy's {@code /stats/prometheus} and chainroute's {@code /metrics}.
 * The access log is a file in the test's directory; each line is one JSON object.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EnvoyObservabilityIT {
  private static final String ACCOUNT = "0x000000000000000000000000000000000000bEEF";
  private static final int PRUNE = 16;

  private Path dir;
  private Path accessLog;
  private AnvilProcess full;
  private AnvilProcess archive;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private PrometheusProcess prometheus;
  private int adminHttpPort;

  @BeforeAll
  void startEverything() throws IOException {
    RealBinaries.envoy();
    RealBinaries.prometheus();
    dir = Files.createTempDirectory("chainroute-obs-it");
    accessLog = dir.resolve("access.log");
    full = AnvilProcess.start(dir, "full", PRUNE);
    archive = AnvilProcess.start(dir, "archive", null);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    adminHttpPort = Ports.free();
    String yaml =
        """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
          xdsCoalesce: 20ms
        envoy:
          listenerPort: %d
          adminPort: %d
          accessLog: %s
        chains:
          - name: eth-it
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 0
            fullNodeStateBlocks: %d
            pollInterval: 100ms
            blockTime: 500ms
            probeTimeout: 500ms
            nodes:
              - { name: full, url: "%s" }
              - { name: archive, url: "%s", archive: true }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                adminHttpPort,
                Ports.free(),
                listener,
                envoyAdmin,
                accessLog,
                PRUNE,
                full.url(),
                archive.url());
    ChainrouteConfig config = ConfigLoader.parse(yaml);
    sidecar = Sidecar.start(config);
    // Enough blocks that block 1 is outside a full node's state window: archive routing.
    for (AnvilProcess n : List.of(full, archive)) {
      n.mine(PRUNE * 3);
    }
    envoy = EnvoyProcess.start(dir, config, "obs-envoy", listener, envoyAdmin);
    await("both pools routable through Envoy")
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                Rpc.post(envoy.url("/eth"), balanceAt("latest")).status() == 200
                    && Rpc.post(envoy.url("/eth"), balanceAt("0x1")).status() == 200);
    prometheus =
        PrometheusProcess.start(
            dir,
            Map.of(
                "envoy", "127.0.0.1:" + envoyAdmin + "/stats/prometheus",
                "chainroute", "127.0.0.1:" + adminHttpPort + "/metrics"));
  }

  @AfterAll
  void stopEverything() {
    Ports.closeAll(prometheus, envoy, sidecar, full, archive);
  }

  private static String balanceAt(String block) {
    return Rpc.call("eth_getBalance", "[\"" + ACCOUNT + "\",\"" + block + "\"]");
  }

  /** The access log's lines so far, as JSON. */
  private List<JsonNode> accessLines() {
    try {
      List<JsonNode> out = new ArrayList<>();
      if (!Files.exists(accessLog)) {
        return out;
      }
      for (String line : Files.readAllLines(accessLog)) {
        if (!line.isBlank()) {
          out.add(Rpc.JSON.readTree(line));
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The access line of the one request whose body was {@code body} (marked by a unique id). */
  private JsonNode lineOf(String method, String params) {
    // Earlier requests' lines may still be in Envoy's buffer (it flushes the file about once a
    // second): wait until the count has held still for longer than that.
    int[] seen = {accessLines().size()};
    long[] since = {System.nanoTime()};
    await("the access log settles")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              int n = accessLines().size();
              if (n != seen[0]) {
                seen[0] = n;
                since[0] = System.nanoTime();
              }
              return System.nanoTime() - since[0] > Duration.ofMillis(1500).toNanos();
            });
    int before = seen[0];
    Rpc.Reply r =
        Rpc.post(
            envoy.url("/eth"),
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\""
                + method
                + "\",\"params\":"
                + params
                + "}");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().has("result")).as(r.body()).isTrue();
    // Envoy writes the line when the request ends; its file logger flushes within a second.
    await("the request's access log line")
        .atMost(Duration.ofSeconds(10))
        .until(() -> accessLines().size() > before);
    List<JsonNode> lines = accessLines();
    assertThat(lines).hasSize(before + 1);
    return lines.get(before);
  }

  @Test
  @Order(1)
  void eachRequestsAccessLineCarriesChainroutesPoolAndReasonTheNodeAndTheCode() {
    JsonNode old = lineOf("eth_getBalance", "[\"" + ACCOUNT + "\",\"0x1\"]");
    assertThat(old.get("chain").asText()).isEqualTo("eth-it");
    assertThat(old.get("pool").asText()).isEqualTo("archive");
    assertThat(old.get("reason").asText()).isEqualTo("archive");
    assertThat(old.get("cluster").asText()).isEqualTo("eth-it-archive");
    assertThat(old.get("upstream_host").asText()).isEqualTo(archive.address());
    assertThat(old.get("code").asInt()).isEqualTo(200);
    assertThat(old.get("flags").asText()).isEqualTo("-");
    assertThat(old.get("method").asText()).isEqualTo("POST");
    assertThat(old.get("bytes_in").asLong()).isPositive();
    assertThat(old.get("bytes_out").asLong()).isPositive();
    assertThat(old.get("duration_ms").isNumber()).as(old.toString()).isTrue();

    JsonNode latest = lineOf("eth_getBalance", "[\"" + ACCOUNT + "\",\"latest\"]");
    assertThat(latest.get("chain").asText()).isEqualTo("eth-it");
    assertThat(latest.get("pool").asText()).isEqualTo("head");
    assertThat(latest.get("reason").asText()).isEqualTo("recent");
    assertThat(latest.get("cluster").asText()).isEqualTo("eth-it-head");
    // The archive node is in the head pool too, at a lower priority: the full node answers.
    assertThat(latest.get("upstream_host").asText()).isEqualTo(full.address());
    assertThat(latest.get("code").asInt()).isEqualTo(200);

    // chainroute answers eth_blockNumber itself: the request has its line, and no node in it.
    JsonNode local = lineOf("eth_blockNumber", "[]");
    assertThat(local.get("code").asInt()).isEqualTo(200);
    assertThat(local.path("upstream_host").asText("")).as(local.toString()).isIn("", "null", "-");
    assertThat(accessLines())
        .as("no line carries a path, a body or a header")
        .allSatisfy(
            l ->
                assertThat(l.toString())
                    .doesNotContain("/eth\"", "eth_getBalance", "content-type", ACCOUNT));
  }

  @Test
  @Order(2)
  void envoysPrometheusStatsCountUpstreamRequestsPerChainCluster() {
    String stats = envoy.admin("/stats/prometheus");
    assertThat(stats)
        .contains(
            "envoy_cluster_upstream_rq{envoy_response_code=\"200\",envoy_cluster_name=\"eth-it-head\"}",
            "envoy_cluster_upstream_rq{envoy_response_code=\"200\",envoy_cluster_name=\"eth-it-archive\"}",
            // The alert rules' series (deploy/prometheus/chainroute-alerts.yml).
            "envoy_http_ext_proc_failure_mode_allowed{envoy_http_conn_manager_prefix=\"rpc\"}",
            "envoy_http_downstream_rq_xx{envoy_response_code_class=\"5\","
                + "envoy_http_conn_manager_prefix=\"rpc\"}");
  }

  @Test
  @Order(2)
  void everyEnvoySeriesTheAlertRulesNameIsOneEnvoyExports() throws IOException {
    String stats = envoy.admin("/stats/prometheus");
    Set<String> names = AlertRulesTest.ruleSeries("envoy_");
    assertThat(names).contains("envoy_http_ext_proc_failure_mode_allowed");
    for (String name : names) {
      assertThat(stats).as(name).contains("\n" + name + "{");
    }
  }

  /** Once Prometheus has scraped {@code job} and {@code promql} has one sample: its value. */
  private double scraped(String job, String promql) {
    await("Prometheus scraped " + job)
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              assertThat(prometheus.targetHealth()).containsEntry(job, "up");
              assertThat(prometheus.scalar(promql)).isPresent();
            });
    return prometheus.scalar(promql).getAsDouble();
  }

  private static final String HEAD_REQUESTS =
      "sum(envoy_cluster_upstream_rq{envoy_cluster_name=\"eth-it-head\"})";

  @Test
  @Order(3)
  void aRealPrometheusScrapesEnvoyAndSeesItsUpstreamRequestCountRise() {
    double before = scraped("envoy", HEAD_REQUESTS);
    for (int i = 0; i < 25; i++) {
      assertThat(Rpc.post(envoy.url("/eth"), balanceAt("latest")).status()).isEqualTo(200);
    }
    await("Prometheus sees the 25 requests")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () ->
                assertThat(prometheus.scalar(HEAD_REQUESTS).getAsDouble())
                    .isGreaterThanOrEqualTo(before + 25));
    assertThat(prometheus.query("envoy_http_ext_proc_streams_started")).isNotEmpty();
    assertThat(prometheus.scalar("sum(envoy_http_ext_proc_failure_mode_allowed)"))
        .as("chainroute answered every request: nothing failed open")
        .hasValue(0.0);
  }

  private static final String FULL_HEAD = "chainroute_node_head{chain=\"eth-it\",node=\"full\"}";

  @Test
  @Order(4)
  void aRealPrometheusScrapesChainroutesSeriesAndSeesANodesHeadRiseAndRoutedRequestsCount() {
    double head = scraped("chainroute", FULL_HEAD);
    assertThat(head).isEqualTo((double) full.blockNumber());
    full.mine(5);
    archive.mine(5);
    await("Prometheus sees the full node's head rise by 5")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(() -> assertThat(prometheus.scalar(FULL_HEAD)).hasValue(head + 5));
    assertThat(
            prometheus.scalar(
                "chainroute_node_health{chain=\"eth-it\",node=\"full\",state=\"synced\"}"))
        .hasValue(1.0);
    assertThat(
            prometheus
                .scalar(
                    "sum(chainroute_requests_total{chain=\"eth-it\",pool=\"archive\","
                        + "reason=\"archive\"})")
                .orElse(0))
        .as("the archive requests sent so far")
        .isGreaterThanOrEqualTo(1);
    assertThat(prometheus.query("chainroute_xds_connected_envoys")).isNotEmpty();
  }

  /**
   * Issue 10 item 4: the Grafana dashboard and the alert rules read only series that a live scrape
   * of this chainroute and this Envoy exposes (a family's {@code # TYPE} line counts: a counter
   * whose labels have not been seen yet has no sample but is a series Prometheus will get).
   */
  @Test
  @Order(5)
  void theDashboardAndTheAlertRulesNameOnlySeriesALiveScrapeHas() throws IOException {
    // One reply chainroute makes itself (a parse error), so its replies series exists.
    Rpc.Reply bad = Rpc.post(envoy.url("/eth"), "{not json");
    assertThat(bad.json().path("error").path("code").asInt()).as(bad.body()).isEqualTo(-32700);
    Set<String> live = new TreeSet<>();
    exposed(Rpc.get("http://127.0.0.1:" + adminHttpPort + "/metrics"), live);
    exposed(envoy.admin("/stats/prometheus"), live);
    List<String> prefixes = List.of("chainroute_", "envoy_");
    Set<String> wanted = new TreeSet<>();
    for (String expr :
        PromQlNames.dashboardExpressions(Path.of("deploy/grafana/chainroute.json"))) {
      wanted.addAll(PromQlNames.in(expr, prefixes));
    }
    assertThat(wanted).hasSizeGreaterThan(15);
    for (String expr : AlertRulesTest.alertExpressions().values()) {
      wanted.addAll(PromQlNames.in(expr, prefixes));
    }
    assertThat(live).containsAll(wanted);
  }

  /**
   * Last, as it ends the full node: Prometheus sees a killed node's health move from synced to
   * unreachable, and the head pool lose its member.
   */
  @Test
  @Order(6)
  void aRealPrometheusSeesAKilledNodesHealthChange() {
    String synced = "chainroute_node_health{chain=\"eth-it\",node=\"full\",state=\"synced\"}";
    String unreachable =
        "chainroute_node_health{chain=\"eth-it\",node=\"full\",state=\"unreachable\"}";
    assertThat(scraped("chainroute", synced)).isEqualTo(1.0);
    full.kill();
    await("Prometheus sees the killed node unreachable")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              assertThat(prometheus.scalar(unreachable)).hasValue(1.0);
              assertThat(prometheus.scalar(synced)).hasValue(0.0);
            });
  }

  /** The series names of one exposition: samples, and each {@code # TYPE} family's names. */
  private static void exposed(String exposition, Set<String> out) {
    for (String line : exposition.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        String[] f = line.split(" ");
        out.add(f[2]);
        if (f[3].equals("histogram")) {
          out.addAll(List.of(f[2] + "_bucket", f[2] + "_sum", f[2] + "_count"));
        }
      } else if (!line.isEmpty() && !line.startsWith("#")) {
        int end = line.indexOf('{');
        out.add(line.substring(0, end > 0 ? end : line.indexOf(' ')));
      }
    }
  }
}
