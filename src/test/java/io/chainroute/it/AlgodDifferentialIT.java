package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.chainroute.Sidecar;
import io.chainroute.chain.algod.AlgodAdapter;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.testing.algodsim.AlgodSimulator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * "As algod as possible", checked against algod itself: the same requests go straight to a real
 * algod node ({@link AlgodNet}) and through Envoy + chainroute to the same network, and must get
 * the same status code, the same {@code Content-Type} (and {@code Allow}, {@code
 * X-Algorand-Struct}) and the same body byte for byte, apart from the fields that move with time
 * ({@link #MOVING}). A routed answer is compared with the direct answer of the node that served it
 * ({@code x-chainroute-upstream}); one chainroute gave itself (a held {@code wait-for-block-after},
 * its 400 for a bad round) with the relay's. The same requests also go to the simulated algod
 * ({@link AlgodSimulator}), which must agree with the real node on everything that is not chain
 * data. Requests are written on a raw socket: malformed escapes, {@code HEAD} and {@code OPTIONS}
 * reach the servers as written.
 *
 * <p>One difference is the product's: a request without a token is refused by algod (401) and
 * served through chainroute, which authenticates to each node with that node's own token.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AlgodDifferentialIT {
  /** Fields of /v2/status and /v2/transactions/params whose values move with time. */
  private static final Pattern MOVING =
      Pattern.compile(
          "\"(last-round|time-since-last-round|next-version-round|catchup-time)\":[0-9]+");

  private static final String SIM_TOKEN = "sim-token";

  private Path dir;
  private AlgodNet net;
  private AlgodSimulator sim;
  private Sidecar sidecar;
  private EnvoyProcess envoy;

  @BeforeAll
  void start() throws Exception {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-algod-diff-it");
    net = AlgodNet.start(dir);
    // Archival: it has block 1, as the young real chain has.
    sim = new AlgodSimulator(0, Duration.ofSeconds(1), 5000, true, 1000, SIM_TOKEN);
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    ChainrouteConfig config = config(listener, envoyAdmin);
    sidecar = Sidecar.start(config);
    envoy = EnvoyProcess.start(dir, config, "algod-diff-it", listener, envoyAdmin);
    await("requests flow through Envoy")
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .until(() -> routed(Case.data("/v2/status")).status() == 200);
  }

  /** chainroute in front of the real network. */
  private ChainrouteConfig config(int listener, int envoyAdmin) {
    String yaml =
        """
        server: { xdsPort: %d, extProcPort: %d, adminHttpPort: %d, adminGrpcPort: %d, xdsCoalesce: 20ms, unavailableWait: 20s }
        envoy: { listenerPort: %d, adminPort: %d, exposeUpstreamHeader: true }
        chains:
          - name: algorand
            protocol: algorand
            pathPrefix: /
            blockTime: 3s
            pollInterval: 200ms
            nodes:
              - { name: relay, url: "%s", tokenEnv: T1 }
              - { name: follower, url: "%s", tokenEnv: T2 }
              - { name: archive, url: "%s", archive: true, tokenEnv: T3 }
        """
            .formatted(
                Ports.free(),
                Ports.free(),
                Ports.free(),
                Ports.free(),
                listener,
                envoyAdmin,
                net.relay().url(),
                net.follower().url(),
                net.archive().url());
    Map<String, String> tokens =
        Map.of(
            "T1", net.relay().token(), "T2", net.follower().token(), "T3", net.archive().token());
    return ConfigLoader.parse(yaml, tokens::get);
  }

  @AfterAll
  void stop() {
    Ports.closeAll(envoy, sidecar, net, sim);
  }

  /** How much of algod's answer the simulator must match. */
  enum Sim {
    /** Status, headers and body bytes (errors, 404/405, health). */
    EXACT,
    /** Status, headers, the body's field names and its final newline (chain data differs). */
    SHAPE,
    /** Status and headers (a block of another chain). */
    STATUS,
    /** Not compared: the reason is in {@link #SIM_UNCOMPARABLE}. */
    NONE
  }

  /**
   * What the simulator cannot match, and why: the JDK's HTTP server refuses a malformed escape
   * itself (its own 400 page), and algod answers a decodable but empty transaction with Go's dump
   * of the zero transaction.
   */
  private static final Map<String, String> SIM_UNCOMPARABLE =
      Map.of(
          "%zz", "JDK HttpServer's own 400",
          "%2", "JDK HttpServer's own 400",
          "(an empty map)", "Go's %+v of an empty SignedTxn");

  /** One request, and how far the simulator must agree. */
  record Case(String name, String method, String path, byte[] body, Sim sim) {
    static Case error(String method, String path) {
      return new Case(method + " " + path, method, path, null, sim(path, Sim.EXACT));
    }

    static Case data(String path) {
      return new Case(
          "GET " + path,
          "GET",
          path,
          null,
          path.startsWith("/v2/blocks/") ? Sim.STATUS : Sim.SHAPE);
    }

    private static Sim sim(String name, Sim otherwise) {
      return SIM_UNCOMPARABLE.keySet().stream().anyMatch(name::endsWith) ? Sim.NONE : otherwise;
    }
  }

  private List<Case> cases() {
    long now = net.relay().lastRound();
    List<Case> c = new ArrayList<>();
    c.add(Case.data("/v2/status"));
    c.add(Case.data("/v2/status/"));
    c.add(Case.data("/v2/transactions/params"));
    c.add(Case.data("/versions"));
    c.add(Case.data("/genesis"));
    c.add(Case.error("GET", "/health"));
    c.add(Case.error("GET", "/ready"));
    // wait-for-block-after: a past round (at once), the current round and the next (a round or
    // two later), the round that wraps to 0, a leading zero; then rounds algod refuses.
    c.add(Case.data("/v2/status/wait-for-block-after/1"));
    c.add(Case.data("/v2/status/wait-for-block-after/" + now));
    c.add(Case.data("/v2/status/wait-for-block-after/" + (now + 1)));
    c.add(Case.data("/v2/status/wait-for-block-after/18446744073709551615"));
    c.add(Case.data("/v2/status/wait-for-block-after/01"));
    for (String bad :
        List.of(
            "abc",
            "-1",
            "1.5",
            "0x10",
            "+5",
            "18446744073709551616",
            "%3C",
            "a%22b",
            "%C3%A9",
            "%FF",
            "a%00b",
            "%20",
            "5/extra",
            "abc/",
            "abc//",
            "abc?x=1",
            "%zz",
            "%2")) {
      c.add(Case.error("GET", "/v2/status/wait-for-block-after/" + bad));
    }
    c.add(Case.error("GET", "/v2/status/wait-for-block-after/"));
    c.add(Case.error("GET", "/v2/status/wait-for-block-after"));
    // Blocks, JSON and msgpack; a round not there yet; bad rounds and formats.
    c.add(Case.data("/v2/blocks/1"));
    c.add(Case.data("/v2/blocks/1?format=msgpack"));
    c.add(Case.data("/v2/blocks/1?format=msgpack&header-only=true"));
    c.add(Case.data("/v2/blocks/1?header-only=true"));
    c.add(Case.data("/v2/blocks/1/hash"));
    c.add(Case.data("/v2/blocks/1/txids"));
    c.add(Case.error("GET", "/v2/blocks/" + (now + 100_000)));
    c.add(Case.error("GET", "/v2/blocks/abc"));
    c.add(Case.error("GET", "/v2/blocks/-1"));
    c.add(Case.error("GET", "/v2/blocks/1?format=xml"));
    // Unknown paths, wrong methods on known paths.
    c.add(Case.error("GET", "/nope"));
    c.add(Case.error("GET", "/v2/nope"));
    c.add(Case.error("GET", "/v2/transactions/pending/NOSUCHTXID"));
    // A well-formed id no node knows: every node's pool is asked (Envoy retries the 404).
    c.add(Case.error("GET", "/v2/transactions/pending/" + "A".repeat(52)));
    c.add(Case.error("POST", "/v2/status"));
    c.add(Case.error("DELETE", "/v2/status/wait-for-block-after/5"));
    c.add(Case.error("POST", "/v2/status/wait-for-block-after/abc"));
    c.add(Case.error("HEAD", "/v2/status/wait-for-block-after/abc"));
    c.add(Case.error("OPTIONS", "/v2/status/wait-for-block-after/abc"));
    c.add(Case.error("GET", "/v2/transactions"));
    // Malformed transaction submits.
    c.add(
        new Case(
            "POST /v2/transactions (empty)", "POST", "/v2/transactions", new byte[0], Sim.EXACT));
    c.add(
        new Case(
            "POST /v2/transactions (not msgpack)",
            "POST",
            "/v2/transactions",
            "garbage".getBytes(StandardCharsets.US_ASCII),
            Sim.EXACT));
    c.add(
        new Case(
            "POST /v2/transactions (an empty map)",
            "POST",
            "/v2/transactions",
            new byte[] {(byte) 0x80},
            Sim.NONE));
    return c;
  }

  @Test
  void chainrouteAnswersWhatTheRealNodeAnswersAndSoDoesTheSimulator() {
    List<String> routedDiffs = new ArrayList<>();
    List<String> simDiffs = new ArrayList<>();
    int compared = 0;
    for (Case c : cases()) {
      Answer viaChainroute = routed(c);
      AlgodNet.Node node = nodeAt(viaChainroute.upstream());
      Answer direct = direct(c, node);
      compared++;
      String d = differences(direct, viaChainroute, Sim.EXACT);
      if (!d.isEmpty()) {
        routedDiffs.add(c.name() + " [" + node.name + " vs chainroute]: " + d);
      }
      if (c.sim() == Sim.NONE) {
        continue;
      }
      String s = differences(direct, simulated(c), c.sim());
      if (!s.isEmpty()) {
        simDiffs.add(c.name() + " [" + node.name + " vs simulator]: " + s);
      }
    }
    routedDiffs.forEach(d -> System.out.println("DIFF chainroute " + d));
    simDiffs.forEach(d -> System.out.println("DIFF simulator " + d));
    System.out.printf(
        "DIFFERENTIAL algod cases=%d chainrouteDiffs=%d simulatorDiffs=%d%n",
        compared, routedDiffs.size(), simDiffs.size());
    assertThat(routedDiffs).as("chainroute vs algod").isEmpty();
    assertThat(simDiffs).as("simulator vs algod").isEmpty();
  }

  @Test
  void withoutATokenAlgodRefusesAndChainrouteServesWithTheNodesOwnToken() {
    Case status = Case.data("/v2/status");
    Answer direct = send(net.relay().port, status, null);
    assertThat(direct.status()).isEqualTo(401);
    assertThat(direct.text()).isEqualTo("{\"message\":\"Invalid API Token\"}\n");
    assertThat(send(sim.port(), status, null).text()).isEqualTo(direct.text());
    Answer routed = send(envoy.listenerPort, status, null);
    assertThat(routed.status()).as(routed.text()).isEqualTo(200);
    // A wrong token is dropped as well: the node sees its own.
    Answer wrong = send(envoy.listenerPort, status, "not-the-token");
    assertThat(wrong.status()).as(wrong.text()).isEqualTo(200);
  }

  /**
   * Envoy's own replies on algod paths are framed as algod frames its errors. A transaction submit
   * over the body limit: algod (10 MB, echo's BodyLimit) answers 413 {@code Request Entity Too
   * Large}, Envoy (its buffer filter, {@code server.maxRequestBytes}) answers 413 before any node
   * sees it. Same status, same {@code Content-Type}, {@code {"message":...}} as Go's encoder writes
   * it with its final newline; only the message is Envoy's (it names the chain and the limit). That
   * chainroute's encoder is algod's is checked on algod's own body.
   */
  @Test
  void envoysOwnRepliesAreFramedAsAlgodFramesItsErrors() throws Exception {
    Answer algods = upload(net.relay().port, net.relay().token(), 11_000_000, 1024);
    assertThat(algods.status()).as(algods.text()).isEqualTo(413);
    String algodsMessage = Rpc.JSON.readTree(algods.body()).get("message").asText();
    assertThat(new String(AlgodAdapter.error(413, algodsMessage).body(), StandardCharsets.UTF_8))
        .as("algod's own 413, written by chainroute's encoder")
        .isEqualTo(algods.text());

    int limit = 4 * 1024 * 1024;
    Answer envoys = upload(envoy.listenerPort, null, limit + 1024, limit + 1024);
    assertThat(envoys.status()).as(envoys.text()).isEqualTo(413);
    assertThat(envoys.upstream()).as("no node saw it").isEmpty();
    String message = Rpc.JSON.readTree(envoys.body()).get("message").asText();
    assertThat(message)
        .isEqualTo("request body larger than " + limit + " bytes for chain 'algorand'");
    assertThat(envoys.text())
        .isEqualTo(new String(AlgodAdapter.error(413, message).body(), StandardCharsets.UTF_8));
    assertThat(envoys.headers().get("content-type"))
        .isEqualTo(algods.headers().get("content-type"));
    System.out.printf(
        "DIFFERENTIAL algod 413 algod=%s envoy=%s%n",
        algods.text().replace("\n", "\\n"), envoys.text().replace("\n", "\\n"));
  }

  /**
   * {@code POST /v2/transactions} declaring {@code length} bytes and sending {@code sent} of them
   * from another thread (the server may answer, and close, before it has read them all).
   */
  private static Answer upload(int port, String token, int length, int sent) throws Exception {
    try (Socket s = new Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout((int) Duration.ofSeconds(30).toMillis());
      String head =
          "POST /v2/transactions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Type:"
                  .formatted(port, token == null ? "" : "X-Algo-API-Token: " + token + "\r\n")
              + " application/x-binary\r\nContent-Length: %d\r\n\r\n".formatted(length);
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      java.util.concurrent.CompletableFuture<Void> writer =
          java.util.concurrent.CompletableFuture.runAsync(
              () -> {
                try {
                  out.write(new byte[sent]);
                  out.flush();
                } catch (IOException e) {
                  // the server answered and closed first
                }
              });
      Answer a = read(s.getInputStream(), false);
      writer.cancel(true);
      return a;
    }
  }

  private AlgodNet.Node nodeAt(String upstream) {
    for (AlgodNet.Node n : net.nodes()) {
      if (n.address().equals(upstream)) {
        return n;
      }
    }
    // Answered by chainroute itself: compared with the relay (algod's errors are the same on
    // every node).
    return net.relay();
  }

  private Answer routed(Case c) {
    return send(envoy.listenerPort, c, "the-clients-token");
  }

  private Answer direct(Case c, AlgodNet.Node node) {
    return send(node.port, c, node.token());
  }

  private Answer simulated(Case c) {
    return send(sim.port(), c, SIM_TOKEN);
  }

  /** What differs between algod's answer and another, or "" when they agree. */
  private static String differences(Answer algod, Answer other, Sim compare) {
    List<String> out = new ArrayList<>();
    if (algod.status() != other.status()) {
      out.add("status " + algod.status() + " vs " + other.status());
    }
    for (String h : List.of("content-type", "allow", "x-algorand-struct")) {
      String a = algod.headers().getOrDefault(h, "");
      String o = other.headers().getOrDefault(h, "");
      if (!a.equals(o)) {
        out.add(h + " '" + a + "' vs '" + o + "'");
      }
    }
    if (compare == Sim.EXACT) {
      if (!java.util.Arrays.equals(masked(algod), masked(other))) {
        out.add("body " + printable(algod) + " vs " + printable(other));
      }
    } else if (compare == Sim.SHAPE && algod.isJson() && other.isJson()) {
      java.util.Set<String> a = keys(algod);
      java.util.Set<String> o = keys(other);
      if (!a.equals(o)) {
        out.add("fields " + a + " vs " + o);
      }
      boolean nl = algod.text().endsWith("\n");
      if (nl != other.text().endsWith("\n")) {
        out.add("trailing newline " + nl + " vs " + !nl);
      }
    }
    return String.join("; ", out);
  }

  private static byte[] masked(Answer a) {
    if (!a.isJson()) {
      return a.body();
    }
    return MOVING.matcher(a.text()).replaceAll("\"$1\":#").getBytes(StandardCharsets.UTF_8);
  }

  private static String printable(Answer a) {
    String s =
        a.isJson() || a.text().chars().allMatch(ch -> ch >= 0x20 || ch == '\n') ? a.text() : "";
    if (s.isEmpty() && a.body().length > 0) {
      return "<" + a.body().length + " bytes>";
    }
    s = s.replace("\n", "\\n");
    return "'" + (s.length() > 160 ? s.substring(0, 160) + "..." : s) + "'";
  }

  /** Field names of a JSON object body, nested ones as {@code parent.child}. */
  private static java.util.Set<String> keys(Answer a) {
    java.util.Set<String> out = new TreeSet<>();
    try {
      collect(Rpc.JSON.readTree(a.body()), "", out);
    } catch (IOException e) {
      out.add("<not JSON>");
    }
    return out;
  }

  private static void collect(JsonNode n, String prefix, java.util.Set<String> out) {
    if (n == null || !n.isObject()) {
      return;
    }
    for (Map.Entry<String, JsonNode> e : n.properties()) {
      out.add(prefix + e.getKey());
      if (prefix.isEmpty()) {
        collect(e.getValue(), e.getKey() + ".", out);
      }
    }
  }

  /** One HTTP answer: status, headers (lower-case names, first value), body. */
  record Answer(int status, Map<String, String> headers, byte[] body) {
    String upstream() {
      return headers.getOrDefault("x-chainroute-upstream", "");
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    boolean isJson() {
      return headers.getOrDefault("content-type", "").startsWith("application/json");
    }
  }

  /**
   * One request on a fresh connection, written as given ({@code path} is sent raw), {@code token}
   * as {@code X-Algo-API-Token} unless null.
   */
  private static Answer send(int port, Case c, String token) {
    try (Socket s = new Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout((int) Duration.ofSeconds(70).toMillis());
      StringBuilder req = new StringBuilder();
      req.append(c.method()).append(' ').append(c.path()).append(" HTTP/1.1\r\n");
      req.append("Host: 127.0.0.1:").append(port).append("\r\n");
      req.append("Connection: close\r\n");
      if (token != null) {
        req.append("X-Algo-API-Token: ").append(token).append("\r\n");
      }
      if (c.body() != null) {
        req.append("Content-Type: application/x-binary\r\n");
        req.append("Content-Length: ").append(c.body().length).append("\r\n");
      }
      req.append("\r\n");
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      if (c.body() != null) {
        out.write(c.body());
      }
      out.flush();
      return read(s.getInputStream(), c.method().equals("HEAD"));
    } catch (IOException e) {
      throw new UncheckedIOException(c.name() + " on port " + port, e);
    }
  }

  private static Answer read(InputStream in, boolean head) throws IOException {
    String statusLine = line(in);
    int status = Integer.parseInt(statusLine.split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (String l = line(in); !l.isEmpty(); l = line(in)) {
      int colon = l.indexOf(':');
      headers.putIfAbsent(
          l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
    }
    if (head || status == 204 || status == 304) {
      return new Answer(status, headers, new byte[0]);
    }
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      for (int size = Integer.parseInt(line(in).split(";")[0].trim(), 16);
          size > 0;
          size = Integer.parseInt(line(in).split(";")[0].trim(), 16)) {
        body.write(in.readNBytes(size));
        line(in);
      }
    } else if (headers.containsKey("content-length")) {
      body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
    } else {
      body.write(in.readAllBytes());
    }
    return new Answer(status, headers, body.toByteArray());
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c >= 0 && c != '\n'; c = in.read()) {
      if (c != '\r') {
        b.write(c);
      }
    }
    return b.toString(StandardCharsets.ISO_8859_1);
  }
}
