package io.chainroute.admin;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The live status page: {@code GET /ui/} (HTML) and its two assets, read once from the classpath
 * ({@code io/chainroute/admin/status/}); {@code /} and {@code /ui} redirect to {@code /ui/}. The
 * page's script polls {@code GET /status}; it is read-only and needs no admin token.
 *
 * <p>Only the paths in a fixed table are served, never a path built from the request, so there is
 * nothing to traverse. Every answer carries a strict {@code Content-Security-Policy} (scripts and
 * styles from this origin only: the page has no inline script or style) and {@code nosniff}.
 * Stateless and thread-safe.
 */
final class StatusPage {
  static final String PATH = "/ui/";

  static final String CONTENT_SECURITY_POLICY =
      "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  private record Asset(String contentType, byte[] body) {}

  private static final Map<String, Asset> ASSETS =
      Map.of(
          PATH,
          asset("index.html", "text/html; charset=utf-8"),
          PATH + "index.html",
          asset("index.html", "text/html; charset=utf-8"),
          PATH + "status.js",
          asset("status.js", "text/javascript; charset=utf-8"),
          PATH + "status.css",
          asset("status.css", "text/css; charset=utf-8"));

  private StatusPage() {}

  /** True for the paths this page answers: {@code /}, {@code /ui} and everything under it. */
  static boolean owns(String path) {
    return path.equals("/") || path.equals("/ui") || path.startsWith(PATH);
  }

  static void serve(HttpExchange exchange, String path) throws IOException {
    var headers = exchange.getResponseHeaders();
    headers.set("content-security-policy", CONTENT_SECURITY_POLICY);
    headers.set("x-content-type-options", "nosniff");
    headers.set("referrer-policy", "no-referrer");
    headers.set("cache-control", "no-cache");
    String method = exchange.getRequestMethod();
    if (!"GET".equals(method) && !"HEAD".equals(method)) {
      headers.set("allow", "GET, HEAD");
      send(exchange, 405, "text/plain; charset=utf-8", bytes("method not allowed; use GET\n"));
      return;
    }
    if (path.equals("/") || path.equals("/ui")) {
      headers.set("location", PATH);
      send(exchange, 302, "text/plain; charset=utf-8", bytes("the status page is at " + PATH));
      return;
    }
    Asset asset = ASSETS.get(path);
    if (asset == null) {
      send(
          exchange,
          404,
          "text/plain; charset=utf-8",
          bytes("no such page; the status page is at " + PATH + "\n"));
      return;
    }
    send(exchange, 200, asset.contentType(), asset.body());
  }

  private static void send(HttpExchange exchange, int status, String contentType, byte[] body)
      throws IOException {
    exchange.getResponseHeaders().set("content-type", contentType);
    boolean head = "HEAD".equals(exchange.getRequestMethod());
    exchange.sendResponseHeaders(status, head ? -1 : body.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static Asset asset(String name, String contentType) {
    String resource = "status/" + name;
    try (InputStream in = StatusPage.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(
            "classpath resource io/chainroute/admin/" + resource + " missing from the build");
      }
      return new Asset(contentType, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
