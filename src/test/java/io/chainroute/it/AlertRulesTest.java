package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

  /** Every distinct name matching {@code prefix[a-z0-9_]+} in a file (comments included). */
  static Set<String> seriesNames(Path file, String prefix) throws IOException {
    Set<String> names = new TreeSet<>();
    Matcher m = Pattern.compile(prefix + "[a-z0-9_]+").matcher(Files.readString(file));
    while (m.find()) {
      names.add(m.group());
    }
    return names;
  }

  @Test
  void theAlertRulesAreValid() throws Exception {
    assertThat(promtool("check", "rules", RULES.getFileName().toString())).contains("SUCCESS");
  }

  @Test
  void everyAlertFiresAndStaysQuietWhereItsUnitTestsSay() throws Exception {
    assertThat(promtool("test", "rules", TESTS.getFileName().toString())).contains("SUCCESS");
    String tests = Files.readString(TESTS);
    Matcher alerts = Pattern.compile("- alert: (\\w+)").matcher(Files.readString(RULES));
    int count = 0;
    for (; alerts.find(); count++) {
      String name = alerts.group(1);
      assertThat(tests).as("unit tests of " + name).contains("alertname: " + name);
    }
    assertThat(count).isGreaterThanOrEqualTo(10);
  }

  @Test
  void theRulesNameOnlySeriesChainrouteExports() throws Exception {
    assertThat(CHAINROUTE_SERIES).containsAll(seriesNames(RULES, "chainroute_"));
    assertThat(seriesNames(RULES, "chainroute_")).isNotEmpty();
  }
}
