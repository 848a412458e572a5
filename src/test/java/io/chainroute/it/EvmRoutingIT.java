package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.xds.XdsClients;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.web3j.protocol.Web3j;
import org.web3j.protocol.core.DefaultBlockParameter;
import org.web3j.protocol.http.HttpService;

/**
 * EVM routing end to end: a real Envoy, three real anvil nodes and chainroute (in this JVM, with
 * its real gRPC servers). Node roles: {@code full} (pruned to the last 16 blocks of state), {@code
 * archive}, and {@code spare} (pruned; the one the tests stall). The tests run in order: the last
 * ones stop a node and then chainroute itself.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EvmRoutingIT {
  private static final String ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  private static final String ACCOUNT1 = "0x000000000000000000000000000000000000bEEF";

  /**
   * A read at the head that a node answers (chainroute answers {@code eth_blockNumber} itself, so
   * that one never shows which node a request reached).
   */
  private static final String LATEST_BLOCK = Rpc.call("eth_getBlockByNumber", "[\"latest\",false]");

  private static final String LATEST_BALANCE =
      Rpc.call("eth_getBalance", "[\"" + ACCOUNT0 + "\",\"latest\"]");
  private static final BigInteger ETHER = BigInteger.TEN.pow(18);
  private static final int PRUNE = 16;

  private Path dir;
  private AnvilProcess full;
  private AnvilProcess archive;
  private AnvilProcess spare;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private long oldBlock;
  private int adminHttpPort;
  private io.grpc.ManagedChannel adminChannel;
  private io.chainroute.admin.v1.AdminServiceGrpc.AdminServiceBlockingStub admin;

  @BeforeAll
  void startEverything() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-it");
    full = AnvilProcess.start(dir, "full", PRUNE);
    archive = AnvilProcess.start(dir, "archive", null);
    spare = AnvilProcess.start(dir, "spare", PRUNE);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    adminHttpPort = Ports.free();
    int adminGrpcPort = Ports.free();
    String yaml =
        """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
          xdsCoalesce: 20ms
        envoy:
          listenerPort: %d
          adminPort: %d
          exposeUpstreamHeader: true
        chains:
          - name: eth-it
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
              - { name: spare, url: "%s" }
          # The same archive node under a chain that lets anvil's test controls through.
          - name: eth-dev
            protocol: evm
            pathPrefix: /dev
            pollInterval: 100ms
            blockTime: 500ms
            probeTimeout: 500ms
            methods: { allow: [anvil_setBalance] }
            nodes:
              - { name: dev, url: "%s" }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                adminHttpPort,
                adminGrpcPort,
                listener,
                envoyAdmin,
                PRUNE,
                full.url(),
                archive.url(),
                spare.url(),
                archive.url());
    ChainrouteConfig config = ConfigLoader.parse(yaml);
    sidecar = Sidecar.start(config);
    adminChannel =
        io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", adminGrpcPort).usePlaintext().build();
    admin = io.chainroute.admin.v1.AdminServiceGrpc.newBlockingStub(adminChannel);

    // History: one transfer at a known old block, then enough blocks to prune it from full nodes.
    for (AnvilProcess n : nodes()) {
      n.rpc(
          "eth_sendTransaction",
          "[{\"from\":\""
              + ACCOUNT0
              + "\",\"to\":\""
              + ACCOUNT1
              + "\",\"value\":\"0xde0b6b3a7640000\"}]");
      n.mine(1);
    }
    oldBlock = full.blockNumber();
    for (AnvilProcess n : nodes()) {
      n.mine(PRUNE * 3);
      // A second transfer so the latest balance differs from the old one.
      n.rpc(
          "eth_sendTransaction",
          "[{\"from\":\""
              + ACCOUNT0
              + "\",\"to\":\""
              + ACCOUNT1
              + "\",\"value\":\"0xde0b6b3a7640000\"}]");
      n.mine(1);
    }
    awaitAllSynced();
    envoy = EnvoyProcess.start(dir, config, "it-envoy", listener, envoyAdmin);
    await("requests flow through Envoy")
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> Rpc.post(envoy.url("/eth"), Rpc.call("eth_blockNumber", "[]")).status() == 200);
  }

  @AfterAll
  void stopEverything() {
    if (adminChannel != null) {
      adminChannel.shutdownNow();
    }
    for (AutoCloseable c : new AutoCloseable[] {envoy, sidecar, full, archive, spare}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // keep closing the rest
      }
    }
  }

  private List<AnvilProcess> nodes() {
    return List.of(full, archive, spare);
  }

  /** A node as chainroute's gRPC admin API reports it. */
  private io.chainroute.admin.v1.Node node(String name) {
    return admin
        .getTopology(io.chainroute.admin.v1.GetTopologyRequest.getDefaultInstance())
        .getChains(0)
        .getNodesList()
        .stream()
        .filter(n -> n.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  private List<String> headPool() {
    return admin
        .getTopology(io.chainroute.admin.v1.GetTopologyRequest.getDefaultInstance())
        .getChains(0)
        .getPoolsList()
        .stream()
        .filter(p -> p.getName().equals("head"))
        .flatMap(p -> p.getMembersList().stream())
        .map(io.chainroute.admin.v1.PoolMember::getNode)
        .toList();
  }

  private void awaitAllSynced() {
    await("all nodes synced")
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                List.of("full", "archive", "spare").stream()
                    .allMatch(
                        n -> node(n).getHealth() == io.chainroute.admin.v1.Health.HEALTH_SYNCED));
  }

  private String balanceAt(String block) {
    return Rpc.call("eth_getBalance", "[\"" + ACCOUNT1 + "\",\"" + block + "\"]");
  }

  @Test
  @Order(1)
  void envoyConnectsAndAcksClustersAndEndpoints() {
    await("Envoy ACKed CDS and EDS")
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              List<XdsClients.Client> clients = sidecar.publisher().clients();
              assertThat(clients).extracting(XdsClients.Client::nodeId).containsExactly("it-envoy");
              List<XdsClients.TypeState> types = clients.get(0).types();
              assertThat(types)
                  .extracting(t -> XdsClients.shortType(t.typeUrl()))
                  .contains("Cluster", "ClusterLoadAssignment");
              assertThat(types)
                  .allSatisfy(
                      t -> {
                        assertThat(t.ackedVersion()).isNotEmpty().isEqualTo(t.sentVersion());
                        assertThat(t.lastNack()).isEmpty();
                      });
            });
    assertThat(envoy.admin("/clusters")).contains("eth-it-head::", "eth-it-archive::");

    JsonNode status = Rpc.getJson("http://127.0.0.1:" + adminHttpPort + "/status");
    assertThat(status.get("ready").asBoolean()).isTrue();
    JsonNode envoyStatus = status.get("envoys").get(0);
    assertThat(envoyStatus.get("nodeId").asText()).isEqualTo("it-envoy");
    assertThat(envoyStatus.get("resources"))
        .allSatisfy(r -> assertThat(r.get("acked").asBoolean()).isTrue());
    assertThat(status.get("chains").get(0).get("nodes").get(1).get("endpoint").asText())
        .isEqualTo(archive.url());
    assertThat(
            Rpc.getJson("http://127.0.0.1:" + adminHttpPort + "/readyz").get("ready").asBoolean())
        .isTrue();
  }

  @Test
  @Order(2)
  void latestRequestsNeverReachANodeBehindTheHead() {
    // Stall `spare`: the others keep advancing.
    for (int i = 0; i < 3; i++) {
      full.mine(1);
      archive.mine(1);
    }
    await("stalled node leaves the head pool")
        .atMost(Duration.ofSeconds(5))
        .until(() -> !headPool().contains("spare"));
    Set<String> upstreams = new HashSet<>();
    for (int i = 0; i < 40; i++) {
      if (i % 10 == 0) {
        full.mine(1);
        archive.mine(1);
      }
      long head = full.blockNumber();
      Rpc.Reply r = Rpc.post(envoy.url("/eth"), LATEST_BLOCK);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.upstream()).isNotEqualTo(spare.address());
      assertThat(Long.decode(r.json().get("result").get("number").asText())).isEqualTo(head);
      upstreams.add(r.upstream());
    }
    // Synced nodes only: the full node (priority 0) or, if a probe of it was slow, the archive node
    // (lower priority, also at the head). Never the stalled one.
    assertThat(upstreams).contains(full.address()).isSubsetOf(full.address(), archive.address());
    // Catch the spare up again for the next tests.
    spare.mineTo(full.blockNumber());
    awaitAllSynced();
  }

  @Test
  @Order(3)
  void oldStateGoesToTheArchiveNodeWithTheRightBalance() throws Exception {
    String old = "0x" + Long.toHexString(oldBlock);
    Rpc.Reply direct = Rpc.post(full.url(), balanceAt(old));
    assertThat(direct.json().path("error").path("message").asText())
        .contains("BlockOutOfRangeError");

    Rpc.Reply viaEnvoy = Rpc.post(envoy.url("/eth"), balanceAt(old));
    assertThat(viaEnvoy.upstream()).isEqualTo(archive.address());
    assertThat(viaEnvoy.json().has("error")).as(viaEnvoy.body()).isFalse();

    Web3j web3 = Web3j.build(new HttpService(envoy.url("/eth")));
    try {
      BigInteger atOld =
          web3.ethGetBalance(ACCOUNT1, DefaultBlockParameter.valueOf(BigInteger.valueOf(oldBlock)))
              .send()
              .getBalance();
      BigInteger latest =
          web3.ethGetBalance(ACCOUNT1, DefaultBlockParameter.valueOf("latest")).send().getBalance();
      // One transfer of 1 ether before the old block, a second one since.
      assertThat(atOld).isEqualTo(ETHER);
      assertThat(latest).isEqualTo(ETHER.add(ETHER));
    } finally {
      web3.shutdown();
    }

    // Recent state stays on full nodes.
    Rpc.Reply recent = Rpc.post(envoy.url("/eth"), balanceAt("latest"));
    assertThat(recent.upstream()).isIn(full.address(), spare.address());
  }

  @Test
  @Order(4)
  void aGzipEncodedRequestIsDecodedByEnvoyRoutedByItsBlockAndAnsweredByTheNode()
      throws IOException {
    String old = "0x" + Long.toHexString(oldBlock);
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(gz)) {
      out.write(balanceAt(old).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    Rpc.Reply r = Rpc.post(envoy.url("/eth"), gz.toByteArray(), "content-encoding", "gzip");
    assertThat(r.status()).as(r.body()).isEqualTo(200);
    // Old state: classified from the decoded body, so it reaches the archive node, which answers.
    assertThat(r.upstream()).isEqualTo(archive.address());
    assertThat(r.json().has("error")).as(r.body()).isFalse();
    assertThat(new BigInteger(r.json().get("result").asText().substring(2), 16)).isEqualTo(ETHER);

    // Recent state, gzip-encoded too, stays on the full nodes.
    java.io.ByteArrayOutputStream latest = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(latest)) {
      out.write(balanceAt("latest").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    Rpc.Reply recent =
        Rpc.post(envoy.url("/eth"), latest.toByteArray(), "content-encoding", "gzip");
    assertThat(recent.upstream()).isIn(full.address(), spare.address());
    assertThat(new BigInteger(recent.json().get("result").asText().substring(2), 16))
        .isEqualTo(ETHER.add(ETHER));
  }

  @Test
  @Order(4)
  void batchMixingOldAndNewLandsOnTheArchiveNodeInOrder() {
    String old = "0x" + Long.toHexString(oldBlock);
    String batch =
        "[{\"jsonrpc\":\"2.0\",\"id\":\"new\",\"method\":\"eth_blockNumber\",\"params\":[]},"
            + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_getBalance\",\"params\":[\""
            + ACCOUNT1
            + "\",\""
            + old
            + "\"]}]";
    Rpc.Reply r = Rpc.post(envoy.url("/eth"), batch);
    assertThat(r.upstream()).isEqualTo(archive.address());
    JsonNode arr = r.json();
    assertThat(arr.isArray()).isTrue();
    assertThat(arr.get(0).get("id").asText()).isEqualTo("new");
    assertThat(arr.get(1).get("id").asInt()).isEqualTo(2);
    assertThat(arr.get(1).has("result")).as(r.body()).isTrue();

    String recentBatch =
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getBalance\",\"params\":[\""
            + ACCOUNT1
            + "\",\"latest\"]},"
            + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_chainId\",\"params\":[]}]";
    assertThat(Rpc.post(envoy.url("/eth"), recentBatch).upstream())
        .isIn(full.address(), spare.address());
  }

  @Test
  @Order(5)
  void badInputGetsJsonRpcErrorsAndClientsCannotPickAPool() {
    Rpc.Reply malformed = Rpc.post(envoy.url("/eth"), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
    assertThat(malformed.json().get("error").get("code").asInt()).isEqualTo(-32700);
    assertThat(malformed.json().get("id").isNull()).isTrue();

    Rpc.Reply invalid = Rpc.post(envoy.url("/eth"), "{\"jsonrpc\":\"2.0\",\"id\":\"x-1\"}");
    assertThat(invalid.json().get("error").get("code").asInt()).isEqualTo(-32600);
    assertThat(invalid.json().get("id").asText()).isEqualTo("x-1");

    // The stream survives bad input: the next request is served normally.
    Rpc.Reply after = Rpc.post(envoy.url("/eth"), LATEST_BALANCE);
    assertThat(after.json().has("result")).isTrue();

    // A client-sent pool header is ignored.
    for (int i = 0; i < 5; i++) {
      Rpc.Reply forced =
          Rpc.post(envoy.url("/eth"), LATEST_BALANCE, "x-chainroute-pool", "archive");
      assertThat(forced.upstream()).isIn(full.address(), spare.address());
    }
  }

  /**
   * Issue 14 item 8: a method that changes a node (anvil's test control) is refused by chainroute
   * with -32601 and the node is untouched; a chain whose config allows it passes it on.
   */
  @Test
  @Order(5)
  void nodeControlsAreRefusedUnlessTheChainAllowsThem() {
    String target = "0x00000000000000000000000000000000000c0de1";
    String set = Rpc.call("anvil_setBalance", "[\"" + target + "\",\"0x1234\"]");
    Rpc.Reply refused = Rpc.post(envoy.url("/eth"), set);
    assertThat(refused.json().path("error").path("code").asInt())
        .as(refused.body())
        .isEqualTo(-32601);
    assertThat(refused.json().path("error").path("message").asText())
        .isEqualTo("the method anvil_setBalance does not exist/is not available");
    String balance = Rpc.call("eth_getBalance", "[\"" + target + "\",\"latest\"]");
    for (AnvilProcess n : nodes()) {
      assertThat(n.rpc("eth_getBalance", "[\"" + target + "\",\"latest\"]").path("result").asText())
          .as("no node ran it")
          .isEqualTo("0x0");
    }
    await("the eth-dev chain serves")
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> Rpc.post(envoy.url("/dev"), Rpc.call("eth_blockNumber", "[]")).status() == 200);
    Rpc.Reply allowed = Rpc.post(envoy.url("/dev"), set);
    assertThat(allowed.json().has("error")).as(allowed.body()).isFalse();
    assertThat(Rpc.post(envoy.url("/dev"), balance).json().path("result").asText())
        .isEqualTo("0x1234");
  }

  @Test
  @Order(6)
  void aNodeStoppedMidTestLeavesThePoolWithoutFailedRequests() throws Exception {
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger ok = new AtomicInteger();
    List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread client =
        new Thread(
            () -> {
              while (running.get()) {
                try {
                  Rpc.Reply r = Rpc.post(envoy.url("/eth"), LATEST_BALANCE);
                  if (r.status() == 200 && r.json().has("result")) {
                    ok.incrementAndGet();
                  } else {
                    failures.add(r.status() + " " + r.body());
                  }
                } catch (RuntimeException e) {
                  failures.add(e.toString());
                }
              }
            });
    client.start();
    await().atMost(Duration.ofSeconds(5)).until(() -> ok.get() > 20);
    full.close();
    await("stopped node leaves the pool")
        .atMost(Duration.ofSeconds(10))
        .until(() -> node("full").getHealth() == io.chainroute.admin.v1.Health.HEALTH_UNREACHABLE);
    int before = ok.get();
    await().atMost(Duration.ofSeconds(5)).until(() -> ok.get() > before + 50);
    running.set(false);
    client.join(10_000);
    assertThat(failures).isEmpty();
    // Envoy got the new endpoints: the stopped node is no longer offered.
    await("Envoy drops the stopped node")
        .atMost(Duration.ofSeconds(5))
        .until(() -> !envoy.admin("/clusters").contains("eth-it-head::" + full.address()));
    assertThat(envoy.admin("/clusters")).contains("eth-it-head::" + spare.address());
  }

  @Test
  @Order(7)
  void withChainrouteStoppedEnvoyStillServesLatestRequests() {
    sidecar.close();
    for (int i = 0; i < 10; i++) {
      Rpc.Reply r = Rpc.post(envoy.url("/eth"), LATEST_BALANCE);
      assertThat(r.status()).as(r.body()).isEqualTo(200);
      assertThat(r.json().has("result")).as(r.body()).isTrue();
      assertThat(r.upstream()).isIn(spare.address(), archive.address());
    }
  }
}
