package io.chainroute.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;

/**
 * chainroute as a real child process ({@code bin/chainroute run --config FILE}, the launcher users
 * run, with its JVM flags), so a drill can {@code kill -9} it and start it again on the same ports.
 * Ready once its admin {@code /healthz} answers, which chainroute binds after the xDS and ext_proc
 * ports. Each launch logs to {@code chainroute-N.log} in the drill's directory.
 */
final class ChainrouteProcess implements AutoCloseable {
  private final Path dir;
  private final Path config;
  private final int adminHttpPort;
  private final java.util.Map<String, String> env;
  private Process process;
  private int launches;
  private long readyNanos;

  private ChainrouteProcess(Path dir, int adminHttpPort, java.util.Map<String, String> env) {
    this.dir = dir;
    this.config = dir.resolve("chainroute.yaml");
    this.adminHttpPort = adminHttpPort;
    this.env = java.util.Map.copyOf(env);
  }

  static ChainrouteProcess start(Path dir, String configYaml, int adminHttpPort) {
    return start(dir, configYaml, adminHttpPort, java.util.Map.of());
  }

  /**
   * @param env added to the process's environment (node header values the config names)
   */
  static ChainrouteProcess start(
      Path dir, String configYaml, int adminHttpPort, java.util.Map<String, String> env) {
    ChainrouteProcess c = new ChainrouteProcess(dir, adminHttpPort, env);
    c.launch(configYaml);
    return c;
  }

  /** The launcher in this checkout; its jar is built by {@code mvn package}, before the ITs run. */
  private static Path launcher() {
    Path jar = Path.of("target", "chainroute.jar");
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException(
          jar.toAbsolutePath() + " missing: run mvn -B package -DskipTests first");
    }
    return Path.of("bin", "chainroute").toAbsolutePath();
  }

  /** Starts chainroute (again) with this config and waits for {@code /healthz}. */
  void launch(String configYaml) {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException("chainroute is still running (pid " + process.pid() + ")");
    }
    launches++;
    Path log = dir.resolve("chainroute-" + launches + ".log");
    try {
      Files.writeString(config, configYaml);
      ProcessBuilder b =
          new ProcessBuilder(List.of(launcher().toString(), "run", "--config", config.toString()))
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      b.environment().putAll(env);
      process = b.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Awaitility.await("chainroute /healthz (launch " + launches + ")")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .failFast("chainroute exited; see " + log, () -> !process.isAlive())
        .ignoreExceptions()
        .until(() -> Rpc.get(adminUrl("/healthz")).contains("ok"));
    readyNanos = System.nanoTime();
  }

  /** When the last launch answered {@code /healthz} ({@link System#nanoTime()}). */
  long readyNanos() {
    return readyNanos;
  }

  String adminUrl(String path) {
    return "http://127.0.0.1:" + adminHttpPort + path;
  }

  /** Rewrites the running process's config file and sends SIGHUP: chainroute re-reads it. */
  void reload(String configYaml) {
    try {
      Files.writeString(config, configYaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Ports.signal(process, "HUP");
  }

  /** The current launch's log. */
  String log() {
    try {
      return Files.readString(dir.resolve("chainroute-" + launches + ".log"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** kill -9: no graceful shutdown, every socket reset by the kernel. */
  void kill() {
    Ports.kill(process);
  }

  @Override
  public void close() {
    if (process != null) {
      Ports.stop(process);
    }
  }
}
