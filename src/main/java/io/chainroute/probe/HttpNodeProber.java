package io.chainroute.probe;

import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.ProbeReading;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.NodeHeader;
import io.chainroute.height.NodeProber;
import io.chainroute.height.NodeProber.Cause;
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
 * <p>Latency: a long poll (algod's wait-for-block-after) answers only when the node has news, so
 * its duration says nothing about the node's speed. Before each long poll the prober sends the
 * adapter's plain probe ({@code headProbe(node, -1)}, algod {@code GET /v2/status}) and reports
 * that round trip as the latency; one extra small request per block per node.
 *
 * <p>A node's URL path and query reach the node as Envoy sends them ({@link
 * NodeConfig#requestUri}); an https node is checked against its CA bundle ({@link NodeClients}).
 *
 * <p>DNS: every probe resolves the node's host again (through the JVM's cache, {@code
 * networkaddress.cache.ttl}, 30 s by default) and reports the address, which is what chainroute
 * publishes to Envoy (EDS needs an IP): a host name whose address changes is followed within the
 * cache's lifetime plus one poll interval, and Envoy keeps sending the name as SNI and Host.
 *
 * <p>Threading: requests run on the client's executor; DNS resolution runs on the given executor,
 * never on the tracker's loop thread.
 */
public final class HttpNodeProber implements NodeProber {
  /** Resolves a host name to one IP address, or null when it does not resolve. Blocking. */
  @FunctionalInterface
  public interface Resolver {
    String resolve(String host);

    /** The JVM's resolver (and its cache). */
    Resolver SYSTEM = HttpNodeProber::resolveSystem;
  }

  private final java.util.function.Function<NodeConfig, HttpClient> clients;
  private final Map<String, ChainAdapter> adapters;
  private final Executor resolverExecutor;
  private final Resolver resolver;

  public HttpNodeProber(
      HttpClient client, Map<String, ChainAdapter> adaptersByChain, Executor resolver) {
    this(n -> client, adaptersByChain, resolver, Resolver.SYSTEM);
  }

  /**
   * @param clients the client for each node (its CA bundle; {@link NodeClients})
   * @param resolverExecutor where {@code resolver} runs
   */
  public HttpNodeProber(
      java.util.function.Function<NodeConfig, HttpClient> clients,
      Map<String, ChainAdapter> adaptersByChain,
      Executor resolverExecutor,
      Resolver resolver) {
    this.clients = clients;
    this.adapters = Map.copyOf(adaptersByChain);
    this.resolverExecutor = resolverExecutor;
    this.resolver = resolver;
  }

  @Override
  public CompletableFuture<Result> probe(ChainConfig chain, NodeConfig node, long lastHead) {
    ChainAdapter adapter = adapters.get(chain.name());
    ChainAdapter.HeadProbe p = adapter.headProbe(node, lastHead);
    HttpRequest request = request(chain, node, p);
    HttpRequest plain = p.longPoll() ? request(chain, node, adapter.headProbe(node, -1)) : null;
    HttpClient client = clients.apply(node);
    return CompletableFuture.supplyAsync(() -> resolver.resolve(node.host()), resolverExecutor)
        .thenCompose(
            address -> {
              if (address == null) {
                return CompletableFuture.completedFuture(
                    (Result) new Failed("host name does not resolve", Cause.DNS));
              }
              if (plain == null) {
                return send(client, adapter, node, request, address, p.longPoll(), -1);
              }
              long start = System.nanoTime();
              return client
                  .sendAsync(plain, HttpResponse.BodyHandlers.discarding())
                  .handle((response, error) -> error)
                  .thenCompose(
                      error ->
                          error != null
                              ? CompletableFuture.completedFuture(failed(error))
                              : send(
                                  client,
                                  adapter,
                                  node,
                                  request,
                                  address,
                                  true,
                                  (System.nanoTime() - start) / 1000));
            });
  }

  /**
   * Sends the probe and reads its answer; the latency is the given one, or this request's round
   * trip when none is given (-1).
   */
  private static CompletableFuture<Result> send(
      HttpClient client,
      ChainAdapter adapter,
      NodeConfig node,
      HttpRequest request,
      String address,
      boolean longPoll,
      long givenMicros) {
    long start = System.nanoTime();
    return client
        .sendAsync(request, HttpResponse.BodyHandlers.ofByteArray())
        .handle(
            (response, error) -> {
              if (error != null) {
                return failed(error);
              }
              long micros = givenMicros >= 0 ? givenMicros : (System.nanoTime() - start) / 1000;
              try {
                ProbeReading reading =
                    adapter.readHeadProbe(response.statusCode(), response.body());
                return new Answered(reading, micros, address, longPoll);
              } catch (ChainAdapter.ProbeException e) {
                return new Failed(masked(e.getMessage(), node), Cause.BAD_ANSWER);
              }
            });
  }

  private static HttpRequest request(ChainConfig chain, NodeConfig node, ChainAdapter.HeadProbe p) {
    URI uri = node.requestUri(p.path());
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
    return b.build();
  }

  private static Result failed(Throwable error) {
    return new Failed(describe(error), cause(error));
  }

  private static String resolveSystem(String host) {
    try {
      return InetAddress.getByName(host).getHostAddress();
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /**
   * {@code reason} with every header value of {@code node}, and every part of its URL's path and
   * query that could be a key (8 characters or more), replaced by {@code ***}.
   */
  static String masked(String reason, NodeConfig node) {
    String out = reason == null ? "" : reason;
    for (NodeHeader h : node.headers()) {
      out = out.replace(h.value(), "***");
    }
    for (String part : (node.rawPath() + "&" + node.rawQuery()).split("[/&=]")) {
      if (part.length() >= 8) {
        out = out.replace(part, "***");
        out =
            out.replace(
                java.net.URLDecoder.decode(part, java.nio.charset.StandardCharsets.UTF_8), "***");
      }
    }
    return out;
  }

  static String describe(Throwable error) {
    Throwable t = unwrap(error);
    if (t instanceof HttpTimeoutException) {
      return "probe timed out";
    }
    if (t instanceof java.net.ConnectException) {
      return "connection refused or unreachable";
    }
    if (t instanceof javax.net.ssl.SSLException) {
      // The JDK's message names the host and the certificate problem, never the path or a key.
      return "TLS failed: " + t.getClass().getSimpleName();
    }
    if (t instanceof java.io.IOException) {
      return "I/O error: " + t.getClass().getSimpleName();
    }
    return "probe failed: " + t.getClass().getSimpleName();
  }

  static Cause cause(Throwable error) {
    Throwable t = unwrap(error);
    if (t instanceof HttpTimeoutException) {
      return Cause.TIMEOUT;
    }
    if (t instanceof java.net.ConnectException) {
      return Cause.REFUSED;
    }
    return t instanceof java.io.IOException ? Cause.IO : Cause.OTHER;
  }

  private static Throwable unwrap(Throwable error) {
    return error instanceof java.util.concurrent.CompletionException && error.getCause() != null
        ? error.getCause()
        : error;
  }
}
