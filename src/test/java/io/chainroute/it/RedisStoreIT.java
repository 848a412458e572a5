package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.store.LocalStore;
import io.chainroute.store.SharedStore;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The response cache's shared tier against a real {@code redis-server}: two replicas share answers,
 * and killing Redis under load fails no call (the local tier serves) and costs a call at most a
 * short timeout; Redis back, sharing resumes.
 */
class RedisStoreIT {
  private static final Duration TTL = Duration.ofMinutes(5);
  private final int port = Ports.free();
  private Process redis;
  private final List<SharedStore> stores = new ArrayList<>();

  private void startRedis(Path dir) throws IOException {
    redis =
        new ProcessBuilder(
                RealBinaries.redisServer().toString(),
                "--port",
                String.valueOf(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no")
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.log").toFile()))
            .start();
    Awaitility.await("redis up")
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .ignoreExceptions()
        .until(
            () -> {
              try (java.net.Socket s =
                  new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
                return s.isConnected();
              }
            });
  }

  private SharedStore store() {
    SharedStore s =
        new SharedStore(
            new LocalStore(1 << 20),
            URI.create("redis://127.0.0.1:" + port),
            Duration.ofMillis(50),
            Duration.ofMillis(500),
            System::nanoTime);
    stores.add(s);
    return s;
  }

  @AfterEach
  void stop() {
    stores.forEach(SharedStore::close);
    if (redis != null) {
      redis.destroyForcibly();
    }
  }

  @Test
  void replicasShareAnswersAndARedisOutageFailsNoCall() throws Exception {
    Path dir = Files.createTempDirectory("chainroute-redis");
    startRedis(dir);
    SharedStore a = store();
    SharedStore b = store();
    a.put("eth", "k0", new byte[] {7}, TTL);
    Awaitility.await("b sees a's answer through Redis")
        .atMost(Duration.ofSeconds(5))
        .until(() -> b.get("eth", "k0") != null);
    assertThat(b.get("other-chain", "k0")).as("namespaced by chain").isNull();

    List<Throwable> errors = new CopyOnWriteArrayList<>();
    List<String> lost = new CopyOnWriteArrayList<>();
    AtomicLong calls = new AtomicLong();
    AtomicLong slowest = new AtomicLong();
    long end = System.nanoTime() + Duration.ofSeconds(6).toNanos();
    List<Thread> load = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int id = t;
      Thread th =
          new Thread(
              () -> {
                for (int i = 0; System.nanoTime() < end; i++) {
                  String key = "t" + id + "-" + (i % 500);
                  try {
                    long start = System.nanoTime();
                    a.put("eth", key, new byte[] {1, 2, 3}, TTL);
                    byte[] v = a.get("eth", key);
                    b.get("eth", key);
                    slowest.accumulateAndGet(System.nanoTime() - start, Math::max);
                    calls.addAndGet(3);
                    if (v == null) {
                      lost.add(key);
                    }
                  } catch (Throwable e) {
                    errors.add(e);
                  }
                }
              });
      th.start();
      load.add(th);
    }
    Thread.sleep(2000);
    redis.destroyForcibly().waitFor();
    Awaitility.await("outage seen")
        .atMost(Duration.ofSeconds(3))
        .until(() -> a.degraded() || b.degraded());
    Thread.sleep(1000);
    startRedis(dir);
    for (Thread th : load) {
      th.join();
    }
    System.out.printf(
        "redis outage: calls=%d errors=%d lost=%d slowestMs=%.1f%n",
        calls.get(), errors.size(), lost.size(), slowest.get() / 1e6);
    assertThat(errors).isEmpty();
    assertThat(lost).as("the local tier keeps serving").isEmpty();
    assertThat(calls.get()).isGreaterThan(1000);
    assertThat(slowest.get())
        .as("one call waits at most a few timeouts")
        .isLessThan(Duration.ofMillis(500).toNanos());
    a.put("eth", "after", new byte[] {9}, TTL);
    Awaitility.await("sharing resumes once Redis is back")
        .atMost(Duration.ofSeconds(5))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              a.put("eth", "after", new byte[] {9}, TTL);
              return b.get("eth", "after") != null;
            });
    assertThat(a.degraded() || b.degraded()).isFalse();
  }
}
