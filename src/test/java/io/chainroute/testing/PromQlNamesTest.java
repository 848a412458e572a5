package io.chainroute.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PromQlNamesTest {
  private static final List<String> PREFIXES = List.of("chainroute_", "envoy_");

  @Test
  void takesMetricNamesAndLeavesLabelsStringsAndFunctions() {
    String expr =
        "histogram_quantile(0.95, sum by (le, envoy_cluster_name) (rate("
            + "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~\"chainroute_x-.*\"}[5m])))"
            + " / on (envoy_cluster_name) group_left (chain) chainroute_chain_head";
    assertThat(PromQlNames.in(expr, PREFIXES))
        .containsExactly("chainroute_chain_head", "envoy_cluster_upstream_rq_time_bucket");
  }

  @Test
  void aNameBesideAComparisonOrWithoutMatchersIsFound() {
    assertThat(PromQlNames.in("max(chainroute_node_health) == 1 and chainroute_up", PREFIXES))
        .containsExactly("chainroute_node_health", "chainroute_up");
  }

  @Test
  void theDashboardHasExpressionsAndEachNamesAtLeastOneSeries() throws Exception {
    List<String> exprs =
        PromQlNames.dashboardExpressions(Path.of("deploy/grafana/chainroute.json"));
    assertThat(exprs).hasSizeGreaterThan(10);
    assertThat(exprs).allSatisfy(e -> assertThat(PromQlNames.in(e, PREFIXES)).isNotEmpty());
  }
}
