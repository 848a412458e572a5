package io.chainroute.extproc;

import com.google.protobuf.ByteString;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.Classification;
import io.chainroute.chain.Reply;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
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

  public ExtProcService(
      List<ChainConfig> chains, Map<String, ChainAdapter> adaptersByChain, Supplier<Topology> topology) {
    this.chains = List.copyOf(chains);
    this.adapters = Map.copyOf(adaptersByChain);
    this.topology = topology;
  }

  @Override
  public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> out) {
    if (out instanceof ServerCallStreamObserver<ProcessingResponse> server) {
      // Envoy resets each stream once the request is done; that cancel is normal, not an error.
      server.setOnCancelHandler(() -> {});
    }
    return new Exchange(out);
  }

  /** The chain whose path prefix matches, or null. */
  ChainConfig chainFor(String path) {
    for (ChainConfig c : chains) {
      String p = c.pathPrefix();
      if (path.startsWith(p)
          && (path.length() == p.length() || path.charAt(p.length()) == '/' || path.charAt(p.length()) == '?')) {
        return c;
      }
    }
    return null;
  }

  /** One HTTP request's exchange with Envoy. Envoy sends its messages in order on one stream. */
  private final class Exchange implements StreamObserver<ProcessingRequest> {
    private final StreamObserver<ProcessingResponse> out;
    private ChainConfig chain;
    private String method = "";
    private boolean done;

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
              case REQUEST_BODY -> onBody(request.getRequestBody().getBody(), request.getRequestBody().getEndOfStream());
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
      if (response != null && !done) {
        out.onNext(response);
      }
    }

    private ProcessingResponse onHeaders(HttpHeaders headers) {
      HeaderMutation.Builder strip = HeaderMutation.newBuilder();
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
      if (chain == null || headers.getEndOfStream()) {
        if (chain != null && "POST".equals(method)) {
          // A POST with no body is not a JSON-RPC request.
          return immediate(classify(new byte[0]));
        }
        // Nothing to classify (unknown path, GET): the default route applies.
        return ProcessingResponse.newBuilder(SKIP_BODY)
            .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder().setHeaderMutation(strip)))
            .build();
      }
      return ProcessingResponse.newBuilder()
          .setRequestHeaders(HeadersResponse.newBuilder().setResponse(CommonResponse.newBuilder().setHeaderMutation(strip)))
          .build();
    }

    private ProcessingResponse onBody(ByteString body, boolean endOfStream) {
      if (chain == null) {
        return ProcessingResponse.newBuilder().setRequestBody(BodyResponse.getDefaultInstance()).build();
      }
      Classification c = classify(body.toByteArray());
      if (c instanceof Classification.Answer) {
        return immediate(c);
      }
      Classification.Forward f = (Classification.Forward) c;
      ChainView view = topology.get().chain(chain.name());
      Decision d = RoutingPolicy.decide(f.requirements(), view);
      if (d instanceof Decision.Unavailable u) {
        log.debug("No node for request. chain={} reason=\"{}\"", chain.name(), u.message());
        return immediateReply(f.errors().reply(503, JsonRpcErrors.RESOURCE_UNAVAILABLE, u.message()));
      }
      Decision.Route r = (Decision.Route) d;
      HeaderMutation.Builder m = HeaderMutation.newBuilder().addSetHeaders(header(POOL_HEADER, r.pool().id()));
      if (r.write()) {
        m.addSetHeaders(header(WRITE_HEADER, "true"));
      }
      return ProcessingResponse.newBuilder()
          .setRequestBody(
              BodyResponse.newBuilder()
                  .setResponse(CommonResponse.newBuilder().setHeaderMutation(m).setClearRouteCache(true)))
          .build();
    }

    private Classification classify(byte[] body) {
      return adapters.get(chain.name()).classify(method, body);
    }

    private String chainName() {
      return chain == null ? "-" : chain.name();
    }

    @Override
    public void onError(Throwable t) {
      done = true;
    }

    @Override
    public void onCompleted() {
      if (!done) {
        done = true;
        out.onCompleted();
      }
    }
  }

  private static ProcessingResponse immediate(Classification c) {
    return immediateReply(((Classification.Answer) c).reply());
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
