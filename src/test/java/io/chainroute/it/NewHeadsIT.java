package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * newHeads push end to end: two real anvil nodes with {@code wsUrl}, chainroute polling only once a
 * minute, and a real Envoy. A block mined on one node must move Envoy's endpoints within seconds,
 * which only the subscription can explain (the next poll is a minute away).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NewHeadsIT {
  private static final Duration PUSHED = Duration.ofSeconds(3);

  private Path dir;
  private AnvilProcess a;
  private AnvilProcess b;
  private Sidecar sidecar;
  private EnvoyProcess envoy;

  @BeforeAll
  void startEverything() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-newheads-it");
    a = AnvilProcess.start(dir, "nh-a", null);
    b = AnvilProcess.start(dir, "nh-b", null);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml =
        """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
          xdsCoalesce: 10ms
        envoy:
          listenerPort: %d
          adminPort: %d
        chains:
          - name: eth-nh
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 0
            degradedLagBlocks: 5
            pollInterval: 60s
            blockTime: 60s
            nodes:
              - { name: a, url: "%s", wsUrl: "%s" }
              - { name: b, url: "%s", wsUrl: "%s" }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                a.url(),
                a.wsUrl(),
                b.url(),
                b.wsUrl());
    ChainrouteConfig config = ConfigLoader.parse(yaml);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "nh-envoy", listener, envoyAdmin);
    await("both nodes healthy in Envoy")
        .atMost(Duration.ofSeconds(20))
        .until(() -> healthy(a) && healthy(b));
  }

  @AfterAll
  void stopEverything() {
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar, a, b}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing the rest
      }
    }
  }

  /** Envoy's own view: the node's host line in the head cluster says healthy (not degraded). */
  private boolean healthy(AnvilProcess n) {
    return envoy
        .admin("/clusters")
        .contains("eth-nh-head::" + n.address() + "::health_flags::healthy");
  }

  private boolean degraded(AnvilProcess n) {
    return envoy
        .admin("/clusters")
        .contains("eth-nh-head::" + n.address() + "::health_flags::/degraded_eds_health");
  }

  @Test
  void aMinedBlockReachesEnvoyThroughTheSubscriptionNotThePoll() {
    // a moves ahead: b is a block behind and must turn DEGRADED in Envoy.
    long start = System.nanoTime();
    a.mine(1);
    await("b degraded after a's new head")
        .atMost(PUSHED)
        .pollInterval(Duration.ofMillis(5))
        .until(() -> degraded(b));
    Duration first = Duration.ofNanos(System.nanoTime() - start);
    assertThat(healthy(a)).isTrue();

    // b catches up: healthy again, again within seconds.
    start = System.nanoTime();
    b.mine(1);
    await("b healthy after its own new head")
        .atMost(PUSHED)
        .pollInterval(Duration.ofMillis(5))
        .until(() -> healthy(b));
    Duration second = Duration.ofNanos(System.nanoTime() - start);

    // A few more blocks in a row on both: every one is seen (no lost subscription, no backoff).
    for (int i = 0; i < 3; i++) {
      a.mine(1);
      await().atMost(PUSHED).pollInterval(Duration.ofMillis(5)).until(() -> degraded(b));
      b.mine(1);
      await().atMost(PUSHED).pollInterval(Duration.ofMillis(5)).until(() -> healthy(b));
    }
    System.out.printf(
        "newHeads -> Envoy: %d ms and %d ms (poll interval 60 s)%n",
        first.toMillis(), second.toMillis());
  }
}
