package io.chainroute.xds;

import io.chainroute.config.ChainConfig;
import io.chainroute.height.Topology;
import io.envoyproxy.controlplane.cache.Resources;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes clusters and endpoints to every connected Envoy over ADS (state of the world), through
 * java-control-plane's {@link SimpleCache} and {@link V3DiscoveryServer}; endpoints also over plain
 * EDS, for Envoys whose clusters come from elsewhere ({@link #edsService()}).
 *
 * <p>Envoys are grouped by their locality region (endpoint priorities depend on it). Each resource
 * type has its own version per group: a height change that moves endpoints bumps EDS only; CDS
 * changes only when the cluster set does. Topology changes are coalesced for {@code coalesce}
 * before one push.
 *
 * <p>Threading: all snapshot work runs on the injected single-threaded {@code loop}; {@link
 * #onTopology} may be called from any thread and never blocks. The snapshot of a newly seen group
 * is built synchronously (on the loop) before the cache answers that Envoy's first request.
 */
public final class XdsPublisher {
  private static final Logger log = LoggerFactory.getLogger(XdsPublisher.class);

  // Replaced on the loop thread by a reload.
  private List<Cluster> clusters;
  private final Supplier<Topology> topology;
  private final ScheduledExecutorService loop;
  private final Duration coalesce;
  private final SimpleCache<String> cache = new SimpleCache<>(XdsPublisher::group);

  /**
   * Prefix of every version this process sends. Versions must never repeat across restarts: an
   * Envoy that still holds "c1" from the previous process would otherwise never be sent the new
   * process's "c1", even when its content differs (a config change lost on restart).
   */
  private final String epoch;

  private final io.chainroute.config.EnvoyConfig envoy;
  private final XdsClients clients;
  private final V3DiscoveryServer server;
  private final NodeGate gate;

  private final List<java.util.function.Consumer<Topology>> appliedListeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  // Loop-thread state.
  private final Map<String, Published> published = new HashMap<>();
  // Envoys seen before publishing started: they get their first snapshot when it does.
  private final java.util.Set<String> waiting = new java.util.LinkedHashSet<>();
  private boolean publishing;
  private boolean pushScheduled;
  private Topology awaitingAck;
  private volatile Topology applied;
  private java.util.concurrent.ScheduledFuture<?> ackDeadline;

  public XdsPublisher(
      List<ChainConfig> chains,
      Supplier<Topology> topology,
      ScheduledExecutorService loop,
      Duration coalesce,
      Clock clock) {
    this(chains, io.chainroute.config.EnvoyConfig.defaults(), topology, loop, coalesce, clock);
  }

  /**
   * @param envoy the per-cluster limits of the clusters it publishes
   */
  public XdsPublisher(
      List<ChainConfig> chains,
      io.chainroute.config.EnvoyConfig envoy,
      Supplier<Topology> topology,
      ScheduledExecutorService loop,
      Duration coalesce,
      Clock clock) {
    this(chains, envoy, topology, loop, coalesce, clock, epochOf(clock));
  }

  /**
   * @param epoch prefix of every version sent; unique per process (see {@link #epochOf})
   */
  XdsPublisher(
      List<ChainConfig> chains,
      io.chainroute.config.EnvoyConfig envoy,
      Supplier<Topology> topology,
      ScheduledExecutorService loop,
      Duration coalesce,
      Clock clock,
      String epoch) {
    this.epoch = epoch;
    this.envoy = envoy;
    this.clusters = XdsResources.clusters(chains, envoy);
    this.topology = topology;
    this.loop = loop;
    this.coalesce = coalesce;
    this.clients = new XdsClients(clock, this::ensureGroup);
    this.server = new V3DiscoveryServer(clients, cache);
    this.gate = new NodeGate(clock);
    clients.onAck(() -> loop.execute(this::checkApplied));
  }

  /**
   * Called (on the publisher's loop thread) with each topology once every connected Envoy has ACKed
   * the endpoints built from it, or after {@link #ACK_WAIT} at most. Requests held for a usable
   * node are released from here, so Envoy already has that node when they are routed.
   */
  public void addAppliedListener(java.util.function.Consumer<Topology> listener) {
    appliedListeners.add(listener);
  }

  /**
   * A per-process version prefix: the start time in milliseconds (base 36) plus a random part, so
   * two processes started in the same millisecond still differ.
   */
  static String epochOf(Clock clock) {
    return Long.toString(clock.millis(), 36)
        + Integer.toString(
            java.util.concurrent.ThreadLocalRandom.current().nextInt(36 * 36 * 36), 36);
  }

  static final Duration ACK_WAIT = Duration.ofSeconds(1);

  /**
   * The newest topology every connected Envoy has ACKed the endpoints of (or that waited {@link
   * #ACK_WAIT}); the tracker's current one until the first push. Any thread.
   */
  public Topology applied() {
    Topology t = applied;
    return t != null ? t : topology.get();
  }

  private void checkApplied() {
    Topology t = awaitingAck;
    if (t == null) {
      return;
    }
    for (XdsClients.Client c : clients.clients()) {
      Snapshot snapshot = cache.getSnapshot(c.region());
      if (snapshot == null) {
        continue;
      }
      // The endpoints version the cache serves this Envoy's group now, as the cache spells it.
      String eds = snapshot.version(Resources.V3.ENDPOINT_TYPE_URL);
      boolean acked =
          c.types().stream()
              .anyMatch(
                  x ->
                      x.typeUrl().equals(Resources.V3.ENDPOINT_TYPE_URL)
                          && eds.equals(x.ackedVersion()));
      if (!acked) {
        return;
      }
    }
    fireApplied();
  }

  private void fireApplied() {
    Topology t = awaitingAck;
    awaitingAck = null;
    if (ackDeadline != null) {
      ackDeadline.cancel(false);
      ackDeadline = null;
    }
    if (t == null) {
      return;
    }
    applied = t;
    for (java.util.function.Consumer<Topology> l : appliedListeners) {
      try {
        l.accept(t);
      } catch (RuntimeException e) {
        log.error("Applied-topology listener failed.", e);
      }
    }
  }

  /**
   * Exercises, before the xDS port opens, the code the first Envoy's first request runs: parsing a
   * DiscoveryRequest with a full Node, building this process's snapshot and encoding a response. On
   * a cold JVM that first pass (protobuf descriptors of the Envoy API, java-control-plane) took
   * about 2 s, and a restarted chainroute answered a waiting Envoy that much later.
   */
  @SuppressWarnings("IgnoredPureGetter") // parsing is the point: it loads and JITs the parsers
  public void warmUp() {
    try {
      Node node =
          Node.newBuilder()
              .setId("warm-up")
              .setCluster("warm-up")
              .setLocality(
                  io.envoyproxy.envoy.config.core.v3.Locality.newBuilder().setRegion("warm-up"))
              .setUserAgentName("envoy")
              .addExtensions(
                  io.envoyproxy.envoy.config.core.v3.Extension.newBuilder()
                      .setName("envoy.filters.http.router")
                      .setCategory("envoy.filters.http"))
              .build();
      for (String type : List.of(Resources.V3.CLUSTER_TYPE_URL, Resources.V3.ENDPOINT_TYPE_URL)) {
        io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest.parseFrom(
            io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest.newBuilder()
                .setNode(node)
                .setTypeUrl(type)
                .addResourceNames("x")
                .build()
                .toByteArray());
      }
      List<ClusterLoadAssignment> endpoints = XdsResources.assignments(topology.get(), "");
      var response = io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse.newBuilder();
      clusters.forEach(c -> response.addResources(com.google.protobuf.Any.pack(c)));
      endpoints.forEach(e -> response.addResources(com.google.protobuf.Any.pack(e)));
      io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse.parseFrom(
          response.build().toByteArray());
      Snapshot.create(clusters, "w", endpoints, "w", List.of(), "", List.of(), "", List.of(), "");
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      log.debug(
          "xDS warm-up failed; the first Envoy request will just be slower. error={}",
          e.toString());
    }
  }

  /**
   * The ADS service to add to a gRPC server, behind the allow-list ({@link NodeGate}); it learns
   * each Envoy's address.
   */
  public ServerServiceDefinition adsService() {
    // The last interceptor runs first: the peer's address is in the context for the gate and the
    // stream callbacks.
    return ServerInterceptors.intercept(
        server.getAggregatedDiscoveryServiceImpl(), gate, PeerAddress.INTERCEPTOR);
  }

  /**
   * The plain EDS service (EndpointDiscoveryService, one stream per EDS config source, not ADS) for
   * Envoys whose listeners, routes and clusters come from someone else, such as a mesh's control
   * plane (EDS-only mode, {@code chainroute bootstrap --eds-only}). Same cache, same groups, same
   * endpoints, versions and allow-list as over ADS.
   */
  public ServerServiceDefinition edsService() {
    return ServerInterceptors.intercept(
        server.getEndpointDiscoveryServiceImpl(), gate, PeerAddress.INTERCEPTOR);
  }

  /** Another xDS service (the fast path's ECDS) behind the same allow-list as ADS. */
  public ServerServiceDefinition guarded(ServerServiceDefinition service) {
    return ServerInterceptors.intercept(service, gate, PeerAddress.INTERCEPTOR);
  }

  /**
   * Serves only Envoys with these node ids (the rest get no resource: their stream is closed with
   * {@code PERMISSION_DENIED}); empty serves all. Set before the xDS port opens.
   */
  public void allowOnly(java.util.Set<String> nodeIds) {
    gate.allowOnly(nodeIds);
  }

  /** Envoys refused by the allow-list (node id, address, attempts), oldest first. */
  public List<NodeGate.Refusal> refused() {
    return gate.refused();
  }

  /** Told of each response sent and each ACK and NACK; set before the xDS port opens. */
  public void listener(XdsListener l) {
    clients.listener(l);
    gate.listener(l);
  }

  /** Connected Envoys and their ACK/NACK state. */
  public List<XdsClients.Client> clients() {
    return clients.clients();
  }

  /**
   * A reload changed the chains' nodes or settings: the cluster set is rebuilt (on the loop) and
   * every group is pushed at once. Completes once the new snapshots are in the cache.
   */
  public java.util.concurrent.CompletableFuture<Void> reconfigure(List<ChainConfig> chains) {
    List<Cluster> next = XdsResources.clusters(chains, envoy);
    return java.util.concurrent.CompletableFuture.runAsync(
        () -> {
          clusters = next;
          pushAll();
        },
        loop);
  }

  /** Schedules one push of the latest topology to every group; bursts within the window merge. */
  public void onTopology(Topology ignored) {
    loop.execute(
        () -> {
          if (pushScheduled) {
            return;
          }
          pushScheduled = true;
          loop.schedule(this::pushAll, coalesce.toNanos(), TimeUnit.NANOSECONDS);
        });
  }

  private void pushAll() {
    pushScheduled = false;
    Topology t = topology.get();
    for (String group : published.keySet()) {
      publish(group, t);
    }
    awaitingAck = t;
    if (ackDeadline == null) {
      ackDeadline = loop.schedule(this::fireApplied, ACK_WAIT.toNanos(), TimeUnit.NANOSECONDS);
    }
    checkApplied();
  }

  /**
   * Starts answering Envoys (on the loop). Until then an Envoy's requests stay open with no answer,
   * so an Envoy that still holds the previous process's clusters and endpoints keeps them: the
   * composition root calls this once the tracker has heard from every node (or after a bound),
   * never with a topology that only says "not probed yet".
   */
  public void startPublishing() {
    loop.execute(
        () -> {
          if (publishing) {
            return;
          }
          publishing = true;
          Topology t = topology.get();
          for (String group : waiting) {
            publish(group, t);
          }
          waiting.clear();
          log.info(
              "xDS publishing started. envoyGroups={} topology={}", published.size(), t.version());
        });
  }

  /** Makes sure the Envoy's group has a snapshot before the cache answers its first request. */
  private void ensureGroup(Node node) {
    String group = group(node);
    try {
      loop.submit(
              () -> {
                if (!publishing) {
                  waiting.add(group);
                } else if (!published.containsKey(group)) {
                  publish(group, topology.get());
                }
              })
          .get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
      log.error("Could not build the xDS snapshot for a new Envoy. group={}", group, e);
    }
  }

  private void publish(String group, Topology t) {
    List<ClusterLoadAssignment> endpoints = XdsResources.assignments(t, group);
    Published before = published.get(group);
    Published after;
    if (before == null) {
      after = new Published(clusters, 1, endpoints, 1);
    } else {
      boolean cdsChanged = !before.clusters.equals(clusters);
      boolean edsChanged = !before.endpoints.equals(endpoints);
      if (!cdsChanged && !edsChanged) {
        return;
      }
      after =
          new Published(
              clusters,
              before.clustersVersion + (cdsChanged ? 1 : 0),
              endpoints,
              before.endpointsVersion + (edsChanged ? 1 : 0));
    }
    published.put(group, after);
    Snapshot snapshot =
        Snapshot.create(
            after.clusters,
            version("c", after.clustersVersion),
            after.endpoints,
            version("e", after.endpointsVersion),
            List.of(),
            "",
            List.of(),
            "",
            List.of(),
            "");
    cache.setSnapshot(group, snapshot);
    log.debug(
        "Published xDS snapshot. group={} cds={} eds={} topology={}",
        group,
        snapshot.version(Resources.V3.CLUSTER_TYPE_URL),
        snapshot.version(Resources.V3.ENDPOINT_TYPE_URL),
        t.version());
  }

  /** Envoys are grouped by locality region: it decides endpoint priorities. */
  static String group(Node node) {
    return node.getLocality().getRegion();
  }

  private record Published(
      List<Cluster> clusters,
      long clustersVersion,
      List<ClusterLoadAssignment> endpoints,
      long endpointsVersion) {}

  /** This process's version {@code n} of one resource type: unique across restarts (epoch). */
  private String version(String type, long n) {
    return epoch + "-" + type + n;
  }
}
