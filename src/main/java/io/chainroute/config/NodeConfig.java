package io.chainroute.config;

import java.net.URI;
import java.util.List;
import java.util.Objects;

/**
 * One node of a chain.
 *
 * @param name unique within the chain; shown on /status and in logs
 * @param url where the node answers RPC, http or https; its path and query (a hosted provider's key
 *     often sits there) are secrets, so it is never logged (see {@link #redactedEndpoint()}); user
 *     info is not kept here (the loader turns it into an {@code Authorization} header)
 * @param region locality used for Envoy priorities; empty when unknown
 * @param archive true when the node keeps all historical state
 * @param headers request headers this node needs (its API key or token), sent to this node only;
 *     the values are secrets (see {@link NodeHeader}); at most one per name, ignoring case
 * @param wsUrl the node's WebSocket endpoint for {@code eth_subscribe("newHeads")}, or null for
 *     none; like {@code url} it may carry a key, so it is never logged or shown
 * @param ca the CAs the node's certificate must chain to when {@code url} is https or {@code wsUrl}
 *     is wss; null for a node without TLS
 */
public record NodeConfig(
    String name,
    URI url,
    String region,
    boolean archive,
    List<NodeHeader> headers,
    URI wsUrl,
    CaBundle ca) {
  public NodeConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(url, "url");
    if ((tls(url) || (wsUrl != null && "wss".equals(wsUrl.getScheme()))) && ca == null) {
      throw new IllegalArgumentException("node " + name + " uses TLS and needs a CA bundle");
    }
    region = region == null ? "" : region;
    headers = headers == null ? List.of() : List.copyOf(headers);
    if (headers.stream().map(NodeHeader::key).distinct().count() != headers.size()) {
      throw new IllegalArgumentException("node " + name + " has a header twice: " + headers);
    }
  }

  public NodeConfig(String name, URI url, String region, boolean archive) {
    this(name, url, region, archive, List.of(), null, null);
  }

  public NodeConfig(
      String name, URI url, String region, boolean archive, List<NodeHeader> headers, URI wsUrl) {
    this(name, url, region, archive, headers, wsUrl, null);
  }

  /** Redacted: records print every field, and the header values and URL are secrets. */
  @Override
  public String toString() {
    return "NodeConfig[name="
        + name
        + ", endpoint="
        + redactedEndpoint()
        + ", region="
        + region
        + ", archive="
        + archive
        + ", headers="
        + headers
        + ", newHeads="
        + (wsUrl == null ? "off" : "on")
        + (ca == null ? "" : ", ca=" + ca)
        + "]";
  }

  /** Host name or address Envoy connects to (an IPv6 literal in brackets, as in the URL). */
  public String host() {
    return url.getHost();
  }

  /** True for an https node: Envoy and the probes speak TLS to it and verify its certificate. */
  public boolean tls() {
    return tls(url);
  }

  private static boolean tls(URI url) {
    return "https".equals(url.getScheme());
  }

  /**
   * True when the host is a DNS name (not an IP literal): chainroute re-resolves it, and Envoy
   * sends it as SNI and in the {@code Host} header.
   */
  public boolean hostIsName() {
    String h = host();
    return !h.startsWith("[") && !h.matches("[0-9.]+");
  }

  /** {@code host} or {@code host:port} (the port only when not the scheme's default). */
  public String authority() {
    return url.getPort() > 0 && url.getPort() != (tls() ? 443 : 80)
        ? host() + ":" + url.getPort()
        : host();
  }

  /** The URL's raw path, "" for none or "/": a secret when not empty. */
  public String rawPath() {
    String p = url.getRawPath();
    return p == null || p.equals("/") ? "" : p;
  }

  /** The URL's raw query, "" for none: a secret when not empty. */
  public String rawQuery() {
    return url.getRawQuery() == null ? "" : url.getRawQuery();
  }

  /**
   * True when Envoy rewrites what it sends this node after picking it: the node's path and query,
   * and the {@code Host} header of a node known by name or over TLS (see {@link #requestPath}).
   */
  public boolean rewritten() {
    return !rawPath().isEmpty() || !rawQuery().isEmpty() || hostIsName() || tls();
  }

  /**
   * The URI chainroute's probes send {@code pathAndQuery} to: the node's own path and query
   * combined as Envoy combines them for client requests ({@link #requestPath}); no user info.
   */
  public URI requestUri(String pathAndQuery) {
    return URI.create(
        url.getScheme()
            + "://"
            + host()
            + ":"
            + port()
            + requestPath(rawPath(), rawQuery(), pathAndQuery));
  }

  /**
   * What a node whose URL has path {@code nodePath} and query {@code nodeQuery} is sent for a
   * request to {@code request} (path and query, after the chain prefix is dropped): the request to
   * the chain's root ("/") goes to the node's path as configured, a longer path is appended to it;
   * the node's query comes first, then the request's. Envoy's upstream Lua ({@code
   * xds.NodeRequests}) implements the same rule.
   */
  public static String requestPath(String nodePath, String nodeQuery, String request) {
    int q = request.indexOf('?');
    String path = q < 0 ? request : request.substring(0, q);
    String query = q < 0 ? "" : request.substring(q + 1);
    String base;
    if (path.isEmpty() || path.equals("/")) {
      base = nodePath.isEmpty() ? "/" : nodePath;
    } else {
      base =
          (nodePath.endsWith("/") ? nodePath.substring(0, nodePath.length() - 1) : nodePath) + path;
    }
    String joined =
        nodeQuery.isEmpty() ? query : query.isEmpty() ? nodeQuery : nodeQuery + "&" + query;
    return joined.isEmpty() ? base : base + "?" + joined;
  }

  /** Port, with the scheme default when the URL has none. */
  public int port() {
    if (url.getPort() > 0) {
      return url.getPort();
    }
    return "https".equals(url.getScheme()) ? 443 : 80;
  }

  /** {@code scheme://host:port}: safe for logs and /status (no user info, path or query). */
  public String redactedEndpoint() {
    return url.getScheme() + "://" + host() + ":" + port();
  }
}
