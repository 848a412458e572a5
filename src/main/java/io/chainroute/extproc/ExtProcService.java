package io.chainroute.extproc;

import com.google.protobuf.ByteString;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.Reply;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.NodeView;
import java.time.Duration;
import io.chainroute.height.Topology;
import io.chainroute.jsonrpc.JsonRpcErrors;
import io.chainroute.routing.Decision;
import io.chainroute.routing.RoutingPolicy;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.CommonResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HeaderMutation;
import io.envoyproxy.envoy.service.ext_proc.v3.HeadersResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ImmediateResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.envoyproxy.envoy.service.ext_proc.v3.TrailersResponse;
import io.envoyproxy.envoy.type.v3.HttpStatus;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Envoy's ext_proc service: one gRPC stream per HTTP request. Answers the request headers at once
 * (dropping client-sent {@code x-chainroute-*} headers), then reads the buffered body, classifies it
 * with the chain's adapter, and either sets {@code x-chainroute-pool} (clearing the route cache so
 * Envoy re-picks the route) or answers the request itself with an {@code ImmediateResponse}.
 *
 * <p>Threading: runs on the gRPC transport threads (direct executor); it never blocks and reads the
 * topology with one volatile read. Bad input never fails the stream: it gets a protocol error reply.
 */
public final class ExtProcService extends ExternalProcessorGrpc.ExternalProcessorImplBase {
  public static final String POOL_HEADER = "x-chainroute-pool";
  public static final String WRITE_HEADER = "x-chainroute-write";
  public static final String HEADER_PREFIX = "x-chainroute-";

  private static final Logger log = LoggerFactory.getLogger(ExtProcService.class);
  private static final ProcessingResponse SKIP_BODY =
      ProcessingResponse.newBuilder()
          .setRequestHeaders(HeadersResponse.getDefaultInstance())
          .setModeOverride(
              ProcessingMode.newBuilder().setRequestBodyMode(ProcessingMode.BodySendMode.NONE))
          .build();

  private final List<ChainConfig> chains;
  private final Map<String, ChainAdapter> adapters;
  private final Supplier<Topology> topology;
  private final Supplier<Topology> routable;
  private final HeldRequests held;
  private final Duration unavailableWait;

  /**
   * @param held where requests wait for a node (graceful startup) or a height (algod waits)
   * @param unavailableWait how long a request waits for a usable node before a 503; zero answers at
   *     once
   */
  public ExtProcService(
      List<ChainConfig> chains,
      Map<String, ChainAdapter> adaptersByChain,
      Supplier<Topology> topology,
      HeldRequests held,
      Duration unavailableWait) {
    this(chains, adaptersByChain, topology, topology, held, unavailableWait);
  }

  /**
   * @param latest the tracker's newest topology: algod waits are answered from it
   * @param routable the topology every Envoy has ACKed: pool decisions use it, so a pool chainroute
   *     picks is never one whose endpoints Envoy does not have yet
   */
  public ExtProcService(
      List<ChainConfig> chains,
      Map<String, ChainAdapter> adaptersByChain,
      Supplier<Topology> latest,
      Supplier<Topology> routable,
      HeldRequests held,
      Duration unavailableWait) {
    this.chains = List.copyOf(chains);
    this.adapters = Map.copyOf(adaptersByChain);
    this.topology = latest;
    this.routable = routable;
    this.held = held;
    this.unavailableWait = unavailableWait;
  }

