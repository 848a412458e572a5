package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.envoy.BootstrapRenderer;
import io.chainroute.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Protected xDS and ext_proc (issue 14 item 7) with real processes: chainroute ({@code
 * bin/chainroute run}), a real anvil node whose credential (an {@code Authorization} node header)
 * travels in EDS metadata, and real Envoys. With mutual TLS the Envoy whose bootstrap presents a
 * certificate from the CA gets its clusters and routes requests through ext_proc over TLS; an Envoy
 * with node id {@code rogue} and no certificate gets nothing. With the node-id allow-list alone, an
 * Envoy with node id {@code rogue} gets nothing and is shown, with its address, in {@code /status}
 * and the log. The certificates are generated for the run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class XdsLockdownIT {
  private static final String SECRET = "Bearer TOKENSECRET-xdsauth-7f3a";
  private static final Map<String, String> ENV = Map.of("NODE_AUTH", SECRET);

  private Path dir;
  private AnvilProcess anvil;
  private TestCerts pki;
  private TestCerts.Leaf server;
  private TestCerts.Leaf client;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-xds-lockdown-it");
    anvil = AnvilProcess.startMining(dir, "a", 1);
    pki = new TestCerts(dir, "test-ca");
    server = pki.leaf("chainroute", "chainroute");
    client = pki.leaf("envoy", "edge-1");
  }

  @AfterAll
  void stop() {
    Ports.closeAll(anvil);
  }

  private record Rig(ChainrouteProcess chainroute, String yaml, int adminHttpPort) {}

  /** chainroute with {@code serverExtra} in its server section; every port free. */
  private Rig chainroute(Path dir, String serverExtra) {
    int admin = Ports.free();
    String yaml =
        """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
          xdsCoalesce: 20ms
        %s
        envoy: { listenerPort: 1, adminPort: 2, exposeUpstreamHeader: true }
        chains:
          - name: eth
            protocol: evm
            pathPrefix: /eth
            pollInterval: 200ms
            blockTime: 1s
            probeTimeout: 500ms
            nodes:
              - { name: a, url: "%s", headers: { Authorization: { env: NODE_AUTH } } }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                admin,
                Ports.free(),
                serverExtra.indent(2),
                anvil.url());
    return new Rig(ChainrouteProcess.start(dir, yaml, admin, ENV), yaml, admin);
  }

  /** An Envoy with node id {@code nodeId} and the bootstrap rendered from {@code yaml}. */
  private static EnvoyProcess envoy(Path dir, String yaml, String nodeId) throws Exception {
    int listener = Ports.free();
    int admin = Ports.free();
    ChainrouteConfig config =
        ConfigLoader.parse(
            yaml.replace(
                "listenerPort: 1, adminPort: 2",
                "listenerPort: " + listener + ", adminPort: " + admin),
            ENV::get);
    Path own = Files.createDirectories(dir.resolve(nodeId));
    return EnvoyProcess.start(
        own,
        BootstrapRenderer.render(config, nodeId, io.chainroute.adapters.ChainAdapters::forChain),
        listener,
        admin);
  }

  private void assertServedAndRouted(EnvoyProcess good) {
    await("the allowed Envoy has the node in eth-head")
        .atMost(Duration.ofSeconds(20))
        .until(() -> good.admin("/clusters").contains("eth-head::" + anvil.address() + "::"));
    Rpc.Reply r = Rpc.post(good.url("/eth"), Rpc.call("eth_blockNumber", "[]"));
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    assertThat(r.json().get("result").asText()).startsWith("0x");
    // ext_proc answered (over the same protection): streams ran and none failed open.
    String stats = good.admin("/stats?filter=ext_proc");
    assertThat(stat(stats, "ext_proc.streams_started")).isPositive();
    assertThat(stat(stats, "ext_proc.failure_mode_allowed")).isZero();
    // The node's credential did reach the allowed Envoy (so its absence below means something).
    assertThat(good.admin("/config_dump?include_eds")).contains("TOKENSECRET-xdsauth-7f3a");
  }

  /** Nothing of chainroute's reached {@code rogue}: no chain cluster, no endpoint, no token. */
  private void assertGotNothing(EnvoyProcess rogue) {
    assertThat(rogue.admin("/clusters")).doesNotContain("eth-head", "eth-archive", anvil.address());
    // The static routes name eth-head (the bootstrap's own); no cluster or endpoint of it came.
    String dump = rogue.admin("/config_dump?include_eds");
    assertThat(dump)
        .doesNotContain(
            "TOKENSECRET-xdsauth-7f3a",
            anvil.address(),
            String.valueOf(anvil.port),
            "dynamic_active_clusters",
            "dynamic_endpoint_configs");
    assertThat(stat(rogue.admin("/stats?filter=control_plane"), "control_plane.connected_state"))
        .isZero();
  }

  private static long stat(String stats, String suffix) {
    long sum = 0;
    boolean seen = false;
    for (String line : stats.split("\n")) {
      int colon = line.lastIndexOf(':');
      if (colon > 0 && line.substring(0, colon).endsWith(suffix)) {
        sum += Long.parseLong(line.substring(colon + 1).trim());
        seen = true;
      }
    }
    assertThat(seen).as("stat *" + suffix + " in\n" + stats).isTrue();
    return sum;
  }

  @Test
  void withMutualTlsTheEnvoyWithACertificateIsServedAndOneWithoutGetsNothing() throws Exception {
    Path here = Files.createDirectories(dir.resolve("mtls"));
    String tls =
        """
        tls:
          cert: %s
          key: %s
          clientCa: %s
          envoyCert: %s
          envoyKey: %s
          envoyCa: %s
        """
            .formatted(
                server.cert(),
                server.key(),
                pki.caCert(),
                client.cert(),
                client.key(),
                pki.caCert());
    Rig rig = chainroute(here, tls);
    // The rogue's bootstrap is the same one without the TLS block: no client certificate.
    String plaintext = rig.yaml().replace(tls.indent(2), "");
    assertThat(plaintext).doesNotContain("clientCa");
    try (EnvoyProcess good = envoy(here, rig.yaml(), "edge-1");
        EnvoyProcess rogue = envoy(here, plaintext, "rogue")) {
      assertServedAndRouted(good);
      // The rogue tried more than once (its first connection failed the handshake) and is still
      // empty-handed.
      await("the rogue's xDS connections were refused at least twice")
          .atMost(Duration.ofSeconds(20))
          .until(() -> stat(rogue.admin("/stats?filter=chainroute_xds"), "upstream_cx_total") >= 2);
      assertGotNothing(rogue);
      JsonNode status = Rpc.getJson("http://127.0.0.1:" + rig.adminHttpPort() + "/status");
      assertThat(status.get("envoys").findValuesAsText("nodeId"))
          .as("only the Envoy with a certificate reached xDS")
          .containsExactly("edge-1");
      assertThat(rig.chainroute().log())
          .contains("tls=mutual")
          .doesNotContain("TOKENSECRET-xdsauth-7f3a");
    } finally {
      rig.chainroute().close();
    }
  }

  @Test
  void withTheAllowListARogueNodeIdGetsNothingAndIsShownWithItsAddress() throws Exception {
    Path here = Files.createDirectories(dir.resolve("allow-list"));
    Rig rig = chainroute(here, "allowedEnvoyNodeIds: [edge-1]");
    try (EnvoyProcess good = envoy(here, rig.yaml(), "edge-1");
        EnvoyProcess rogue = envoy(here, rig.yaml(), "rogue")) {
      assertServedAndRouted(good);
      String statusUrl = "http://127.0.0.1:" + rig.adminHttpPort() + "/status";
      await("the rogue was refused at least twice")
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                for (JsonNode e : Rpc.getJson(statusUrl).get("envoys")) {
                  if (e.get("nodeId").asText().equals("rogue") && e.has("refused")) {
                    return e.get("attempts").asLong() >= 2;
                  }
                }
                return false;
              });
      assertGotNothing(rogue);
      JsonNode refused = null;
      for (JsonNode e : Rpc.getJson(statusUrl).get("envoys")) {
        if (e.get("nodeId").asText().equals("rogue")) {
          refused = e;
        }
      }
      assertThat(refused.get("address").asText()).isEqualTo("127.0.0.1");
      assertThat(refused.get("refused").asText()).contains("allowedEnvoyNodeIds");
      assertThat(refused.has("resources")).isFalse();
      // Counted for alerts, by reason only (a node id is the client's to choose: no label).
      String metrics = Rpc.get("http://127.0.0.1:" + rig.adminHttpPort() + "/metrics");
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile(
                  "(?m)^chainroute_xds_refused_total\\{reason=\"unknown_node\"\\} ([0-9.]+)$")
              .matcher(metrics);
      assertThat(m.find()).as(metrics).isTrue();
      assertThat(Double.parseDouble(m.group(1)))
          .isGreaterThanOrEqualTo(refused.get("attempts").asDouble());
      assertThat(metrics).doesNotContain("rogue");
      assertThat(Files.readString(here.resolve("rogue").resolve("envoy.log")))
          .as("the rogue's own log says why (7 is PERMISSION_DENIED)")
          .contains(
              "gRPC config stream to chainroute_xds closed: 7, this chainroute does not serve"
                  + " Envoy node id 'rogue'");
      String log = rig.chainroute().log();
      assertThat(log)
          .contains("Envoy refused on xDS", "node=\"rogue\" client=127.0.0.1")
          .doesNotContain("TOKENSECRET-xdsauth-7f3a");
      assertThat(log.split("Envoy refused on xDS", -1).length - 1)
          .as("refusals are logged once a minute per node id and host, not per attempt")
          .isEqualTo(1);
    } finally {
      rig.chainroute().close();
    }
  }
}
