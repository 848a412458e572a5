package io.chainroute.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * A node on a loopback port that records every request (method, path, headers, body) and answers
 * with whatever the test set: by default an EVM node at a fixed head that answers chainroute's
 * probe batch and echoes the id of any other call. Each request runs on its own thread, so a slow
 * answer ({@link Answer#delay()}) holds only that request.
 */
public final class FakeNode implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One request as the node received it; header names lowercase, first value of each. */
  /**
   * One request the node received.
   *
   * @param query the raw query, or null for none
   */
  public record Seen(
      String method, String path, Map<String, String> headers, String body, String query) {}

  /** What to answer: an HTTP status and body, after {@code delay}. */
  public record Answer(int status, String body, Duration delay) {
    public Answer(int status, String body) {
      this(status, body, Duration.ZERO);
    }
  }

  private final HttpServer server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final List<Seen> seen = new CopyOnWriteArrayList<>();
  private volatile Function<Seen, Answer> responder = evm(0x10, false);

  private FakeNode(HttpServer server) {
    this.server = server;
  }

  /** Starts a node on 127.0.0.1 at a free port. */
  public static FakeNode start() throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    FakeNode node = new FakeNode(server);
    server.setExecutor(node.threads);
    server.createContext("/", node::handle);
    server.start();
    return node;
  }

  /**
   * An EVM node at {@code head}: the probe batch ({@code eth_blockNumber}, {@code eth_syncing}) is
   * answered with the head and, when {@code syncing}, a sync object a few blocks short of it; any
   * other single call gets {@code "0x1"} with its own id.
   */
  public static Function<Seen, Answer> evm(long head, boolean syncing) {
    return request -> {
      if (request.body().contains("eth_syncing")) {
        String sync =
            syncing
                ? "{\"currentBlock\":\"0x"
                    + Long.toHexString(head)
                    + "\",\"highestBlock\":\"0x"
                    + Long.toHexString(head + 5)
                    + "\"}"
                : "false";
        return new Answer(
            200,
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x"
                + Long.toHexString(head)
                + "\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":"
                + sync
                + "}]");
      }
      String id = "null";
      try {
        JsonNode call = JSON.readTree(request.body());
        if (call != null && call.has("id")) {
          id = call.get("id").toString();
        }
      } catch (IOException e) {
        // not JSON: id null
      }
      return new Answer(200, "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":\"0x1\"}");
    };
  }

  /** From now on, every request is answered by {@code r}. */
  public void answer(Function<Seen, Answer> r) {
    this.responder = r;
  }

  /** From now on, every request gets this answer. */
  public void answer(Answer a) {
    this.responder = request -> a;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** {@code http://127.0.0.1:<port>} */
  public String url() {
    return "http://127.0.0.1:" + port();
  }

  /** Every request so far, in arrival order. */
  public List<Seen> requests() {
    return List.copyOf(seen);
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      Map<String, String> headers = new TreeMap<>();
      exchange
          .getRequestHeaders()
          .forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v.get(0)));
      Seen request =
          new Seen(
              exchange.getRequestMethod(),
              exchange.getRequestURI().getRawPath(),
              headers,
              new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8),
              exchange.getRequestURI().getRawQuery());
      seen.add(request);
      Answer a = responder.apply(request);
      if (!a.delay().isZero()) {
        try {
          // The node is slow; the test waits on the client's timeout, not on this.
          Thread.sleep(a.delay().toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      byte[] out = a.body().getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("content-type", "application/json");
      exchange.sendResponseHeaders(a.status(), out.length == 0 ? -1 : out.length);
      if (out.length > 0) {
        try (OutputStream o = exchange.getResponseBody()) {
          o.write(out);
        }
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
