package io.chainroute.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;

/** A real Envoy process started from a rendered bootstrap; ready once its admin says LIVE. */
final class EnvoyProcess implements AutoCloseable {
  final int listenerPort;
  final int adminPort;
  private final Process process;

  private EnvoyProcess(int listenerPort, int adminPort, Process process) {
    this.listenerPort = listenerPort;
    this.adminPort = adminPort;
    this.process = process;
  }

  static EnvoyProcess start(Path dir, String bootstrapYaml, int listenerPort, int adminPort) {
    try {
      Path bootstrap = dir.resolve("envoy.yaml");
      Files.writeString(bootstrap, bootstrapYaml);
      Process p =
          new ProcessBuilder(
                  List.of(
                      RealBinaries.envoy().toString(),
                      "-c", bootstrap.toString(),
                      "--log-level", "warn",
                      "--base-id", String.valueOf(adminPort),
                      "--concurrency", "2"))
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("envoy.log").toFile())
              .start();
      EnvoyProcess e = new EnvoyProcess(listenerPort, adminPort, p);
      Awaitility.await("envoy ready")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(100))
          .ignoreExceptions()
          .until(() -> {
            if (!p.isAlive()) {
              throw new AssertionError("envoy exited: " + Files.readString(dir.resolve("envoy.log")));
            }
            return Rpc.get("http://127.0.0.1:" + adminPort + "/ready").trim().equals("LIVE");
          });
      return e;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String url(String path) {
    return "http://127.0.0.1:" + listenerPort + path;
  }

  String admin(String path) {
    return Rpc.get("http://127.0.0.1:" + adminPort + path);
  }

  @Override
  public void close() {
    Ports.stop(process);
  }
}
