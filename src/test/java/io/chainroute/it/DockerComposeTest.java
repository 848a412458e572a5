package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * The shipped docker-compose.yml, as a user runs it: two anvil containers, chainroute built from
 * the Dockerfile, and the stock Envoy image. Skipped where no Docker engine runs (CI here has none;
 * the process-based {@code *IT} tests cover the same paths with real binaries).
 */
@Testcontainers(disabledWithoutDocker = true)
class DockerComposeTest {
  @Container
  static final ComposeContainer COMPOSE =
      new ComposeContainer(new File("docker-compose.yml"))
          .withBuild(true)
          // The compose file refuses to start without it (config/docker.yaml binds 0.0.0.0).
          .withEnv("CHAINROUTE_ADMIN_TOKEN", "compose-test-token")
          .withExposedService(
              "envoy", 10000, Wait.forListeningPort().withStartupTimeout(Duration.ofMinutes(5)))
          // Reached through Testcontainers' ambassador inside the compose network: the compose
          // file publishes only Envoy's listener (ComposeFileTest).
          .withExposedService(
              "chainroute",
              8081,
              Wait.forListeningPort().withStartupTimeout(Duration.ofMinutes(5)));

  @Test
  void composeStackServesJsonRpcThroughEnvoy() {
    String url =
        "http://"
            + COMPOSE.getServiceHost("envoy", 10000)
            + ":"
            + COMPOSE.getServicePort("envoy", 10000)
            + "/eth";
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Rpc.Reply r = Rpc.post(url, Rpc.call("eth_blockNumber", "[]"));
              assertThat(r.status()).isEqualTo(200);
              assertThat(r.json().get("result").asText()).startsWith("0x");
            });
  }
}
