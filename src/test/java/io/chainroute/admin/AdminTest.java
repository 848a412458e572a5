package io.chainroute.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.admin.v1.AdminServiceGrpc;
import io.chainroute.admin.v1.GetTopologyRequest;
import io.chainroute.admin.v1.WatchTopologyRequest;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeScore;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.height.TopologySource;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class AdminTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String HEADER_SECRET = "Bearer hdr-val-51a9e";
  private final NodeConfig keyed =
      TestConfigs.node("keyed", "http://user:s3cret@10.0.0.1:8545/v3/APIKEY?token=t0k")
          .region("eu")
          .header("Authorization", "PROVIDER_AUTH", HEADER_SECRET)
          .build();
  private final NodeConfig archive =
      TestConfigs.node("arc", "http://10.0.0.2:8545").archive().build();
  private final ChainConfig chain = TestConfigs.evm("eth").nodes(keyed, archive).build();

  private Topology topology(long version, EndpointStatus keyedStatus) {
    Health h = keyedStatus == EndpointStatus.HEALTHY ? Health.SYNCED : Health.UNREACHABLE;
    return Topology.of(
        version,
        List.of(
            new ChainView(
                chain,
                100,
                List.of(
                    new NodeView(
                        keyed,
                        100,
                        0,
                        h,
                        h == Health.SYNCED ? "" : "probe timed out",
                        keyedStatus,
                        850,
                        1_700_000_000_000L,
                        "10.0.0.1"),
                    new NodeView(
                        archive,
                        99,
                        1,
                        Health.LAGGING,
                        "1 blocks behind",
                        EndpointStatus.DEGRADED,
                        900,
                        0,
                        "10.0.0.2")))));
  }

  /** A topology source the test drives by hand. */
  private static final class FakeSource implements TopologySource {
    volatile Topology current;
    final List<Consumer<Topology>> listeners = new CopyOnWriteArrayList<>();

    @Override
    public Topology topology() {
      return current;
    }

    @Override
    public void addListener(Consumer<Topology> l) {
      listeners.add(l);
    }

    @Override
    public void removeListener(Consumer<Topology> l) {
      listeners.remove(l);
    }

    @Override
    public java.util.concurrent.CompletableFuture<ChainView> setDrained(
        String chain, String node, boolean drained) {
      ChainView c = current.chain(chain);
      if (c == null || c.nodes().stream().noneMatch(n -> n.name().equals(node))) {
        return java.util.concurrent.CompletableFuture.completedFuture(null);
      }
      List<NodeView> nodes =
          c.nodes().stream()
              .map(
                  n ->
                      !n.name().equals(node)
                          ? n
                          : new NodeView(
                              n.config(),
                              n.head(),
                              n.lag(),
                              drained ? Health.DRAINED : Health.SYNCED,
                              "",
                              drained ? EndpointStatus.NONE : EndpointStatus.HEALTHY,
                              1,
                              0,
                              n.address()))
              .toList();
      ChainView after = new ChainView(c.config(), c.head(), nodes);
      publish(Topology.of(current.version() + 1, List.of(after)));
      return java.util.concurrent.CompletableFuture.completedFuture(after);
    }

    void publish(Topology t) {
      current = t;
      listeners.forEach(l -> l.accept(t));
    }
  }

  @Test
  void statusShowsNodesPoolsAndEnvoysButNeverCredentials() {
    EnvoyConnection envoy =
        EnvoyConnection.served(
            "edge-1",
            "chainroute",
            "eu",
            "10.1.2.3",
            1_700_000_000_000L,
            List.of(
                new EnvoyConnection.TypeState(
                    "type.googleapis.com/envoy.config.cluster.v3.Cluster", "c1", "c1", "", 0)));
    JsonNode s = StatusJson.status(topology(3, EndpointStatus.HEALTHY), List.of(envoy));
    String text = s.toString();
    assertThat(text).doesNotContain("s3cret", "user", "APIKEY", "t0k", "/v3", HEADER_SECRET);
    JsonNode node = s.get("chains").get(0).get("nodes").get(0);
    assertThat(node.get("endpoint").asText()).isEqualTo("http://10.0.0.1:8545");
    assertThat(node.get("health").asText()).isEqualTo("SYNCED");
    assertThat(node.get("lastAdvanced").asText()).isEqualTo("2023-11-14T22:13:20Z");
    assertThat(s.get("chains").get(0).get("nodes").get(1).get("lastAdvanced").isNull()).isTrue();
    assertThat(s.get("chains").get(0).get("headAdvanced").asText())
        .as("the chain head (100) came with the node at it")
        .isEqualTo("2023-11-14T22:13:20Z");
    JsonNode pools = s.get("chains").get(0).get("pools");
    assertThat(pools.get(0).get("cluster").asText()).isEqualTo("eth-head");
    assertThat(pools.get(0).get("members")).hasSize(2);
    assertThat(pools.get(1).get("members").get(0).get("status").asText()).isEqualTo("DEGRADED");
    assertThat(s.get("envoys").get(0).get("resources").get(0).get("acked").asBoolean()).isTrue();
  }

  @Test
  void statusShowsEachNodesWeightAndWhyAndWhatEachRegionsEnvoysAreSent() {
    NodeConfig eu1 = TestConfigs.node("eu-1", "http://10.0.1.1:8545").region("eu").build();
    NodeConfig eu2 = TestConfigs.node("eu-2", "http://10.0.1.2:8545").region("eu").build();
    NodeConfig eu3 = TestConfigs.node("eu-3", "http://10.0.1.3:8545").region("eu").build();
    NodeConfig us1 = TestConfigs.node("us-1", "http://10.0.2.1:8545").region("us").build();
    ChainConfig regional = TestConfigs.evm("eth").nodes(eu1, eu2, eu3, us1).build();
    List<NodeView> nodes =
        List.of(
            synced(eu1, "10.0.1.1", new NodeScore(42_000, 10, "slow: 42.0 ms vs fastest 2.5 ms")),
            down(eu2),
            down(eu3),
            synced(us1, "10.0.2.1", new NodeScore(2_500, 100, "fastest node")));
    Topology t = Topology.of(7, List.of(new ChainView(regional, 100, nodes)));

    JsonNode chain = StatusJson.status(t, List.of()).get("chains").get(0);

    JsonNode n = chain.get("nodes").get(0);
    assertThat(n.get("region").asText()).isEqualTo("eu");
    assertThat(n.get("smoothedLatencyMicros").asLong()).isEqualTo(42_000);
    assertThat(n.get("weight").asInt()).isEqualTo(10);
    assertThat(n.get("weightReason").asText()).isEqualTo("slow: 42.0 ms vs fastest 2.5 ms");
    assertThat(chain.get("nodes").get(1).get("weight").asInt()).isZero();
    assertThat(chain.get("pools").get(0).get("members").get(0).get("weight").asInt()).isEqualTo(10);
    // One entry per (region, pool): eu lost two of its three nodes and spills over; us keeps its.
    JsonNode eu = region(chain, "eu", "head");
    assertThat(eu.get("spill").asBoolean()).isTrue();
    assertThat(eu.get("reason").asText()).startsWith("spill over: only 1 of 3 nodes in eu");
    assertThat(eu.get("members"))
        .extracting(m -> m.get("node").asText() + "/p" + m.get("priority").asInt())
        .containsExactly("eu-1/p0", "us-1/p0");
    JsonNode us = region(chain, "us", "head");
    assertThat(us.get("spill").asBoolean()).isFalse();
    assertThat(us.get("members"))
        .extracting(
            m ->
                m.get("node").asText()
                    + "@"
                    + m.get("region").asText()
                    + "/p"
                    + m.get("priority").asInt()
                    + "/w"
                    + m.get("weight").asInt())
        .containsExactly("eu-1@eu/p1/w10", "us-1@us/p0/w100");

    // The gRPC admin API carries the same figures.
    io.chainroute.admin.v1.Node proto = TopologyProtos.node(nodes.get(0));
    assertThat(proto.getSmoothedLatencyMicros()).isEqualTo(42_000);
    assertThat(proto.getWeight()).isEqualTo(10);
    assertThat(proto.getWeightReason()).isEqualTo("slow: 42.0 ms vs fastest 2.5 ms");
  }

  private static NodeView synced(NodeConfig c, String address, NodeScore score) {
    return new NodeView(c, 100, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 1, 0, address)
        .withScore(score);
  }

  private static NodeView down(NodeConfig c) {
    return new NodeView(
            c, 90, 10, Health.UNREACHABLE, "probe timed out", EndpointStatus.NONE, -1, 0, null)
        .withScore(new NodeScore(-1, 0, "in no pool"));
  }

  private static JsonNode region(JsonNode chain, String region, String pool) {
    for (JsonNode p : chain.get("regions")) {
      if (p.get("region").asText().equals(region) && p.get("pool").asText().equals(pool)) {
        return p;
      }
    }
    throw new AssertionError("no " + region + "/" + pool + " in " + chain.get("regions"));
  }

  @Test
  void httpEndpointsAnswerHealthReadinessAndStatus() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.NONE);
    // Not ready: no node is synced.
    source.current = Topology.of(1, List.of(new ChainView(chain, -1, List.of())));
    try (AdminHttpServer server =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), source, List::of)
            .start()) {
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + server.port();
      HttpResponse<String> healthz =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(healthz.statusCode()).isEqualTo(200);

      HttpResponse<String> notReady =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(notReady.statusCode()).isEqualTo(503);
      assertThat(JSON.readTree(notReady.body()).get("chainsWithoutSyncedNode").get(0).asText())
          .isEqualTo("eth");

      source.current = topology(2, EndpointStatus.HEALTHY);
      HttpResponse<String> ready =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(ready.statusCode()).isEqualTo(200);

      HttpResponse<String> status =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/status")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(status.headers().firstValue("content-type")).hasValue("application/json");
      assertThat(JSON.readTree(status.body()).get("version").asLong()).isEqualTo(2);
      assertThat(status.body()).doesNotContain("s3cret", "hdr-val");

      assertThat(
              http.send(
                      HttpRequest.newBuilder(URI.create(base + "/nope")).build(),
                      HttpResponse.BodyHandlers.ofString())
                  .statusCode())
          .isEqualTo(404);
      assertThat(
              http.send(
                      HttpRequest.newBuilder(URI.create(base + "/status"))
                          .POST(HttpRequest.BodyPublishers.noBody())
                          .build(),
                      HttpResponse.BodyHandlers.ofString())
                  .statusCode())
          .isEqualTo(405);
    }
  }

  @Test
  void grpcGetsTheTopologyAndWatchStreamsChangesUntilCancelled() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name)
            .addService(new AdminGrpcService(source))
            .build()
            .start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      io.chainroute.admin.v1.Topology t =
          AdminServiceGrpc.newBlockingStub(channel)
              .getTopology(GetTopologyRequest.getDefaultInstance());
      assertThat(t.getChains(0).getNodes(0).getEndpoint()).isEqualTo("http://10.0.0.1:8545");
      // Latin-1 maps each byte to one char: an ASCII value in any field shows as itself.
      assertThat(new String(t.toByteArray(), StandardCharsets.ISO_8859_1))
          .doesNotContain("hdr-val", "s3cret", "APIKEY");
      assertThat(t.getChains(0).getNodes(0).getHealth())
          .isEqualTo(io.chainroute.admin.v1.Health.HEALTH_SYNCED);
      assertThat(t.getChains(0).getPools(1).getMembers(0).getStatus())
          .isEqualTo(io.chainroute.admin.v1.EndpointStatus.ENDPOINT_STATUS_DEGRADED);

      BlockingQueue<io.chainroute.admin.v1.Topology> seen = new LinkedBlockingQueue<>();
      Context.CancellableContext ctx = Context.current().withCancellation();
      ctx.run(
          () ->
              AdminServiceGrpc.newStub(channel)
                  .watchTopology(
                      WatchTopologyRequest.getDefaultInstance(),
                      new StreamObserver<>() {
                        @Override
                        public void onNext(io.chainroute.admin.v1.Topology value) {
                          seen.add(value);
                        }

                        @Override
                        public void onError(Throwable t) {}

                        @Override
                        public void onCompleted() {}
                      }));
      assertThat(seen.poll(5, TimeUnit.SECONDS).getVersion()).isEqualTo(1);
      source.publish(topology(2, EndpointStatus.NONE));
      io.chainroute.admin.v1.Topology changed = seen.poll(5, TimeUnit.SECONDS);
      assertThat(changed.getVersion()).isEqualTo(2);
      assertThat(changed.getChains(0).getNodes(0).getHealth())
          .isEqualTo(io.chainroute.admin.v1.Health.HEALTH_UNREACHABLE);
      assertThat(source.listeners).hasSize(1);
      ctx.cancel(null);
      await().atMost(Duration.ofSeconds(5)).until(() -> source.listeners.isEmpty());
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }

  @Test
  void closingTheServiceCompletesOpenWatchesSoShutdownDoesNotHang() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    AdminGrpcService service = new AdminGrpcService(source);
    String name = InProcessServerBuilder.generateName();
    Server server = InProcessServerBuilder.forName(name).addService(service).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      java.util.concurrent.CountDownLatch completed = new java.util.concurrent.CountDownLatch(1);
      AdminServiceGrpc.newStub(channel)
          .watchTopology(
              WatchTopologyRequest.getDefaultInstance(),
              new StreamObserver<>() {
                @Override
                public void onNext(io.chainroute.admin.v1.Topology value) {}

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {
                  completed.countDown();
                }
              });
      await().atMost(Duration.ofSeconds(5)).until(() -> source.listeners.size() == 1);
      service.close();
      assertThat(completed.await(5, TimeUnit.SECONDS)).isTrue();
      assertThat(source.listeners).isEmpty();
      server.shutdown();
      assertThat(server.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }

  @Test
  void operatorsDrainAndUndrainANodeOverHttpAndGrpc() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    try (AdminHttpServer server =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), source, List::of)
            .start()) {
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + server.port();
      HttpResponse<String> drained =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/nodes/eth/keyed/drain"))
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(drained.statusCode()).as(drained.body()).isEqualTo(200);
      assertThat(JSON.readTree(drained.body()).get("health").asText()).isEqualTo("DRAINED");
      assertThat(source.current.chain("eth").nodes().get(0).status())
          .isEqualTo(EndpointStatus.NONE);
      HttpResponse<String> unknown =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/nodes/eth/nope/drain"))
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(unknown.statusCode()).isEqualTo(404);
      assertThat(
              http.send(
                      HttpRequest.newBuilder(URI.create(base + "/nodes/eth/keyed/drain")).build(),
                      HttpResponse.BodyHandlers.ofString())
                  .statusCode())
          .isEqualTo(405);
    }
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name)
            .addService(new AdminGrpcService(source))
            .build()
            .start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      var stub = AdminServiceGrpc.newBlockingStub(channel);
      var back =
          stub.undrainNode(
              io.chainroute.admin.v1.DrainNodeRequest.newBuilder()
                  .setChain("eth")
                  .setNode("keyed")
                  .build());
      assertThat(back.getHealth()).isEqualTo(io.chainroute.admin.v1.Health.HEALTH_SYNCED);
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () ->
                  stub.drainNode(
                      io.chainroute.admin.v1.DrainNodeRequest.newBuilder()
                          .setChain("eth")
                          .setNode("ghost")
                          .build()))
          .hasMessageContaining("NOT_FOUND");
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }

  @Test
  void configReloadOverHttpNeedsTheAdminTokenAndReportsARefusal() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    java.util.concurrent.atomic.AtomicInteger reloads =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.function.Supplier<io.chainroute.config.ConfigReload.Outcome> reload =
        () ->
            reloads.incrementAndGet() == 1
                ? new io.chainroute.config.ConfigReload.Outcome(
                    true, "applied: 3 nodes in 1 chains")
                : new io.chainroute.config.ConfigReload.Outcome(
                    false, "chains[0].nodes[1].url: bad (expected: a URL)");
    HttpClient http = HttpClient.newHttpClient();
    java.util.function.BiFunction<Integer, String, HttpResponse<String>> post =
        (port, auth) -> {
          HttpRequest.Builder b =
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/config/reload"))
                  .POST(HttpRequest.BodyPublishers.noBody());
          if (auth != null) {
            b.header("authorization", auth);
          }
          try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        };
    try (AdminHttpServer off =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                source,
                List::of,
                reload,
                "")
            .start()) {
      assertThat(post.apply(off.port(), "Bearer anything").statusCode())
          .as("no token configured: off")
          .isEqualTo(403);
    }
    try (AdminHttpServer server =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                source,
                List::of,
                reload,
                "s3cret-token")
            .start()) {
      assertThat(post.apply(server.port(), null).statusCode()).isEqualTo(401);
      HttpResponse<String> wrong = post.apply(server.port(), "Bearer s3cret-tokeN");
      assertThat(wrong.statusCode()).isEqualTo(401);
      assertThat(wrong.body()).doesNotContain("s3cret");
      assertThat(reloads).as("no reload without the token").hasValue(0);

      HttpResponse<String> ok = post.apply(server.port(), "Bearer s3cret-token");
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
      assertThat(JSON.readTree(ok.body()).get("applied").asBoolean()).isTrue();
      HttpResponse<String> refused = post.apply(server.port(), "bearer s3cret-token");
      assertThat(refused.statusCode()).isEqualTo(422);
      assertThat(JSON.readTree(refused.body()).get("message").asText())
          .startsWith("chains[0].nodes[1].url:");
      assertThat(
              http.send(
                      HttpRequest.newBuilder(
                              URI.create("http://127.0.0.1:" + server.port() + "/config/reload"))
                          .build(),
                      HttpResponse.BodyHandlers.ofString())
                  .statusCode())
          .isEqualTo(405);
    }
  }

  @Test
  void theChainHeadAdvancedWhenTheFirstNodeStillAtItGotThere() {
    NodeView early =
        new NodeView(keyed, 7, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 1, 5_000, "");
    NodeView late =
        new NodeView(archive, 7, 0, Health.SYNCED, "", EndpointStatus.HEALTHY, 1, 9_000, "");
    NodeView behind =
        new NodeView(keyed, 6, 1, Health.STALLED, "", EndpointStatus.NONE, 1, 1_000, "");
    assertThat(new ChainView(chain, 7, List.of(late, early, behind)).headAdvancedWallMillis())
        .isEqualTo(5_000);
    assertThat(new ChainView(chain, 8, List.of(late, early)).headAdvancedWallMillis())
        .as("no node at the head")
        .isZero();
    assertThat(
            StatusJson.status(
                    Topology.of(1, List.of(new ChainView(chain, -1, List.of()))), List.of())
                .get("chains")
                .get(0)
                .get("headAdvanced")
                .isNull())
        .isTrue();
  }

  @Test
  void aFailingStatusIsAJson500NotADroppedConnection() throws Exception {
    FakeSource broken = new FakeSource(); // no topology yet: rendering /status throws
    try (AdminHttpServer server =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), broken, List::of)
            .start()) {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + server.port() + "/status"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(500);
      assertThat(JSON.readTree(r.body()).get("error").asText())
          .isEqualTo("internal error: NullPointerException");
    }
  }

  /** The raw status line and headers of one request, sent as written (no client normalizes it). */
  private static String raw(int port, String method, String target) throws Exception {
    try (java.net.Socket s = new java.net.Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(5_000);
      s.getOutputStream()
          .write(
              (method
                      + " "
                      + target
                      + " HTTP/1.1\r\nHost: 127.0.0.1:"
                      + port
                      + "\r\nConnection: close\r\n\r\n")
                  .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
      return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  @Test
  void metricsAreServedInTheFormatAskedForWithoutCredentialsAnd404WhenOff() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    io.chainroute.metrics.ChainrouteMetrics metrics =
        new io.chainroute.metrics.ChainrouteMetrics(java.time.Clock.systemUTC(), true)
            .watch(() -> source.current, List.of(chain), java.util.Map::of, () -> 1);
    InetSocketAddress any = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    HttpClient http = HttpClient.newHttpClient();
    try (AdminHttpServer server =
        new AdminHttpServer(any, source, List::of, () -> null, "", metrics).start()) {
      URI uri = URI.create("http://127.0.0.1:" + server.port() + "/metrics");
      HttpResponse<String> text =
          http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(text.statusCode()).isEqualTo(200);
      assertThat(text.headers().firstValue("content-type").orElse(""))
          .startsWith("text/plain; version=0.0.4");
      assertThat(text.body())
          .contains(
              "chainroute_node_head{chain=\"eth\",node=\"keyed\"} 100",
              "chainroute_node_health{chain=\"eth\",node=\"arc\",state=\"lagging\"} 1",
              "jvm_memory_used_bytes")
          .doesNotContain("s3cret", "APIKEY", "t0k", "hdr-val", "10.0.0.1");
      HttpResponse<String> open =
          http.send(
              HttpRequest.newBuilder(uri)
                  .header("accept", "application/openmetrics-text; version=1.0.0")
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(open.headers().firstValue("content-type").orElse(""))
          .startsWith("application/openmetrics-text");
      assertThat(open.body()).endsWith("# EOF\n");
    }
    try (AdminHttpServer off = new AdminHttpServer(any, source, List::of).start()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + off.port() + "/metrics"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(404);
      assertThat(r.body()).contains("metrics are off");
    }
  }

  private AdminHttpServer pageServer() throws Exception {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    return new AdminHttpServer(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), source, List::of)
        .start();
  }

  @Test
  void theStatusPageAndItsAssetsComeWithTheirContentTypesAndStrictHeaders() throws Exception {
    try (AdminHttpServer server = pageServer()) {
      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + server.port();
      java.util.Map<String, String> types =
          java.util.Map.of(
              "/ui/", "text/html; charset=utf-8",
              "/ui/index.html", "text/html; charset=utf-8",
              "/ui/status.js", "text/javascript; charset=utf-8",
              "/ui/status.css", "text/css; charset=utf-8");
      for (var e : types.entrySet()) {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create(base + e.getKey())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(e.getKey()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).as(e.getKey()).hasValue(e.getValue());
        assertThat(r.headers().firstValue("x-content-type-options"))
            .as(e.getKey())
            .hasValue("nosniff");
        assertThat(r.headers().firstValue("content-security-policy").orElseThrow())
            .as(e.getKey())
            .startsWith("default-src 'self';")
            .doesNotContain("unsafe");
        assertThat(r.body()).as(e.getKey()).isNotBlank();
      }
      for (String redirect : List.of("/", "/ui")) {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create(base + redirect)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(redirect).isEqualTo(302);
        assertThat(r.headers().firstValue("location")).as(redirect).hasValue("/ui/");
      }
      assertThat(raw(server.port(), "POST", "/ui/"))
          .startsWith("HTTP/1.1 405")
          .contains("Allow: GET, HEAD");
      assertThat(raw(server.port(), "HEAD", "/ui/status.js")).startsWith("HTTP/1.1 200");
      assertThat(
              http.send(
                      HttpRequest.newBuilder(URI.create(base + "/status")).build(),
                      HttpResponse.BodyHandlers.ofString())
                  .headers()
                  .firstValue("content-type"))
          .as("/status is untouched")
          .hasValue("application/json");
    }
  }

  @Test
  void unknownAndTraversingPagePathsAre404() throws Exception {
    try (AdminHttpServer server = pageServer()) {
      for (String target :
          List.of(
              "/ui/nope.js",
              "/ui/../pom.xml",
              "/ui/../status",
              "/ui/%2e%2e/%2e%2e/pom.xml",
              "/ui/..%2fAdminHttpServer.class",
              "/ui/status/index.html",
              "/ui/status.js/..",
              "/ui//status.js",
              "/ui/./status.js",
              "/ui/STATUS.JS",
              "/ui/status.js%00",
              "/ui/io/chainroute/admin/StatusPage.class",
              "/ui/simplelogger.properties")) {
        String answer = raw(server.port(), "GET", target);
        assertThat(answer).as(target).startsWith("HTTP/1.1 404");
        assertThat(answer).as(target).contains("X-content-type-options: nosniff");
        assertThat(answer).as(target).doesNotContain("io.chainroute", "<html");
      }
      assertThat(raw(server.port(), "GET", "/status.js"))
          .as("the assets live under /ui/ only")
          .startsWith("HTTP/1.1 404");
    }
  }

  @Test
  void thePageHasNoInlineScriptOrStyleAndItsScriptWritesTextOnlySoTheCspHolds() throws Exception {
    String html;
    String js;
    try (var in = StatusPage.class.getResourceAsStream("status/index.html");
        var script = StatusPage.class.getResourceAsStream("status/status.js")) {
      html = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      js = new String(script.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
    org.jsoup.nodes.Document page = org.jsoup.Jsoup.parse(html);
    assertThat(page.select("script")).isNotEmpty();
    for (org.jsoup.nodes.Element script : page.select("script")) {
      assertThat(script.attr("src")).as(script.outerHtml()).isNotEmpty().doesNotContain(":", "//");
      assertThat(script.data()).as("inline script").isBlank();
    }
    assertThat(page.select("style")).as("inline <style>").isEmpty();
    assertThat(page.select("[style]")).as("style attributes").isEmpty();
    for (org.jsoup.nodes.Element e : page.getAllElements()) {
      for (org.jsoup.nodes.Attribute a : e.attributes()) {
        assertThat(a.getKey()).as("inline handler on <%s>", e.tagName()).doesNotStartWith("on");
        assertThat(a.getValue()).as("javascript: URL").doesNotStartWithIgnoringCase("javascript:");
      }
    }
    for (org.jsoup.nodes.Element link : page.select("link[href], a[href], img[src]")) {
      assertThat(link.attr("href") + link.attr("src"))
          .as("same-origin only: " + link.outerHtml())
          .doesNotContain("//");
    }
    assertThat(js)
        .as("data reaches the DOM as text only")
        .doesNotContain("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")
        .doesNotContain("new Function", "http://", "https://");
  }

  // ------------------------------------------------------------------------ admin access

  private static final String TOKEN = "adm1n-t0ken-9f3";

  /** One raw HTTP/1.1 request (the JDK client will not send a chosen Host): status and body. */
  private static String[] request(int port, String method, String path, String... headers)
      throws Exception {
    try (java.net.Socket s = new java.net.Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(5000);
      StringBuilder req = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
      for (String h : headers) {
        req.append(h).append("\r\n");
      }
      req.append("Content-Length: 0\r\nConnection: close\r\n\r\n");
      s.getOutputStream().write(req.toString().getBytes(StandardCharsets.US_ASCII));
      String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      String status = answer.substring(9, 12);
      return new String[] {status, answer.substring(answer.indexOf("\r\n\r\n") + 4)};
    }
  }

  private FakeSource healthySource() {
    FakeSource source = new FakeSource();
    source.current = topology(1, EndpointStatus.HEALTHY);
    return source;
  }

  /** An admin on loopback with {@code token} ("" for none). */
  private static AdminHttpServer loopbackAdmin(FakeSource source, String token) throws Exception {
    return new AdminHttpServer(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            source,
            List::of,
            () -> null,
            token)
        .start();
  }

  private static EndpointStatus keyedStatus(FakeSource source) {
    return source.current.chain("eth").nodes().get(0).status();
  }

  @Test
  void aDrainNeedsTheTokenAndAWrongOrMissingOneIs401WithNothingChanged() throws Exception {
    FakeSource source = healthySource();
    java.io.ByteArrayOutputStream logs = new java.io.ByteArrayOutputStream();
    java.io.PrintStream err = System.err;
    try (AdminHttpServer server = loopbackAdmin(source, TOKEN)) {
      int port = server.port();
      String host = "Host: 127.0.0.1:" + port;
      System.setErr(new java.io.PrintStream(logs, true, StandardCharsets.UTF_8));
      for (String[] auth :
          new String[][] {
            {},
            {"Authorization: Bearer wrong"},
            {"Authorization: Basic " + TOKEN},
            {"Authorization: Bearer " + TOKEN + "x"}
          }) {
        String[] headers = new String[auth.length + 1];
        headers[0] = host;
        System.arraycopy(auth, 0, headers, 1, auth.length);
        String[] r = request(port, "POST", "/nodes/eth/keyed/drain", headers);
        assertThat(r[0]).as(String.join(",", auth)).isEqualTo("401");
        assertThat(JSON.readTree(r[1]).get("error").asText())
            .contains("Authorization: Bearer <admin token>")
            .doesNotContain(TOKEN);
        assertThat(keyedStatus(source)).as("nothing changed").isEqualTo(EndpointStatus.HEALTHY);
      }
      String[] ok =
          request(port, "POST", "/nodes/eth/keyed/drain", host, "Authorization: bearer " + TOKEN);
      assertThat(ok[0]).as(ok[1]).isEqualTo("200");
      assertThat(keyedStatus(source)).isEqualTo(EndpointStatus.NONE);
      // Reads stay open on loopback.
      assertThat(request(port, "GET", "/status", host)[0]).isEqualTo("200");
    } finally {
      System.setErr(err);
    }
    String log = logs.toString(StandardCharsets.UTF_8);
    assertThat(log)
        .contains("Node drained over HTTP. chain=eth node=keyed client=127.0.0.1")
        .contains("Admin request refused. status=401 method=POST client=127.0.0.1")
        .doesNotContain(TOKEN);
  }

  @Test
  void aForeignHostOrOriginIsRefused403SoNoPageCanDrainANode() throws Exception {
    FakeSource source = healthySource();
    try (AdminHttpServer server = loopbackAdmin(source, "")) {
      int port = server.port();
      String own = "127.0.0.1:" + port;
      // The issue's cross-site form: text/plain, another Origin. No token is configured here.
      String[] csrf =
          request(
              port,
              "POST",
              "/nodes/eth/keyed/drain",
              "Host: " + own,
              "Origin: http://evil.example",
              "Content-Type: text/plain");
      assertThat(csrf[0]).isEqualTo("403");
      assertThat(JSON.readTree(csrf[1]).get("error").asText()).contains("cross-origin");
      assertThat(request(port, "POST", "/nodes/eth/keyed/drain", "Host: " + own, "Origin: null")[0])
          .isEqualTo("403");
      // DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
      String[] rebound =
          request(port, "POST", "/nodes/eth/keyed/drain", "Host: evil.example:" + port);
      assertThat(rebound[0]).isEqualTo("403");
      assertThat(JSON.readTree(rebound[1]).get("error").asText()).contains("DNS rebinding");
      assertThat(request(port, "GET", "/status", "Host: evil.example:" + port)[0]).isEqualTo("403");
      assertThat(request(port, "GET", "/ui/", "Host: evil.example")[0]).isEqualTo("403");
      assertThat(request(port, "GET", "/status")[0]).as("no Host at all").isEqualTo("403");
      assertThat(keyedStatus(source)).as("nothing changed").isEqualTo(EndpointStatus.HEALTHY);

      // The admin's own names and origin: allowed (no token configured, loopback bind).
      assertThat(request(port, "GET", "/status", "Host: localhost:" + port)[0]).isEqualTo("200");
      assertThat(request(port, "GET", "/status", "Host: [::1]:" + port)[0]).isEqualTo("200");
      assertThat(request(port, "GET", "/status", "Host: " + own, "Origin: http://" + own)[0])
          .isEqualTo("200");
      String[] drained =
          request(port, "POST", "/nodes/eth/keyed/drain", "Host: " + own, "Origin: http://" + own);
      assertThat(drained[0]).as(drained[1]).isEqualTo("200");
      assertThat(keyedStatus(source)).isEqualTo(EndpointStatus.NONE);
    }
  }

  @Test
  void offLoopbackReadsNeedTheTokenTooAndNoTokenThereIsRefusedAtStart() throws Exception {
    InetAddress wildcard = InetAddress.getByName("0.0.0.0");
    InetAddress lan = InetAddress.getByName("10.1.2.3");
    AdminAccess any = new AdminAccess(wildcard, TOKEN, "chainroute-host");
    String bearer = "Bearer " + TOKEN;
    assertThat(any.http("10.9.9.9:8081", null, null, AdminAccess.Kind.READ).httpStatus())
        .isEqualTo(401);
    assertThat(any.http("10.9.9.9:8081", null, bearer, AdminAccess.Kind.READ).ok()).isTrue();
    assertThat(any.http("chainroute-host:8081", null, bearer, AdminAccess.Kind.MUTATION).ok())
        .isTrue();
    assertThat(any.http("other-name:8081", null, bearer, AdminAccess.Kind.READ).httpStatus())
        .isEqualTo(403);
    assertThat(any.http("999.1.1.1:8081", null, bearer, AdminAccess.Kind.READ).httpStatus())
        .as("not an IP literal (and never looked up)")
        .isEqualTo(403);
    assertThat(any.http("10.9.9.9:8081", null, null, AdminAccess.Kind.PROBE).ok())
        .as("/healthz, /readyz stay open")
        .isTrue();
    AdminAccess specific = new AdminAccess(lan, TOKEN, "");
    assertThat(specific.http("10.1.2.3:8081", null, bearer, AdminAccess.Kind.READ).ok()).isTrue();
    assertThat(specific.http("10.1.2.4:8081", null, bearer, AdminAccess.Kind.READ).httpStatus())
        .as("not the bind address")
        .isEqualTo(403);
    assertThat(specific.http("127.0.0.1:8081", null, bearer, AdminAccess.Kind.READ).ok()).isTrue();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new AdminAccess(wildcard, "", "h"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("server.adminTokenEnv");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () ->
                io.chainroute.config.ConfigLoader.parse(
                    "server: { bindAddress: 0.0.0.0 }\n"
                        + "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://h:1\" } ] } ]"))
        .isInstanceOf(io.chainroute.config.ConfigException.class)
        .hasMessageStartingWith(
            "server.adminTokenEnv: not set while server.bindAddress is 0.0.0.0");
    assertThat(
            io.chainroute.config.ConfigLoader.parse(
                    "server: { bindAddress: 0.0.0.0, adminTokenEnv: ADM, allowedEnvoyNodeIds: [e] }\n"
                        + "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://h:1\" } ] } ]",
                    v -> v.equals("ADM") ? TOKEN : null)
                .server()
                .bindAddress())
        .isEqualTo("0.0.0.0");
    // Loopback without a token: changes allowed (the operator's own machine).
    AdminAccess local = new AdminAccess(InetAddress.getLoopbackAddress(), "", "");
    assertThat(local.http("127.0.0.1:8081", null, null, AdminAccess.Kind.MUTATION).ok()).isTrue();
    assertThat(local.tokenMatches("Bearer ")).isFalse();
  }

  @Test
  void grpcDrainNeedsTheTokenInItsMetadata() throws Exception {
    FakeSource source = healthySource();
    String name = InProcessServerBuilder.generateName();
    Server server =
        InProcessServerBuilder.forName(name)
            .addService(
                new AdminGrpcService(source).guarded(InetAddress.getLoopbackAddress(), TOKEN))
            .build()
            .start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      var stub = AdminServiceGrpc.newBlockingStub(channel);
      var request =
          io.chainroute.admin.v1.DrainNodeRequest.newBuilder()
              .setChain("eth")
              .setNode("keyed")
              .build();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> stub.drainNode(request))
          .hasMessageStartingWith("UNAUTHENTICATED")
          .hasMessageContaining("Bearer <admin token>");
      io.grpc.Metadata wrong = new io.grpc.Metadata();
      io.grpc.Metadata.Key<String> auth =
          io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER);
      wrong.put(auth, "Bearer nope");
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () ->
                  stub.withInterceptors(
                          io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(wrong))
                      .drainNode(request))
          .hasMessageStartingWith("UNAUTHENTICATED");
      assertThat(keyedStatus(source)).as("nothing changed").isEqualTo(EndpointStatus.HEALTHY);
      // Reads stay open on loopback.
      assertThat(stub.getTopology(GetTopologyRequest.getDefaultInstance()).getChainsCount())
          .isEqualTo(1);
      io.grpc.Metadata right = new io.grpc.Metadata();
      right.put(auth, "Bearer " + TOKEN);
      var drained =
          stub.withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(right))
              .drainNode(request);
      assertThat(drained.getHealth()).isEqualTo(io.chainroute.admin.v1.Health.HEALTH_DRAINED);
      assertThat(keyedStatus(source)).isEqualTo(EndpointStatus.NONE);
    } finally {
      channel.shutdownNow();
      server.shutdownNow();
    }
  }
}
