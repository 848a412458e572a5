package io.chainroute.testing.algodsim;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * A simulated Algorand algod (REST v2), a test fixture for the ITs and the demo: no algod binary is
 * available from the registries. It reproduces the parts chainroute relies on, with status codes
 * and error bodies written from algod's documented behaviour (shared/reference/protocols.md part A;
 * texts in {@link AlgodErrors}), independent of chainroute's own algod adapter, so the tests that
 * compare chainroute's answers with algod's compare two independent writings: {@code /v2/status},
 * {@code /v2/status/wait-for-block-after/{round}} (60 s wait), {@code /v2/blocks/{round}} (JSON and
 * msgpack, 1000-round retention unless archival), {@code /v2/transactions} (POST), {@code
 * /v2/transactions/params}, {@code /v2/transactions/pending/{txid}}, {@code /versions}, {@code
 * /genesis}, {@code /health}, {@code /ready}, and API-token checks (the last four routes need no
 * token, A.4).
 *
 * <p>Controls for tests: {@link #stall}/{@link #resume} (stuck on a round), {@link #catchup} (fast
 * catchup: catchpoint set), {@link #stopAtUnsupportedRound}. The round advances every {@code
 * roundTime} on one scheduler thread; requests run on a cached pool (waits block a thread here: it
 * is a simulator, not the product).
 */
public final class AlgodSimulator implements AutoCloseable {
  /** algod's MaxTxnLife + 1: the blocks a non-archival node is guaranteed to serve. */
  public static final long DEFAULT_RETENTION = 1000;

  /** The simulated network: genesis id "sim-v1" (network "sim", schema id "v1"). */
  public static final String GENESIS_ID = "sim-v1";

  static final String PROTOCOL = "https://github.com/algorandfoundation/specs/tree/sim-v1";
  private static final String NEXT_PROTOCOL =
      "https://github.com/algorandfoundation/specs/tree/sim-v2";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofMinutes(1);
  private static final byte[] GENESIS = genesis();

  /**
   * A stand-in for algod's genesis hash (SHA-512/256 of "GE" and the canonical msgpack genesis):
   * SHA-512/256 of "GE" and the JSON served at /genesis. Distinct from every real network's.
   */
  static final String GENESIS_HASH =
      Base64.getEncoder()
          .encodeToString(
              AlgodMsgpack.sha512_256("GE".getBytes(StandardCharsets.US_ASCII), GENESIS));

  private final HttpServer server;
  private final ExecutorService pool;
  private final ScheduledExecutorService ticker;
  private final boolean archival;
  private final long retention;
  private final String token;
  private final Object lock = new Object();
  private long round;
  private long lastRoundNanos = System.nanoTime();
  private boolean stalled;
  private boolean catchup;
  private boolean unsupported;

  /** Node-local transaction pool and recently confirmed transactions: txid -> entry. */
  private final Map<String, Pending> txPool = new LinkedHashMap<>();

  private static final class Pending {
    final byte[] signedTxn;
    long confirmedRound;

    Pending(byte[] signedTxn) {
      this.signedTxn = signedTxn;
    }
  }

