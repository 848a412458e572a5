package io.chainroute.xds;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** ADS over an in-process gRPC channel, speaking the protocol as Envoy does (request, ACK, ...). */
class XdsPublisherTest {
  private static final String CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
  private static final String EDS =
      "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

  private final NodeConfig a = TestConfigs.node("a", "http://10.0.0.1:8545").region("eu").build();
  private final NodeConfig b = TestConfigs.node("b", "http://10.0.0.2:8545").region("us").build();
  private final NodeConfig arc =
      TestConfigs.node("arc", "http://10.0.0.3:8545").region("eu").archive().build();
  private final ChainConfig chain = TestConfigs.evm("eth").nodes(a, b, arc).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private ScheduledExecutorService loop;
  private XdsPublisher publisher;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    topology.set(topology(1, 100, 100, 100));
    loop = Executors.newSingleThreadScheduledExecutor();
    publisher =
        new XdsPublisher(
            List.of(chain), topology::get, loop, Duration.ofMillis(50), Clock.systemUTC());
    publisher.startPublishing();
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(publisher.adsService())
            .addService(publisher.edsService())
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
    loop.shutdownNow();
  }

  private NodeView view(NodeConfig n, long head, long chainHead) {
    long lag = chainHead - head;
    Health h = lag == 0 ? Health.SYNCED : Health.LAGGING;
    EndpointStatus s =
        lag == 0
            ? EndpointStatus.HEALTHY
            : lag <= 2 ? EndpointStatus.DEGRADED : EndpointStatus.NONE;
    return new NodeView(n, head, lag, h, "", s, 1000, 0, n.host());
  }

  private Topology topology(long version, long headA, long headB, long headArc) {
    long head = Math.max(headA, Math.max(headB, headArc));
    return Topology.of(
        version,
        List.of(
            new ChainView(
                chain,
                head,
                List.of(view(a, headA, head), view(b, headB, head), view(arc, headArc, head)))));
  }

  /** A client playing Envoy on one ADS stream. */
  private final class FakeEnvoy implements StreamObserver<DiscoveryResponse> {
    final BlockingQueue<DiscoveryResponse> responses = new LinkedBlockingQueue<>();
    final java.util.concurrent.CompletableFuture<Throwable> closed =
        new java.util.concurrent.CompletableFuture<>();
    final StreamObserver<DiscoveryRequest> requests;
    final Node node;

    FakeEnvoy(String region) {
      this("envoy-" + region, region);
    }

    FakeEnvoy(String id, String region) {
      node =
          Node.newBuilder().setId(id).setLocality(Locality.newBuilder().setRegion(region)).build();
      requests = AggregatedDiscoveryServiceGrpc.newStub(channel).streamAggregatedResources(this);
    }

    void request(String type, String version, String nonce, List<String> names) {
      requests.onNext(
          DiscoveryRequest.newBuilder()
              .setNode(node)
              .setTypeUrl(type)
              .setVersionInfo(version)
              .setResponseNonce(nonce)
              .addAllResourceNames(names)
              .build());
    }

    DiscoveryResponse next() throws InterruptedException {
      DiscoveryResponse r = responses.poll(5, TimeUnit.SECONDS);
      assertThat(r).as("a response within 5s").isNotNull();
      return r;
    }

    @Override
    public void onNext(DiscoveryResponse value) {
      responses.add(value);
    }

    @Override
    public void onError(Throwable t) {
      closed.complete(t);
    }

    @Override
    public void onCompleted() {}
  }

  /** The EDS ACK of {@code r} as Envoy sends it after its first request: without a node. */
  private static DiscoveryRequest nodelessAck(DiscoveryResponse r, String cluster) {
    return DiscoveryRequest.newBuilder()
        .setTypeUrl(EDS)
        .setVersionInfo(r.getVersionInfo())
        .setResponseNonce(r.getNonce())
        .addResourceNames(cluster)
        .build();
  }

  @Test
  void anEnvoyInARegionThatNamesItsNodeOnlyOnceStillGetsUpdates() throws Exception {
    // set_node_on_first_message_only: the ACK and every later request carry no node. Before the
    // gate carried the node, this watch sat in the group of region "" and the update never came.
    FakeEnvoy envoy = new FakeEnvoy("eu");
    envoy.request(EDS, "", "", List.of("eth-head"));
    DiscoveryResponse first = envoy.next();
    envoy.requests.onNext(nodelessAck(first, "eth-head"));
    topology.set(topology(2, 100, 110, 110));
    publisher.onTopology(topology.get());
    DiscoveryResponse next = envoy.next();
    assertThat(endpoints(cla(next, "eth-head"), HealthStatus.HEALTHY))
        .containsExactlyInAnyOrder("b", "arc");
  }

  @Test
  void anEdsOnlyEnvoyGetsTheSameEndpointsPrioritiesAndVersionsOverPlainEds() throws Exception {
    FakeEnvoy ads = new FakeEnvoy("eu");
    ads.request(EDS, "", "", List.of("eth-head"));
    DiscoveryResponse overAds = ads.next();
    BlockingQueue<DiscoveryResponse> responses = new LinkedBlockingQueue<>();
    StreamObserver<DiscoveryRequest> eds =
        io.envoyproxy.envoy.service.endpoint.v3.EndpointDiscoveryServiceGrpc.newStub(channel)
            .streamEndpoints(
                new StreamObserver<>() {
                  @Override
                  public void onNext(DiscoveryResponse r) {
                    responses.add(r);
                  }

                  @Override
                  public void onError(Throwable t) {}

                  @Override
                  public void onCompleted() {}
                });
    Node node =
        Node.newBuilder()
            .setId("mesh-gateway")
            .setLocality(Locality.newBuilder().setRegion("eu"))
            .build();
    eds.onNext(
        DiscoveryRequest.newBuilder()
            .setNode(node)
            .setTypeUrl(EDS)
            .addResourceNames("eth-head")
            .build());
    DiscoveryResponse overEds = responses.poll(5, TimeUnit.SECONDS);
    assertThat(overEds).as("an EDS response within 5 s").isNotNull();
    assertThat(cla(overEds, "eth-head")).isEqualTo(cla(overAds, "eth-head"));
    assertThat(overEds.getVersionInfo()).isEqualTo(overAds.getVersionInfo());
    // A height change reaches the EDS stream too, after its ACK.
    eds.onNext(nodelessAck(overEds, "eth-head"));
    topology.set(topology(2, 100, 110, 110));
    publisher.onTopology(topology.get());
    DiscoveryResponse next = responses.poll(5, TimeUnit.SECONDS);
    assertThat(next).as("the EDS stream got the change").isNotNull();
    assertThat(endpoints(cla(next, "eth-head"), HealthStatus.HEALTHY))
        .containsExactlyInAnyOrder("b", "arc");
    assertThat(publisher.clients()).extracting(XdsClients.Client::nodeId).contains("mesh-gateway");
  }

  @Test
  void anEnvoyNotOnTheAllowListGetsNoResourceAndIsShownAsRefused() throws Exception {
    publisher.allowOnly(java.util.Set.of("envoy-eu"));
    FakeEnvoy rogue = new FakeEnvoy("rogue", "eu");
    rogue.request(CDS, "", "", List.of());
    Throwable error = rogue.closed.get(5, TimeUnit.SECONDS);
    assertThat(io.grpc.Status.fromThrowable(error).getCode())
        .isEqualTo(io.grpc.Status.Code.PERMISSION_DENIED);
    assertThat(error.getMessage()).contains("'rogue'");
    assertThat(rogue.responses).as("no response reached the refused Envoy").isEmpty();
    // It tries again (Envoy retries a closed stream): one entry, counted.
    FakeEnvoy again = new FakeEnvoy("rogue", "eu");
    again.request(EDS, "", "", List.of("eth-head"));
    again.closed.get(5, TimeUnit.SECONDS);
    assertThat(again.responses).isEmpty();
    assertThat(publisher.clients()).isEmpty();
    assertThat(publisher.refused())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.nodeId()).isEqualTo("rogue");
              assertThat(r.attempts()).isEqualTo(2);
              assertThat(r.reason()).contains("allowedEnvoyNodeIds");
            });
    // The allowed Envoy is served as before.
    FakeEnvoy envoy = new FakeEnvoy("eu");
    envoy.request(CDS, "", "", List.of());
    // head and archive, then one cluster per node (a, b, arc).
    assertThat(envoy.next().getResourcesList()).hasSize(2 + 3);
    assertThat(envoy.closed).isNotDone();
  }

  @Test
  void aStreamWhoseLaterRequestsCarryNoNodeIsStillRefused() throws Exception {
    publisher.allowOnly(java.util.Set.of("envoy-eu"));
    FakeEnvoy rogue = new FakeEnvoy("rogue", "eu");
    // No node at all (as a later request of a set_node_on_first_message_only stream).
    rogue.requests.onNext(DiscoveryRequest.newBuilder().setTypeUrl(CDS).build());
    rogue.closed.get(5, TimeUnit.SECONDS);
    assertThat(rogue.responses).isEmpty();
    assertThat(publisher.refused())
        .extracting(NodeGate.Refusal::reason)
        .containsExactly("no node id in the first request");
  }

  private static ClusterLoadAssignment cla(DiscoveryResponse r, String cluster) throws Exception {
    for (var any : r.getResourcesList()) {
      ClusterLoadAssignment c = any.unpack(ClusterLoadAssignment.class);
      if (c.getClusterName().equals(cluster)) {
        return c;
      }
    }
    throw new AssertionError("no " + cluster);
  }

  private static List<String> endpoints(ClusterLoadAssignment c, HealthStatus status) {
    return c.getEndpointsList().stream()
        .flatMap(l -> l.getLbEndpointsList().stream())
        .filter(e -> e.getHealthStatus() == status)
        .map(LbEndpoint::getEndpoint)
        .map(e -> e.getHostname())
        .toList();
  }

  @Test
  void envoyGetsBothClustersPerChainThenTheirEndpoints() throws Exception {
    FakeEnvoy envoy = new FakeEnvoy("eu");
    envoy.request(CDS, "", "", List.of());
    DiscoveryResponse cds = envoy.next();
    // head and archive, then one cluster per node (a, b, arc).
    assertThat(cds.getResourcesList()).hasSize(2 + 3);
    envoy.request(CDS, cds.getVersionInfo(), cds.getNonce(), List.of());
    envoy.request(EDS, "", "", List.of("eth-head", "eth-archive"));
    DiscoveryResponse eds = envoy.next();
    ClusterLoadAssignment head = cla(eds, "eth-head");
    assertThat(endpoints(head, HealthStatus.HEALTHY)).containsExactlyInAnyOrder("a", "b", "arc");
    // Same region first; archive nodes after every full node.
    assertThat(head.getEndpointsList())
        .extracting(
            l ->
                l.getPriority()
                    + ":"
                    + l.getLocality().getRegion()
                    + ":"
                    + l.getLbEndpoints(0).getEndpoint().getHostname())
        .containsExactly("0:eu:a", "1:us:b", "2:eu:arc");
    assertThat(endpoints(cla(eds, "eth-archive"), HealthStatus.HEALTHY)).containsExactly("arc");
    assertThat(publisher.clients())
        .extracting(XdsClients.Client::nodeId)
        .containsExactly("envoy-eu");
  }

  @Test
  void aHeightChangeBumpsEndpointsOnlyAndBurstsAreCoalesced() throws Exception {
    FakeEnvoy envoy = new FakeEnvoy("eu");
    envoy.request(CDS, "", "", List.of());
    DiscoveryResponse cds = envoy.next();
    envoy.request(CDS, cds.getVersionInfo(), cds.getNonce(), List.of());
    envoy.request(EDS, "", "", List.of("eth-head", "eth-archive"));
    DiscoveryResponse eds = envoy.next();
    envoy.request(EDS, eds.getVersionInfo(), eds.getNonce(), List.of("eth-head", "eth-archive"));

    // A burst: b falls 1 behind, then 5 behind, within one coalescing window.
    topology.set(topology(2, 101, 100, 101));
    publisher.onTopology(topology.get());
    topology.set(topology(3, 105, 100, 105));
    publisher.onTopology(topology.get());

    DiscoveryResponse update = envoy.next();
    assertThat(update.getTypeUrl()).isEqualTo(EDS);
    assertThat(update.getVersionInfo()).isNotEqualTo(eds.getVersionInfo());
    // Only the last state of the burst is sent: b is gone, not degraded.
    assertThat(endpoints(cla(update, "eth-head"), HealthStatus.HEALTHY))
        .containsExactlyInAnyOrder("a", "arc");
    assertThat(endpoints(cla(update, "eth-head"), HealthStatus.DEGRADED)).isEmpty();
    envoy.request(
        EDS, update.getVersionInfo(), update.getNonce(), List.of("eth-head", "eth-archive"));
    assertThat(envoy.responses.poll(300, TimeUnit.MILLISECONDS))
        .as("no second push, no CDS push")
        .isNull();

    var types = publisher.clients().get(0).types();
    assertThat(types)
        .filteredOn(t -> t.typeUrl().equals(CDS))
        .singleElement()
        .satisfies(t -> assertThat(t.ackedVersion()).isEqualTo(cds.getVersionInfo()));
    assertThat(types)
        .filteredOn(t -> t.typeUrl().equals(EDS))
        .singleElement()
        .satisfies(t -> assertThat(t.ackedVersion()).isEqualTo(update.getVersionInfo()));
  }

  @Test
  void slightlyBehindNodesAreDegradedAndANackIsRecorded() throws Exception {
    topology.set(topology(2, 101, 100, 101));
    FakeEnvoy envoy = new FakeEnvoy("us");
    envoy.request(EDS, "", "", List.of("eth-head"));
    DiscoveryResponse eds = envoy.next();
    ClusterLoadAssignment head = cla(eds, "eth-head");
    assertThat(endpoints(head, HealthStatus.DEGRADED)).containsExactly("b");
    // For an Envoy in "us", b's region is preferred: priorities compacted 0..N.
    assertThat(head.getEndpointsList()).extracting(l -> l.getPriority()).containsExactly(0, 1, 2);

    envoy.requests.onNext(
        DiscoveryRequest.newBuilder()
            .setTypeUrl(EDS)
            .setResponseNonce(eds.getNonce())
            .addResourceNames("eth-head")
            .setErrorDetail(
                com.google.rpc.Status.newBuilder().setCode(3).setMessage("bad endpoint"))
            .build());
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(publisher.clients().get(0).types())
                    .filteredOn(t -> t.typeUrl().equals(EDS))
                    .singleElement()
                    .satisfies(t -> assertThat(t.lastNack()).isEqualTo("bad endpoint")));
  }

  @Test
  void aRestartedPublisherNeverRepeatsAVersionSoAnEnvoyHoldingTheOldOneGetsTheNewClusters()
      throws Exception {
    FakeEnvoy envoy = new FakeEnvoy("eu");
    envoy.request(CDS, "", "", List.of());
    DiscoveryResponse before = envoy.next();

    // "Restart": a new process with another chain, same ports; the Envoy reconnects and says it
    // holds the old process's CDS version.
    channel.shutdownNow();
    server.shutdownNow();
    ChainConfig other = TestConfigs.evm("base").nodes(a).build();
    publisher =
        new XdsPublisher(
            List.of(chain, other), topology::get, loop, Duration.ofMillis(50), Clock.systemUTC());
    publisher.startPublishing();
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(publisher.adsService())
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    FakeEnvoy again = new FakeEnvoy("eu");
    again.request(CDS, before.getVersionInfo(), "", List.of());

    DiscoveryResponse after = again.next();
    assertThat(after.getVersionInfo()).isNotEqualTo(before.getVersionInfo());
    assertThat(after.getResourcesList()).hasSize(2 + 3 + 2 + 1);
  }

  @Test
  void epochsDifferBetweenProcessesStartedInTheSameMillisecond() {
    Clock frozen =
        Clock.fixed(java.time.Instant.ofEpochMilli(1_780_000_000_000L), java.time.ZoneOffset.UTC);
    java.util.Set<String> epochs = new java.util.HashSet<>();
    for (int i = 0; i < 20; i++) {
      epochs.add(XdsPublisher.epochOf(frozen));
    }
    assertThat(epochs.size()).isGreaterThan(15);
    assertThat(epochs)
        .allSatisfy(e -> assertThat(e).startsWith(Long.toString(1_780_000_000_000L, 36)));
  }

  @Test
  void untilPublishingStartsAnEnvoyIsNotAnsweredSoItKeepsWhatItHas() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    publisher =
        new XdsPublisher(
            List.of(chain), topology::get, loop, Duration.ofMillis(50), Clock.systemUTC());
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(publisher.adsService())
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    FakeEnvoy envoy = new FakeEnvoy("eu");
    envoy.request(CDS, "", "", List.of());
    assertThat(envoy.responses.poll(300, TimeUnit.MILLISECONDS))
        .as("no answer before the first probe round")
        .isNull();

    publisher.startPublishing();
    assertThat(envoy.next().getResourcesList()).hasSize(2 + 3);
  }
}
