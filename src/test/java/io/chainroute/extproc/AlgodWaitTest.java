package io.chainroute.extproc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.chainroute.chain.algod.AlgodAdapter;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import io.chainroute.height.Topology;
import io.chainroute.pipeline.HeldRequests;
import io.chainroute.pipeline.RequestPipeline;
import io.envoyproxy.envoy.config.core.v3.HeaderMap;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode;
import io.envoyproxy.envoy.service.ext_proc.v3.ExternalProcessorGrpc;
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
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * algod requests through ext_proc: routed on the request line, waits held on the chain's rounds.
 */
class AlgodWaitTest {
  private final NodeConfig a = TestConfigs.node("a", "http://10.0.0.1:8080").build();
  private final NodeConfig b = TestConfigs.node("b", "http://10.0.0.2:8080").build();
  private final ChainConfig chain = TestConfigs.algorand("algo").nodes(a, b).build();
  private final AtomicReference<Topology> topology = new AtomicReference<>();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final HeldRequests held = new HeldRequests(timer, topology::get, 100);
  private Server server;
  private ManagedChannel channel;

  private static NodeView node(NodeConfig n, long head, Health h) {
    EndpointStatus s = h == Health.SYNCED ? EndpointStatus.HEALTHY : EndpointStatus.NONE;
    byte[] raw = ("{\"last-round\":" + head + "}").getBytes(StandardCharsets.UTF_8);
    return new NodeView(
        n, head, 0, h, "", s, 1, 0, n.host(), new AlgodAdapter().readHeadProbe(200, raw).state());
  }

  private void set(long version, NodeView... nodes) {
    long head = 0;
    for (NodeView n : nodes) {
      head = Math.max(head, n.head());
    }
    topology.set(Topology.of(version, List.of(new ChainView(chain, head, List.of(nodes)))));
    held.onTopology(topology.get());
  }

  @BeforeEach
  void start() throws Exception {
    set(1, node(a, 100, Health.SYNCED), node(b, 100, Health.SYNCED));
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(
                new ExtProcService(
                    new RequestPipeline(
                        List.of(chain),
                        Map.of("algo", new AlgodAdapter()),
                        topology::get,
                        topology::get,
                        held,
                        Duration.ofSeconds(5))))
            .build()
            .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
    timer.shutdownNow();
  }

  private final class Stream implements StreamObserver<ProcessingResponse> {
    final BlockingQueue<ProcessingResponse> responses = new LinkedBlockingQueue<>();
    final StreamObserver<ProcessingRequest> requests =
        ExternalProcessorGrpc.newStub(channel).process(this);

    void headers(String method, String path) {
      HeaderMap h =
          HeaderMap.newBuilder()
              .addHeaders(
                  HeaderValue.newBuilder()
                      .setKey(":method")
                      .setRawValue(ByteString.copyFromUtf8(method)))
              .addHeaders(
                  HeaderValue.newBuilder()
                      .setKey(":path")
                      .setRawValue(ByteString.copyFromUtf8(path)))
              .build();
      requests.onNext(
          ProcessingRequest.newBuilder()
              .setRequestHeaders(
                  HttpHeaders.newBuilder().setHeaders(h).setEndOfStream(!method.equals("POST")))
              .build());
    }

    ProcessingResponse next() throws InterruptedException {
      ProcessingResponse r = responses.poll(5, TimeUnit.SECONDS);
      assertThat(r).as("a response").isNotNull();
      return r;
    }

    @Override
    public void onNext(ProcessingResponse value) {
      responses.add(value);
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  private static String body(ProcessingResponse r) {
    return r.getImmediateResponse().getBody().toString(StandardCharsets.UTF_8);
  }

  @Test
  void aWaitForAPassedRoundIsAnsweredAtOnceWithTheFreshestNodesStatus() throws Exception {
    set(2, node(a, 105, Health.SYNCED), node(b, 104, Health.LAGGING));
    Stream s = new Stream();
    s.headers("GET", "/algo/v2/status/wait-for-block-after/103");
    ProcessingResponse r = s.next();
    assertThat(r.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(200);
    assertThat(body(r)).isEqualTo("{\"last-round\":105}");
  }

  @Test
  void aWaitIsHeldUntilTheFirstSyncedNodePassesTheRoundEvenIfTheLeaderStalls() throws Exception {
    Stream s = new Stream();
    s.headers("GET", "/algo/v2/status/wait-for-block-after/100");
    assertThat(s.next().getOverrideMessageTimeout().getSeconds()).isGreaterThan(60);
    // a reaches 101 but is not synced by chainroute's rules (e.g. stalled leader): keep waiting.
    set(2, node(a, 101, Health.STALLED), node(b, 100, Health.SYNCED));
    assertThat(s.responses.poll(200, TimeUnit.MILLISECONDS)).isNull();
    set(3, node(a, 101, Health.STALLED), node(b, 101, Health.SYNCED));
    ProcessingResponse r = s.next();
    assertThat(body(r)).isEqualTo("{\"last-round\":101}");
    assertThat(held.size()).isZero();
  }

  @Test
  void everyNodeInCatchupGetsAlgods503AndShutdownGetsAlgods500() throws Exception {
    set(2, node(a, 100, Health.SYNCING), node(b, 100, Health.SYNCING));
    Stream s = new Stream();
    s.headers("GET", "/algo/v2/status/wait-for-block-after/100");
    ProcessingResponse r = s.next();
    assertThat(r.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(503);
    assertThat(body(r)).isEqualTo("{\"message\":\"operation not available during catchup\"}\n");

    set(3, node(a, 100, Health.SYNCED), node(b, 100, Health.SYNCED));
    Stream waiting = new Stream();
    waiting.headers("GET", "/algo/v2/status/wait-for-block-after/500");
    waiting.next(); // timeout extension
    held.shutdown();
    ProcessingResponse down = waiting.next();
    assertThat(down.getImmediateResponse().getStatus().getCodeValue()).isEqualTo(500);
    assertThat(body(down))
        .isEqualTo("{\"message\":\"operation aborted as server is shutting down\"}\n");
  }

  @Test
  void otherRequestsAreRoutedOnTheRequestLineWithoutBufferingTheBody() throws Exception {
    Stream post = new Stream();
    post.headers("POST", "/algo/v2/transactions");
    ProcessingResponse r = post.next();
    assertThat(r.getModeOverride().getRequestBodyMode())
        .isEqualTo(ProcessingMode.BodySendMode.NONE);
    assertThat(r.getRequestHeaders().getResponse().getClearRouteCache()).isTrue();
    assertThat(r.getRequestHeaders().getResponse().getHeaderMutation().getSetHeadersList())
        .extracting(h -> h.getHeader().getKey() + "=" + h.getHeader().getRawValue().toStringUtf8())
        .containsExactlyInAnyOrder("x-chainroute-pool=head", "x-chainroute-write=true");
  }
}
