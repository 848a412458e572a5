package io.chainroute.probe;

import io.chainroute.chain.NodeReply;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.pipeline.NodeCalls;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Sends a request chainroute makes itself (a transaction to every node, a filter created on one) to
 * a node with the JDK client: a POST to the node's root, as Envoy's routes rewrite it, with the
 * node's configured headers, as the probes and Envoy's node-header filter send them. A failure
 * names its kind, never the URL or a header value.
 *
 * <p>Threading: the client's executor completes the futures.
 */
public final class HttpNodeCalls implements NodeCalls {
  private final java.util.function.Function<NodeConfig, HttpClient> clients;

  public HttpNodeCalls(HttpClient client) {
    this(n -> client);
  }

  /**
   * @param clients the client for each node (its CA bundle, as the probes use)
   */
  public HttpNodeCalls(java.util.function.Function<NodeConfig, HttpClient> clients) {
    this.clients = clients;
  }

  @Override
  public CompletableFuture<NodeReply> send(
      ChainConfig chain, NodeConfig node, byte[] body, Duration timeout) {
    HttpRequest.Builder b =
        // The node's own path and query (a hosted provider's key), as Envoy sends them.
        HttpRequest.newBuilder(node.requestUri("/"))
            .timeout(timeout)
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    node.headers().forEach(h -> b.setHeader(h.name(), h.value()));
    return clients
        .apply(node)
        .sendAsync(b.build(), HttpResponse.BodyHandlers.ofByteArray())
        .handle(
            (r, e) ->
                e == null
                    ? new NodeReply(node.name(), r.statusCode(), r.body(), null)
                    : NodeReply.failed(node.name(), kind(e)));
  }

  private static String kind(Throwable e) {
    Throwable cause = e.getCause() != null ? e.getCause() : e;
    if (cause instanceof HttpTimeoutException) {
      return "timeout";
    }
    if (cause instanceof java.net.ConnectException) {
      return "connection refused";
    }
    return cause.getClass().getSimpleName();
  }
}
