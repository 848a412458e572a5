package io.chainroute.probe;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.ProbeReading;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.NodeHeader;
import io.chainroute.height.NodeProber;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Probes nodes over HTTP with the JDK client, asking each chain's adapter what to send and how to
 * read the answer, and sending the node's configured headers (its API key or token) as Envoy does.
 * Failure reasons name the kind of failure, never the URL, and never a header value: a reason that
 * would contain one (a node echoing its key in an error body) has it masked.
 *
 * <p>Threading: requests run on the client's executor; DNS resolution (for the address published to
 * Envoy, which needs an IP) runs on the given executor, never on the tracker's loop thread.
 */
public final class HttpNodeProber implements NodeProber {
  private final HttpClient client;
  private final Map<String, ChainAdapter> adapters;
  private final Executor resolver;

  public HttpNodeProber(
      HttpClient client, Map<String, ChainAdapter> adaptersByChain, Executor resolver) {
    this.client = client;
    this.adapters = Map.copyOf(adaptersByChain);
    this.resolver = resolver;
  }

  @Override
  public CompletableFuture<Result> probe(ChainConfig chain, NodeConfig node, long lastHead) {
    ChainAdapter adapter = adapters.get(chain.name());
    ChainAdapter.HeadProbe p = adapter.headProbe(node, lastHead);
    URI uri = node.url().resolve(p.path());
    HttpRequest.Builder b =
        HttpRequest.newBuilder(uri)
            .timeout(p.timeout() != null ? p.timeout() : chain.probeTimeout())
            .method(
                p.method(),
                p.body().length == 0 && "GET".equals(p.method())
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(p.body()));
    if (!p.contentType().isEmpty()) {
      b.header("content-type", p.contentType());
    }
    p.headers().forEach(b::header);
    // The node's own headers win over an adapter's of the same name.
    node.headers().forEach(h -> b.setHeader(h.name(), h.value()));
    HttpRequest request = b.build();
    return CompletableFuture.supplyAsync(() -> resolve(node.host()), resolver)
        .thenCompose(
            address -> {
              if (address == null) {
                return CompletableFuture.completedFuture(
                    (Result) new Failed("host name does not resolve"));
              }
              long start = System.nanoTime();
              return client
                  .sendAsync(request, HttpResponse.BodyHandlers.ofByteArray())
                  .handle(
                      (response, error) -> {
                        if (error != null) {
                          return (Result) new Failed(describe(error));
                        }
                        long micros = (System.nanoTime() - start) / 1000;
                        try {
                          ProbeReading reading =
                              adapter.readHeadProbe(response.statusCode(), response.body());
                          return new Answered(reading, micros, address, p.longPoll());
                        } catch (ChainAdapter.ProbeException e) {
                          return new Failed(masked(e.getMessage(), node));
                        }
                      });
            });
  }

  private static String resolve(String host) {
    try {
      return InetAddress.getByName(host).getHostAddress();
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** {@code reason} with every header value of {@code node} replaced by {@code ***}. */
  static String masked(String reason, NodeConfig node) {
    String out = reason == null ? "" : reason;
    for (NodeHeader h : node.headers()) {
      out = out.replace(h.value(), "***");
    }
    return out;
  }

  static String describe(Throwable error) {
    Throwable t =
        error instanceof java.util.concurrent.CompletionException && error.getCause() != null
            ? error.getCause()
            : error;
    if (t instanceof HttpTimeoutException) {
      return "probe timed out";
    }
    if (t instanceof java.net.ConnectException) {
      return "connection refused or unreachable";
    }
    if (t instanceof java.io.IOException) {
      return "I/O error: " + t.getClass().getSimpleName();
    }
    return "probe failed: " + t.getClass().getSimpleName();
  }
}