  @Override
  public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> out) {
    Exchange exchange = new Exchange(out);
    if (out instanceof ServerCallStreamObserver<ProcessingResponse> server) {
      // Envoy resets each stream once the request is done; that cancel is normal, not an error.
      server.setOnCancelHandler(exchange::cancelled);
    }
    return exchange;
  }

  /** The chain whose path prefix matches, or null. */
  ChainConfig chainFor(String path) {
    ChainConfig root = null;
    for (ChainConfig c : chains) {
      String p = c.pathPrefix();
      if (p.equals("/")) {
        root = c;
        continue;
      }
      if (path.startsWith(p)
          && (path.length() == p.length() || path.charAt(p.length()) == '/' || path.charAt(p.length()) == '?')) {
        return c;
      }
    }
    return root;
  }

  /** Which phase a decision answers: the request headers or the request body. */
  private enum Phase {
    HEADERS,
    BODY
  }

  /**
   * One HTTP request's exchange with Envoy. Envoy sends its messages in order on one stream; a held
   * request is answered later from another thread, so sending is synchronized.
   */
  private final class Exchange implements StreamObserver<ProcessingRequest> {
    private final StreamObserver<ProcessingResponse> out;
    private ChainConfig chain;
    private String method = "";
    private HeaderMutation.Builder strip = HeaderMutation.newBuilder();
    private boolean done;
    private volatile HeldRequests.Held holding;

    Exchange(StreamObserver<ProcessingResponse> out) {
      this.out = out;
    }

    @Override
    public void onNext(ProcessingRequest request) {
      ProcessingResponse response;
      try {
        response =
            switch (request.getRequestCase()) {
              case REQUEST_HEADERS -> onHeaders(request.getRequestHeaders());
              case REQUEST_BODY -> onBody(request.getRequestBody().getBody());
              case REQUEST_TRAILERS -> ProcessingResponse.newBuilder().setRequestTrailers(TrailersResponse.getDefaultInstance()).build();
              case RESPONSE_HEADERS -> ProcessingResponse.newBuilder().setResponseHeaders(HeadersResponse.getDefaultInstance()).build();
              case RESPONSE_BODY -> ProcessingResponse.newBuilder().setResponseBody(BodyResponse.getDefaultInstance()).build();
              case RESPONSE_TRAILERS -> ProcessingResponse.newBuilder().setResponseTrailers(TrailersResponse.getDefaultInstance()).build();
              default -> null;
            };
      } catch (RuntimeException e) {
        // Never fail the stream on one request: let Envoy continue on its default route.
        log.warn("ext_proc request failed; passing it on unchanged. chain={} error={}", chainName(), e.toString());
        response = passThrough(request);
      }
      if (response != null) {
        send(response);
      }
    }

    synchronized void send(ProcessingResponse response) {
      if (!done) {
        out.onNext(response);
      }
    }

    private ProcessingResponse onHeaders(HttpHeaders headers) {
      String path = "";
      for (HeaderValue h : headers.getHeaders().getHeadersList()) {
        String key = h.getKey();
        if (key.equals(":path")) {
          path = value(h);
        } else if (key.equals(":method")) {
          method = value(h);
        } else if (key.regionMatches(true, 0, HEADER_PREFIX, 0, HEADER_PREFIX.length())) {
          // Envoy sends lower-case keys; match any case anyway.
          strip.addRemoveHeaders(key.toLowerCase(java.util.Locale.ROOT));
        }
      }
      chain = chainFor(path);
      if (chain == null) {
        // Not a chain path: the catch-all route answers; no body needed.
        return skipBody();
      }
      String rest = chain.pathPrefix().equals("/") ? path : path.substring(chain.pathPrefix().length());
      Classification early = adapters.get(chain.name()).classifyRequestLine(method, rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest);
      if (early != null) {
        return handle(early, Phase.HEADERS);
      }
      if (!"POST".equals(method)) {
        // JSON-RPC is POST; anything else has no body worth buffering (DESIGN.md: mode override).
        return skipBody();
      }
      if (headers.getEndOfStream()) {
        // A POST with no body is not a JSON-RPC request: classify the empty body (a parse error).
        return handle(adapters.get(chain.name()).classify(method, new byte[0]), Phase.BODY);
      }
      return ProcessingResponse.newBuilder()
          .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder().setHeaderMutation(strip)))
          .build();
    }

    private ProcessingResponse skipBody() {
      return ProcessingResponse.newBuilder(SKIP_BODY)
          .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder().setHeaderMutation(strip)))
          .build();
    }

    private ProcessingResponse onBody(ByteString body) {
      if (chain == null) {
        return ProcessingResponse.newBuilder().setRequestBody(BodyResponse.getDefaultInstance()).build();
      }
      return handle(adapters.get(chain.name()).classify(method, body.toByteArray()), Phase.BODY);
    }

    /** Answers, routes or holds the request; null when it is held (answered later). */
    private ProcessingResponse handle(Classification c, Phase phase) {
      if (c instanceof Classification.Answer a) {
        return immediateReply(a.reply());
      }
      if (c instanceof Classification.Forward f) {
        return forward(f, phase);
      }
      return awaitHead((Classification.AwaitHead) c);
    }

    private ProcessingResponse forward(Classification.Forward f, Phase phase) {
      ChainView view = routable.get().chain(chain.name());
      Decision d = RoutingPolicy.decide(f.requirements(), view);
      if (d instanceof Decision.Route r) {
        return route(r, phase);
      }
      final String unavailable = ((Decision.Unavailable) d).message();
      String reason = unavailable;
      if (!unavailableWait.isZero()) {
        // Graceful startup (or a short outage): wait for a usable node instead of failing.
        HeldRequests.Held h =
            held.hold(
                chain.name(),
                HeldRequests.Source.ROUTABLE,
                v -> RoutingPolicy.decide(f.requirements(), v) instanceof Decision.Route,
                unavailableWait,
                new HeldRequests.Outcome() {
                  @Override
                  public void ready(ChainView v) {
                    if (RoutingPolicy.decide(f.requirements(), v) instanceof Decision.Route r) {
                      send(route(r, phase));
                    }
                  }

                  @Override
                  public void timedOut(ChainView v) {
                    send(immediateReply(f.errors().reply(503, JsonRpcErrors.RESOURCE_UNAVAILABLE, unavailable + " (waited " + unavailableWait.toMillis() + " ms)")));
                  }

                  @Override
                  public void shutdown() {
                    send(immediateReply(f.errors().reply(503, JsonRpcErrors.RESOURCE_UNAVAILABLE, "chainroute is shutting down")));
                  }
                });
        if (h != null) {
          holding = h;
          extendMessageTimeout(unavailableWait);
          return null;
        }
        reason = reason + " (too many requests waiting)";
      }
      log.debug("No node for request. chain={} reason=\"{}\"", chain.name(), reason);
      return immediateReply(f.errors().reply(503, JsonRpcErrors.RESOURCE_UNAVAILABLE, reason));
    }

    private ProcessingResponse route(Decision.Route r, Phase phase) {
      HeaderMutation.Builder m = HeaderMutation.newBuilder(strip.build()).addSetHeaders(header(POOL_HEADER, r.pool().id()));
      if (r.write()) {
        m.addSetHeaders(header(WRITE_HEADER, "true"));
      }
      CommonResponse common = CommonResponse.newBuilder().setHeaderMutation(m).setClearRouteCache(true).build();
      if (phase == Phase.BODY) {
        return ProcessingResponse.newBuilder().setRequestBody(BodyResponse.newBuilder().setResponse(common)).build();
      }
      // Routed on the request line: the body (msgpack, x-binary) passes through untouched.
      return ProcessingResponse.newBuilder()
          .setRequestHeaders(HeadersResponse.newBuilder().setResponse(common))
          .setModeOverride(ProcessingMode.newBuilder().setRequestBodyMode(ProcessingMode.BodySendMode.NONE))
          .build();
    }

    private ProcessingResponse awaitHead(Classification.AwaitHead w) {
      ChainView view = topology.get().chain(chain.name());
      NodeView best = freshestSynced(view);
      if (best != null && best.head() >= w.minHead()) {
        return immediateReply(w.statusReply().apply(best.raw()));
      }
      if (best == null && !view.nodes().isEmpty() && view.nodes().stream().allMatch(n -> n.health() == io.chainroute.height.Health.SYNCING)) {
        // Every node is catching up: algod answers 503 at once.
        return immediateReply(w.noNodeReply());
      }
      HeldRequests.Held h =
          held.hold(
              chain.name(),
              HeldRequests.Source.LATEST,
              v -> {
                NodeView n = freshestSynced(v);
                return n != null && n.head() >= w.minHead();
              },
              w.timeout(),
              new HeldRequests.Outcome() {
                @Override
                public void ready(ChainView v) {
                  send(immediateReply(w.statusReply().apply(freshestSynced(v).raw())));
                }

                @Override
                public void timedOut(ChainView v) {
                  // As algod: after the wait, the current status, whatever the round.
                  NodeView n = v == null ? null : freshestSynced(v);
                  send(immediateReply(n != null ? w.statusReply().apply(n.raw()) : w.noNodeReply()));
                }

                @Override
                public void shutdown() {
                  send(immediateReply(w.shutdownReply()));
                }
              });
      if (h == null) {
        return immediateReply(w.shutdownReply());
      }
      holding = h;
      extendMessageTimeout(w.timeout());
      return null;
    }

    /** Tells Envoy this message's answer comes later (bounded by the filter's max_message_timeout). */
    private void extendMessageTimeout(Duration wait) {
      send(
          ProcessingResponse.newBuilder()
              .setOverrideMessageTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(wait.toSeconds() + 5))
              .build());
    }

    private String chainName() {
      return chain == null ? "-" : chain.name();
    }

    void cancelled() {
      HeldRequests.Held h = holding;
      if (h != null) {
        h.cancel();
      }
      synchronized (this) {
        done = true;
      }
    }

    @Override
    public void onError(Throwable t) {
      cancelled();
    }

    @Override
    public void onCompleted() {
      HeldRequests.Held h = holding;
      if (h != null) {
        h.cancel();
      }
      synchronized (this) {
        if (!done) {
          done = true;
          out.onCompleted();
        }
      }
    }
  }

  /** The synced node with the highest head and a kept status answer, or null. */
  static NodeView freshestSynced(ChainView view) {
    NodeView best = null;
    if (view == null) {
      return null;
    }
    for (NodeView n : view.nodes()) {
      if (n.health() == io.chainroute.height.Health.SYNCED && n.status().usable() && n.raw().length > 0 && (best == null || n.head() > best.head())) {
        best = n;
      }
    }
    return best;
  }

  private static ProcessingResponse immediateReply(Reply reply) {
    return ProcessingResponse.newBuilder()
        .setImmediateResponse(
            ImmediateResponse.newBuilder()
                .setStatus(HttpStatus.newBuilder().setCodeValue(reply.httpStatus()))
                .setHeaders(HeaderMutation.newBuilder().addSetHeaders(header("content-type", reply.contentType())))
                .setBody(ByteString.copyFrom(reply.body()))
                .setDetails("chainroute"))
        .build();
  }

  private static ProcessingResponse passThrough(ProcessingRequest request) {
    return switch (request.getRequestCase()) {
      case REQUEST_HEADERS -> ProcessingResponse.newBuilder().setRequestHeaders(HeadersResponse.getDefaultInstance()).build();
      case REQUEST_BODY -> ProcessingResponse.newBuilder().setRequestBody(BodyResponse.getDefaultInstance()).build();
      default -> null;
    };
  }

  static HeaderValueOption header(String key, String value) {
    return HeaderValueOption.newBuilder()
        .setHeader(HeaderValue.newBuilder().setKey(key).setRawValue(ByteString.copyFrom(value, StandardCharsets.UTF_8)))
        .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)
        .build();
  }

  /** Envoy sends header values in raw_value (newer) or value (older). */
  static String value(HeaderValue h) {
    return h.getRawValue().isEmpty() ? h.getValue() : h.getRawValue().toStringUtf8();
  }
}
