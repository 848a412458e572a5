package io.chainroute.chain.evm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.chainroute.config.ChainConfig;
import io.chainroute.config.TestConfigs;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The newHeads subscription's life against a scripted node (a tiny in-test WebSocket server): what
 * wakes the node, and when it reconnects. Backoffs are scaled down (20 ms doubling to 160 ms); the
 * timer records every delay asked for.
 */
class NewHeadsReconnectTest {
  private static final Duration FIRST = Duration.ofMillis(20);
  private static final Duration MAX = Duration.ofMillis(160);
  private static final String SUBSCRIBED = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xabc\"}";
  private static final String HEAD =
      "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0xabc\","
          + "\"result\":{\"number\":\"0x10\"}}}";

  /** A timer that keeps the delay of every reconnect it is asked to schedule. */
  private static final class RecordingTimer extends ScheduledThreadPoolExecutor {
    final List<Long> delaysMillis = new CopyOnWriteArrayList<>();

    RecordingTimer() {
      super(1);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
      delaysMillis.add(unit.toMillis(delay));
      return super.schedule(command, delay, unit);
    }
  }

  private final RecordingTimer timer = new RecordingTimer();
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<String> wakes = new CopyOnWriteArrayList<>();
  private TinyWebSocketServer node;
  private NewHeadsSubscriber subscriber;

  @AfterEach
  void stop() throws IOException {
    if (subscriber != null) {
      subscriber.close();
    }
    timer.shutdownNow();
    if (node != null) {
      node.close();
    }
  }

  private NewHeadsSubscriber subscribe(String wsUrl) {
    ChainConfig chain =
        TestConfigs.evm("eth")
            .nodes(
                TestConfigs.node("a", "http://127.0.0.1:1")
                    .wsUrl(wsUrl)
                    .header("x-api-key", "KEY_ENV", "s3cret")
                    .build(),
                // No wsUrl: not subscribed.
                TestConfigs.node("b", "http://127.0.0.1:2").build())
            .build();
    subscriber = new NewHeadsSubscriber(http, chain, wakes::add, timer, FIRST, MAX);
    assertThat(subscriber.size()).isEqualTo(1);
    subscriber.start();
    return subscriber;
  }

  /** Takes the next connection and answers its eth_subscribe. */
  private TinyWebSocketServer.Connection subscribed() throws Exception {
    TinyWebSocketServer.Connection c = node.next(10);
    assertThat(c).as("the subscriber connected").isNotNull();
    assertThat(c.readText()).contains("\"eth_subscribe\"").contains("\"newHeads\"");
    c.sendText(SUBSCRIBED);
    return c;
  }

  /** A node whose subscription is live and has woken it once. */
  private TinyWebSocketServer.Connection live() throws Exception {
    node = new TinyWebSocketServer();
    subscribe(node.url());
    TinyWebSocketServer.Connection c = subscribed();
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 1);
    return c;
  }

  @Test
  void theSubscriptionAndEveryHeadWakeTheNodeAndTheHandshakeCarriesItsHeaders() throws Exception {
    // Live: heads may have passed while it was down, so the node is probed at once.
    TinyWebSocketServer.Connection c = live();
    assertThat(c.header("x-api-key")).isEqualTo("s3cret");
    c.sendText(HEAD);
    c.sendText(HEAD);
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 3);
    assertThat(wakes).containsOnly("a");
    // Anything else is ignored; the socket stays up and no reconnect is scheduled.
    c.sendText("{\"id\":7,\"result\":\"0x1\"}");
    c.sendText("not json");
    c.sendText(HEAD);
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 4);
    assertThat(timer.delaysMillis).isEmpty();
  }

  @Test
  void aLostSocketIsReopenedWithADoublingBackoffThatASubscriptionResets() throws Exception {
    node = new TinyWebSocketServer();
    subscribe(node.url());
    subscribed().sendClose(1001); // the node closes properly
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.delaysMillis.size() == 1);
    node.next(10).drop(); // reconnected; then the node dies before answering
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.delaysMillis.size() == 2);
    node.next(10).drop();
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.delaysMillis.size() == 3);
    TinyWebSocketServer.Connection back = subscribed();
    // Subscribed again: the node is woken (heads passed while down) and the backoff starts over.
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 2);
    back.drop();
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.delaysMillis.size() == 4);
    assertThat(timer.delaysMillis).containsExactly(20L, 40L, 80L, 20L);
    back = subscribed();
    back.sendText(HEAD);
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 4);
  }

  @Test
  void anUnreachableNodeIsRetriedUpToTheLongestBackoffAndNoFurther() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    subscribe("ws://127.0.0.1:" + port + "/");
    await().atMost(Duration.ofSeconds(10)).until(() -> timer.delaysMillis.size() >= 6);
    assertThat(timer.delaysMillis.subList(0, 6)).containsExactly(20L, 40L, 80L, 160L, 160L, 160L);
    assertThat(wakes).isEmpty();
  }

  @Test
  void aNodeThatRefusesTheSubscriptionIsRetriedOnlyAtTheLongestBackoff() throws Exception {
    node = new TinyWebSocketServer();
    subscribe(node.url());
    TinyWebSocketServer.Connection c = node.next(10);
    c.readText();
    c.sendText(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}");
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.delaysMillis.size() == 1);
    assertThat(timer.delaysMillis).containsExactly(MAX.toMillis());
    assertThat(wakes).isEmpty();
    // It does try again, and a node that now subscribes is live.
    subscribed();
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 1);
  }

  @Test
  void aMessageFarLargerThanAHeaderDropsTheSocket() throws Exception {
    TinyWebSocketServer.Connection c = live();
    c.sendText("[\"" + "x".repeat(NewHeadsSubscriber.MAX_MESSAGE_CHARS) + "\"]");
    await().atMost(Duration.ofSeconds(5)).until(() -> timer.delaysMillis.size() == 1);
    // The oversized message woke nothing; the reconnect subscribes afresh.
    subscribed();
    await().atMost(Duration.ofSeconds(5)).until(() -> wakes.size() == 2);
  }

  @Test
  void closedItNeitherWakesNorReconnects() throws Exception {
    TinyWebSocketServer.Connection c = live();
    subscriber.close();
    c.sendClose(1001);
    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(2))
        .until(() -> timer.delaysMillis.isEmpty() && node.waiting() == 0 && wakes.size() == 1);
  }
}
