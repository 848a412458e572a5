package io.chainroute.extproc;

import static io.chainroute.contract.EnvoyContract.CACHE_CAPTURE;
import static io.chainroute.contract.EnvoyContract.CACHE_HEADER;
import static io.chainroute.contract.EnvoyContract.HEADER_PREFIX;
import static io.chainroute.contract.EnvoyContract.METADATA_CAPTURE;
import static io.chainroute.contract.EnvoyContract.METADATA_CAPTURE_CHAIN;
import static io.chainroute.contract.EnvoyContract.METADATA_ID;
import static io.chainroute.contract.EnvoyContract.METADATA_NAMESPACE;
import static io.chainroute.contract.EnvoyContract.METADATA_POOL;
import static io.chainroute.contract.EnvoyContract.METADATA_REASON;
import static io.chainroute.contract.EnvoyContract.NODE_HEADER;
import static io.chainroute.contract.EnvoyContract.POOL_HEADER;
import static io.chainroute.contract.EnvoyContract.WRITE_HEADER;
import static io.chainroute.contract.EnvoyContract.WRITE_VALUE;

import com.google.protobuf.ByteString;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.Durations;
import io.chainroute.chain.Reply;
import io.chainroute.config.ChainConfig;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.pipeline.HeldRequests;
import io.chainroute.pipeline.Outcome;
import io.chainroute.pipeline.RequestPipeline;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.service.ext_proc.v3.BodyMutation;
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
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Envoy's ext_proc service: a thin translation of ext_proc messages to and from the {@link
 * RequestPipeline}, one gRPC stream per HTTP request. The request headers give the chain and the
 * request line; the buffered body (when the pipeline needs it) follows. A route becomes the {@code
 * x-chainroute-pool} header with the route cache cleared, a reply an {@code ImmediateResponse}, a
 * hold a longer message timeout and the answer later. A request for one node (node-local state)
 * becomes the {@code x-chainroute-node} header, with the body mutation the pipeline asked for; one
 * chainroute sends to nodes itself ({@code Outcome.Later}), a longer message timeout and the answer
 * when the nodes answered.
 *
 * <p>Threading: runs on the gRPC transport threads (direct executor) and never blocks; a held
 * request is answered from another thread, so sending is synchronized per stream. Bad input never
 * fails the stream: a request the pipeline throws on is passed on unchanged.
 */
public final class ExtProcService extends ExternalProcessorGrpc.ExternalProcessorImplBase {
  private static final Logger log = LoggerFactory.getLogger(ExtProcService.class);
  private static final ProcessingMode NO_BODY =
      ProcessingMode.newBuilder().setRequestBodyMode(ProcessingMode.BodySendMode.NONE).build();

  private static final ProcessingMode NO_RESPONSE_BODY =
      ProcessingMode.newBuilder().setResponseBodyMode(ProcessingMode.BodySendMode.NONE).build();
  private static final ProcessingMode PARTIAL_RESPONSE_BODY =
      ProcessingMode.newBuilder()
          .setResponseBodyMode(ProcessingMode.BodySendMode.BUFFERED_PARTIAL)
          .build();

  /** Default {@code maxCaptureBytes}. */
  public static final int DEFAULT_MAX_CAPTURE_BYTES = 1024 * 1024;

  private final RequestPipeline pipeline;
  private final int maxCaptureBytes;

  public ExtProcService(RequestPipeline pipeline) {
    this(pipeline, DEFAULT_MAX_CAPTURE_BYTES);
  }

  /**
   * @param maxCaptureBytes a node's answer is captured for the response cache only up to this size
   *     (at most Envoy's buffer limit, so buffering it can never fail the request)
   */
  public ExtProcService(RequestPipeline pipeline, int maxCaptureBytes) {
    this.pipeline = pipeline;
    this.maxCaptureBytes = maxCaptureBytes;
  }

