package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Hosted upstreams through a real Envoy: a chain mixing a plain http node (anvil), an https node
 * with its key in the path (and a wss newHeads socket with the key in its path), and an https node
 * with a key header, all behind {@link HostedProvider} (a TLS Envoy with a test CA that checks keys
 * and the Host header); a chain whose node key gets revoked; a chain whose node has user info.
 * chainroute runs in this JVM (its log captured) with a resolver seam for {@code localhost}: the
 * last test moves the provider's "DNS" from 127.0.0.1 to 127.0.0.2 and Envoy follows.
 *
 * <p>What the DNS test proves and what it does not: the address chainroute publishes to Envoy
 * follows the resolver, Envoy connects there with SNI and Host still {@code localhost} and the
 * certificate still verifies. chainroute's own probes resolve through the JVM (not the seam), so
 * they keep measuring the 127.0.0.1 node; HostedProbeTest shows the probe's address follows the
 * resolver it is given.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HostedUpstreamsIT {
  private final String pathKey = "pk" + UUID.randomUUID().toString().replace("-", "");
  private final String revocable = "rk" + UUID.randomUUID().toString().replace("-", "");
  private final String headerKey = "hk" + UUID.randomUUID().toString().replace("-", "");
  private final String password = "pw" + UUID.randomUUID().toString().replace("-", "");
  private final String basic =
      "Basic "
          + Base64.getEncoder()
              .encodeToString(("acct:" + password).getBytes(StandardCharsets.UTF_8));
  private final AtomicReference<String> localhost = new AtomicReference<>("127.0.0.1");

  private Path dir;
  private AnvilProcess first;
  private AnvilProcess second;
  private HostedProvider provider;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private int adminHttpPort;
  private final ByteArrayOutputStream log = new ByteArrayOutputStream();
  private PrintStream realErr;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    realErr = System.err;
    System.setErr(new PrintStream(new Tee(realErr, log), true, StandardCharsets.UTF_8));
    dir = Files.createTempDirectory("chainroute-hosted-it");
    first = AnvilProcess.startWith(dir, "first", List.of("--no-mining"));
    second = AnvilProcess.startWith(dir, "second", List.of("--no-mining", "--chain-id", "4242"));
    provider =
        HostedProvider.start(
            dir, first, second, List.of(pathKey, revocable), revocable, headerKey, basic);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    adminHttpPort = Ports.free();
    String p = "localhost:" + provider.pathPort;
    String h = "localhost:" + provider.headerPort;
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true }
        chains:
          - name: mixed
            protocol: evm
            pathPrefix: /mixed
            cache: { enabled: false }
            pollInterval: 100ms
            blockTime: 2s
            probeTimeout: 1s
            caFile: "%s"
            nodes:
              - { name: own, url: "%s" }
              - { name: by-path, url: "https://%s/v2/%s", wsUrl: "wss://%s/ws/%s" }
              - { name: by-header, url: "https://%s", headers: { X-API-Key: { env: PROVIDER_KEY } } }
          - name: revoked
            protocol: evm
            pathPrefix: /revoked
            cache: { enabled: false }
            pollInterval: 1m
            blockTime: 60m
            caFile: "%s"
            nodes:
              - { name: soon-revoked, url: "https://%s/v2/%s" }
          - name: basic
            protocol: evm
            pathPrefix: /basic
            cache: { enabled: false }
            pollInterval: 100ms
            blockTime: 2s
            caFile: "%s"
            nodes:
              - { name: with-user-info, url: "https://acct:%s@%s/" }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                adminHttpPort,
                Ports.free(),
                listener,
                envoyAdmin,
                provider.caFile,
                first.url(),
                p,
                pathKey,
                p,
                pathKey,
                h,
                provider.caFile,
                p,
                revocable,
                provider.caFile,
                password,
                h);
    ChainrouteConfig config = ConfigLoader.parse(yaml, Map.of("PROVIDER_KEY", headerKey)::get);
    sidecar = Sidecar.start(config, host -> host.equals("localhost") ? localhost.get() : host);
    envoy = EnvoyProcess.start(dir, config, "hosted-it", listener, envoyAdmin);
  }

  @AfterAll
  void stop() {
    Ports.closeAll(envoy, sidecar, provider, first, second);
    if (realErr != null) {
      System.setErr(realErr);
    }
  }

  private JsonNode status() {
    return Rpc.getJson("http://127.0.0.1:" + adminHttpPort + "/status");
  }

  private long head(String chain, String node) {
    for (JsonNode c : status().get("chains")) {
      if (c.get("name").asText().equals(chain)) {
        for (JsonNode n : c.get("nodes")) {
          if (n.get("name").asText().equals(node)) {
            return n.get("health").asText().equals("SYNCED") ? n.get("head").asLong() : -1;
          }
        }
      }
    }
    return -1;
  }

  /**
   * eth_chainId, which a node answers here: these chains' cache is off (chainroute would answer it
   * itself), so the chain id shows which chain's node a call reached through the provider.
   */
  private Rpc.Reply nodeCall(String chain) {
    return Rpc.post(envoy.url("/" + chain), Rpc.call("eth_chainId", "[]"));
  }

  @Test
  @Order(1)
  void aMixedChainTracksHeightsThroughTheProviderAndRoutesToEachNodeWithItsKey() {
    first.mine(7);
    await("every node's head is 7, two of them read over TLS through the provider")
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                List.of("own", "by-path", "by-header").stream()
                    .allMatch(n -> head("mixed", n) == 7));
    String own = first.address();
    String byPath = "127.0.0.1:" + provider.pathPort;
    String byHeader = "127.0.0.1:" + provider.headerPort;
    Set<String> seen = new HashSet<>();
    await("client calls reached all three nodes")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Rpc.Reply r = nodeCall("mixed");
              // A wrong key would be the provider's 401, a wrong Host its 421.
              assertThat(r.status()).as(r.body()).isEqualTo(200);
              assertThat(r.json().get("result").asText()).isEqualTo("0x7a69");
              seen.add(r.upstream());
              return seen.containsAll(List.of(own, byPath, byHeader));
            });
    assertThat(seen).containsOnly(own, byPath, byHeader);
    first.mine(3);
    await("heights follow through the provider")
        .atMost(Duration.ofSeconds(10))
        .until(() -> head("mixed", "by-path") == 10 && head("mixed", "by-header") == 10);
    // The wss socket with the key in its path, verified against the same CA.
    await("newHeads over wss")
        .atMost(Duration.ofSeconds(15))
        .until(
            () ->
                log.toString(StandardCharsets.UTF_8)
                    .contains("newHeads subscription active. chain=mixed node=by-path"));
    Rpc.Reply withUserInfo = nodeCall("basic");
    assertThat(withUserInfo.status()).as(withUserInfo.body()).isEqualTo(200);
    assertThat(withUserInfo.upstream()).isEqualTo(byHeader);
  }

  @Test
  @Order(2)
  void aKeyTheProviderNoLongerAcceptsGivesTheClientTheProvidersOwn401() {
    await("the node is routable")
        .atMost(Duration.ofSeconds(20))
        .until(() -> nodeCall("revoked").status() == 200);
    provider.revoke();
    // chainroute probes this chain once a minute: the node is still in Envoy's pool, and the
    // provider's answer reaches the client unchanged.
    Rpc.Reply r = nodeCall("revoked");
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.body()).isEqualTo(HostedProvider.UNAUTHORIZED);
  }

  @Test
  @Order(3)
  void noKeyAppearsInAnyLogStatusMetricsOrTheBootstrapButEnvoysAdminHoldsThem() throws Exception {
    List<String> secrets = List.of(pathKey, revocable, headerKey, password, basic.substring(6));
    Map<String, String> outputs =
        Map.of(
            "chainroute's log", log.toString(StandardCharsets.UTF_8),
            "/status", Rpc.get("http://127.0.0.1:" + adminHttpPort + "/status"),
            "/metrics", Rpc.get("http://127.0.0.1:" + adminHttpPort + "/metrics"),
            "Envoy's log and access log", Files.readString(dir.resolve("envoy.log")),
            "the rendered bootstrap", Files.readString(dir.resolve("envoy.yaml")));
    outputs.forEach(
        (what, text) -> assertThat(text).as(what).doesNotContain(secrets.toArray(String[]::new)));
    assertThat(outputs.get("chainroute's log")).contains("chainroute started");
    // Where the keys do live: EDS endpoint metadata in Envoy's memory, shown by its admin
    // (loopback only) config_dump. The README says so.
    assertThat(envoy.admin("/config_dump?include_eds")).contains(pathKey, headerKey);
  }

  @Test
  @Order(4)
  void whenTheProvidersAddressChangesEnvoyFollowsWithTheSameSniAndHost() {
    localhost.set("127.0.0.2");
    String moved = "127.0.0.2:" + provider.pathPort;
    await("requests for by-path reach the provider's new address and the node behind it")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Rpc.Reply r = nodeCall("mixed");
              assertThat(r.status()).as(r.body()).isEqualTo(200);
              return r.upstream().equals(moved) && r.json().get("result").asText().equals("0x1092");
            });
    assertThat(provider.requestsTo("path", "127.0.0.2")).isPositive();
  }
}
