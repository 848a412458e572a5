package io.chainroute.config;

import java.net.URI;
import java.util.List;
import java.util.Objects;

/**
 * One node of a chain.
 *
 * @param name unique within the chain; shown on /status and in logs
 * @param url where the node answers RPC; may carry credentials, so it is never logged (see {@link
 *     #redactedEndpoint()})
 * @param region locality used for Envoy priorities; empty when unknown
 * @param archive true when the node keeps all historical state
 * @param headers request headers this node needs (its API key or token), sent to this node only;
 *     the values are secrets (see {@link NodeHeader}); at most one per name, ignoring case
 * @param wsUrl the node's WebSocket endpoint for {@code eth_subscribe("newHeads")}, or null for
 *     none; like {@code url} it may carry a key, so it is never logged or shown
 */
public record NodeConfig(
    String name, URI url, String region, boolean archive, List<NodeHeader> headers, URI wsUrl) {
  public NodeConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(url, "url");
    region = region == null ? "" : region;
    headers = headers == null ? List.of() : List.copyOf(headers);
    if (headers.stream().map(NodeHeader::key).distinct().count() != headers.size()) {
      throw new IllegalArgumentException("node " + name + " has a header twice: " + headers);
    }
  }

  public NodeConfig(String name, URI url, String region, boolean archive) {
    this(name, url, region, archive, List.of(), null);
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
        + "]";
  }

  /** Host name or address Envoy connects to. */
  public String host() {
    return url.getHost();
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
