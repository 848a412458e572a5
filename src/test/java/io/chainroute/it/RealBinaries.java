package io.chainroute.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the real Envoy, anvil, geth, algod, Chromium and Prometheus binaries the integration tests
 * run: {@code ENVOY_BIN} / {@code ANVIL_BIN} / {@code GETH_BIN} / {@code ALGOD_DIR} / {@code
 * CHROMIUM_BIN} / {@code PROMETHEUS_BIN}, else {@code .tools/bin/} ({@code .tools/geth/geth} for
 * geth, {@code .tools/algod/} for algod, Debian's {@code chromium} and {@code prometheus} on the
 * {@code PATH}) as installed by {@code .ci/install-tools}. Under {@code CI=true} a missing binary
 * fails the test run; elsewhere the test is skipped with the reason.
 */
final class RealBinaries {
  private RealBinaries() {}

  static Path envoy() {
    return find("ENVOY_BIN", "envoy");
  }

  static Path anvil() {
    return find("ANVIL_BIN", "anvil");
  }

  /** geth 1.13.15, built by {@code .ci/install-tools}: real nodes that sync one chain over p2p. */
  static Path geth() {
    return find("GETH_BIN", "geth", Path.of(".tools", "geth", "geth"));
  }

  /**
   * The directory with {@code algod}, {@code goal} and {@code kmd} (go-algorand, built by {@code
   * .ci/install-tools}): private networks of real algod nodes on one chain.
   */
  static Path algodDir() {
    String fromEnv = System.getenv("ALGOD_DIR");
    Path dir =
        fromEnv != null && !fromEnv.isBlank()
            ? Path.of(fromEnv)
            : Path.of(".tools", "algod").toAbsolutePath();
    for (String b : new String[] {"algod", "goal", "kmd"}) {
      require(dir.resolve(b), b, "ALGOD_DIR");
    }
    return dir;
  }

  /** Debian's {@code chromium} package, for the status page in a real headless browser. */
  static Path chromium() {
    return find("CHROMIUM_BIN", "chromium", onPath("chromium"));
  }

  /** Debian's {@code prometheus} server, scraping Envoy and chainroute in an IT. */
  static Path prometheus() {
    return find("PROMETHEUS_BIN", "prometheus", onPath("prometheus"));
  }

  /** Debian's {@code promtool} (package {@code prometheus}): checks and unit-tests alert rules. */
  static Path promtool() {
    return find("PROMTOOL_BIN", "promtool", onPath("promtool"));
  }

  /** Debian's {@code redis-server}: the response cache's shared tier in an IT. */
  static Path redisServer() {
    return find("REDIS_SERVER_BIN", "redis-server", onPath("redis-server"));
  }

  /** The first executable {@code name} on the {@code PATH}, else {@code /usr/bin/name}. */
  private static Path onPath(String name) {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(java.io.File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return Path.of(dir, name);
      }
    }
    return Path.of("/usr/bin", name);
  }

  private static Path find(String env, String name) {
    return find(env, name, Path.of(".tools", "bin", name));
  }

  private static Path find(String env, String name, Path installed) {
    String fromEnv = System.getenv(env);
    Path p = fromEnv != null && !fromEnv.isBlank() ? Path.of(fromEnv) : installed.toAbsolutePath();
    return require(p, name, env);
  }

  private static Path require(Path p, String name, String env) {
    boolean ok = Files.isExecutable(p);
    String why = name + " not found at " + p + " (run .ci/install-tools or set " + env + ")";
    if (!ok && "true".equalsIgnoreCase(System.getenv("CI"))) {
      throw new IllegalStateException("CI=true and " + why);
    }
    assumeTrue(ok, why);
    return p;
  }
}
