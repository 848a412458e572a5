package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.awaitility.Awaitility;

/**
 * A real Prometheus server (Debian's {@code prometheus}) on a free loopback port, with its storage
 * in the test's directory, scraping the given targets every second. It runs under {@code timeout}
 * so it cannot outlive a crashed test run; {@link #close} stops it. Logs to {@code prometheus.log}.
 */
final class PrometheusProcess implements AutoCloseable {
  /** No IT keeps a Prometheus longer than this, whatever happens to the JVM. */
  private static final Duration LIFETIME = Duration.ofMinutes(10);

  final int port;
  private final Process process;

  private PrometheusProcess(int port, Process process) {
    this.port = port;
    this.process = process;
  }

  /**
   * @param targets job name to {@code host:port/metrics-path} (e.g. {@code
   *     127.0.0.1:9901/stats/prometheus})
   */
  static PrometheusProcess start(Path dir, Map<String, String> targets) {
    Path binary = RealBinaries.prometheus();
    int port = Ports.free();
    StringBuilder config =
        new StringBuilder(
            """
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
              evaluation_interval: 1s
            scrape_configs:
            """);
    targets.forEach(
        (job, target) -> {
          int slash = target.indexOf('/');
          config
              .append("  - job_name: ")
              .append(job)
              .append("\n    metrics_path: ")
              .append(target.substring(slash))
              .append("\n    static_configs:\n      - targets: ['")
              .append(target, 0, slash)
              .append("']\n");
        });
    try {
      Path file = dir.resolve("prometheus.yml");
      Files.writeString(file, config);
      Path data = Files.createDirectories(dir.resolve("prometheus-data"));
      Process p =
          new ProcessBuilder(
                  List.of(
                      "timeout",
                      LIFETIME.toSeconds() + "s",
                      binary.toString(),
                      "--config.file=" + file,
                      "--storage.tsdb.path=" + data,
                      "--web.listen-address=127.0.0.1:" + port,
                      "--storage.tsdb.retention.time=1h"))
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("prometheus.log").toFile())
              .start();
      PrometheusProcess prom = new PrometheusProcess(port, p);
      Awaitility.await("prometheus ready")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(100))
          .failFast("prometheus exited; see " + dir.resolve("prometheus.log"), () -> !p.isAlive())
          .ignoreExceptions()
          .until(() -> Rpc.get(prom.url("/-/ready")).contains("Ready"));
      return prom;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + port + path;
  }

  /** An instant query over the HTTP API: its {@code data.result} array (fails on an error). */
  JsonNode query(String promql) {
    JsonNode r =
        Rpc.getJson(
            url("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)));
    if (!"success".equals(r.path("status").asText())) {
      throw new AssertionError("query " + promql + " failed: " + r);
    }
    return r.get("data").get("result");
  }

  /** The value of a query that gives one sample (a sum, a single series), if it gives one. */
  OptionalDouble scalar(String promql) {
    JsonNode result = query(promql);
    if (result.size() != 1) {
      return OptionalDouble.empty();
    }
    return OptionalDouble.of(Double.parseDouble(result.get(0).get("value").get(1).asText()));
  }

  /** The health of each scrape target by job, from {@code /api/v1/targets}. */
  Map<String, String> targetHealth() {
    Map<String, String> out = new java.util.TreeMap<>();
    for (JsonNode t : Rpc.getJson(url("/api/v1/targets")).get("data").get("activeTargets")) {
      out.put(t.get("labels").get("job").asText(), t.get("health").asText());
    }
    return out;
  }

  @Override
  public void close() {
    Ports.stop(process);
  }
}
