package io.chainroute.chain.evm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.chainroute.chain.HeadSource;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The EVM {@link HeadSource}: holds an {@code eth_subscribe("newHeads")} WebSocket open to every
 * node of one chain that has a {@code wsUrl} and turns each notification into a wake of that node
 * (the tracker probes it at once). The subscription is a doorbell, not a data source: heights, sync
 * state and health still come from the probe, so a node that pushes nonsense cannot publish a head;
 * polling goes on at the chain's interval as the fallback when the socket is down.
 *
 * <p>Reconnects with a doubling backoff (1 s to 30 s; the longest at once after the node refused
 * the subscription) and wakes the node after each (re)subscribe, as heads may have passed while the
 * socket was down. Logs name the chain and node only, never the URL (it may hold a key).
 *
 * <p>Threading: the JDK WebSocket delivers one listener call at a time per socket; reconnects run
 * on the given scheduler. {@code wake} must be thread-safe and must not block.
 */
public final class NewHeadsSubscriber implements HeadSource {
  private static final Logger log = LoggerFactory.getLogger(NewHeadsSubscriber.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SUBSCRIBE =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\",\"params\":[\"newHeads\"]}";
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

  /** A newHeads notification is a block header, about 1 KB; anything far larger is not one. */
  static final int MAX_MESSAGE_CHARS = 256 * 1024;

  private final java.util.function.Function<NodeConfig, HttpClient> clients;
  private final ScheduledExecutorService timer;
  private final Wake wake;
  private final Duration firstBackoff;
  private final Duration maxBackoff;
  private final List<Subscription> subscriptions = new ArrayList<>();
  private volatile boolean closed;

  public NewHeadsSubscriber(
      HttpClient client, ChainConfig chain, Wake wake, ScheduledExecutorService timer) {
    this(n -> client, chain, wake, timer, FIRST_BACKOFF, MAX_BACKOFF);
  }

  /**
   * @param clients the client for each node's socket: a wss URL is checked against the node's CA
   *     bundle, as its probes and Envoy check it
   */
  public NewHeadsSubscriber(
      java.util.function.Function<NodeConfig, HttpClient> clients,
      ChainConfig chain,
      Wake wake,
      ScheduledExecutorService timer) {
    this(clients, chain, wake, timer, FIRST_BACKOFF, MAX_BACKOFF);
  }

  /** With other backoff bounds (tests). */
  NewHeadsSubscriber(
      HttpClient client,
      ChainConfig chain,
      Wake wake,
      ScheduledExecutorService timer,
      Duration firstBackoff,
      Duration maxBackoff) {
    this(n -> client, chain, wake, timer, firstBackoff, maxBackoff);
  }

  private NewHeadsSubscriber(
      java.util.function.Function<NodeConfig, HttpClient> clients,
      ChainConfig chain,
      Wake wake,
      ScheduledExecutorService timer,
      Duration firstBackoff,
      Duration maxBackoff) {
    this.clients = clients;
    this.timer = timer;
    this.wake = wake;
    this.firstBackoff = firstBackoff;
    this.maxBackoff = maxBackoff;
    for (NodeConfig n : chain.nodes()) {
      if (n.wsUrl() != null) {
        subscriptions.add(new Subscription(chain.name(), n));
      }
    }
  }

  /** How many nodes have a subscription configured. */
  public int size() {
    return subscriptions.size();
  }

  @Override
  public void start() {
    subscriptions.forEach(Subscription::connect);
  }

  @Override
  public void close() {
    closed = true;
    subscriptions.forEach(Subscription::abort);
  }

  /** What one message from the node means. */
  enum Kind {
    /** A newHeads notification: wake the node. */
    HEAD,
    /** The answer to our eth_subscribe: the subscription is live. */
    SUBSCRIBED,
    /** The node refused eth_subscribe (no WebSocket subscriptions, method not found...). */
    REFUSED,
    /** Anything else: ignored. */
    OTHER
  }

  /** Reads one text message; never throws on bad input. */
  static Kind classify(String message) {
    JsonNode m;
    try {
      m = JSON.readTree(message);
    } catch (IOException | RuntimeException e) {
      return Kind.OTHER;
    }
    if (m == null || !m.isObject()) {
      return Kind.OTHER;
    }
    if ("eth_subscription".equals(m.path("method").asText(null))) {
      return Kind.HEAD;
    }
    if (m.path("id").isNumber() && m.path("id").asInt() == 1) {
      if (m.has("error")) {
        return Kind.REFUSED;
      }
      if (m.path("result").isTextual()) {
        return Kind.SUBSCRIBED;
      }
    }
    return Kind.OTHER;
  }

  /**
   * One node's socket. Listener calls are sequential; connect/abort may race, hence synchronized.
   */
  private final class Subscription implements WebSocket.Listener {
    private final String chain;
    private final NodeConfig node;
    private final StringBuilder partial = new StringBuilder();
    private WebSocket socket;
    private Duration backoff = firstBackoff;
    private boolean live;
    private boolean lostLogged;

    /**
     * True between a failure and the next connect: one failure (onError after abort...) counts
     * once.
     */
    private boolean down = true;

    Subscription(String chain, NodeConfig node) {
      this.chain = chain;
      this.node = node;
    }

    void connect() {
      if (closed) {
        return;
      }
      synchronized (this) {
        down = false;
      }
      WebSocket.Builder builder =
          clients.apply(node).newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
      // The node's configured headers (its API key) on the handshake too, as on every probe.
      node.headers().forEach(h -> builder.header(h.name(), h.value()));
      builder
          .buildAsync(node.wsUrl(), this)
          .whenComplete(
              (ws, error) -> {
                if (error != null) {
                  lost("connect failed: " + kind(error));
                }
              });
    }

    synchronized void abort() {
      if (socket != null) {
        socket.abort();
      }
    }

    @Override
    public void onOpen(WebSocket ws) {
      synchronized (this) {
        socket = ws;
      }
      if (closed) {
        ws.abort();
        return;
      }
      ws.sendText(SUBSCRIBE, true);
      ws.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      if (partial.length() + data.length() > MAX_MESSAGE_CHARS) {
        partial.setLength(0);
        ws.abort();
        lost("message over " + MAX_MESSAGE_CHARS + " characters");
        return null;
      }
      partial.append(data);
      if (last) {
        String message = partial.toString();
        partial.setLength(0);
        try {
          handle(ws, message);
        } catch (RuntimeException e) {
          // Only during shutdown (the tracker's loop is gone); never let it end the socket.
          log.debug(
              "newHeads message not handled. chain={} node={} error={}",
              chain,
              node.name(),
              e.toString());
        }
      }
      ws.request(1);
      return null;
    }

    private void handle(WebSocket ws, String message) {
      switch (classify(message)) {
        case HEAD -> wake.node(node.name());
        case SUBSCRIBED -> {
          live = true;
          backoff = firstBackoff;
          if (lostLogged) {
            log.info("newHeads subscription back. chain={} node={}", chain, node.name());
            lostLogged = false;
          } else {
            log.info("newHeads subscription active. chain={} node={}", chain, node.name());
          }
          // Heads may have passed while the socket was down.
          wake.node(node.name());
        }
        case REFUSED -> {
          // Retrying soon will not help; keep polling and try again at the longest backoff.
          backoff = maxBackoff;
          ws.abort();
          lost("the node refused eth_subscribe(newHeads)");
        }
        case OTHER -> {}
      }
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      ws.abort(); // our side of the socket too; a new one is opened on retry
      lost("closed by the node (status " + statusCode + ")");
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      lost(kind(error));
    }

    private void lost(String why) {
      if (closed) {
        return;
      }
      synchronized (this) {
        if (down) {
          return;
        }
        down = true;
        socket = null;
      }
      if (live || !lostLogged) {
        log.warn(
            "newHeads subscription down; polling goes on, retrying in {} ms. chain={} node={} reason=\"{}\"",
            backoff.toMillis(),
            chain,
            node.name(),
            why);
        lostLogged = true;
      } else {
        log.debug("newHeads retry failed. chain={} node={} reason=\"{}\"", chain, node.name(), why);
      }
      live = false;
      Duration wait = backoff;
      backoff =
          backoff.multipliedBy(2).compareTo(maxBackoff) > 0 ? maxBackoff : backoff.multipliedBy(2);
      timer.schedule(this::connect, wait.toMillis(), TimeUnit.MILLISECONDS);
    }
  }

  /** The kind of failure, without messages that may quote the URL. */
  private static String kind(Throwable t) {
    while (t.getCause() != null
        && (t instanceof java.util.concurrent.CompletionException
            || t instanceof java.util.concurrent.ExecutionException)) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName();
  }
}