  /**
   * @param port 0 for any free port
   * @param startRound the round the node is at when it starts
   * @param token API token the node requires; empty for none
   */
  public AlgodSimulator(
      int port, Duration roundTime, long startRound, boolean archival, long retention, String token)
      throws IOException {
    this.archival = archival;
    this.retention = retention;
    this.token = token == null ? "" : token;
    this.round = startRound;
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 4096);
    pool = Executors.newCachedThreadPool(daemon("algod-sim-http"));
    server.setExecutor(pool);
    server.createContext("/", this::handle);
    ticker = Executors.newSingleThreadScheduledExecutor(daemon("algod-sim-rounds"));
    ticker.scheduleAtFixedRate(
        this::tick, roundTime.toNanos(), roundTime.toNanos(), TimeUnit.NANOSECONDS);
    server.start();
  }

  static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public String url() {
    return "http://127.0.0.1:" + port();
  }

  public long round() {
    synchronized (lock) {
      return round;
    }
  }

  /** Stops advancing (a node stuck on a round). */
  public void stall() {
    synchronized (lock) {
      stalled = true;
    }
  }

  public void resume() {
    synchronized (lock) {
      stalled = false;
    }
  }

  /** Jumps to {@code target} at once (e.g. to catch up with the others after a stall). */
  public void advanceTo(long target) {
    synchronized (lock) {
      if (target > round) {
        round = target;
        lastRoundNanos = System.nanoTime();
        lock.notifyAll();
      }
    }
  }

  /** Enters or leaves fast catchup: {@code catchpoint} is set and many endpoints answer 503. */
  public void catchup(boolean on) {
    synchronized (lock) {
      catchup = on;
    }
  }

  /** The node will never advance: the next protocol is not supported by this binary. */
  public void stopAtUnsupportedRound() {
    synchronized (lock) {
      unsupported = true;
      stalled = true;
    }
  }

  private void tick() {
    synchronized (lock) {
      if (!stalled && !catchup) {
        round++;
        lastRoundNanos = System.nanoTime();
        // Every pooled transaction is in the new block.
        for (Pending p : txPool.values()) {
          if (p.confirmedRound == 0) {
            p.confirmedRound = round;
          }
        }
        lock.notifyAll();
      }
    }
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      URI uri = ex.getRequestURI();
      String path = uri.getRawPath();
      // echo's RemoveTrailingSlash removes one.
      if (path.length() > 1 && path.endsWith("/")) {
        path = path.substring(0, path.length() - 1);
      }
      String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
      // echo routes before any middleware of a route runs: an unknown path is 404 and a known
      // one asked with another method 405 (OPTIONS: 204), with or without a token.
      String allowed = allowedMethod(path);
      if (allowed == null) {
        error(ex, 404, AlgodErrors.NOT_FOUND);
        return;
      }
      if (!allowed.equals(ex.getRequestMethod())) {
        ex.getResponseHeaders().set("Allow", "OPTIONS, " + allowed);
        if ("OPTIONS".equals(ex.getRequestMethod())) {
          ex.sendResponseHeaders(204, -1);
        } else if ("HEAD".equals(ex.getRequestMethod())) {
          ex.sendResponseHeaders(405, -1);
        } else {
          error(ex, 405, AlgodErrors.METHOD_NOT_ALLOWED);
        }
        return;
      }
      if (path.equals("/health") && get(ex)) {
        send(ex, 200, "application/json", "null");
        return;
      }
      if (path.equals("/ready") && get(ex)) {
        synchronized (lock) {
          send(ex, unsupported ? 500 : catchup ? 503 : 200, "application/json", "null");
        }
        return;
      }
      if (path.equals("/versions") && get(ex)) {
        send(ex, 200, "application/json", versions());
        return;
      }
      if (path.equals("/genesis") && get(ex)) {
        sendBytes(ex, 200, "application/json", GENESIS);
        return;
      }
      if (!token.isEmpty() && !token.equals(tokenOf(ex))) {
        error(ex, 401, AlgodErrors.INVALID_TOKEN);
        return;
      }
      if (path.equals("/v2/status") && get(ex)) {
        send(ex, 200, "application/json", status());
      } else if (path.startsWith("/v2/status/wait-for-block-after/") && get(ex)) {
        waitForBlock(ex, path.substring("/v2/status/wait-for-block-after/".length()));
      } else if (path.startsWith("/v2/blocks/") && get(ex)) {
        block(ex, path.substring("/v2/blocks/".length()), query);
      } else if (path.equals("/v2/transactions/params") && get(ex)) {
        params(ex);
      } else if (path.startsWith("/v2/transactions/pending/") && get(ex)) {
        pending(ex, path.substring("/v2/transactions/pending/".length()), query);
      } else if (path.equals("/v2/transactions") && "POST".equals(ex.getRequestMethod())) {
        submit(ex);
      } else {
        error(ex, 404, AlgodErrors.NOT_FOUND);
      }
    }
  }

  /**
   * The method of the simulated route a path matches ({@code GET} or {@code POST}); null when it
   * matches none. A {@code {round}} or {@code {txid}} at the end takes the rest of the path, as
   * echo's router gives it.
   */
  static String allowedMethod(String path) {
    if (path.equals("/v2/transactions")) {
      return "POST";
    }
    boolean known =
        switch (path) {
          case "/health",
              "/ready",
              "/versions",
              "/genesis",
              "/v2/status",
              "/v2/transactions/params" ->
              true;
          default ->
              path.startsWith("/v2/status/wait-for-block-after/")
                  || path.startsWith("/v2/blocks/")
                  || path.startsWith("/v2/transactions/pending/");
        };
    return known ? "GET" : null;
  }

  private static boolean get(HttpExchange ex) {
    return "GET".equals(ex.getRequestMethod());
  }

  private static String tokenOf(HttpExchange ex) {
    String t = ex.getRequestHeaders().getFirst("X-Algo-API-Token");
    if (t != null) {
      return t;
    }
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    return auth != null && auth.startsWith("Bearer ") ? auth.substring(7) : "";
  }

  /** NodeStatusResponse (protocols.md A.1), fields in name order as algod's model writes them. */
  String status() {
    synchronized (lock) {
      ObjectNode s = JSON.createObjectNode();
      // algod writes every catchpoint field, empty or zero when no fast catchup runs.
      s.put("catchpoint", catchup ? (round + 10_000) + "#SIMULATEDCATCHPOINT" : "");
      for (String field :
          List.of(
              "acquired-blocks",
              "processed-accounts",
              "processed-kvs",
              "total-accounts",
              "total-blocks",
              "total-kvs",
              "verified-accounts",
              "verified-kvs")) {
        s.put("catchpoint-" + field, 0);
      }
      s.put("catchup-time", catchup ? 1_500_000_000L : 0L);
      s.put("last-catchpoint", "");
      s.put("last-round", round);
      s.put("last-version", PROTOCOL);
      s.put("next-version", unsupported ? NEXT_PROTOCOL : PROTOCOL);
      s.put("next-version-round", round + 1);
      s.put("next-version-supported", !unsupported);
      s.put("stopped-at-unsupported-round", unsupported);
      s.put("time-since-last-round", System.nanoTime() - lastRoundNanos);
      return s.toString();
    }
  }

  /** WaitForBlock (protocols.md A.2), step by step. */
  private void waitForBlock(HttpExchange ex, String rawRound) throws IOException {
    BigInteger r = round(ex, rawRound);
    if (r == null) {
      return;
    }
    synchronized (lock) {
      if (unsupported) {
        error(ex, 400, AlgodErrors.UNSUPPORTED_UPGRADE);
        return;
      }
      if (catchup) {
        error(ex, 503, AlgodErrors.CATCHUP);
        return;
      }
      // round+1 wraps to 0 for 2^64-1: it returns at once, as algod does.
      long target = r.bitLength() > 63 ? 0 : r.longValue() + 1;
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (round < target) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(lock, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          error(ex, 500, AlgodErrors.SHUTTING_DOWN);
          return;
        }
      }
    }
    send(ex, 200, "application/json", status());
  }

  private void block(HttpExchange ex, String rest, String query) throws IOException {
    int slash = rest.indexOf('/');
    String sub = slash < 0 ? "" : rest.substring(slash + 1);
    if (!sub.isEmpty() && !sub.equals("hash") && !sub.equals("txids")) {
      error(ex, 404, AlgodErrors.NOT_FOUND);
      return;
    }
    BigInteger r = round(ex, slash < 0 ? rest : rest.substring(0, slash));
    if (r == null) {
      return;
    }
    String format = "json";
    for (String kv : query.split("&")) {
      if (kv.startsWith("format=")) {
        format = kv.substring(7).toLowerCase(Locale.ROOT);
      }
    }
    if (!format.equals("json") && !format.equals("msgpack") && !format.equals("msgp")) {
      error(ex, 400, AlgodErrors.BAD_FORMAT);
      return;
    }
    long oldest;
    long latest;
    synchronized (lock) {
      latest = round;
      oldest = archival ? 0 : Math.max(0, round - retention);
    }
    if (r.bitLength() > 63 || r.longValue() > latest || r.longValue() < oldest) {
      error(ex, 404, AlgodErrors.NO_LEDGER_ENTRY);
      return;
    }
    long n = r.longValue();
    if (sub.equals("hash")) {
      send(
          ex,
          200,
          "application/json",
          JSON.createObjectNode().put("blockHash", AlgodMsgpack.base32(blockHash(n))).toString());
      return;
    }
    if (sub.equals("txids")) {
      // Simulated blocks carry no transactions.
      send(ex, 200, "application/json", "{\"blockTxids\":[]}");
      return;
    }
    TreeMap<String, Object> header = new TreeMap<>();
    header.put("gen", GENESIS_ID);
    // A 32-byte hash, as SDKs that decode the block with a schema (algosdk 3.x) expect; JSON
    // carries bytes as base64, as algod's JSON codec does.
    header.put("prev", blockHash(Math.max(0, n - 1)));
    header.put("rnd", n);
    header.put("ts", 1_700_000_000L + n * 3);
    if (format.equals("json")) {
      // algod's own JSON codec here (not echo's): indented by two spaces, no newline at the end,
      // a block hash as "blk-" and its base32.
      TreeMap<String, Object> json = new TreeMap<>(header);
      json.put("prev", "blk-" + AlgodMsgpack.base32(blockHash(Math.max(0, n - 1))));
      ObjectNode body = JSON.createObjectNode();
      body.set("block", JSON.valueToTree(json));
      sendBytes(ex, 200, "application/json", indented(body));
    } else {
      // The struct header marks a whole block (with its certificate), not header-only=true.
      if (!query.contains("header-only=true")) {
        ex.getResponseHeaders().set("X-Algorand-Struct", "block-v1");
      }
      sendBytes(ex, 200, "application/msgpack", AlgodMsgpack.block(header));
    }
  }

  /** JSON indented as Go's codec indents it: two spaces, {@code "key": value}. */
  private static byte[] indented(ObjectNode body) throws IOException {
    com.fasterxml.jackson.core.util.DefaultPrettyPrinter printer =
        new com.fasterxml.jackson.core.util.DefaultPrettyPrinter()
            .withSeparators(
                com.fasterxml.jackson.core.util.Separators.createDefaultInstance()
                    .withObjectFieldValueSpacing(
                        com.fasterxml.jackson.core.util.Separators.Spacing.AFTER));
    printer.indentArraysWith(
        com.fasterxml.jackson.core.util.DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
    printer.indentObjectsWith(new com.fasterxml.jackson.core.util.DefaultIndenter("  ", "\n"));
    return JSON.writer(printer).writeValueAsBytes(body);
  }

  private static byte[] blockHash(long round) {
    return AlgodMsgpack.sha512_256(("sim-block-" + round).getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * The {round} path parameter, percent-decoded as Go's router sees it; null after answering
   * algod's 400 when it is not a uint64.
   */
  private static BigInteger round(HttpExchange ex, String rawSegment) throws IOException {
    byte[] decoded = percentDecode(rawSegment);
    BigInteger r = AlgodErrors.parseRound(new String(decoded, StandardCharsets.UTF_8));
    if (r == null) {
      error(ex, 400, AlgodErrors.invalidRound(decoded));
    }
    return r;
  }

  /** %XX escapes to bytes; anything else (a malformed escape included) as it is. */
  static byte[] percentDecode(String raw) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] b = raw.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < b.length; i++) {
      int hi = i + 2 < b.length && b[i] == '%' ? Character.digit(b[i + 1], 16) : -1;
      int lo = hi < 0 ? -1 : Character.digit(b[i + 2], 16);
      if (lo >= 0) {
        out.write(hi * 16 + lo);
        i += 2;
      } else {
        out.write(b[i]);
      }
    }
    return out.toByteArray();
  }

  /** POST /v2/transactions: a msgpack SignedTxn (group); answers the first transaction's id. */
  private void submit(HttpExchange ex) throws IOException {
    byte[] body = ex.getRequestBody().readAllBytes();
    synchronized (lock) {
      if (catchup) {
        error(ex, 503, AlgodErrors.CATCHUP);
        return;
      }
    }
    if (body.length == 0) {
      error(ex, 400, AlgodErrors.EMPTY_TXGROUP);
      return;
    }
    int first = body[0] & 0xff;
    boolean mapOrArray = (first >= 0x80 && first <= 0x9f) || (first >= 0xdc && first <= 0xdf);
    if (!mapOrArray) {
      error(ex, 400, AlgodErrors.NOT_A_STRUCT);
      return;
    }
    List<AlgodMsgpack.Submitted> group;
    try {
      group = AlgodMsgpack.readGroup(body);
    } catch (IllegalArgumentException e) {
      // algod's text here is its msgpack decoder's; the simulator's decoder words it its own way.
      error(ex, 400, "msgpack decode error: " + e.getMessage());
      return;
    }
    synchronized (lock) {
      for (AlgodMsgpack.Submitted s : group) {
        txPool.put(s.txId(), new Pending(s.signedTxn()));
      }
    }
    send(
        ex,
        200,
        "application/json",
        JSON.createObjectNode().put("txId", group.get(0).txId()).toString());
  }

  /** GET /v2/transactions/pending/{txid}: this node's pool only (algod's pool is node-local). */
  private void pending(HttpExchange ex, String txid, String query) throws IOException {
    if (!txid.matches("[A-Z2-7]{52}")) {
      error(ex, 400, AlgodErrors.NO_VALID_TXID);
      return;
    }
    Pending p;
    long confirmed;
    synchronized (lock) {
      p = txPool.get(txid);
      confirmed = p == null ? 0 : p.confirmedRound;
    }
    if (p == null) {
      error(ex, 404, AlgodErrors.TXN_NOT_FOUND);
      return;
    }
    if (query.contains("format=msgpack")) {
      sendBytes(ex, 200, "application/msgpack", AlgodMsgpack.pending(confirmed, p.signedTxn));
      return;
    }
    // JSON: the simulator does not re-encode the transaction itself as JSON.
    ObjectNode r = JSON.createObjectNode();
    if (confirmed > 0) {
      r.put("confirmed-round", confirmed);
    }
    r.put("pool-error", "");
    send(ex, 200, "application/json", r.toString());
  }

  private void params(HttpExchange ex) throws IOException {
    synchronized (lock) {
      if (catchup) {
        error(ex, 503, AlgodErrors.CATCHUP);
        return;
      }
      ObjectNode p = JSON.createObjectNode();
      p.put("consensus-version", PROTOCOL);
      p.put("fee", 0);
      p.put("genesis-hash", GENESIS_HASH);
      p.put("genesis-id", GENESIS_ID);
      p.put("last-round", round);
      p.put("min-fee", 1000);
      send(ex, 200, "application/json", p.toString());
    }
  }

  /**
   * GET /versions (protocols.md A.1): the node's identity, {@code genesis_id}, {@code
   * genesis_hash_b64}, {@code build} and the API versions served.
   */
  static String versions() {
    ObjectNode build = JSON.createObjectNode();
    build.put("branch", "sim");
    build.put("build_number", 0);
    build.put("channel", "sim");
    build.put("commit_hash", "0000000");
    build.put("major", 4);
    build.put("minor", 0);
    ObjectNode v = JSON.createObjectNode();
    v.set("build", build);
    v.put("genesis_hash_b64", GENESIS_HASH);
    v.put("genesis_id", GENESIS_ID);
    v.putArray("versions").add("v2");
    return v.toString();
  }

  /**
   * GET /genesis: the network's genesis file (alloc, fees, id, network, proto, rwd): network "sim",
   * schema id "v1", three allocations (rewards pool, fee sink, one wallet).
   */
  private static byte[] genesis() {
    String rewards = simAddress("rewards-pool");
    String feeSink = simAddress("fee-sink");
    ObjectNode g = JSON.createObjectNode();
    ArrayNode alloc = g.putArray("alloc");
    alloc.add(allocation(rewards, "RewardsPool", 125_000_000_000_000L, 2));
    alloc.add(allocation(feeSink, "FeeSink", 100_000L, 2));
    alloc.add(allocation(simAddress("wallet-1"), "Wallet1", 10_000_000_000_000_000L, 1));
    g.put("fees", feeSink);
    g.put("id", "v1");
    g.put("network", "sim");
    g.put("proto", PROTOCOL);
    g.put("rwd", rewards);
    // A private network's genesis has timestamp 0, which algod leaves out.
    return (g.toString() + "\n").getBytes(StandardCharsets.UTF_8);
  }

  private static ObjectNode allocation(String addr, String comment, long microAlgos, int status) {
    ObjectNode a = JSON.createObjectNode();
    a.put("addr", addr);
    a.put("comment", comment);
    a.putObject("state").put("algo", microAlgos).put("onl", status);
    return a;
  }

  private static String simAddress(String seed) {
    return AlgodMsgpack.address(AlgodMsgpack.sha512_256(seed.getBytes(StandardCharsets.UTF_8)));
  }

  private static void error(HttpExchange ex, int status, String message) throws IOException {
    sendBytes(ex, status, "application/json", AlgodErrors.body(message));
  }

  /** A JSON body as echo writes it ({@code json.Encoder}: the value, then a newline). */
  private static void send(HttpExchange ex, int status, String type, String body)
      throws IOException {
    sendBytes(ex, status, type, (body + "\n").getBytes(StandardCharsets.UTF_8));
  }

  private static void sendBytes(HttpExchange ex, int status, String type, byte[] body)
      throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    ticker.shutdownNow();
    server.stop(0);
    pool.shutdownNow();
  }
}
