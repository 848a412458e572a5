package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.chainroute.testing.PromQlNames;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The shipped alert rules ({@code deploy/prometheus/chainroute-alerts.yml}) pass {@code promtool
 * check rules} and their unit tests ({@code promtool test rules}: each alert fires and stays quiet
 * where it should), and name only series chainroute exports. Needs Debian's {@code promtool}
 * ({@code .ci/install-tools}); under {@code CI=true} a missing one fails.
 */
class AlertRulesTest {
  static final Path RULES = Path.of("deploy", "prometheus", "chainroute-alerts.yml");
  private static final Path TESTS = Path.of("deploy", "prometheus", "chainroute-alerts.test.yml");

  /** chainroute's series (io.chainroute.metrics), without the _total/_seconds suffix variants. */
  private static final Set<String> CHAINROUTE_SERIES =
      Set.of(
          "chainroute_node_head",
          "chainroute_node_lag_blocks",
          "chainroute_node_health",
          "chainroute_node_probe_latency_seconds",
          "chainroute_node_probe_errors_total",
          "chainroute_node_drained",
          "chainroute_chain_head",
          "chainroute_chain_head_age_seconds",
          "chainroute_chain_pool_members",
          "chainroute_requests_total",
          "chainroute_replies_total",
          "chainroute_held_requests",
          "chainroute_unavailable_total",
          "chainroute_xds_acks_total",
          "chainroute_xds_nacks_total",
          "chainroute_xds_refused_total",
          "chainroute_xds_connected_envoys");

  private static String promtool(String... args) throws IOException, InterruptedException {
    List<String> cmd = new java.util.ArrayList<>(List.of(RealBinaries.promtool().toString()));
    cmd.addAll(List.of(args));
    Process p =
        new ProcessBuilder(cmd)
            .directory(RULES.getParent().toFile())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("promtool finished").isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  /** Each rule's {@code expr}, by its alert name. */
  static Map<String, String> alertExpressions() throws IOException {
    Map<String, String> out = new TreeMap<>();
    for (JsonNode group : new YAMLMapper().readTree(RULES.toFile()).path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        out.put(rule.path("alert").asText(), rule.path("expr").asText());
      }
    }
    return out;
  }

  /** The metric names (not labels) the rules' expressions read that start with {@code prefix}. */
  static Set<String> ruleSeries(String prefix) throws IOException {
    Set<String> names = new TreeSet<>();
    for (String expr : alertExpressions().values()) {
      names.addAll(PromQlNames.in(expr, List.of(prefix)));
    }
    return names;
  }

  @Test
  void theAlertRulesAreValid() throws Exception {
    assertThat(promtool("check", "rules", RULES.getFileName().toString())).contains("SUCCESS");
  }

  /** The demo's Prometheus config (deploy/prometheus/prometheus-demo.yml) loads these rules. */
  @Test
  void theDemosPrometheusConfigIsValidAndLoadsTheRules() throws Exception {
    assertThat(promtool("check", "config", "prometheus-demo.yml"))
        .contains("SUCCESS: 1 rule files found")
        .contains("is valid prometheus config file syntax");
  }

  @Test
  void everyAlertFiresAndStaysQuietWhereItsUnitTestsSay() throws Exception {
    assertThat(promtool("test", "rules", TESTS.getFileName().toString())).contains("SUCCESS");
    String tests = Files.readString(TESTS);
    Set<String> alerts = alertExpressions().keySet();
    assertThat(alerts).hasSizeGreaterThanOrEqualTo(10);
    for (String name : alerts) {
      assertThat(tests).as("unit tests of " + name).contains("alertname: " + name);
    }
  }

  @Test
  void theRulesNameOnlySeriesChainrouteExports() throws Exception {
    assertThat(ruleSeries("chainroute_")).isNotEmpty();
    assertThat(CHAINROUTE_SERIES).containsAll(ruleSeries("chainroute_"));
  }
}
