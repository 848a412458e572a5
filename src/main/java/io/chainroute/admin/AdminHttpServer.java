package io.chainroute.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.chainroute.height.Topology;
import io.chainroute.metrics.ChainrouteMetrics;
import io.chainroute.metrics.Exposition;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP endpoints: {@code GET /status}, {@code /healthz}, {@code /readyz}, {@code
 * /metrics} (Prometheus text, OpenMetrics when asked; docs/metrics.md), and the live status page
 * over {@code /status} at {@code /ui/} ({@link StatusPage}). Every request passes {@link
 * AdminAccess} first (Host, Origin, the admin token).
 *
 * <p>Threading: two daemon threads serve requests; handlers only read immutable snapshots from the
 * suppliers. Lifecycle: {@link #start}, then {@link #close}.
 */
public final class AdminHttpServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdminHttpServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpServer server;
  private final ExecutorService executor;
  private final io.chainroute.height.TopologySource source;
  private final Supplier<List<EnvoyConnection>> envoys;
  private final Supplier<io.chainroute.config.ConfigReload.Outcome> reload;
  private final boolean reloadOn;
  private final AdminAccess access;
  private final ChainrouteMetrics metrics;

  public AdminHttpServer(
      InetSocketAddress bind,
      io.chainroute.height.TopologySource source,
      Supplier<List<EnvoyConnection>> envoys)
      throws IOException {
    this(
        bind,
        source,
        envoys,
        () -> new io.chainroute.config.ConfigReload.Outcome(false, "reload is not available"),
        "");
  }

  /**
   * @param source the topology /status and /readyz show, and where {@code POST
   *     /nodes/{chain}/{node}/drain|undrain} goes
   * @param reload re-reads and applies the configuration file ({@code POST /config/reload})
   * @param adminToken the bearer token admin changes (drain, undrain, reload) need, and reads too
   *     when the admin is not bound to loopback ({@link AdminAccess}); empty: changes are allowed
   *     on a loopback bind only, and {@code POST /config/reload} is off
   * @throws IllegalStateException when {@code bind} is not loopback and {@code adminToken} is empty
   */
  public AdminHttpServer(
      InetSocketAddress bind,
      io.chainroute.height.TopologySource source,
      Supplier<List<EnvoyConnection>> envoys,
      Supplier<io.chainroute.config.ConfigReload.Outcome> reload,
      String adminToken)
      throws IOException {
    this(bind, source, envoys, reload, adminToken, null);
  }

  /**
   * @param metrics what {@code GET /metrics} serves; null when metrics are off (404)
   */
  public AdminHttpServer(
      InetSocketAddress bind,
      io.chainroute.height.TopologySource source,
      Supplier<List<EnvoyConnection>> envoys,
      Supplier<io.chainroute.config.ConfigReload.Outcome> reload,
      String adminToken,
      ChainrouteMetrics metrics)
      throws IOException {
    this.metrics = metrics;
    this.source = source;
    this.envoys = envoys;
    this.reload = reload;
    this.reloadOn = !adminToken.isEmpty();
    this.access = new AdminAccess(bind.getAddress(), adminToken);
    this.server = HttpServer.create(bind, 16);
    this.executor =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "chainroute-admin-http");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
  }

  public AdminHttpServer start() {
    server.start();
    return this;
  }

  /** The bound port (useful when bound to port 0). */
  public int port() {
    return server.getAddress().getPort();
  }

  private void handle(HttpExchange exchange) throws IOException {
    // Not try-with-resources: its resource is closed before the catch runs, so the 500 below
    // would go to a closed exchange and the client would see a dropped connection instead.
    try {
      String path = exchange.getRequestURI().getPath();
      AdminAccess.Verdict v =
          access.http(
              exchange.getRequestHeaders().getFirst("host"),
              exchange.getRequestHeaders().getFirst("origin"),
              exchange.getRequestHeaders().getFirst("authorization"),
              kind(exchange.getRequestMethod(), path));
      if (!v.ok()) {
        refuse(exchange, v);
        return;
      }
      if (path.startsWith("/nodes/")) {
        drain(exchange, path);
        return;
      }
      if (path.equals("/config/reload")) {
        reload(exchange);
        return;
      }
      if (StatusPage.owns(path)) {
        StatusPage.serve(exchange, path);
        return;
      }
      if (!path.equals("/status")
          && !path.equals("/healthz")
          && !path.equals("/readyz")
          && !path.equals("/metrics")) {
        send(
            exchange,
            404,
            error("no such endpoint; try /ui/, /status, /metrics, /healthz or /readyz"));
        return;
      }
      if (!"GET".equals(exchange.getRequestMethod())
          && !"HEAD".equals(exchange.getRequestMethod())) {
        exchange.getResponseHeaders().set("allow", "GET, HEAD");
        send(exchange, 405, error("method not allowed; use GET"));
        return;
      }
      switch (path) {
        case "/metrics" -> metrics(exchange);
        case "/healthz" -> send(exchange, 200, JSON.createObjectNode().put("status", "ok"));
        case "/readyz" -> {
          Topology t = source.topology();
          List<String> unready = StatusJson.unreadyChains(t);
          ObjectNode body = JSON.createObjectNode().put("ready", t.ready());
          body.putPOJO("chainsWithoutSyncedNode", unready);
          send(exchange, t.ready() ? 200 : 503, body);
        }
        default -> send(exchange, 200, StatusJson.status(source.topology(), envoys.get()));
      }
    } catch (RuntimeException e) {
      log.warn("Admin request failed. error={}", e.toString());
      try {
        send(exchange, 500, error("internal error: " + e.getClass().getSimpleName()));
      } catch (IOException | RuntimeException ignored) {
        // The response may already be under way; nothing more to do.
      }
    } finally {
      exchange.close();
    }
  }

  /**
   * What a request does, for {@link AdminAccess}: a POST to a drain or reload path changes things;
   * anything else there gets its 405 or 404 as a read would.
   */
  private static AdminAccess.Kind kind(String method, String path) {
    if ("POST".equals(method) && (path.startsWith("/nodes/") || path.equals("/config/reload"))) {
      return AdminAccess.Kind.MUTATION;
    }
    if (path.equals("/healthz") || path.equals("/readyz") || StatusPage.owns(path)) {
      return AdminAccess.Kind.PROBE;
    }
    return AdminAccess.Kind.READ;
  }

  /** A refused request: 401 (with the Bearer challenge) or 403, logged with the client address. */
  private static void refuse(HttpExchange exchange, AdminAccess.Verdict v) throws IOException {
    log.warn(
        "Admin request refused. status={} method={} client={}",
        v.httpStatus(),
        exchange.getRequestMethod(),
        AdminAccess.client(exchange.getRemoteAddress()));
    if (v.httpStatus() == 401) {
      exchange.getResponseHeaders().set("www-authenticate", "Bearer");
    }
    send(exchange, v.httpStatus(), error(v.message()));
  }

  private void metrics(HttpExchange exchange) throws IOException {
    if (metrics == null) {
      send(exchange, 404, error("metrics are off (server.metrics: false)"));
      return;
    }
    Exposition e = metrics.scrape(exchange.getRequestHeaders().getFirst("accept"));
    exchange.getResponseHeaders().set("content-type", e.contentType());
    boolean head = "HEAD".equals(exchange.getRequestMethod());
    exchange.sendResponseHeaders(200, head ? -1 : e.body().length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(e.body());
      }
    }
  }

  /** {@code POST /nodes/{chain}/{node}/drain} and {@code .../undrain}. */
  private void drain(HttpExchange exchange, String path) throws IOException {
    String[] parts = path.split("/");
    if (parts.length != 5 || !(parts[4].equals("drain") || parts[4].equals("undrain"))) {
      send(exchange, 404, error("expected POST /nodes/{chain}/{node}/drain or /undrain"));
      return;
    }
    if (!"POST".equals(exchange.getRequestMethod())) {
      exchange.getResponseHeaders().set("allow", "POST");
      send(exchange, 405, error("method not allowed; use POST"));
      return;
    }
    boolean drain = parts[4].equals("drain");
    io.chainroute.height.ChainView view;
    try {
      view =
          source
              .setDrained(parts[2], parts[3], drain)
              .get(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      send(exchange, 503, error("interrupted"));
      return;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      send(exchange, 503, error("the tracker did not answer in time"));
      return;
    }
    if (view == null) {
      send(exchange, 404, error("no node '" + parts[3] + "' in chain '" + parts[2] + "'"));
      return;
    }
    ObjectNode body =
        JSON.createObjectNode().put("chain", parts[2]).put("node", parts[3]).put("drained", drain);
    view.nodes().stream()
        .filter(n -> n.name().equals(parts[3]))
        .findFirst()
        .ifPresent(
            n -> {
              // Names from the path are logged only once they matched a configured node.
              log.info(
                  "Node {} over HTTP. chain={} node={} client={}",
                  drain ? "drained" : "undrained",
                  view.config().name(),
                  n.name(),
                  AdminAccess.client(exchange.getRemoteAddress()));
              body.put("health", n.health().name()).put("status", n.status().name());
            });
    send(exchange, 200, body);
  }

  /**
   * {@code POST /config/reload} with {@code Authorization: Bearer <token>}: re-reads the file and
   * applies it (as SIGHUP does). 200 when applied, 422 with the path-qualified error when refused
   * (the running configuration stays).
   */
  private void reload(HttpExchange exchange) throws IOException {
    if (!"POST".equals(exchange.getRequestMethod())) {
      exchange.getResponseHeaders().set("allow", "POST");
      send(exchange, 405, error("method not allowed; use POST"));
      return;
    }
    // The token itself was checked with every mutation (handle); without one, reload is off.
    if (!reloadOn) {
      send(
          exchange,
          403,
          error("reload over HTTP is off: set server.adminTokenEnv (SIGHUP always reloads)"));
      return;
    }
    log.info(
        "Configuration reload asked over HTTP. client={}",
        exchange.getRemoteAddress().getAddress().getHostAddress());
    io.chainroute.config.ConfigReload.Outcome o = reload.get();
    ObjectNode body =
        JSON.createObjectNode().put("applied", o.applied()).put("message", o.message());
    send(exchange, o.applied() ? 200 : 422, body);
  }

  private static ObjectNode error(String message) {
    return JSON.createObjectNode().put("error", message);
  }

  private static void send(HttpExchange exchange, int status, ObjectNode body) throws IOException {
    byte[] bytes = StatusJson.bytes(body);
    exchange.getResponseHeaders().set("content-type", "application/json");
    boolean head = "HEAD".equals(exchange.getRequestMethod());
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
