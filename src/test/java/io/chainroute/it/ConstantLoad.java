package io.chainroute.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/**
 * An open-loop load generator: requests leave on the clock ({@code rate} per second, whether or not
 * earlier ones were answered), each with a client timeout, cycling through a read mix. Every
 * request's outcome is kept with its send time, so a drill can ask "what failed between t0 and t1"
 * and "which node answered after t". Latency counts from the scheduled send time, so a stall of the
 * sender itself shows up as latency instead of hiding (no coordinated omission).
 *
 * <p>Threading: one sender thread; replies complete on the HTTP client's executor; outcomes go to a
 * concurrent queue. Lifecycle: {@link #start}, {@link #stop} (waits for the requests in flight, at
 * most the client timeout), then {@link #snapshot}. Times are {@link System#nanoTime()}.
 */
final class ConstantLoad implements AutoCloseable {
  /** How one request ended. {@code kind} is {@code ok}, or the failure's kind. */
  record Outcome(long sentNanos, long latencyNanos, String kind, String upstream, String detail) {
    boolean ok() {
      return kind.equals("ok");
    }
  }

  final int rate;
  private final URI url;
  private final List<String> bodies;
  private final Duration timeout;
  private final HttpClient http;
  private final ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong inFlight = new AtomicLong();
  private final Thread sender;
  private final long startNanos = System.nanoTime();
  private volatile boolean running = true;

  private ConstantLoad(String url, int rate, Duration timeout, List<String> bodies) {
    this.url = URI.create(url);
    this.rate = rate;
    this.timeout = timeout;
    this.bodies = List.copyOf(bodies);
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build();
    this.sender = new Thread(this::send, "constant-load");
    sender.setDaemon(true);
  }

  /**
   * The drills' read mix: {@code eth_blockNumber}, {@code eth_getBalance(account, "latest")},
   * {@code eth_chainId}.
   */
  static List<String> evmReads(String account) {
    return List.of(
        Rpc.call("eth_blockNumber", "[]"),
        Rpc.call("eth_getBalance", "[\"" + account + "\",\"latest\"]"),
        Rpc.call("eth_chainId", "[]"));
  }

  static ConstantLoad start(String url, int rate, Duration clientTimeout, List<String> bodies) {
    ConstantLoad load = new ConstantLoad(url, rate, clientTimeout, bodies);
    load.sender.start();
    return load;
  }

  long startNanos() {
    return startNanos;
  }

