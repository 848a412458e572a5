package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /metrics} of a running chainroute with a real Envoy and two mining anvil nodes (issue
 * 10, item 1): requests sent through Envoy move the request and reply counters, the node heads rise
 * with the chain, the probe histogram fills, Envoy's ACKs are counted, and the scrape names nodes
 * by their configured names, never their URLs.
 */
class MetricsIT {
  private final List<AnvilProcess> nodes = new ArrayList<>();
  private DrillRig rig;

  @AfterEach
  void tearDown() {
    if (rig != null) {
      rig.close();
    }
    nodes.forEach(AnvilProcess::close);
  }

  /** Every sample of a text scrape: {@code name{labels}} to value. */
  private Map<String, Double> scrape() {
    Map<String, Double> out = new HashMap<>();
    for (String line : Rpc.get(rig.chainroute.adminUrl("/metrics")).split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
    }
    return out;
  }

  private static double value(Map<String, Double> scrape, String series) {
    return scrape.getOrDefault(series, 0.0);
  }

  @Test
  void requestsAndHeadsMoveTheSeries() throws IOException, InterruptedException {
    RealBinaries.envoy();
    Path dir = Files.createTempDirectory(Files.createDirectories(Path.of("target")), "metrics-it-");
    for (String name : List.of("a", "b")) {
      nodes.add(AnvilProcess.startMining(dir, name, 1));
    }
    long top = nodes.stream().mapToLong(AnvilProcess::blockNumber).max().orElseThrow() + 1;
    nodes.forEach(n -> n.mineTo(top));
    rig =
        DrillRig.start(
            dir,
            "rig",
            DrillRig.anvilChain(
                Duration.ofSeconds(1),
                List.of(
                    "{ name: a, url: \"%s\" }".formatted(nodes.get(0).url()),
                    "{ name: b, url: \"%s\", archive: true }".formatted(nodes.get(1).url()))));
    rig.awaitServing("eth", "/eth", List.of("a", "b"));

    String headA = "chainroute_node_head{chain=\"eth\",node=\"a\"}";
    String latest =
        "chainroute_requests_total{chain=\"eth\",method=\"eth_getBalance\",pool=\"head\",reason=\"recent\"}";
    // chainroute answers eth_blockNumber itself (pool none, reason local).
    String blockNumbers =
        "chainroute_requests_total{chain=\"eth\",method=\"eth_blockNumber\",pool=\"none\",reason=\"local\"}";
    String archived =
        "chainroute_requests_total{chain=\"eth\",method=\"eth_getBalance\",pool=\"archive\",reason=\"archive\"}";
    String parseErrors = "chainroute_replies_total{chain=\"eth\",code=\"-32700\",status=\"200\"}";
    Map<String, Double> before = scrape();

    String url = rig.envoy().url("/eth");
    String account = "0x000000000000000000000000000000000000bEEF";
    for (int i = 0; i < 20; i++) {
      assertThat(
              Rpc.post(url, Rpc.call("eth_getBalance", "[\"" + account + "\",\"latest\"]"))
                  .status())
          .isEqualTo(200);
    }
    for (int i = 0; i < 5; i++) {
      assertThat(Rpc.post(url, Rpc.call("eth_blockNumber", "[]")).status()).isEqualTo(200);
    }
    // earliest is outside every full node's window: the archive pool.
    Rpc.post(url, Rpc.call("eth_getBalance", "[\"" + nodes.get(0).address() + "\",\"earliest\"]"));
    Rpc.post(url, "{not json");

    Map<String, Double> after = scrape();
    assertThat(value(after, latest) - value(before, latest)).isEqualTo(20.0);
    assertThat(value(after, blockNumbers) - value(before, blockNumbers)).isEqualTo(5.0);
    assertThat(value(after, archived) - value(before, archived)).isEqualTo(1.0);
    assertThat(value(after, parseErrors) - value(before, parseErrors)).isEqualTo(1.0);
    assertThat(value(after, "chainroute_classification_seconds_count{chain=\"eth\"}"))
        .isGreaterThanOrEqualTo(27.0);
    assertThat(after)
        .containsEntry("chainroute_xds_connected_envoys", 1.0)
        .containsEntry("chainroute_node_health{chain=\"eth\",node=\"a\",state=\"synced\"}", 1.0)
        .containsEntry("chainroute_chain_pool_members{chain=\"eth\",pool=\"archive\"}", 1.0)
        .containsEntry("chainroute_unavailable_total{chain=\"eth\"}", 0.0);
    assertThat(value(after, "chainroute_xds_acks_total{envoy=\"" + DrillRig.ENVOY_NODE_ID + "\"}"))
        .isGreaterThanOrEqualTo(2.0);
    assertThat(value(after, "chainroute_xds_pushes_total{type=\"endpoint\"}"))
        .isGreaterThanOrEqualTo(1.0);
    assertThat(value(after, "chainroute_xds_push_ack_seconds_count")).isGreaterThanOrEqualTo(1.0);
    assertThat(
            value(after, "chainroute_node_probe_latency_seconds_count{chain=\"eth\",node=\"a\"}"))
        .isGreaterThan(0.0);
    assertThat(after.keySet())
        .anyMatch(k -> k.startsWith("jvm_memory_used_bytes"))
        .noneMatch(k -> k.contains(nodes.get(0).url()) || k.contains("127.0.0.1"));

    // The head series follow the chain: anvil mines a block a second.
    double head = value(after, headA);
    assertThat(head).isGreaterThanOrEqualTo((double) top);
    Awaitility.await("chainroute_node_head of a rises")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> value(scrape(), headA) >= head + 2);
    assertThat(value(scrape(), "chainroute_chain_head{chain=\"eth\"}")).isGreaterThan(head);

    // Prometheus asks for OpenMetrics first.
    HttpResponse<String> open =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(rig.chainroute.adminUrl("/metrics")))
                    .header(
                        "accept",
                        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(open.headers().firstValue("content-type").orElse(""))
        .startsWith("application/openmetrics-text");
    assertThat(open.body()).contains("chainroute_requests_total{").endsWith("# EOF\n");
  }
}
