package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.chainroute.config.ConfigLoader;
import io.chainroute.envoy.BootstrapRenderer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ext_proc over a Unix domain socket ({@code server.extProcSocket}) with a real Envoy, two real
 * anvil nodes (a pruned full node and an archive node) and chainroute as its own process: Envoy's
 * ext_proc cluster has the socket as its only address (no ext_proc TCP address in the bootstrap),
 * requests are routed by chainroute over it, and a {@code kill -9} of chainroute fails open to the
 * head pool as over TCP; a restart replaces the stale socket file and routes again.
 */
class ExtProcSocketIT {
  private static final String ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  private static final String ACCOUNT1 = "0x000000000000000000000000000000000000bEEF";
  private static final int PRUNE = 16;

  private Path dir;
  private AnvilProcess full;
  private AnvilProcess archive;
  private ChainrouteProcess chainroute;
  private EnvoyProcess envoy;

  @BeforeEach
  void start() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-uds-it");
    full = AnvilProcess.start(dir, "full", PRUNE);
    archive = AnvilProcess.start(dir, "archive", null);
  }

  @AfterEach
  void stop() {
    Ports.closeAll(envoy, chainroute, full, archive);
  }

  private String config(Path socket, int adminHttp, int listener, int envoyAdmin) {
    return """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
          xdsCoalesce: 20ms
          extProcSocket: %s
        envoy:
          listenerPort: %d
          adminPort: %d
          exposeUpstreamHeader: true
        chains:
          - name: eth
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 0
            fullNodeStateBlocks: %d
            pollInterval: 100ms
            blockTime: 500ms
            probeTimeout: 500ms
            nodes:
              - { name: full, url: "%s" }
              - { name: archive, url: "%s", archive: true }
        """
        .formatted(
            Ports.free(),
            Ports.free(),
            adminHttp,
            Ports.free(),
            socket,
            listener,
            envoyAdmin,
            PRUNE,
            full.url(),
            archive.url());
  }

  private static String balanceAt(String block) {
    return Rpc.call("eth_getBalance", "[\"" + ACCOUNT1 + "\",\"" + block + "\"]");
  }

  private long stat(String name) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + ": (\\d+)$")
            .matcher(envoy.admin("/stats?filter=" + name));
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  @Test
  void requestsAreRoutedOverTheSocketAndAKilledChainrouteFailsOpenToTheHeadPool() throws Exception {
    // One transfer at a known block, then enough blocks that the full node no longer has its
    // state: only the archive node answers for it.
    for (AnvilProcess n : java.util.List.of(full, archive)) {
      n.rpc(
          "eth_sendTransaction",
          "[{\"from\":\"" + ACCOUNT0 + "\",\"to\":\"" + ACCOUNT1 + "\",\"value\":\"0x1\"}]");
      n.mine(1);
    }
    String old = "0x" + Long.toHexString(full.blockNumber());
    full.mine(PRUNE * 3);
    archive.mine(PRUNE * 3);

    Path socket = dir.resolve("extproc.sock");
    int adminHttp = Ports.free();
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    String yaml = config(socket, adminHttp, listener, envoyAdmin);
    chainroute = ChainrouteProcess.start(dir, yaml, adminHttp);
    assertThat(Files.getPosixFilePermissions(socket))
        .isEqualTo(PosixFilePermissions.fromString("rw-rw----"));

    String bootstrap =
        BootstrapRenderer.render(
            ConfigLoader.parse(yaml), "uds-envoy", io.chainroute.adapters.ChainAdapters::forChain);
    // The ext_proc cluster's one address is the socket: no ext_proc TCP port is in the bootstrap.
    for (JsonNode c : new YAMLMapper().readTree(bootstrap).at("/static_resources/clusters")) {
      if (c.get("name").asText().equals("chainroute_extproc")) {
        JsonNode address = c.at("/load_assignment/endpoints/0/lb_endpoints/0/endpoint/address");
        assertThat(address.at("/pipe/path").asText()).isEqualTo(socket.toString());
        assertThat(address.has("socket_address")).isFalse();
      }
    }
    envoy = EnvoyProcess.start(dir, bootstrap, listener, envoyAdmin);

    // Old state reaches the archive node: only chainroute's decision sends it there.
    await("an old-block read is routed to the archive node over the socket")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> archive.address().equals(Rpc.post(envoy.url("/eth"), balanceAt(old)).upstream()));
    long started = stat("http.rpc.ext_proc.streams_started");
    for (int i = 0; i < 20; i++) {
      Rpc.Reply r = Rpc.post(envoy.url("/eth"), balanceAt(old));
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.upstream()).as(r.body()).isEqualTo(archive.address());
      assertThat(r.json().get("result").asText()).isEqualTo("0x1");
      Rpc.Reply recent = Rpc.post(envoy.url("/eth"), balanceAt("latest"));
      assertThat(recent.upstream()).as(recent.body()).isEqualTo(full.address());
    }
    assertThat(stat("http.rpc.ext_proc.streams_started") - started)
        .as("ext_proc streams for 40 requests")
        .isGreaterThanOrEqualTo(40);
    assertThat(stat("http.rpc.ext_proc.failure_mode_allowed")).isZero();
    assertThat(envoy.admin("/clusters")).contains("chainroute_extproc::" + socket);

    // kill -9: the socket file stays behind, nobody accepts on it. Envoy fails open: every request
    // is answered by the head pool (the default route), as with a dead chainroute over TCP.
    chainroute.kill();
    await("chainroute gone")
        .atMost(Duration.ofSeconds(5))
        .ignoreExceptions()
        .until(
            () -> {
              try {
                Rpc.get(chainroute.adminUrl("/healthz"));
                return false;
              } catch (RuntimeException e) {
                return true;
              }
            });
    assertThat(socket).exists();
    long failedOpen = stat("http.rpc.ext_proc.failure_mode_allowed");
    for (int i = 0; i < 10; i++) {
      Rpc.Reply r = Rpc.post(envoy.url("/eth"), balanceAt("latest"));
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.json().has("result")).as(r.body()).isTrue();
      assertThat(r.upstream()).isEqualTo(full.address());
    }
    assertThat(stat("http.rpc.ext_proc.failure_mode_allowed") - failedOpen)
        .as("requests that skipped routing while chainroute was dead")
        .isGreaterThanOrEqualTo(10);

    // Restarted on the same path: the stale file is replaced and routing comes back.
    chainroute.launch(yaml);
    await("old-block reads reach the archive node again")
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () -> archive.address().equals(Rpc.post(envoy.url("/eth"), balanceAt(old)).upstream()));

    // A clean stop removes the socket file.
    chainroute.close();
    await("socket removed at stop")
        .atMost(Duration.ofSeconds(15))
        .until(() -> !Files.exists(socket));
  }
}
