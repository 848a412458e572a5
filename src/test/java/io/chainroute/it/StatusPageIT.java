package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.admin.AdminHttpServer;
import io.chainroute.admin.EnvoyConnection;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.height.TopologySource;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.assertj.core.api.SoftAssertions;
import org.awaitility.Awaitility;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The live status page ({@code /ui/}) in a real headless Chromium (issue 10, item 7): against a
 * running chainroute with three anvil nodes and a real Envoy, a stalled node shows as stalled with
 * the reason {@code /status} gives, and the page keeps a screenshot ({@code
 * target/status-page.png}); against an admin server whose {@code /status} starts failing, the page
 * shows "disconnected" and renders hostile strings as text. Each page load is one {@code
 * --dump-dom} run with a virtual-time budget, long enough for several polls.
 */
class StatusPageIT {
  private static final Duration BUDGET = Duration.ofSeconds(5);
  private static final Duration BLOCK = Duration.ofSeconds(1);
  private static final Path TARGET = Path.of("target");

  private Path dir;
  private HeadlessChromium chromium;
  private final List<AnvilProcess> nodes = new ArrayList<>();
  private DrillRig rig;

  @BeforeEach
  void setUp() throws IOException {
    Path binary = RealBinaries.chromium();
    dir = Files.createDirectories(TARGET.resolve("status-page-it")).toAbsolutePath();
    dir = Files.createTempDirectory(dir, "run-");
    chromium = new HeadlessChromium(binary, dir);
  }

  @AfterEach
  void tearDown() {
    if (rig != null) {
      rig.close();
    }
    nodes.forEach(AnvilProcess::close);
  }

  @Test
  void aStalledNodeShowsAsStalledWithTheReasonStatusGives() throws IOException {
    RealBinaries.envoy();
    for (String name : List.of("a", "b", "c")) {
      nodes.add(AnvilProcess.startMining(dir, name, (int) BLOCK.toSeconds()));
    }
    // Each anvil is its own chain, started one after the other: bring them to one height, so
    // their heads stay within a block of each other (maxLagBlocks: 1) however slow the starts were.
    long top = nodes.stream().mapToLong(AnvilProcess::blockNumber).max().orElseThrow() + 1;
    nodes.forEach(n -> n.mineTo(top));
    List<String> entries = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      entries.add(
          "{ name: %s, url: \"%s\", region: eu }".formatted((char) ('a' + i), nodes.get(i).url()));
    }
    rig = DrillRig.start(dir, "rig", DrillRig.anvilChain(BLOCK, entries));
    rig.awaitServing("eth", "/eth", List.of("a", "b", "c"));
    String page = rig.chainroute.adminUrl("/");

