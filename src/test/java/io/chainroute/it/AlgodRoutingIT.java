package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.algorand.algosdk.v2.client.common.AlgodClient;
import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * algod through a real Envoy to a private network of three real algod nodes ({@link AlgodNet}:
 * relay, follower, archival), each with the API token algod wrote for it (two configured by the
 * {@code tokenEnv} shorthand, one by an explicit {@code headers:} entry). chainroute runs in this
 * JVM with its real gRPC servers. Tests run in order; the drills fault the follower (the relay
 * makes the rounds: without it the chain stops) and heal the network afterwards.
 *
 * <p>Archival routing needs a chain longer than a non-archival node keeps (over 1000 rounds, about
 * 45 minutes of this network's rounds): {@link AlgodArchivalIT} runs it on a network with a
 * shortened history.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AlgodRoutingIT {
  /**
   * About 2.5 s between rounds on this network; a bound of two rounds leaves room for a slow CI.
   */
  private static final Duration TWO_ROUNDS = Duration.ofSeconds(6);

  /** algod-loadb's bound for a stopped or hung node to leave the pool. */
  private static final Duration OUT_OF_POOL = Duration.ofMillis(4500);

  private static final HttpClient HTTP =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private Path dir;
  private AlgodNet net;
  private Sidecar sidecar;
  private EnvoyProcess envoy;
  private int adminGrpcPort;
  private int adminHttpPort;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algod-it");
    net = AlgodNet.start(dir);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    adminGrpcPort = Ports.free();
    adminHttpPort = Ports.free();
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 20s }
        # 1000 connections opening at once on a 2-core CI machine (Envoy, this JVM and the client)
        # can delay an ext_proc answer past the 500 ms default; Envoy would then fail open.
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true, messageTimeout: 3s }
        chains:
          - name: algo-it
            protocol: algorand
            pathPrefix: /algo
            blockTime: 3s
            pollInterval: 200ms
            probeTimeout: 1s
            nodes:
              - { name: relay, url: "%s", tokenEnv: TOKEN_RELAY }
              # The explicit form of what tokenEnv is shorthand for.
              - { name: follower, url: "%s", headers: { X-Algo-API-Token: { env: TOKEN_FOLLOWER } } }
              - { name: archive, url: "%s", archive: true, tokenEnv: TOKEN_ARCHIVE }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                adminHttpPort,
                adminGrpcPort,
                listener,
                envoyAdmin,
                net.relay().url(),
                net.follower().url(),
                net.archive().url());
    Map<String, String> env =
        Map.of(
            "TOKEN_RELAY", net.relay().token(),
            "TOKEN_FOLLOWER", net.follower().token(),
            "TOKEN_ARCHIVE", net.archive().token());
    ChainrouteConfig config = ConfigLoader.parse(yaml, env::get);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algod-it", listener, envoyAdmin);
    awaitAllHealthy();
  }

  @AfterEach
  void heal() {
    net.heal();
  }

  @AfterAll
  void stop() {
    Ports.closeAll(envoy, sidecar, net);
  }

  private void awaitAllHealthy() {
    await("every algod node HEALTHY in Envoy's head pool")
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .ignoreExceptions()
        .until(
            () ->
                net.nodes().stream().allMatch(n -> headHealthy().contains(n.address()))
                    && get("/algo/v2/status").statusCode() == 200);
  }

  /** The addresses Envoy's {@code algo-it-head} cluster holds as healthy. */
  private Set<String> headHealthy() {
    Set<String> out = new HashSet<>();
    for (String line : envoy.admin("/clusters").split("\n")) {
      String[] f = line.split("::");
      if (f.length == 4
          && f[0].equals("algo-it-head")
          && f[2].equals("health_flags")
          && f[3].equals("healthy")) {
        out.add(f[1]);
      }
    }
    return out;
  }

  private HttpResponse<String> get(String path, String... headers) throws Exception {
    return get(Duration.ofSeconds(70), path, headers);
  }

  private HttpResponse<String> get(Duration timeout, String path, String... headers)
      throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(envoy.url(path))).timeout(timeout);
    for (int i = 0; i < headers.length; i += 2) {
      r.header(headers[i], headers[i + 1]);
    }
    return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String upstream(HttpResponse<?> r) {
    return r.headers().firstValue("x-chainroute-upstream").orElse("");
  }

  private static long lastRound(HttpResponse<String> r) {
    return parse(r.body()).get("last-round").asLong();
  }

  private static JsonNode parse(String body) {
    try {
      return Rpc.JSON.readTree(body);
    } catch (Exception e) {
      throw new AssertionError("not JSON: " + body, e);
    }
  }

  @Test
  @Order(1)
  void eachNodeGetsItsOwnTokenAndTheClientsTokenIsNotForwarded() throws Exception {
    // The real nodes' tokens differ, and one node refuses another's.
    assertThat(Set.of(net.relay().token(), net.follower().token(), net.archive().token()))
        .hasSize(3);
    HttpResponse<byte[]> wrong =
        net.relay()
            .send(
                HttpRequest.newBuilder(URI.create(net.relay().url() + "/v2/status"))
                    .header("X-Algo-API-Token", net.follower().token())
                    .build());
    assertThat(wrong.statusCode()).isEqualTo(401);
    Set<String> upstreams = new HashSet<>();
    for (int i = 0; i < 30; i++) {
      HttpResponse<String> r = get("/algo/v2/status", "X-Algo-API-Token", "the-clients-own-token");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      upstreams.add(upstream(r));
    }
    assertThat(upstreams)
        .isSubsetOf(net.relay().address(), net.follower().address(), net.archive().address())
        .hasSizeGreaterThan(1);
  }

  @Test
  @Order(2)
  void waitForBlockAfterIsAnsweredByChainrouteWhenTheFirstNodeReachesTheRound() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    long start = System.nanoTime();
    HttpResponse<String> r = get("/algo/v2/status/wait-for-block-after/" + now);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(lastRound(r)).isGreaterThan(now);
    assertThat(upstream(r)).as("answered by chainroute, not by a node").isIn("", "-");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(TWO_ROUNDS);
    // An old round is answered at once.
    long oldStart = System.nanoTime();
    HttpResponse<String> old = get("/algo/v2/status/wait-for-block-after/1");
    assertThat(lastRound(old)).isGreaterThan(1);
    assertThat(Duration.ofNanos(System.nanoTime() - oldStart)).isLessThan(Duration.ofSeconds(1));
  }

  @Test
  @Order(3)
  void algosdkWithAPathPrefixInItsBaseUrlReachesTheChainUnderIt() throws Exception {
    // The Java algosdk keeps the path of the URL it is given and appends its own.
    AlgodClient client =
        new AlgodClient("http://127.0.0.1/algo", envoy.listenerPort, "the-clients-token");
    var status = client.GetStatus().execute();
    assertThat(status.isSuccessful()).as(status.message()).isTrue();
    assertThat(status.body().lastRound).isPositive();
    // versionsCheck() and genesis() in algosdk: /versions and /genesis, which need no token.
    var version = client.GetVersion().execute();
    assertThat(version.isSuccessful()).as(version.message()).isTrue();
    assertThat(version.body().genesis_id).isEqualTo(AlgodNet.GENESIS_ID);
    HttpResponse<String> genesis = get("/algo/genesis");
    assertThat(genesis.statusCode()).as(genesis.body()).isEqualTo(200);
    assertThat(parse(genesis.body()).get("network").asText()).isEqualTo(AlgodNet.NETWORK);
  }

  @Test
  @Order(4)
  void aThousandConcurrentWaitsAreHeldAndAllAnswered() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<CompletableFuture<HttpResponse<String>>> waits = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      if (i % 100 == 99) {
        // Open the 1000 connections over about a second, not in one burst: on 2 cores a burst of
        // new connections can exceed ext_proc's message timeout before the hold starts.
        Thread.sleep(100);
      }
      waits.add(
          client.sendAsync(
              HttpRequest.newBuilder(
                      URI.create(envoy.url("/algo/v2/status/wait-for-block-after/" + (now + 1))))
                  .timeout(Duration.ofSeconds(60))
                  .build(),
              HttpResponse.BodyHandlers.ofString()));
    }
    CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    for (CompletableFuture<HttpResponse<String>> w : waits) {
      HttpResponse<String> r = w.get();
      assertThat(r.statusCode()).as(r.body() + " " + r.headers().map()).isEqualTo(200);
      assertThat(lastRound(r)).isGreaterThan(now + 1);
      // Answered by chainroute itself (an ImmediateResponse), not by a node.
      assertThat(upstream(r))
          .as("upstream (Envoy: %s)", envoy.admin("/stats?filter=ext_proc"))
          .isIn("", "-");
    }
    // They were held on the hold cluster, not on the one that bounds ordinary requests.
    assertThat(stat("cluster.chainroute_extproc_hold.upstream_rq_total"))
        .isGreaterThanOrEqualTo(1000);
    assertThat(stat("cluster.chainroute_extproc.upstream_rq_total")).isLessThan(1000);
  }

  private long stat(String name) {
    String regex = "^" + name.replace(".", "[.]") + "$";
    String line =
        envoy
            .admin(
                "/stats?filter="
                    + java.net.URLEncoder.encode(regex, java.nio.charset.StandardCharsets.UTF_8))
            .trim();
    return line.isEmpty() ? 0 : Long.parseLong(line.substring(line.lastIndexOf(' ') + 1));
  }

  @Test
  @Order(5)
  void aHungFollowerLeavesTheHeadPoolWithinTheBoundAndRejoinsOnceResumed() throws Exception {
    try (RoundConsistency drill = RoundConsistency.start(this)) {
      AlgodNet.Node follower = net.follower();
      long hungAt = System.nanoTime();
      follower.hang();
      long out = DrillRig.firstTime(Duration.ofSeconds(15), () -> !servesHead(follower));
      long lastServed = drill.lastServedBy(follower.address());
      DrillRig.sleep(Duration.ofSeconds(2));
      long resumedAt = System.nanoTime();
      follower.resume();
      long back = DrillRig.firstTime(Duration.ofSeconds(30), () -> servesHead(follower));
      drill.stop();
      DrillRig.report(
          "algod-follower-sigstop",
          "outOfPoolMs=%d lastRequestServedMs=%d rejoinMs=%d %s"
              .formatted(
                  DrillRig.ms(hungAt, out),
                  DrillRig.ms(hungAt, lastServed),
                  DrillRig.ms(resumedAt, back),
                  drill.figures()));
      assertThat(out).as("out of the head pool").isPositive();
      assertThat(Duration.ofNanos(out - hungAt)).isLessThanOrEqualTo(OUT_OF_POOL);
      assertThat(back).as("back in the head pool after SIGCONT").isPositive();
      drill.assertConsistent();
    }
  }

  @Test
  @Order(6)
  void aStoppedFollowerLeavesTheHeadPoolAndRejoinsAfterCatchingUp() throws Exception {
    try (RoundConsistency drill = RoundConsistency.start(this)) {
      AlgodNet.Node follower = net.follower();
      long stoppedAt = System.nanoTime();
      follower.stop();
      long out = DrillRig.firstTime(Duration.ofSeconds(15), () -> !servesHead(follower));
      long behindFrom = net.relay().lastRound();
      // Stay down for a few rounds: the restarted node has rounds to catch up.
      await("the chain moves on without the follower")
          .atMost(Duration.ofSeconds(20))
          .until(() -> net.relay().lastRound() >= behindFrom + 3);
      long behind = net.relay().lastRound() - behindFrom;
      long startedAt = System.nanoTime();
      follower.start();
      long back = DrillRig.firstTime(Duration.ofSeconds(40), () -> servesHead(follower));
      drill.stop();
      DrillRig.report(
          "algod-follower-goal-node-stop",
          "outOfPoolMs=%d roundsBehindAtRestart=%d rejoinAfterStartMs=%d %s"
              .formatted(
                  DrillRig.ms(stoppedAt, out),
                  behind,
                  DrillRig.ms(startedAt, back),
                  drill.figures()));
      assertThat(out).as("out of the head pool").isPositive();
      assertThat(Duration.ofNanos(out - stoppedAt)).isLessThanOrEqualTo(OUT_OF_POOL);
      assertThat(back).as("back in the head pool after catching up").isPositive();
      drill.assertConsistent();
    }
  }

  /** The node is a healthy member of Envoy's head cluster. */
  private boolean servesHead(AlgodNet.Node node) {
    return headHealthy().contains(node.address());
  }

  @Test
  @Order(7)
  void aHeldWaitSurvivesTheNodesStallingAndIsAnsweredFromTheRelay() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    CompletableFuture<HttpResponse<String>> wait =
        HTTP.sendAsync(
            HttpRequest.newBuilder(
                    URI.create(envoy.url("/algo/v2/status/wait-for-block-after/" + (now + 1))))
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    // Every node but the relay hangs while the wait is held.
    net.follower().hang();
    net.archive().hang();
    HttpResponse<String> r = wait.get(3 * TWO_ROUNDS.toSeconds(), TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(lastRound(r)).isGreaterThan(now + 1);
    assertThat(upstream(r)).isIn("", "-");
  }

  @Test
  @Order(8)
  void aDrainedNodeGetsNoNewRequestsAndUndrainRestoresItWithoutFailedRequests() throws Exception {
    io.grpc.ManagedChannel channel =
        io.grpc.ManagedChannelBuilder.forAddress("127.0.0.1", adminGrpcPort).usePlaintext().build();
    String follower = net.follower().address();
    try {
      var admin = io.chainroute.admin.v1.AdminServiceGrpc.newBlockingStub(channel);
      var request =
          io.chainroute.admin.v1.DrainNodeRequest.newBuilder()
              .setChain("algo-it")
              .setNode("follower")
              .build();
      assertThat(admin.drainNode(request).getHealth())
          .isEqualTo(io.chainroute.admin.v1.Health.HEALTH_DRAINED);
      await("Envoy drops the drained node")
          .atMost(Duration.ofSeconds(5))
          .until(() -> !envoy.admin("/clusters").contains("algo-it-head::" + follower));
      for (int i = 0; i < 30; i++) {
        HttpResponse<String> r = get("/algo/v2/status");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(upstream(r)).isNotEqualTo(follower);
      }
      assertThat(admin.undrainNode(request).getHealth())
          .isNotEqualTo(io.chainroute.admin.v1.Health.HEALTH_DRAINED);
      await("undrained node serves again")
          .atMost(Duration.ofSeconds(10))
          .until(() -> upstream(get("/algo/v2/status")).equals(follower));
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  @Order(9)
  void onShutdownAHeldWaitGetsAlgodsShutdownAnswer() throws Exception {
    long now = lastRound(get("/algo/v2/status"));
    CompletableFuture<HttpResponse<String>> wait =
        HTTP.sendAsync(
            HttpRequest.newBuilder(
                    URI.create(envoy.url("/algo/v2/status/wait-for-block-after/" + (now + 1000))))
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    await("held")
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(2))
        .until(() -> !wait.isDone());
    long start = System.nanoTime();
    sidecar.close();
    HttpResponse<String> r = wait.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body())
        .isEqualTo("{\"message\":\"operation aborted as server is shutting down\"}\n");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  /**
   * The "told round N exists, then routed to a node below N" count, while a drill faults a node: a
   * client thread long-polls {@code wait-for-block-after} through chainroute and, for each round N
   * it is told of, asks at once for block N and its hash ({@code /v2/blocks/N}, {@code
   * /v2/blocks/N/hash}); a second thread reads {@code /v2/status} (answered by some node) and asks
   * for the block of the round that node named. A 404 is a request for a round the client was told
   * exists that reached a node below it.
   */
  static final class RoundConsistency implements AutoCloseable {
    private static final int STATUS_READERS = 3;

    /**
     * A follow-up that reaches a hung node gets no answer: given up after this, counted among the
     * other failures, so one hung request does not stop the count.
     */
    private static final Duration FOLLOW_UP_TIMEOUT = Duration.ofSeconds(2);

    private final AlgodRoutingIT it;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong told = new AtomicLong();
    private final AtomicLong followUps = new AtomicLong();
    private final AtomicLong belowN = new AtomicLong();
    private final AtomicLong otherFailures = new AtomicLong();
    private final java.util.concurrent.ConcurrentHashMap<String, Long> lastServed =
        new java.util.concurrent.ConcurrentHashMap<>();
    private final List<String> examples = java.util.Collections.synchronizedList(new ArrayList<>());
    private final List<Thread> threads = new ArrayList<>();

    private RoundConsistency(AlgodRoutingIT it) {
      this.it = it;
    }

    static RoundConsistency start(AlgodRoutingIT it) {
      RoundConsistency c = new RoundConsistency(it);
      c.threads.add(new Thread(c::waits, "algod-waits"));
      for (int i = 0; i < STATUS_READERS; i++) {
        c.threads.add(new Thread(c::statusReads, "algod-status-" + i));
      }
      c.threads.forEach(Thread::start);
      return c;
    }

    private void waits() {
      long round = -1;
      while (running.get()) {
        try {
          if (round < 0) {
            round = lastRound(it.get("/algo/v2/status"));
          }
          HttpResponse<String> r = it.get("/algo/v2/status/wait-for-block-after/" + round);
          if (r.statusCode() != 200) {
            otherFailures.incrementAndGet();
            continue;
          }
          long n = lastRound(r);
          told.incrementAndGet();
          followUp(n, "/algo/v2/blocks/" + n);
          followUp(n, "/algo/v2/blocks/" + n + "/hash");
          followUp(n, "/algo/v2/blocks/" + n + "?format=msgpack");
          round = n;
        } catch (Exception e) {
          otherFailures.incrementAndGet();
        }
      }
    }

    private void statusReads() {
      while (running.get()) {
        try {
          HttpResponse<String> s = it.get(FOLLOW_UP_TIMEOUT, "/algo/v2/status");
          note(s);
          if (s.statusCode() != 200) {
            otherFailures.incrementAndGet();
            continue;
          }
          long n = lastRound(s);
          told.incrementAndGet();
          followUp(n, "/algo/v2/blocks/" + n + "?header-only=true");
          DrillRig.sleep(Duration.ofMillis(50));
        } catch (Exception e) {
          otherFailures.incrementAndGet();
        }
      }
    }

    private void followUp(long n, String path) throws Exception {
      HttpResponse<String> b = it.get(FOLLOW_UP_TIMEOUT, path);
      note(b);
      followUps.incrementAndGet();
      if (b.statusCode() == 404) {
        belowN.incrementAndGet();
        if (examples.size() < 5) {
          examples.add("told " + n + ", " + path + " -> " + upstream(b) + " " + b.body().trim());
        }
      } else if (b.statusCode() != 200) {
        otherFailures.incrementAndGet();
      }
    }

    private void note(HttpResponse<String> r) {
      String u = upstream(r);
      if (!u.isEmpty() && r.statusCode() == 200) {
        lastServed.put(u, System.nanoTime());
      }
    }

    /** When a request last got a 200 from the node at {@code address}; -1: never. */
    long lastServedBy(String address) {
      return lastServed.getOrDefault(address, -1L);
    }

    void stop() {
      running.set(false);
      for (Thread t : threads) {
        try {
          // A long poll in flight ends with the next round.
          t.join(Duration.ofSeconds(10).toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    String figures() {
      return "toldRounds=%d followUps=%d routedBelowN=%d otherFailures=%d"
          .formatted(told.get(), followUps.get(), belowN.get(), otherFailures.get());
    }

    void assertConsistent() {
      assertThat(told.get()).as("rounds told").isPositive();
      assertThat(followUps.get()).as("follow-ups sent").isPositive();
      assertThat(belowN.get()).as("follow-ups routed below N: %s", examples).isZero();
    }

    @Override
    public void close() {
      stop();
    }
  }
}
