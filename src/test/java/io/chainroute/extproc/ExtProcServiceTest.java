package io.chainroute.extproc;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.contract.EnvoyContract;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.pipeline.HeldRequests;
import io.chainroute.pipeline.RequestPipeline;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpBody;
import io.envoyproxy.envoy.service.ext_proc.v3.HttpHeaders;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingRequest;
import io.envoyproxy.envoy.service.ext_proc.v3.ProcessingResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ext_proc over an in-process channel, replaying the message sequence Envoy sends with the
 * bootstrap's settings (request headers SEND, body BUFFERED): headers, then one body message with
 * end_of_stream, on one stream per HTTP request.
 */
class ExtProcServiceTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final NodeConfig full = TestConfigs.node("full", "http://10.0.0.1:8545").build();
  private final NodeConfig archive =
      TestConfigs.node("archive", "http://10.0.0.2:8545").archive().build();
  private final ChainConfig chain = TestConfigs.evm("eth").nodes(full, archive).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private Server server;
  private ManagedChannel channel;
  private final java.util.concurrent.ScheduledExecutorService timer =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
  private final HeldRequests held = new HeldRequests(timer, topology::get, 100);

  /** How chainroute sends requests to nodes itself: none unless a test sets fake nodes. */
  private io.chainroute.pipeline.NodeCalls calls = io.chainroute.pipeline.NodeCalls.NONE;

  @BeforeEach
  void start() throws Exception {
    topology.set(topology(EndpointStatus.HEALTHY, EndpointStatus.HEALTHY));
    startWith(Duration.ZERO);
  }

  private void startWith(Duration unavailableWait) throws Exception {
    if (server != null) {
      stop();
    }
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(
                new ExtProcService(
                    new RequestPipeline(
                        List.of(chain),
                        Map.of("eth", new EvmAdapter()),
                        topology::get,
                        topology::get,
                        held,
                        unavailableWait,
                        io.chainroute.pipeline.DecisionListener.NONE,
                        calls)))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  @Test
  void beforeAnyNodeIsReadyRequestsWaitAndAreRoutedOnceOneIs() throws Exception {
    startWith(Duration.ofSeconds(5));
    topology.set(topology(EndpointStatus.NONE, EndpointStatus.NONE));
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    s.sendBody(call("eth_gasPrice", "[]"));
    ProcessingResponse extend = s.next();
    assertThat(extend.getOverrideMessageTimeout().getSeconds()).isGreaterThanOrEqualTo(5);
    assertThat(held.size()).isEqualTo(1);
    assertThat(s.responses.poll(200, TimeUnit.MILLISECONDS)).as("held, not answered").isNull();

    topology.set(topology(EndpointStatus.HEALTHY, EndpointStatus.NONE));
    held.onTopology(topology.get());
    ProcessingResponse routed = s.next();
    assertThat(setHeader(routed, "x-chainroute-pool")).isEqualTo("head");
    assertThat(held.size()).isZero();
  }

  @Test
  void aHeldRequestTimesOutWithA503AndTheBoundIsEnforced() throws Exception {
    startWith(Duration.ofSeconds(1));
    topology.set(topology(EndpointStatus.NONE, EndpointStatus.NONE));
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    s.sendBody(call("eth_gasPrice", "[]"));
    s.next(); // the message-timeout extension
    ProcessingResponse r = s.next();
    assertThat(r.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(503);
    assertThat(immediateBody(r).get("error").get("message").asText())
        .contains("'eth'")
        .contains("waited");

    held.shutdown();
    Stream late = new Stream();
    late.headers("POST", "/eth", false);
    ProcessingResponse refused = late.body(call("eth_gasPrice", "[]"));
    assertThat(refused.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(503);
  }

  private Topology topology(EndpointStatus f, EndpointStatus a) {
    return Topology.of(
        1,
        List.of(
            new ChainView(
                chain,
                1000,
                List.of(
                    new NodeView(full, 1000, 0, Health.SYNCED, "", f, 1, 0, "10.0.0.1"),
                    new NodeView(archive, 1000, 0, Health.SYNCED, "", a, 1, 0, "10.0.0.2")))));
  }

  /** One HTTP request's ext_proc stream, as Envoy drives it. */
  private final class Stream implements StreamObserver<ProcessingResponse> {
    final BlockingQueue<ProcessingResponse> responses = new LinkedBlockingQueue<>();
    final StreamObserver<ProcessingRequest> requests =
        ExternalProcessorGrpc.newStub(channel).process(this);
    volatile Throwable error;

    ProcessingResponse headers(String method, String path, boolean endOfStream, String... extra)
        throws InterruptedException {
      HeaderMap.Builder h =
          HeaderMap.newBuilder()
              .addHeaders(raw(":method", method))
              .addHeaders(raw(":path", path))
              .addHeaders(raw(":authority", "rpc.local"))
              .addHeaders(raw("content-type", "application/json"));
      for (int i = 0; i < extra.length; i += 2) {
        h.addHeaders(raw(extra[i], extra[i + 1]));
      }
      requests.onNext(
          ProcessingRequest.newBuilder()
              .setRequestHeaders(HttpHeaders.newBuilder().setHeaders(h).setEndOfStream(endOfStream))
              .build());
      return next();
    }

    ProcessingResponse body(String body) throws InterruptedException {
      sendBody(body);
      return next();
    }

    /** Sends the buffered body without waiting for the answer (it may be held). */
    void sendBody(String body) {
      requests.onNext(
          ProcessingRequest.newBuilder()
              .setRequestBody(
                  HttpBody.newBuilder().setBody(ByteString.copyFromUtf8(body)).setEndOfStream(true))
              .build());
    }

    ProcessingResponse next() throws InterruptedException {
      ProcessingResponse r = responses.poll(5, TimeUnit.SECONDS);
      assertThat(r).as("a response (stream error: %s)", error).isNotNull();
      return r;
    }

    @Override
    public void onNext(ProcessingResponse value) {
      responses.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {}
  }

  private static HeaderValue raw(String k, String v) {
    return HeaderValue.newBuilder().setKey(k).setRawValue(ByteString.copyFromUtf8(v)).build();
  }

  private static String setHeader(ProcessingResponse r, String name) {
    for (HeaderValueOption o :
        r.getRequestBody().getResponse().getHeaderMutation().getSetHeadersList()) {
      if (o.getHeader().getKey().equals(name)) {
        return o.getHeader().getRawValue().toStringUtf8();
      }
    }
    return null;
  }

  private static JsonNode immediateBody(ProcessingResponse r) throws Exception {
    assertThat(r.hasImmediateResponse()).as(r.toString()).isTrue();
    return JSON.readTree(r.getImmediateResponse().getBody().toString(StandardCharsets.UTF_8));
  }

  private static String call(String method, String params) {
    return "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":" + params + "}";
  }

  @Test
  void aCallOnATaggedFilterGoesToItsNodesClusterWithTheNodesOwnIdAndItsContentLength()
      throws Exception {
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    String tagged = "0xabc" + io.chainroute.chain.NodeTag.of("full");
    ProcessingResponse b = s.body(call("eth_getFilterChanges", "[\"" + tagged + "\"]"));
    assertThat(setHeader(b, "x-chainroute-node")).isEqualTo("eth-node-full");
    assertThat(setHeader(b, "x-chainroute-pool")).isNull();
    String own = call("eth_getFilterChanges", "[\"0xabc\"]");
    assertThat(b.getRequestBody().getResponse().getBodyMutation().getBody().toStringUtf8())
        .isEqualTo(own);
    // BUFFERED with the headers sent keeps content-length: it must match the new body.
    assertThat(setHeader(b, "content-length"))
        .isEqualTo(Integer.toString(own.getBytes(StandardCharsets.UTF_8).length));
    assertThat(b.getRequestBody().getResponse().getClearRouteCache()).isTrue();
    assertThat(decision(b)).containsEntry("reason", "sticky");
  }

  @Test
  void aTransactionChainrouteSendsItselfGetsMoreTimeThenTheFirstAcceptance() throws Exception {
    java.util.List<String> sentTo = new java.util.concurrent.CopyOnWriteArrayList<>();
    calls =
        (c, node, body, timeout) -> {
          sentTo.add(node.name());
          return java.util.concurrent.CompletableFuture.completedFuture(
              new io.chainroute.chain.NodeReply(
                  node.name(),
                  200,
                  "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xhash\"}"
                      .getBytes(StandardCharsets.UTF_8),
                  null));
        };
    startWith(Duration.ZERO);
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    s.sendBody(call("eth_sendRawTransaction", "[\"0x02\"]"));
    ProcessingResponse more = s.next();
    assertThat(more.hasOverrideMessageTimeout()).isTrue();
    ProcessingResponse answer = s.next();
    assertThat(immediateBody(answer).get("result").asText()).isEqualTo("0xhash");
    assertThat(sentTo).containsExactlyInAnyOrder("full", "archive");
  }

  @Test
  void headersAreAnsweredAtOnceAndClientSentRoutingHeadersAreRemoved() throws Exception {
    Stream s = new Stream();
    ProcessingResponse h =
        s.headers(
            "POST", "/eth", false, "x-chainroute-pool", "archive", "X-Chainroute-Write", "true");
    assertThat(h.hasRequestHeaders()).isTrue();
    assertThat(h.getRequestHeaders().getResponse().getHeaderMutation().getRemoveHeadersList())
        .containsExactlyInAnyOrder("x-chainroute-pool", "x-chainroute-write");
    assertThat(h.hasModeOverride()).isFalse();
  }

  @Test
  void aLatestRequestIsRoutedToTheHeadPoolAndTheRouteCacheIsCleared() throws Exception {
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    ProcessingResponse b = s.body(call("eth_getBalance", "[\"0xabc\",\"latest\"]"));
    assertThat(setHeader(b, "x-chainroute-pool")).isEqualTo("head");
    assertThat(setHeader(b, "x-chainroute-write")).isNull();
    assertThat(b.getRequestBody().getResponse().getClearRouteCache()).isTrue();
  }

  @Test
  void oldStateAndMixedBatchesGoToTheArchivePool() throws Exception {
    Stream s = new Stream();
    s.headers("POST", "/eth/", false);
    assertThat(
            setHeader(s.body(call("eth_getBalance", "[\"0xabc\",\"0x1\"]")), "x-chainroute-pool"))
        .isEqualTo("archive");

    Stream batch = new Stream();
    batch.headers("POST", "/eth", false);
    String body =
        "["
            + call("eth_gasPrice", "[]")
            + ","
            + call("eth_getBalance", "[\"0xabc\",\"0x1\"]")
            + "]";
    assertThat(setHeader(batch.body(body), "x-chainroute-pool")).isEqualTo("archive");
  }

  /** chainroute's fields of the response's dynamic metadata (its namespace), as strings. */
  private static java.util.Map<String, String> decision(ProcessingResponse r) {
    java.util.Map<String, String> out = new java.util.TreeMap<>();
    r.getDynamicMetadata()
        .getFieldsOrThrow(EnvoyContract.METADATA_NAMESPACE)
        .getStructValue()
        .getFieldsMap()
        .forEach((k, v) -> out.put(k, v.getStringValue()));
    return out;
  }

  @Test
  void everyRouteCarriesThePoolAndReasonAsDynamicMetadataForEnvoysAccessLog() throws Exception {
    Stream old = new Stream();
    old.headers("POST", "/eth", false);
    assertThat(decision(old.body(call("eth_getBalance", "[\"0xabc\",\"0x1\"]"))))
        .containsEntry(EnvoyContract.METADATA_POOL, "archive")
        .containsEntry(EnvoyContract.METADATA_REASON, "archive")
        .containsEntry(EnvoyContract.METADATA_ID, "1");
    Stream latest = new Stream();
    latest.headers("POST", "/eth", false);
    assertThat(decision(latest.body(call("eth_gasPrice", "[]"))))
        .containsEntry(EnvoyContract.METADATA_POOL, "head")
        .containsEntry(EnvoyContract.METADATA_REASON, "recent");
    Stream write = new Stream();
    write.headers("POST", "/eth", false);
    assertThat(decision(write.body(call("eth_sendRawTransaction", "[\"0x02f8\"]"))))
        .containsEntry(EnvoyContract.METADATA_POOL, "head")
        .containsEntry(EnvoyContract.METADATA_REASON, "write");
  }

  @Test
  void writesAreMarkedSoEnvoyNeverRetriesThemBlindly() throws Exception {
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    ProcessingResponse b = s.body(call("eth_sendRawTransaction", "[\"0x02f8\"]"));
    assertThat(setHeader(b, "x-chainroute-pool")).isEqualTo("head");
    assertThat(setHeader(b, "x-chainroute-write")).isEqualTo("true");
  }

  @Test
  void malformedJsonGetsAParseErrorAsAnImmediateResponse() throws Exception {
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    ProcessingResponse r = s.body("{\"jsonrpc\":\"2.0\",");
    assertThat(r.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(200);
    JsonNode body = immediateBody(r);
    assertThat(body.get("error").get("code").asInt()).isEqualTo(-32700);
    assertThat(body.get("id").isNull()).isTrue();
    assertThat(
            r.getImmediateResponse()
                .getHeaders()
                .getSetHeaders(0)
                .getHeader()
                .getRawValue()
                .toStringUtf8())
        .isEqualTo("application/json");
  }

  @Test
  void aPostWithoutBodyIsAParseErrorAtTheHeadersStep() throws Exception {
    Stream s = new Stream();
    JsonNode body = immediateBody(s.headers("POST", "/eth", true));
    assertThat(body.get("error").get("code").asInt()).isEqualTo(-32700);
  }

  @Test
  void noUsableNodeGives503WithAJsonRpcErrorNamingTheChain() throws Exception {
    topology.set(topology(EndpointStatus.NONE, EndpointStatus.NONE));
    Stream s = new Stream();
    s.headers("POST", "/eth", false);
    ProcessingResponse r =
        s.body("{\"jsonrpc\":\"2.0\",\"id\":\"q-7\",\"method\":\"eth_gasPrice\"}");
    assertThat(r.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(503);
    JsonNode body = immediateBody(r);
    assertThat(body.get("id").asText()).isEqualTo("q-7");
    assertThat(body.get("error").get("code").asInt()).isEqualTo(-32002);
    assertThat(body.get("error").get("message").asText()).contains("eth");
  }

  @Test
  void aGetSkipsBodyBufferingAndAnUnknownPathPassesThrough() throws Exception {
    Stream get = new Stream();
    ProcessingResponse g = get.headers("GET", "/eth", true);
    assertThat(g.getModeOverride().getRequestBodyMode())
        .isEqualTo(ProcessingMode.BodySendMode.NONE);

    Stream other = new Stream();
    ProcessingResponse o = other.headers("POST", "/ethereum", false);
    assertThat(o.hasRequestHeaders()).isTrue();
    assertThat(o.getModeOverride().getRequestBodyMode())
        .isEqualTo(ProcessingMode.BodySendMode.NONE);
  }

  @Test
  void theServiceKeepsServingAfterBadInputAndCancelledStreams() throws Exception {
    Stream bad = new Stream();
    bad.headers("POST", "/eth", false);
    bad.body("\u0000\u0001garbage");
    bad.requests.onError(new RuntimeException("Envoy reset the stream"));

    Stream good = new Stream();
    good.headers("POST", "/eth", false);
    assertThat(setHeader(good.body(call("eth_gasPrice", "[]")), "x-chainroute-pool"))
        .isEqualTo("head");
    good.requests.onCompleted();
    assertThat(good.error).isNull();
  }
}