  @Override
  public StreamObserver<ProcessingRequest> process(StreamObserver<ProcessingResponse> out) {
    Exchange exchange = new Exchange(out);
    if (out instanceof ServerCallStreamObserver<ProcessingResponse> server) {
      // Envoy resets each stream once the request is done; that cancel is normal, not an error.
      server.setOnCancelHandler(exchange::finish);
    }
    return exchange;
  }

  /** One HTTP request's exchange with Envoy; Envoy sends its messages in order on one stream. */
  private final class Exchange implements StreamObserver<ProcessingRequest> {
    private final StreamObserver<ProcessingResponse> out;
    private final HeaderMutation.Builder strip = HeaderMutation.newBuilder();
    private ChainConfig chain;
    private String method = "";
    private String captureChain;
    private String capture;
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
              case REQUEST_BODY ->
                  chain == null
                      ? bodyResponse(CommonResponse.getDefaultInstance())
                      : translate(
                          pipeline.onBody(
                              chain, method, request.getRequestBody().getBody().toByteArray()),
                          false);
              case REQUEST_TRAILERS ->
                  ProcessingResponse.newBuilder()
                      .setRequestTrailers(TrailersResponse.getDefaultInstance())
                      .build();
              case RESPONSE_HEADERS -> onResponseHeaders(request);
              case RESPONSE_BODY -> onResponseBody(request);
              case RESPONSE_TRAILERS ->
                  ProcessingResponse.newBuilder()
                      .setResponseTrailers(TrailersResponse.getDefaultInstance())
                      .build();
              default -> null;
            };
      } catch (RuntimeException e) {
        // Never fail the stream on one request: let Envoy continue on its default route.
        log.warn(
            "ext_proc request failed; passing it on unchanged. chain={} error={}",
            chain == null ? "-" : chain.name(),
            e.toString());
        response =
            request.hasRequestHeaders()
                ? headersResponse(CommonResponse.getDefaultInstance(), null)
                : request.hasRequestBody()
                    ? bodyResponse(CommonResponse.getDefaultInstance())
                    : null;
      }
      if (response != null) {
        send(response);
      }
    }

    /**
     * The capture filter's first message (a node's answer to a request chainroute marked for its
     * response cache): the body follows only for an answer that may be kept.
     */
    private ProcessingResponse onResponseHeaders(ProcessingRequest request) {
      Struct note =
          request
              .getMetadataContext()
              .getFilterMetadataOrDefault(METADATA_NAMESPACE, Struct.getDefaultInstance());
      captureChain = note.getFieldsOrDefault(METADATA_CAPTURE_CHAIN, NO_VALUE).getStringValue();
      capture = note.getFieldsOrDefault(METADATA_CAPTURE, NO_VALUE).getStringValue();
      String status = "";
      String encoding = "";
      long length = -1;
      for (HeaderValue h : request.getResponseHeaders().getHeaders().getHeadersList()) {
        switch (h.getKey()) {
          case ":status" -> status = value(h);
          case "content-encoding" -> encoding = value(h);
          case "content-length" -> length = parseLength(value(h));
          default -> {}
        }
      }
      ProcessingMode mode = null;
      if (captureChain.isEmpty()
          || capture.isEmpty()
          || !status.equals("200")
          || !(encoding.isEmpty() || encoding.equalsIgnoreCase("identity"))
          || length > maxCaptureBytes
          || request.getResponseHeaders().getEndOfStream()) {
        capture = null;
        mode = NO_RESPONSE_BODY;
      } else if (length < 0) {
        // Chunked: buffer up to Envoy's limit and no further (a larger answer passes unchanged).
        mode = PARTIAL_RESPONSE_BODY;
      }
      ProcessingResponse.Builder b =
          ProcessingResponse.newBuilder().setResponseHeaders(HeadersResponse.getDefaultInstance());
      if (mode != null) {
        b.setModeOverride(mode);
      }
      return b.build();
    }

    private ProcessingResponse onResponseBody(ProcessingRequest request) {
      var body = request.getResponseBody();
      if (capture != null && body.getEndOfStream() && body.getBody().size() <= maxCaptureBytes) {
        pipeline.onCaptured(captureChain, capture, body.getBody().toByteArray());
      }
      capture = null;
      return ProcessingResponse.newBuilder()
          .setResponseBody(BodyResponse.getDefaultInstance())
          .build();
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
          // A client must not pick its pool (the bootstrap strips these too; this holds for
          // hand-written bootstraps). Envoy sends lower-case keys; match any case anyway.
          strip.addRemoveHeaders(key.toLowerCase(Locale.ROOT));
        }
      }
      chain = pipeline.chainFor(path);
      Outcome o =
          chain == null
              ? Outcome.PASS
              : pipeline.onRequestLine(chain, method, path, headers.getEndOfStream());
      return translate(o, true);
    }

    /**
     * The pipeline's outcome as the answer to the message in hand (headers or body); null when
     * held.
     */
    private ProcessingResponse translate(Outcome o, boolean headersPhase) {
      if (o instanceof Outcome.Route r) {
        HeaderMutation.Builder m =
            HeaderMutation.newBuilder(strip.build())
                .addSetHeaders(header(POOL_HEADER, r.pool().id()));
        if (r.write()) {
          m.addSetHeaders(header(WRITE_HEADER, WRITE_VALUE));
        }
        if (r.capture() != null) {
          m.addSetHeaders(header(CACHE_HEADER, CACHE_CAPTURE));
        }
        CommonResponse routed =
            CommonResponse.newBuilder().setHeaderMutation(m).setClearRouteCache(true).build();
        // Routed on the request line: the body (msgpack, x-binary) passes through unread.
        return (headersPhase ? headersResponse(routed, NO_BODY) : bodyResponse(routed))
            .toBuilder().setDynamicMetadata(decisionMetadata(r, chain)).build();
      }
      if (o instanceof Outcome.Respond r) {
        return immediate(r.reply());
      }
      if (o instanceof Outcome.ToNode n) {
        return toNode(n, headersPhase);
      }
      if (o instanceof Outcome.Later later) {
        // chainroute sends the request to nodes itself: ask Envoy for the time that takes.
        send(
            ProcessingResponse.newBuilder()
                .setOverrideMessageTimeout(
                    Durations.fromMillis(
                        EnvoyContract.holdMessageTimeout(later.timeout()).toMillis()))
                .build());
        later.outcome().thenAccept(done -> send(translate(done, headersPhase)));
        return null;
      }
      if (o instanceof Outcome.Hold h) {
        if (!pipeline.canHold()) {
          return translate(pipeline.refused(h), headersPhase);
        }
        // Ask Envoy for more time on this one message (bounded by the filter's
        // max_message_timeout).
        send(
            ProcessingResponse.newBuilder()
                .setOverrideMessageTimeout(
                    Durations.fromMillis(EnvoyContract.holdMessageTimeout(h.timeout()).toMillis()))
                .build());
        holding = pipeline.hold(h, later -> send(translate(later, headersPhase)));
        return null;
      }
      CommonResponse stripped = CommonResponse.newBuilder().setHeaderMutation(strip).build();
      // NeedBody: let Envoy send the buffered body. Pass: the default route, without the body.
      return o instanceof Outcome.NeedBody
          ? headersResponse(stripped, null)
          : headersResponse(stripped, NO_BODY);
    }

    /**
     * To one node's cluster (the route on {@code x-chainroute-node}), with the body replaced when
     * the pipeline rewrote it: BUFFERED with the headers sent keeps content-length, so the same
     * response sets it to the new length (Envoy applies header mutations before it checks the
     * mutated body's length against content-length).
     */
    private ProcessingResponse toNode(Outcome.ToNode n, boolean headersPhase) {
      HeaderMutation.Builder m =
          HeaderMutation.newBuilder(strip.build())
              .addSetHeaders(
                  header(NODE_HEADER, EnvoyContract.nodeCluster(chain.name(), n.node())));
      CommonResponse.Builder routed = CommonResponse.newBuilder().setClearRouteCache(true);
      if (n.body() != null && !headersPhase) {
        m.addSetHeaders(header("content-length", Integer.toString(n.body().length)));
        routed.setBodyMutation(BodyMutation.newBuilder().setBody(ByteString.copyFrom(n.body())));
      }
      routed.setHeaderMutation(m);
      Struct.Builder fields =
          Struct.newBuilder()
              .putFields(METADATA_POOL, string("node"))
              .putFields(METADATA_REASON, string(n.reason().label()));
      if (n.echoId() != null) {
        fields.putFields(METADATA_ID, string(n.echoId()));
      }
      Struct metadata =
          Struct.newBuilder()
              .putFields(METADATA_NAMESPACE, Value.newBuilder().setStructValue(fields).build())
              .build();
      return (headersPhase
              ? headersResponse(routed.build(), NO_BODY)
              : bodyResponse(routed.build()))
          .toBuilder().setDynamicMetadata(metadata).build();
    }

    synchronized void send(ProcessingResponse response) {
      if (!done) {
        out.onNext(response);
      }
    }

    /** The stream ended (reset by Envoy, error, or completed): a held request is let go. */
    void finish() {
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
      finish();
    }

    @Override
    public void onCompleted() {
      boolean wasDone;
      synchronized (this) {
        wasDone = done;
      }
      finish();
      if (!wasDone) {
        out.onCompleted();
      }
    }
  }

  /**
   * The decision as dynamic metadata in chainroute's namespace: the pool and reason (Envoy's access
   * log) and the request's id, if any (Envoy's own error replies echo it, see LocalReplies).
   */
  private static Struct decisionMetadata(Outcome.Route r, ChainConfig chain) {
    Struct.Builder fields =
        Struct.newBuilder()
            .putFields(METADATA_POOL, string(r.pool().id()))
            .putFields(METADATA_REASON, string(r.reason().id()));
    if (r.capture() != null && chain != null) {
      fields.putFields(METADATA_CAPTURE, string(r.capture()));
      fields.putFields(METADATA_CAPTURE_CHAIN, string(chain.name()));
    }
    if (r.echoId() != null) {
      fields.putFields(METADATA_ID, string(r.echoId()));
    }
    return Struct.newBuilder()
        .putFields(METADATA_NAMESPACE, Value.newBuilder().setStructValue(fields).build())
        .build();
  }

  private static final Value NO_VALUE = Value.newBuilder().setStringValue("").build();

  private static long parseLength(String v) {
    try {
      return Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static Value string(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static ProcessingResponse headersResponse(CommonResponse common, ProcessingMode mode) {
    ProcessingResponse.Builder b =
        ProcessingResponse.newBuilder()
            .setRequestHeaders(HeadersResponse.newBuilder().setResponse(common));
    if (mode != null) {
      b.setModeOverride(mode);
    }
    return b.build();
  }

  private static ProcessingResponse bodyResponse(CommonResponse common) {
    return ProcessingResponse.newBuilder()
        .setRequestBody(BodyResponse.newBuilder().setResponse(common))
        .build();
  }

  private static ProcessingResponse immediate(Reply reply) {
    return ProcessingResponse.newBuilder()
        .setImmediateResponse(
            ImmediateResponse.newBuilder()
                .setStatus(HttpStatus.newBuilder().setCodeValue(reply.httpStatus()))
                .setHeaders(
                    HeaderMutation.newBuilder()
                        .addSetHeaders(header("content-type", reply.contentType())))
                .setBody(ByteString.copyFrom(reply.body()))
                .setDetails(EnvoyContract.REPLY_DETAILS))
        .build();
  }

  static HeaderValueOption header(String key, String value) {
    return HeaderValueOption.newBuilder()
        .setHeader(
            HeaderValue.newBuilder()
                .setKey(key)
                .setRawValue(ByteString.copyFrom(value, StandardCharsets.UTF_8)))
        .setAppendAction(HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD)
        .build();
  }

  /** Envoy sends header values in raw_value (newer) or value (older). */
  static String value(HeaderValue h) {
    return h.getRawValue().isEmpty() ? h.getValue() : h.getRawValue().toStringUtf8();
  }
}