    nodes.get(1).stopMining();
    Awaitility.await("/status shows b STALLED")
        .atMost(Duration.ofSeconds(15))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> "STALLED".equals(node(rig.status(), "b").path("health").asText()));

    long headBefore = rig.status().get("chains").get(0).get("head").asLong();
    Document dom = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      dom = Jsoup.parse(chromium.dumpDom(page, BUDGET));
      Element b = dom.selectFirst("tr.node[data-node=b]");
      if (b != null && "STALLED".equals(b.attr("data-health"))) {
        break;
      }
    }
    JsonNode after = rig.status();
    long headAfter = after.get("chains").get(0).get("head").asLong();
    Files.writeString(dir.resolve("status-page-dom.html"), dom.outerHtml());
    Path png = TARGET.resolve("status-page.png").toAbsolutePath();
    Files.deleteIfExists(png);
    chromium.screenshot(page, BUDGET, png, 1280, 900);

    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(dom.selectFirst("#conn").attr("data-state"))
        .as("the page polled /status (live), not just the static skeleton")
        .isEqualTo("live");
    soft.assertThat(dom.select("section.chain[data-chain=eth] tr.node").eachAttr("data-node"))
        .containsExactly("a", "b", "c");
    Element b = dom.selectFirst("tr.node[data-node=b]");
    soft.assertThat(b.attr("data-health")).as("b's row").isEqualTo("STALLED");
    soft.assertThat(b.selectFirst("td.health").text()).isEqualTo("STALLED");
    soft.assertThat(b.selectFirst("td.reason").text())
        .as("the reason /status gives (%s)", node(after, "b").get("reason").asText())
        .matches("no new block for \\d+ms, \\d+ behind");
    soft.assertThat(b.selectFirst("td.membership").text())
        .as("a stalled node is out of every pool")
        .isEqualTo("in no pool");
    soft.assertThat(dom.select("tr.pool[data-pool=head] li.member").eachAttr("data-node"))
        .as("head pool members")
        .doesNotContain("b")
        .contains("a", "c");
    for (String healthy : List.of("a", "c")) {
      Element row = dom.selectFirst("tr.node[data-node=" + healthy + "]");
      soft.assertThat(row.attr("data-health")).as(healthy).isIn("SYNCED", "LAGGING");
      soft.assertThat(row.selectFirst("td.reason").text())
          .as(healthy)
          .doesNotStartWith("no new block");
    }
    long shownHead = Long.parseLong(dom.selectFirst("[data-chain=eth] .chain-head").text());
    soft.assertThat(shownHead).as("the chain head shown").isBetween(headBefore, headAfter);
    soft.assertThat(dom.selectFirst("[data-chain=eth] .chain-advanced time"))
        .as("when the head last advanced")
        .isNotNull();
    soft.assertThat(Long.parseLong(b.selectFirst("td.head").text()))
        .as("the stalled node's head")
        .isLessThan(shownHead);
    Element envoy = dom.selectFirst("tr.envoy[data-envoy='" + DrillRig.ENVOY_NODE_ID + "']");
    soft.assertThat(envoy).as("the connected Envoy").isNotNull();
    if (envoy != null) {
      soft.assertThat(envoy.select("li.xds-type").eachAttr("data-type"))
          .contains("Cluster", "ClusterLoadAssignment");
      soft.assertThat(envoy.select("li.xds-type[data-type=Cluster]").attr("data-state"))
          .isEqualTo("ACK");
    }
    soft.assertThat(Files.readAllBytes(png))
        .as("screenshot " + png)
        .startsWith(0x89, 'P', 'N', 'G')
        .hasSizeGreaterThan(10_000);
    soft.assertAll();
  }

  @Test
  void whenPollingFailsThePageShowsDisconnectedAndRendersHostileStringsAsText() throws Exception {
    String hostile = "<img src=x onerror=\"document.title='pwned'\">";
    NodeConfig config = TestConfigs.node(hostile, "http://127.0.0.1:1").region("<b>eu</b>").build();
    ChainConfig chain = TestConfigs.evm("eth").nodes(config).build();
    NodeView node =
        new NodeView(
            config,
            41,
            2,
            Health.STALLED,
            "<script>alert(1)</script>",
            EndpointStatus.NONE,
            1_500,
            System.currentTimeMillis(),
            "127.0.0.1");
    Topology topology = Topology.of(7, List.of(new ChainView(chain, 43, List.of(node))));
    EnvoyConnection envoy =
        EnvoyConnection.served(
            "<i>edge</i>",
            "",
            "",
            "127.0.0.1",
            System.currentTimeMillis(),
            List.of(
                new EnvoyConnection.TypeState(
                    "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                    "2",
                    "1",
                    "<u>bad cluster</u>",
                    System.currentTimeMillis())));
    // The first answer of /status is good, every later one is a 500: the page must say so.
    AtomicInteger calls = new AtomicInteger();
    TopologySource source =
        new TopologySource() {
          @Override
          public Topology topology() {
            if (calls.incrementAndGet() > 1) {
              throw new IllegalStateException("status unavailable in this test");
            }
            return topology;
          }

          @Override
          public void addListener(Consumer<Topology> listener) {}

          @Override
          public void removeListener(Consumer<Topology> listener) {}

          @Override
          public CompletableFuture<ChainView> setDrained(
              String chain, String node, boolean drained) {
            return CompletableFuture.completedFuture(null);
          }
        };
    try (AdminHttpServer server =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                source,
                () -> List.of(envoy))
            .start()) {
      Document dom =
          Jsoup.parse(chromium.dumpDom("http://127.0.0.1:" + server.port() + "/ui/", BUDGET));
      Files.writeString(dir.resolve("disconnected-dom.html"), dom.outerHtml());
      SoftAssertions soft = new SoftAssertions();
      soft.assertThat(calls).as("/status polls").hasValueGreaterThan(1);
      soft.assertThat(dom.selectFirst("#conn").attr("data-state")).isEqualTo("disconnected");
      soft.assertThat(dom.selectFirst("#conn-text").text())
          .startsWith("disconnected: /status answered HTTP 500")
          .contains("last update");
      soft.assertThat(dom.selectFirst("body").hasClass("stale")).isTrue();
      Element row = dom.selectFirst("tr.node");
      soft.assertThat(row).as("the last good data stays on screen").isNotNull();
      if (row != null) {
        soft.assertThat(row.attr("data-node")).isEqualTo(hostile);
        soft.assertThat(row.selectFirst("td.name").text()).isEqualTo(hostile);
        soft.assertThat(row.selectFirst("td.region").text()).isEqualTo("<b>eu</b>");
        soft.assertThat(row.selectFirst("td.reason").text()).isEqualTo("<script>alert(1)</script>");
      }
      soft.assertThat(dom.selectFirst("tr.envoy td.name").text()).isEqualTo("<i>edge</i>");
      soft.assertThat(dom.selectFirst("li.xds-type").attr("data-state")).isEqualTo("NACK");
      soft.assertThat(dom.selectFirst("li.xds-type .nack").text()).endsWith(": <u>bad cluster</u>");
      soft.assertThat(dom.select("main img, main script, main b, main i, main u"))
          .as("no element made from data")
          .isEmpty();
      soft.assertThat(dom.title()).doesNotContain("pwned");
      soft.assertAll();
    }
  }

  @Test
  void eachNodesWeightWithItsReasonAndEachRegionsDecisionShow() throws Exception {
    NodeConfig eu1 = TestConfigs.node("eu-1", "http://10.0.1.1:8545").region("eu").build();
    NodeConfig eu2 = TestConfigs.node("eu-2", "http://10.0.1.2:8545").region("eu").build();
    NodeConfig eu3 = TestConfigs.node("eu-3", "http://10.0.1.3:8545").region("eu").build();
    NodeConfig us1 = TestConfigs.node("us-1", "http://10.0.2.1:8545").region("us").build();
    ChainConfig chain = TestConfigs.evm("eth").nodes(eu1, eu2, eu3, us1).build();
    long now = System.currentTimeMillis();
    List<NodeView> views =
        List.of(
            new NodeView(eu1, 43, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 42_000, now, "a")
                .withScore(
                    new io.chainroute.height.NodeScore(
                        42_000, 10, "smoothed probe latency 42.0 ms vs fastest 2.5 ms")),
            down(eu2, now),
            down(eu3, now),
            new NodeView(us1, 43, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 2_500, now, "b")
                .withScore(new io.chainroute.height.NodeScore(2_500, 100, "fastest node")));
    Topology topology = Topology.of(3, List.of(new ChainView(chain, 43, views)));
    try (AdminHttpServer server =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                fixed(topology),
                List::of)
            .start()) {
      Document dom =
          Jsoup.parse(chromium.dumpDom("http://127.0.0.1:" + server.port() + "/ui/", BUDGET));
      Files.writeString(dir.resolve("regions-dom.html"), dom.outerHtml());
      SoftAssertions soft = new SoftAssertions();
      Element eu = dom.selectFirst("tr.node[data-node=eu-1]");
      soft.assertThat(eu.selectFirst("td.weight").attr("data-weight")).isEqualTo("10");
      soft.assertThat(eu.selectFirst("td.weight .why").text())
          .isEqualTo("smoothed probe latency 42.0 ms vs fastest 2.5 ms");
      soft.assertThat(eu.selectFirst("td.smoothed").text()).isEqualTo("42 ms");
      soft.assertThat(dom.selectFirst("tr.node[data-node=eu-2] td.weight").attr("data-weight"))
          .isEqualTo("0");
      Element euHead = dom.selectFirst("tr.region[data-region=eu][data-pool=head]");
      soft.assertThat(euHead.attr("data-spill")).isEqualTo("true");
      soft.assertThat(euHead.selectFirst("td.decision").text()).isEqualTo("spill over");
      soft.assertThat(euHead.selectFirst("td.reason").text())
          .startsWith("spill over: only 1 of 3 nodes in eu");
      soft.assertThat(euHead.select("li.member").eachText())
          .containsExactly("eu-1 p0 w10", "us-1 p0 w100");
      Element usHead = dom.selectFirst("tr.region[data-region=us][data-pool=head]");
      soft.assertThat(usHead.selectFirst("td.decision").text()).isEqualTo("local");
      soft.assertThat(usHead.select("li.member").eachText())
          .containsExactly("eu-1 p1 w10", "us-1 p0 w100");
      soft.assertAll();
    }
  }

  private static NodeView down(NodeConfig c, long now) {
    return new NodeView(c, 33, 10, Health.UNREACHABLE, "refused", EndpointStatus.NONE, -1, now, "c")
        .withScore(new io.chainroute.height.NodeScore(-1, 0, "in no pool"));
  }

  /** A topology source that always shows one topology. */
  private static TopologySource fixed(Topology topology) {
    return new TopologySource() {
      @Override
      public Topology topology() {
        return topology;
      }

      @Override
      public void addListener(Consumer<Topology> listener) {}

      @Override
      public void removeListener(Consumer<Topology> listener) {}

      @Override
      public CompletableFuture<ChainView> setDrained(String chain, String node, boolean drained) {
        return CompletableFuture.completedFuture(null);
      }
    };
  }

  private static JsonNode node(JsonNode status, String name) {
    for (JsonNode n : status.get("chains").get(0).get("nodes")) {
      if (n.get("name").asText().equals(name)) {
        return n;
      }
    }
    throw new IllegalStateException("no node " + name + " in /status: " + status);
  }
}