  /** Milliseconds since the load started, for figures. */
  long msSinceStart(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos - startNanos);
  }

  /**
   * Waits until the load runs steady: every request sent in the last second (up to 200 ms ago) was
   * answered OK within {@code maxLatency}. A cold stack (JIT, first connections) answers in seconds
   * at first, and a fault injected then would measure the warm-up, not the fault. Returns the
   * warm-up in ms, or -1 if the load was not steady within {@code atMost} (a busy machine): the
   * drill goes on and reports it.
   */
  long awaitSteady(Duration maxLatency, Duration atMost) {
    long window = TimeUnit.SECONDS.toNanos(1);
    try {
      Awaitility.await("steady load")
          .atMost(atMost)
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                long to = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(200);
                if (to - window < startNanos) {
                  return false;
                }
                Snapshot last = snapshot().sentBetween(to - window, to);
                return last.sent() >= rate * 9L / 10
                    && last.failures().isEmpty()
                    && last.maxLatencyMillis() <= maxLatency.toMillis();
              });
    } catch (ConditionTimeoutException e) {
      return -1;
    }
    return msSinceStart(System.nanoTime());
  }

  private void send() {
    long period = TimeUnit.SECONDS.toNanos(1) / rate;
    for (long i = 0; running; i++) {
      long due = startNanos + i * period;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
        if (!running) {
          return;
        }
      }
      HttpRequest request =
          HttpRequest.newBuilder(url)
              .timeout(timeout)
              .header("content-type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(bodies.get((int) (i % bodies.size()))))
              .build();
      sent.incrementAndGet();
      inFlight.incrementAndGet();
      http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
          .whenComplete(
              (r, e) -> {
                outcomes.add(outcome(due, r, e));
                inFlight.decrementAndGet();
              });
    }
  }

  private static Outcome outcome(long due, HttpResponse<String> r, Throwable e) {
    long latency = System.nanoTime() - due;
    if (e != null) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      String kind =
          cause instanceof HttpTimeoutException
              ? "timeout"
              : cause instanceof ConnectException
                  ? "connect-error"
                  : cause instanceof IOException ? "io-error" : "client-error";
      return new Outcome(due, latency, kind, "", cause.toString());
    }
    String upstream = r.headers().firstValue("x-chainroute-upstream").orElse("");
    String body = r.body();
    if (r.statusCode() != 200) {
      return new Outcome(due, latency, "http-" + r.statusCode(), upstream, abbreviate(body));
    }
    try {
      JsonNode json = Rpc.JSON.readTree(body);
      if (json.has("result")) {
        return new Outcome(due, latency, "ok", upstream, "");
      }
      if (json.has("error")) {
        return new Outcome(
            due,
            latency,
            "rpc" + json.get("error").path("code").asInt(),
            upstream,
            abbreviate(body));
      }
    } catch (IOException notJson) {
      // fall through
    }
    return new Outcome(due, latency, "bad-body", upstream, abbreviate(body));
  }

  private static String abbreviate(String s) {
    String one = s.replace('\n', ' ');
    return one.length() <= 160 ? one : one.substring(0, 160) + "...";
  }

  /** Stops sending and waits for the requests in flight (each ends by its client timeout). */
  void stop() {
    running = false;
    LockSupport.unpark(sender);
    try {
      sender.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    try {
      Awaitility.await("requests in flight end")
          .atMost(timeout.plusSeconds(2))
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(10))
          .until(() -> inFlight.get() == 0);
    } catch (ConditionTimeoutException e) {
      // A request its client never timed out: the figures say so (it is still in flight).
    }
  }

  @Override
  public void close() {
    stop();
  }

  /** The outcomes so far, oldest send first. */
  Snapshot snapshot() {
    List<Outcome> list = new ArrayList<>(outcomes);
    list.sort(java.util.Comparator.comparingLong(Outcome::sentNanos));
    return new Snapshot(this, sent.get(), list);
  }

  /** A set of outcomes and the figures drills report. */
  record Snapshot(ConstantLoad load, long sent, List<Outcome> outcomes) {
    /** The outcomes of requests sent in [from, to). */
    Snapshot sentBetween(long fromNanos, long toNanos) {
      List<Outcome> in =
          outcomes.stream().filter(o -> o.sentNanos >= fromNanos && o.sentNanos < toNanos).toList();
      return new Snapshot(load, in.size(), in);
    }

    long ok() {
      return outcomes.stream().filter(Outcome::ok).count();
    }

    List<Outcome> failures() {
      return outcomes.stream().filter(o -> !o.ok()).toList();
    }

    /** Failure count per kind, e.g. {@code {http-503=5, timeout=2}}. */
    Map<String, Long> failuresByKind() {
      Map<String, Long> m = new TreeMap<>();
      failures().forEach(o -> m.merge(o.kind, 1L, Long::sum));
      return m;
    }

    long maxLatencyMillis() {
      return TimeUnit.NANOSECONDS.toMillis(
          outcomes.stream().mapToLong(Outcome::latencyNanos).max().orElse(0));
    }

    long latencyPercentileMillis(double p) {
      long[] l = outcomes.stream().mapToLong(Outcome::latencyNanos).sorted().toArray();
      return l.length == 0
          ? 0
          : TimeUnit.NANOSECONDS.toMillis(
              l[(int) Math.min(l.length - 1, Math.ceil(p * l.length) - 1)]);
    }

    /**
     * Requests answered by {@code upstream} (ip:port) that were sent at or after {@code fromNanos}.
     */
    long answeredBy(String upstream, long fromNanos) {
      return outcomes.stream()
          .filter(o -> o.sentNanos >= fromNanos && o.upstream.equals(upstream))
          .count();
    }

    /**
     * {@code sent=.. ok=.. failed=.. kinds={..} window=[a,b]ms p99Ms=.. maxMs=..}, times from the
     * load's start.
     */
    String figures() {
      List<Outcome> f = failures();
      String window =
          f.isEmpty()
              ? "-"
              : "["
                  + load.msSinceStart(f.get(0).sentNanos)
                  + ","
                  + load.msSinceStart(f.get(f.size() - 1).sentNanos)
                  + "]ms";
      return "sent=%d ok=%d failed=%d kinds=%s failWindow=%s p99Ms=%d maxMs=%d"
          .formatted(
              sent,
              ok(),
              f.size(),
              failuresByKind(),
              window,
              latencyPercentileMillis(0.99),
              maxLatencyMillis());
    }

    /**
     * Per {@code stepMs} of send time: {@code t:sent/failed/maxMs}, to see when things went wrong.
     */
    String timeline(long stepMs) {
      Map<Long, long[]> buckets = new TreeMap<>();
      for (Outcome o : outcomes) {
        long[] b =
            buckets.computeIfAbsent(
                load.msSinceStart(o.sentNanos) / stepMs * stepMs, k -> new long[3]);
        b[0]++;
        b[1] += o.ok() ? 0 : 1;
        b[2] = Math.max(b[2], TimeUnit.NANOSECONDS.toMillis(o.latencyNanos));
      }
      StringBuilder sb = new StringBuilder();
      buckets.forEach(
          (t, b) ->
              sb.append(t)
                  .append(':')
                  .append(b[0])
                  .append('/')
                  .append(b[1])
                  .append('/')
                  .append(b[2])
                  .append(' '));
      return sb.toString().trim();
    }

    /** Up to {@code n} distinct failure details, for the log. */
    List<String> sampleFailures(int n) {
      return failures().stream().map(o -> o.kind + " " + o.detail).distinct().limit(n).toList();
    }
  }
}
