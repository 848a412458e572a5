package io.chainroute.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.ChainConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.Topology;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HeldRequestsTest {
  private final ChainConfig chain =
      TestConfigs.evm("c")
          .blockTime(Duration.ofSeconds(1))
          .probeTimeout(Duration.ofSeconds(1))
          .nodes(TestConfigs.node("n", "http://10.0.0.1:1").build())
          .build();
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
  private final AtomicReference<Topology> latest = new AtomicReference<>(at(1, 10));
  private final AtomicReference<Topology> routable = new AtomicReference<>(at(1, 10));
  private final List<String> events = new ArrayList<>();

  private Topology at(long version, long head) {
    return Topology.of(version, List.of(new ChainView(chain, head, List.of())));
  }

  @AfterEach
  void stop() {
    timer.shutdownNow();
  }

  private HeldRequests.Outcome record(String name) {
    return new HeldRequests.Outcome() {
      @Override
      public void ready(ChainView v) {
        events.add(name + ":ready@" + v.head());
      }

      @Override
      public void timedOut(ChainView v) {
        events.add(name + ":timeout");
      }

      @Override
      public void shutdown() {
        events.add(name + ":shutdown");
      }
    };
  }

  @Test
  void aRoutingHoldIsReleasedOnlyByATopologyEnvoyHasAckedAndAHeightHoldByTheTrackers() {
    HeldRequests held = new HeldRequests(timer, latest::get, routable::get, 10);
    held.hold(
        "c",
        HeldRequests.Source.ROUTABLE,
        v -> v.head() >= 11,
        Duration.ofSeconds(30),
        record("route"));
    held.hold(
        "c",
        HeldRequests.Source.LATEST,
        v -> v.head() >= 11,
        Duration.ofSeconds(30),
        record("wait"));
    latest.set(at(2, 11));
    held.onLatest(latest.get());
    assertThat(events).containsExactly("wait:ready@11");
    routable.set(at(2, 11));
    held.onRoutable(routable.get());
    assertThat(events).containsExactly("wait:ready@11", "route:ready@11");
    assertThat(held.size()).isZero();
  }

  @Test
  void theBoundIsEnforcedAndShutdownAnswersEveryHoldOnce() {
    HeldRequests held = new HeldRequests(timer, latest::get, routable::get, 2);
    assertThat(
            held.hold(
                "c", HeldRequests.Source.LATEST, v -> false, Duration.ofSeconds(30), record("a")))
        .isNotNull();
    HeldRequests.Held b =
        held.hold("c", HeldRequests.Source.LATEST, v -> false, Duration.ofSeconds(30), record("b"));
    assertThat(
            held.hold(
                "c", HeldRequests.Source.LATEST, v -> false, Duration.ofSeconds(30), record("c")))
        .isNull();
    b.cancel();
    assertThat(held.size()).isEqualTo(1);
    held.shutdown();
    held.shutdown();
    assertThat(events).containsExactly("a:shutdown");
    assertThat(
            held.hold(
                "c", HeldRequests.Source.LATEST, v -> true, Duration.ofSeconds(30), record("late")))
        .isNull();
  }

  @Test
  void aHoldWhoseConditionAlreadyHoldsIsAnsweredAtOnce() {
    HeldRequests held = new HeldRequests(timer, latest::get, routable::get, 10);
    held.hold(
        "c",
        HeldRequests.Source.ROUTABLE,
        v -> v.head() >= 10,
        Duration.ofSeconds(30),
        record("now"));
    assertThat(events).containsExactly("now:ready@10");
    assertThat(held.size()).isZero();
  }
}
