package io.chainroute.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.chainroute.chain.Reply;
import io.chainroute.chain.algod.AlgodAdapter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A simulated Algorand algod (REST v2) for tests and the demo: no algod binary is available from
 * the registries. It reproduces the parts chainroute relies on, with status codes and error bodies
 * as shared/reference/protocols.md part A gives them: {@code /v2/status}, {@code
 * /v2/status/wait-for-block-after/{round}} (60 s wait), {@code /v2/blocks/{round}} (JSON and
 * msgpack, 1000-round retention unless archival), {@code /v2/transactions/params}, {@code
 * /v2/transactions/pending/{txid}}, {@code /health}, {@code /ready}, and API-token checks.
 *
 * <p>Controls for tests: {@link #stall}/{@link #resume} (stuck on a round), {@link #catchup} (fast
 * catchup: catchpoint set), {@link #stopAtUnsupportedRound}. The round advances every {@code
 * roundTime} on one scheduler thread; requests run on a cached pool (waits block a thread here: it
 * is a simulator, not the product).
 */
public final class AlgodSimulator implements AutoCloseable {
  /** algod's MaxTxnLife + 1: the blocks a non-archival node is guaranteed to serve. */
  public static final long DEFAULT_RETENTION = 1000;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofMinutes(1);

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
  private final java.util.Map<String, Pending> txPool = new java.util.LinkedHashMap<>();

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
    pool =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "algod-sim-http");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(pool);
    server.createContext("/", this::handle);
    ticker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "algod-sim-rounds");
              t.setDaemon(true);
              return t;
            });
    ticker.scheduleAtFixedRate(
        this::tick, roundTime.toNanos(), roundTime.toNanos(), TimeUnit.NANOSECONDS);
    server.start();
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
      while (path.length() > 1 && path.endsWith("/")) {
        path = path.substring(0, path.length() - 1);
      }
      String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
      if (path.equals("/health")) {
        send(ex, 200, "application/json", "null");
        return;
      }
      if (path.equals("/ready")) {
        synchronized (lock) {
          send(ex, unsupported ? 500 : catchup ? 503 : 200, "application/json", "null");
        }
        return;
      }
      if (!token.isEmpty() && !token.equals(tokenOf(ex))) {
        error(ex, 401, "Invalid API Token");
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
        error(ex, 404, "Not Found");
      }
    }
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

  /** NodeStatusResponse (protocols.md A.1). */
  String status() {
    synchronized (lock) {
      ObjectNode s = JSON.createObjectNode();
      s.put("catchup-time", catchup ? 1_500_000_000L : 0L);
      if (catchup) {
        s.put("catchpoint", (round + 10_000) + "#SIMULATEDCATCHPOINT");
      }
      s.put("last-catchpoint", "");
      s.put("last-round", round);
      s.put("last-version", "https://github.com/algorandfoundation/specs/tree/sim-v1");
      s.put(
          "next-version",
          unsupported
              ? "https://github.com/algorandfoundation/specs/tree/sim-v2"
              : "https://github.com/algorandfoundation/specs/tree/sim-v1");
      s.put("next-version-round", round + 1);
      s.put("next-version-supported", !unsupported);
      s.put("stopped-at-unsupported-round", unsupported);
      s.put("time-since-last-round", System.nanoTime() - lastRoundNanos);
      return s.toString();
    }
  }

  /** WaitForBlock (protocols.md A.2), step by step. */
  private void waitForBlock(HttpExchange ex, String roundText) throws IOException {
    BigInteger r = AlgodAdapter.parseUint64(roundText);
    if (r == null) {
      reply(ex, AlgodAdapter.invalidRound(roundText));
      return;
    }
    synchronized (lock) {
      if (unsupported) {
        error(
            ex,
            400,
            "requested round would reach only after the protocol upgrade which isn't supported");
        return;
      }
      if (catchup) {
        error(ex, 503, "operation not available during catchup");
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
          error(ex, 500, "operation aborted as server is shutting down");
          return;
        }
      }
    }
    send(ex, 200, "application/json", status());
  }

  private void block(HttpExchange ex, String rest, String query) throws IOException {
    int slash = rest.indexOf('/');
    String roundText = slash < 0 ? rest : rest.substring(0, slash);
    BigInteger r = AlgodAdapter.parseUint64(roundText);
    if (r == null) {
      reply(ex, AlgodAdapter.invalidRound(roundText));
      return;
    }
    String format = "json";
    for (String kv : query.split("&")) {
      if (kv.startsWith("format=")) {
        format = kv.substring(7).toLowerCase(java.util.Locale.ROOT);
      }
    }
    if (!format.equals("json") && !format.equals("msgpack") && !format.equals("msgp")) {
      error(ex, 400, "failed to parse the format option");
      return;
    }
    long oldest;
    long latest;
    synchronized (lock) {
      latest = round;
      oldest = archival ? 0 : Math.max(0, round - retention);
    }
    if (r.bitLength() > 63 || r.longValue() > latest || r.longValue() < oldest) {
      error(ex, 404, "failed to retrieve information from the ledger");
      return;
    }
    long n = r.longValue();
    if (format.equals("json")) {
      ObjectNode header = JSON.createObjectNode();
      header.put("gen", "sim-v1");
      header.put("prev", "blk-" + Long.toHexString(Math.max(0, n - 1)));
      header.put("rnd", n);
      header.put("ts", 1_700_000_000L + n * 3);
      ObjectNode body = JSON.createObjectNode();
      body.set("block", header);
      send(ex, 200, "application/json", body.toString());
    } else {
      ex.getResponseHeaders().set("X-Algorand-Struct", "block-v1");
      sendBytes(ex, 200, "application/msgpack", msgpackBlock(n));
    }
  }

  /** POST /v2/transactions: a msgpack SignedTxn (group); answers the first transaction's id. */
  private void submit(HttpExchange ex) throws IOException {
    byte[] body = ex.getRequestBody().readAllBytes();
    synchronized (lock) {
      if (catchup) {
        error(ex, 503, "operation not available during catchup");
        return;
      }
    }
    if (body.length == 0) {
      error(ex, 400, "empty txgroup");
      return;
    }
    String first = null;
    try {
      int p = 0;
      while (p < body.length) {
        int end = Msgpack.skip(body, p);
        int[] txn = Msgpack.find(body, p, "txn");
        if (txn == null) {
          throw new IllegalArgumentException("no txn field");
        }
        java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-512/256");
        sha.update("TX".getBytes(StandardCharsets.US_ASCII));
        sha.update(body, txn[0], txn[1] - txn[0]);
        String id = Msgpack.base32(sha.digest());
        synchronized (lock) {
          txPool.put(id, new Pending(java.util.Arrays.copyOfRange(body, p, end)));
        }
        first = first == null ? id : first;
        p = end;
      }
    } catch (RuntimeException | java.security.NoSuchAlgorithmException e) {
      error(ex, 400, "msgpack decode error [pos 0]: " + e.getMessage());
      return;
    }
    send(ex, 200, "application/json", JSON.createObjectNode().put("txId", first).toString());
  }

  /** GET /v2/transactions/pending/{txid}: this node's pool only (algod's pool is node-local). */
  private void pending(HttpExchange ex, String txid, String query) throws IOException {
    Pending p;
    synchronized (lock) {
      p = txPool.get(txid);
    }
    if (p == null) {
      error(
          ex,
          404,
          "could not find the transaction in the transaction pool or in the last 1000 confirmed rounds");
      return;
    }
    if (query.contains("format=msgpack")) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.write(p.confirmedRound > 0 ? 0x83 : 0x82);
      if (p.confirmedRound > 0) {
        Msgpack.str(out, "confirmed-round");
        Msgpack.uint(out, p.confirmedRound);
      }
      Msgpack.str(out, "pool-error");
      Msgpack.str(out, "");
      Msgpack.str(out, "txn");
      out.writeBytes(p.signedTxn);
      sendBytes(ex, 200, "application/msgpack", out.toByteArray());
      return;
    }
    // JSON: the simulator does not re-encode the transaction itself as JSON.
    ObjectNode r = JSON.createObjectNode();
    if (p.confirmedRound > 0) {
      r.put("confirmed-round", p.confirmedRound);
    }
    r.put("pool-error", "");
    send(ex, 200, "application/json", r.toString());
  }

  /** {"block":{"rnd":n}} in msgpack. */
  static byte[] msgpackBlock(long n) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0x81);
    b.write(0xa5);
    b.writeBytes("block".getBytes(StandardCharsets.US_ASCII));
    b.write(0x81);
    b.write(0xa3);
    b.writeBytes("rnd".getBytes(StandardCharsets.US_ASCII));
    b.write(0xcf);
    for (int i = 7; i >= 0; i--) {
      b.write((int) (n >>> (8 * i)) & 0xff);
    }
    return b.toByteArray();
  }

  private void params(HttpExchange ex) throws IOException {
    synchronized (lock) {
      if (catchup) {
        error(ex, 503, "operation not available during catchup");
        return;
      }
      ObjectNode p = JSON.createObjectNode();
      p.put("consensus-version", "https://github.com/algorandfoundation/specs/tree/sim-v1");
      p.put("fee", 0);
      p.put("genesis-hash", "SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=");
      p.put("genesis-id", "sim-v1");
      p.put("last-round", round);
      p.put("min-fee", 1000);
      send(ex, 200, "application/json", p.toString());
    }
  }

  /** algod's error body, built where chainroute builds its own algod errors. */
  private static void error(HttpExchange ex, int status, String message) throws IOException {
    reply(ex, AlgodAdapter.error(status, message));
  }

  private static void reply(HttpExchange ex, Reply r) throws IOException {
    sendBytes(ex, r.httpStatus(), r.contentType(), r.body());
  }

  private static void send(HttpExchange ex, int status, String type, String body)
      throws IOException {
    sendBytes(ex, status, type, body.getBytes(StandardCharsets.UTF_8));
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
