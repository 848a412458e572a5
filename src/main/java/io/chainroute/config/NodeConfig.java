package io.chainroute.config;

import java.net.URI;
import java.util.Objects;

/**
 * One node of a chain.
 *
 * @param name unique within the chain; shown on /status and in logs
 * @param url where the node answers RPC; may carry credentials, so it is never logged (see {@link
 *     #redactedEndpoint()})
 * @param region locality used for Envoy priorities; empty when unknown
 * @param archive true when the node keeps all historical state
 * @param tokenEnv name of the environment variable holding the node's API token; empty for none
 * @param token the node's API token (a secret: never logged, never shown; see {@link #toString()})
 * @param wsUrl the node's WebSocket endpoint for {@code eth_subscribe("newHeads")}, or null for
 *     none; like {@code url} it may carry a key, so it is never logged or shown
 */
public record NodeConfig(
    String name,
    URI url,
    String region,
    boolean archive,
    String tokenEnv,
    String token,
    URI wsUrl) {
  public NodeConfig {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(url, "url");
    region = region == null ? "" : region;
    tokenEnv = tokenEnv == null ? "" : tokenEnv;
    token = token == null ? "" : token;
  }

  public NodeConfig(
      String name, URI url, String region, boolean archive, String tokenEnv, String token) {
    this(name, url, region, archive, tokenEnv, token, null);
  }

  public NodeConfig(String name, URI url, String region, boolean archive) {
    this(name, url, region, archive, "", "", null);
  }

  /** Redacted: records print every field, and the token and URL are secrets. */
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
        + ", token="
        + (token.isEmpty() ? "none" : "$" + tokenEnv)
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
