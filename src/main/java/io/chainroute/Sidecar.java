package io.chainroute;

import io.chainroute.adapters.ChainAdapters;
import io.chainroute.admin.AdminGrpcService;
import io.chainroute.admin.AdminHttpServer;
import io.chainroute.admin.EnvoyConnection;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.HeadSource;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigException;
import io.chainroute.config.ConfigReload;
import io.chainroute.config.ServerConfig;
import io.chainroute.config.ServerTls;
import io.chainroute.extproc.ExtProcService;
import io.chainroute.height.HeightTracker;
import io.chainroute.height.NodeProber;
import io.chainroute.metrics.ChainrouteMetrics;
import io.chainroute.pipeline.DecisionListener;
import io.chainroute.pipeline.DecisionLog;
import io.chainroute.probe.HttpNodeCalls;
import io.chainroute.probe.HttpNodeProber;
import io.chainroute.probe.NodeClients;
import io.chainroute.xds.XdsClients;
import io.chainroute.xds.XdsListener;
import io.chainroute.xds.XdsPublisher;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: wires the core (tracker, routing) to the edges (xDS, ext_proc, admin) and
 * owns every thread and socket. {@link #start} binds all ports or fails without leaving any open;
 * {@link #close} stops serving, then stops probing.
 */
public final class Sidecar implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Sidecar.class);

  private final List<AutoCloseable> closers = new ArrayList<>();
  private final Map<String, ChainAdapter> adapters = new LinkedHashMap<>();
  private final HeightTracker tracker;
  private final NodeClients http;
  private final ScheduledExecutorService xdsLoop;
  private final ScheduledExecutorService pushTimer;
  // Each chain's head push source, if its adapter offers one; replaced by a reload. Guarded by
  // this.
  private final Map<String, HeadSource> headSources = new LinkedHashMap<>();
  private ChainrouteConfig running;
  private java.nio.file.Path configFile;
  private final XdsPublisher publisher;
  // The fast path's filter configuration over ECDS; empty (never set) when the fast path is off.
  private final io.chainroute.xds.FastPathConfigs fastPathConfigs =
      new io.chainroute.xds.FastPathConfigs();
  // Null when the fast path is off or no chain has a table.
  private io.chainroute.xds.FastPathPublisher fastPath;
  private final List<Server> servers = new ArrayList<>();
  // The ext_proc servers among them (TCP, and the Unix socket if configured): the ones that carry
  // client requests.
  private final List<Server> extProcServers = new ArrayList<>();
  private AdminHttpServer adminHttp;
  private final AdminGrpcService adminGrpc;
  private final io.chainroute.pipeline.HeldRequests held;
  // Null when server.metrics is false.
  private final ChainrouteMetrics metrics;
  private final io.chainroute.cache.ResponseStore store;
  private final Duration shutdownGrace;
  private final java.util.concurrent.CountDownLatch closed =
      new java.util.concurrent.CountDownLatch(1);

  private Sidecar(ChainrouteConfig config, HttpNodeProber.Resolver resolver) {
    running = config;
    Clock clock = Clock.systemUTC();
    for (ChainConfig chain : config.chains()) {
      adapters.put(chain.name(), ChainAdapters.forChain(chain));
    }
    ScheduledExecutorService heightLoop =
        Executors.newSingleThreadScheduledExecutor(daemon("chainroute-height"));
    xdsLoop = Executors.newSingleThreadScheduledExecutor(daemon("chainroute-xds"));
    ExecutorService probeIo = Executors.newFixedThreadPool(2, daemon("chainroute-probe"));
    metrics = config.server().metrics() ? new ChainrouteMetrics(clock, true) : null;
    store = store(config.server());
    closers.add(heightLoop::shutdownNow);
    closers.add(xdsLoop::shutdownNow);
    closers.add(probeIo::shutdownNow);
    http =
        new NodeClients(
            tls -> {
              HttpClient.Builder b =
                  HttpClient.newBuilder()
                      .version(HttpClient.Version.HTTP_1_1)
                      .connectTimeout(Duration.ofSeconds(2))
                      .executor(probeIo);
              return (tls == null ? b : b.sslContext(tls)).build();
            });
    // Every CA bundle is parsed now: a bad one stops the start, not a probe later.
    config.chains().forEach(c -> c.nodes().forEach(http::apply));
    tracker =
        new HeightTracker(
            config.chains(),
            metered(new HttpNodeProber(http, adapters, probeIo, resolver)),
            heightLoop,
            System::nanoTime,
            clock);
    // Head pushes (where a chain's adapter offers them) wake the tracker; closed before the
    // tracker's loop.
    pushTimer = Executors.newSingleThreadScheduledExecutor(daemon("chainroute-headpush"));
    for (ChainConfig chain : config.chains()) {
      HeadSource source = headSource(chain);
      if (source != null) {
        headSources.put(chain.name(), source);
      }
    }
    closers.add(this::closeHeadSources);
    closers.add(pushTimer::shutdownNow);
    publisher =
        new XdsPublisher(
            config.chains(),
            config.envoy(),
            tracker::topology,
            xdsLoop,
            config.server().xdsCoalesce(),
            clock);
    tracker.addListener(publisher::onTopology);
    if (config.envoy().fastPath()) {
      var tables =
          io.chainroute.envoy.FastPathFilter.tables(config.chains(), c -> adapters.get(c.name()));
      if (!tables.isEmpty()) {
        fastPath =
            new io.chainroute.xds.FastPathPublisher(
                tables,
                (bounds, serial) ->
                    io.chainroute.envoy.FastPathFilter.resource(tables, bounds, serial),
                fastPathConfigs,
                clock::millis);
        tracker.addListener(fastPath::onTopology);
        // Lifetimes run out without a topology change: look again every second.
        ScheduledExecutorService fastPathTimer =
            Executors.newSingleThreadScheduledExecutor(daemon("chainroute-fastpath"));
        closers.add(fastPathTimer::shutdownNow);
        fastPathTimer.scheduleWithFixedDelay(
            () -> {
              try {
                fastPath.onTopology(tracker.topology());
              } catch (RuntimeException e) {
                log.warn("Fast path bounds not refreshed: {}", e.toString());
              }
            },
            1,
            1,
            TimeUnit.SECONDS);
      }
    }
    adminGrpc = new AdminGrpcService(tracker);
    ScheduledExecutorService holdTimer =
        Executors.newSingleThreadScheduledExecutor(daemon("chainroute-hold"));
    closers.add(holdTimer::shutdownNow);
    held =
        new io.chainroute.pipeline.HeldRequests(
            holdTimer, tracker::topology, publisher::applied, config.server().maxHeldRequests());
    // Released once Envoy has the endpoints that make them routable (not when chainroute first
    // sees the node), so a released request never meets "no healthy upstream".
    publisher.addAppliedListener(held::onRoutable);
    // Height waits (algod) are answered from the nodes' own status: no need to wait for Envoy.
    tracker.addListener(held::onLatest);
    shutdownGrace = config.server().shutdownGrace();
    if (metrics != null) {
      metrics.watchCache(store::stats, config.chains());
      metrics.watch(
          tracker::topology,
          config.chains(),
          held::sizeByChain,
          () -> (int) publisher.clients().stream().filter(c -> !c.nodeId().isEmpty()).count());
      publisher.listener(
          new XdsListener() {
            @Override
            public void pushed(String typeUrl) {
              metrics.xdsPushed(typeUrl);
            }

            @Override
            public void acked(String envoy, String typeUrl, long millis) {
              metrics.xdsAcked(envoy, typeUrl, millis);
            }

            @Override
            public void nacked(String envoy, String typeUrl) {
              metrics.xdsNacked(envoy, typeUrl);
            }

            @Override
            public void refused(String reason) {
              metrics.xdsRefused(reason);
            }
          });
    }
  }

  private NodeProber metered(NodeProber prober) {
    return metrics == null ? prober : metrics.probes(prober);
  }

  /** What the pipeline tells each request's fate: the decision log, and the metrics when on. */
  private DecisionListener decisionListener() {
    List<DecisionListener> l = new ArrayList<>();
    l.add(new DecisionLog());
    if (metrics != null) {
      l.add(metrics);
    }
    return DecisionListener.all(l);
  }

  /** The response store: none, in-process, or in-process in front of a shared Redis. */
  private io.chainroute.cache.ResponseStore store(io.chainroute.config.ServerConfig sc) {
    if (sc.cacheMaxBytes() <= 0) {
      return io.chainroute.cache.ResponseStore.NONE;
    }
    io.chainroute.store.LocalStore local = new io.chainroute.store.LocalStore(sc.cacheMaxBytes());
    if (sc.cacheRedisUrl().isEmpty()) {
      return local;
    }
    io.chainroute.store.SharedStore shared =
        new io.chainroute.store.SharedStore(
            local,
            java.net.URI.create(sc.cacheRedisUrl()),
            sc.cacheRedisTimeout(),
            Duration.ofSeconds(1),
            System::nanoTime);
    closers.add(shared);
    return shared;
  }

  /** Binds every port and starts probing; on failure closes whatever it opened. */
  public static Sidecar start(ChainrouteConfig config) throws IOException {
    return start(config, HttpNodeProber.Resolver.SYSTEM);
  }

  /**
   * Starts with the given host resolver for the addresses published to Envoy (tests: a DNS change
   * without editing the system's DNS).
   */
  public static Sidecar start(ChainrouteConfig config, HttpNodeProber.Resolver resolver)
      throws IOException {
    Sidecar s = new Sidecar(config, resolver);
    try {
      s.bind(config);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    s.tracker.start();
    // Envoy is answered once every node has been heard from (bounded by the slowest probe timeout):
    // a restarted chainroute must not replace the endpoints Envoy holds with "not probed yet".
    Duration firstRound =
        config.chains().stream()
            .map(ChainConfig::probeTimeout)
            .max(Duration::compareTo)
            .orElse(Duration.ZERO)
            .plusSeconds(1);
    s.tracker.firstRound().thenRun(s.publisher::startPublishing);
    s.xdsLoop.schedule(s.publisher::startPublishing, firstRound.toMillis(), TimeUnit.MILLISECONDS);
    s.startHeadSources();
    ServerConfig sc = config.server();
    log.info(
        "chainroute started. chains={} xds={}:{} extproc={}:{}{} admin={}:{} tls={}"
            + " allowedEnvoys={}",
        config.chains().size(),
        sc.bindAddress(),
        sc.xdsPort(),
        sc.bindAddress(),
        sc.extProcPort(),
        sc.extProcSocket() == null ? "" : " extprocSocket=" + sc.extProcSocket(),
        sc.bindAddress(),
        sc.adminHttpPort(),
        sc.tls() == null ? "off" : "mutual",
        sc.allowedEnvoyNodeIds().isEmpty() ? "any" : sc.allowedEnvoyNodeIds());
    return s;
  }

  private void bind(ChainrouteConfig config) throws IOException {
    ServerConfig sc = config.server();
    publisher.warmUp();
    publisher.allowOnly(java.util.Set.copyOf(sc.allowedEnvoyNodeIds()));
    warnIfOpen(sc);
    ServerCredentials credentials = credentials(sc);
    servers.add(
        startServer(
            "xDS",
            NettyServerBuilder.forAddress(
                    new InetSocketAddress(sc.bindAddress(), sc.xdsPort()), credentials)
                .addService(publisher.adsService())
                // EDS-only Envoys (a mesh owns their clusters) ask for endpoints on their own
                // stream.
                .addService(publisher.edsService())
                // The fast path's filter configuration (ECDS), when it is on.
                .addService(publisher.guarded(fastPathConfigs.service()))
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true),
            sc.xdsPort()));
    ExtProcService extProc =
        new ExtProcService(
            new io.chainroute.pipeline.RequestPipeline(
                config.chains(),
                adapters,
                tracker::topology,
                publisher::applied,
                held,
                sc.unavailableWait(),
                decisionListener(),
                new HttpNodeCalls(http),
                store),
            Math.min(ExtProcService.DEFAULT_MAX_CAPTURE_BYTES, sc.maxRequestBytes()));
    Server tcpExtProc =
        startServer(
            "ext_proc",
            extProcTuning(
                NettyServerBuilder.forAddress(
                    new InetSocketAddress(sc.bindAddress(), sc.extProcPort()), credentials),
                extProc,
                sc),
            sc.extProcPort());
    servers.add(tcpExtProc);
    extProcServers.add(tcpExtProc);
    if (sc.extProcSocket() != null) {
      Server uds = startSocketServer(sc.extProcSocket(), extProc, sc);
      servers.add(uds);
      extProcServers.add(uds);
    }
    servers.add(
        startServer(
            "admin gRPC",
            NettyServerBuilder.forAddress(
                    new InetSocketAddress(sc.bindAddress(), sc.adminGrpcPort()))
                .addService(
                    adminGrpc.guarded(
                        new InetSocketAddress(sc.bindAddress(), 0).getAddress(), sc.adminToken())),
            sc.adminGrpcPort()));
    try {
      adminHttp =
          new AdminHttpServer(
                  new InetSocketAddress(sc.bindAddress(), sc.adminHttpPort()),
                  tracker,
                  this::envoys,
                  this::reload,
                  sc.adminToken(),
                  metrics)
              .start();
    } catch (IOException e) {
      throw new IOException(
          "admin HTTP port " + sc.adminHttpPort() + " is not available (" + rootMessage(e) + ")",
          e);
    }
  }

  /**
   * mTLS for the xDS and ext_proc ports when {@code server.tls} is set: an Envoy without a client
   * certificate from {@code clientCa} fails the handshake and never sends a message. Plaintext
   * otherwise.
   */
  private static ServerCredentials credentials(ServerConfig sc) throws IOException {
    ServerTls tls = sc.tls();
    if (tls == null) {
      return InsecureServerCredentials.create();
    }
    try {
      return TlsServerCredentials.newBuilder()
          .keyManager(tls.cert().toFile(), tls.key().toFile())
          .trustManager(tls.clientCa().toFile())
          .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
          .build();
    } catch (IOException | RuntimeException e) {
      // The files were checked at load; this is a file changed since, or a key the JDK read and
      // the TLS stack does not. The message names the files, never their content.
      throw new IOException(
          "server.tls: cannot use "
              + tls.cert()
              + " / "
              + tls.key()
              + " / "
              + tls.clientCa()
              + " ("
              + e.getClass().getSimpleName()
              + ")",
          e);
    }
  }

  /**
   * Off loopback with an allow-list but no mTLS: served, with a warning, since a node id is not a
   * secret (any host that reaches the port can claim one). Without either the configuration was
   * refused at load.
   */
  private static void warnIfOpen(ServerConfig sc) {
    if (sc.tls() == null && !io.chainroute.config.ConfigLoader.loopback(sc.bindAddress())) {
      log.warn(
          "xDS and ext_proc are plaintext off loopback: node credentials go to any client that"
              + " claims an allowed node id. Set server.tls for mutual TLS. bind={} allowed={}",
          sc.bindAddress(),
          sc.allowedEnvoyNodeIds());
    }
  }

  private HeadSource headSource(ChainConfig chain) {
    return adapters
        .get(chain.name())
        .headSource(chain, http, pushTimer, node -> tracker.wake(chain.name(), node));
  }

  private synchronized void startHeadSources() {
    headSources.values().forEach(HeadSource::start);
  }

  private synchronized void closeHeadSources() {
    headSources.values().forEach(HeadSource::close);
  }

  /** The file {@link #reload()} re-reads (SIGHUP, {@code POST /config/reload}). */
  public synchronized void configFile(java.nio.file.Path file) {
    configFile = file;
  }

  /** Re-reads the configuration file and applies it; see {@link #reload(ChainrouteConfig)}. */
  public ConfigReload.Outcome reload() {
    java.nio.file.Path file;
    synchronized (this) {
      file = configFile;
    }
    if (file == null) {
      return new ConfigReload.Outcome(false, "no configuration file to re-read");
    }
    ChainrouteConfig next;
    try {
      next = io.chainroute.config.ConfigLoader.load(file);
    } catch (ConfigException e) {
      return refused(e);
    }
    return reload(next);
  }

  private static ConfigReload.Outcome refused(ConfigException e) {
    log.warn(
        "Configuration reload refused; the running configuration stays. error=\"{}\"",
        e.getMessage());
    return new ConfigReload.Outcome(false, e.getMessage());
  }

  /**
   * Applies a new configuration without a restart: nodes added, removed or changed and chain
   * thresholds go to the tracker and, through it, to every Envoy over xDS. A configuration that
   * cannot be applied live (see {@link ConfigReload}) is refused and the running one stays.
   */
  public synchronized ConfigReload.Outcome reload(ChainrouteConfig next) {
    try {
      ConfigReload.check(running, next);
    } catch (ConfigException e) {
      return refused(e);
    }
    try {
      next.chains().forEach(c -> c.nodes().forEach(http::apply));
    } catch (IllegalArgumentException e) {
      return refused(new ConfigException(e.getMessage()));
    }
    try {
      // Clusters first (a node token may add the upstream filter), then the nodes: the tracker's
      // new topology reaches every Envoy through the usual coalesced push.
      publisher.reconfigure(next.chains()).get(5, TimeUnit.SECONDS);
      tracker.reconfigure(next.chains()).get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new ConfigReload.Outcome(false, "interrupted");
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.error("Configuration reload failed while applying. error={}", e.toString());
      return new ConfigReload.Outcome(false, "could not apply: " + e);
    }
    for (int c = 0; c < next.chains().size(); c++) {
      ChainConfig chain = next.chains().get(c);
      if (chain.nodes().equals(running.chains().get(c).nodes())) {
        continue;
      }
      // The chain's nodes changed: its head pushes start afresh with the new node set.
      HeadSource old = headSources.remove(chain.name());
      if (old != null) {
        old.close();
      }
      HeadSource source = headSource(chain);
      if (source != null) {
        headSources.put(chain.name(), source);
        source.start();
      }
    }
    String note =
        ConfigReload.envoyChanged(running, next)
            ? " (the envoy section changed: re-render the bootstrap with `chainroute bootstrap`)"
            : "";
    int before = running.chains().stream().mapToInt(c -> c.nodes().size()).sum();
    int after = next.chains().stream().mapToInt(c -> c.nodes().size()).sum();
    running = next;
    log.info(
        "Configuration reloaded. chains={} nodesBefore={} nodesAfter={}{}",
        next.chains().size(),
        before,
        after,
        note);
    return new ConfigReload.Outcome(
        true, "applied: " + after + " nodes in " + next.chains().size() + " chains" + note);
  }

  /** Connected Envoys, as the admin edge shows them. */
  List<EnvoyConnection> envoys() {
    List<EnvoyConnection> out = new ArrayList<>();
    for (XdsClients.Client c : publisher.clients()) {
      out.add(
          EnvoyConnection.served(
              c.nodeId(),
              c.cluster(),
              c.region(),
              c.address(),
              c.connectedAtMillis(),
              c.types().stream()
                  .map(
                      t ->
                          new EnvoyConnection.TypeState(
                              t.typeUrl(),
                              t.sentVersion(),
                              t.ackedVersion(),
                              t.lastNack(),
                              t.lastNackAtMillis()))
                  .toList()));
    }
    // The fast path's configuration (ECDS) is on its own stream: shown as one more type.
    List<io.chainroute.xds.FastPathConfigs.Subscriber> ecds = fastPathConfigs.subscribers();
    for (int i = 0; i < out.size(); i++) {
      EnvoyConnection e = out.get(i);
      for (io.chainroute.xds.FastPathConfigs.Subscriber s : ecds) {
        if (!s.nodeId().isEmpty() && s.nodeId().equals(e.nodeId())) {
          List<EnvoyConnection.TypeState> types = new ArrayList<>(e.types());
          types.add(
              new EnvoyConnection.TypeState(
                  io.chainroute.xds.FastPathConfigs.TYPE_URL,
                  Long.toString(s.sentVersion()),
                  Long.toString(s.ackedVersion()),
                  s.lastNack(),
                  s.lastNackAtMillis()));
          out.set(i, e.withTypes(types));
        }
      }
    }
    for (io.chainroute.xds.NodeGate.Refusal r : publisher.refused()) {
      out.add(
          EnvoyConnection.refused(
              r.nodeId(), r.address(), r.reason(), r.attempts(), r.lastAtMillis()));
    }
    return out;
  }

  /** The ext_proc server's settings, the same on TCP and on the Unix socket. */
  private static NettyServerBuilder extProcTuning(
      NettyServerBuilder b, ExtProcService service, ServerConfig sc) {
    return b.addService(service)
        // The service never blocks: run it on the transport threads, no hop per message.
        .directExecutor()
        // Envoy sends the whole buffered body in one message (plus headers and framing).
        .maxInboundMessageSize(sc.maxRequestBytes() + 64 * 1024)
        // A fixed window turns off BDP auto-tuning, which pings Envoy on every read burst:
        // an extra PING/ACK pair per few requests on a loopback link that needs no tuning.
        .flowControlWindow(1 << 20)
        .permitKeepAliveTime(10, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true);
  }

  /**
   * ext_proc on a Unix domain socket (server.extProcSocket), beside the TCP port: no TCP/IP stack
   * per message, and only local users the file mode admits can connect. Plaintext (the config
   * refuses it together with server.tls). A socket file left by a killed chainroute is replaced;
   * the file is removed again at {@link #close}. Epoll only (Linux): grpc-netty-shaded carries the
   * natives for x86_64 and aarch64.
   */
  private Server startSocketServer(java.nio.file.Path path, ExtProcService service, ServerConfig sc)
      throws IOException {
    if (!io.grpc.netty.shaded.io.netty.channel.epoll.Epoll.isAvailable()) {
      throw new IOException(
          "server.extProcSocket "
              + path
              + ": Unix sockets need Netty's epoll transport, not available here ("
              + io.grpc.netty.shaded.io.netty.channel.epoll.Epoll.unavailabilityCause()
              + ")");
    }
    deleteStaleSocket(path);
    io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory epoll =
        io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler.newFactory();
    io.grpc.netty.shaded.io.netty.channel.EventLoopGroup boss =
        new io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup(
            1, daemon("chainroute-uds-boss"), epoll);
    io.grpc.netty.shaded.io.netty.channel.EventLoopGroup workers =
        new io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup(
            0, daemon("chainroute-uds"), epoll);
    // After the server is down (close runs the closers last): event loops, then the file.
    closers.add(() -> boss.shutdownGracefully(0, 1, TimeUnit.SECONDS));
    closers.add(() -> workers.shutdownGracefully(0, 1, TimeUnit.SECONDS));
    closers.add(() -> java.nio.file.Files.deleteIfExists(path));
    Server server;
    try {
      server =
          extProcTuning(
                  NettyServerBuilder.forAddress(
                          new io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress(
                              path.toString()),
                          InsecureServerCredentials.create())
                      .channelType(
                          io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel
                              .class)
                      .bossEventLoopGroup(boss)
                      .workerEventLoopGroup(workers),
                  service,
                  sc)
              .build()
              .start();
    } catch (IOException e) {
      throw new IOException(
          "server.extProcSocket " + path + " cannot be bound (" + rootMessage(e) + ")", e);
    }
    try {
      // Owner and group (Envoy's user or group) only; a connect needs write permission.
      java.nio.file.Files.setPosixFilePermissions(
          path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw----"));
    } catch (IOException | UnsupportedOperationException e) {
      server.shutdownNow();
      throw new IOException(
          "server.extProcSocket " + path + ": cannot set its permissions (" + rootMessage(e) + ")",
          e);
    }
    log.info("ext_proc also served on a Unix socket. path={} mode=0660", path);
    return server;
  }

  /** A socket file left by a chainroute that did not stop cleanly; anything else stays. */
  private static void deleteStaleSocket(java.nio.file.Path path) throws IOException {
    java.nio.file.attribute.BasicFileAttributes a;
    try {
      a =
          java.nio.file.Files.readAttributes(
              path,
              java.nio.file.attribute.BasicFileAttributes.class,
              java.nio.file.LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.NoSuchFileException e) {
      return;
    }
    if (!a.isOther()) {
      throw new IOException(
          "server.extProcSocket " + path + " exists and is not a socket; not replacing it");
    }
    // A socket someone still accepts on (another chainroute with the same config) is not stale.
    try (java.nio.channels.SocketChannel probe =
        java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      probe.connect(java.net.UnixDomainSocketAddress.of(path));
      throw new IOException(
          "server.extProcSocket " + path + " is in use by another process; not replacing it");
    } catch (java.net.ConnectException | java.nio.file.NoSuchFileException e) {
      // Refused: nobody listens, the file is a leftover.
    }
    java.nio.file.Files.delete(path);
  }

  private static Server startServer(String what, NettyServerBuilder builder, int port)
      throws IOException {
    try {
      return builder.build().start();
    } catch (IOException e) {
      throw new IOException(
          what + " port " + port + " is not available (" + rootMessage(e) + ")", e);
    }
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage();
  }

  public HeightTracker tracker() {
    return tracker;
  }

  public XdsPublisher publisher() {
    return publisher;
  }

  /**
   * Blocks until {@link #close} ran (gRPC and admin threads are daemons: this keeps the JVM up).
   */
  public void awaitClosed() {
    try {
      closed.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public synchronized void close() {
    if (closed.getCount() == 0) {
      return;
    }
    log.info("chainroute stopping. held={} grace={}ms", held.size(), shutdownGrace.toMillis());
    // Held requests get their protocol's shutdown answer; requests in flight finish within the
    // grace.
    held.shutdown();
    if (adminHttp != null) {
      adminHttp.close();
    }
    adminGrpc.close();
    for (Server s : servers) {
      s.shutdown();
    }
    // servers = [xDS, ext_proc (TCP, then the socket's), admin gRPC]. Only ext_proc carries client
    // requests: wait for its streams (up to the grace). Envoy's ADS stream never ends by itself,
    // and Envoy keeps the last
    // clusters and endpoints it got, so xDS is cut once requests are done.
    long deadline = System.nanoTime() + shutdownGrace.toNanos();
    for (int i = servers.size() - 1; i >= 0; i--) {
      Server s = servers.get(i);
      try {
        boolean isExtProc = extProcServers.contains(s);
        if (!isExtProc
            || !s.awaitTermination(
                Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          s.shutdownNow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        s.shutdownNow();
      }
    }
    tracker.close();
    for (AutoCloseable c : closers) {
      try {
        c.close();
      } catch (Exception e) {
        log.warn("Close failed. error={}", e.toString());
      }
    }
    closed.countDown();
  }

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
