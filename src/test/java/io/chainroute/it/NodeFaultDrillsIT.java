package io.chainroute.it;

import static io.chainroute.it.DrillRig.firstTime;
import static io.chainroute.it.DrillRig.sleep;

import java.time.Duration;
import java.util.Optional;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * Fault drills on one node (issue 18, item 6): real geth nodes of one chain, chainroute and Envoy,
 * 300 reads per second through Envoy while {@code full-1} is killed, stalled, hung or restarted.
 * Each drill prints its figures ({@code DRILL <name> ...}) and asserts the targets.
 */
class NodeFaultDrillsIT extends GethDrill {

  @Test
  void aKilledNodeFailsNoReads() {
    DrillRig rig = rig("node-killed");
    GethNet.Node victim = net.node("full-1");
    ConstantLoad.Snapshot s;
    long killed;
    long left;
    try (ConstantLoad load = load()) {
      killed = System.nanoTime();
      victim.kill();
      left =
          DrillRig.settledTimes(
              Duration.ofSeconds(5), () -> !rig.healthyHead("eth").contains("full-1"))[0];
      load.stop();
      s = fromFault(load, killed);
      DrillRig.report(
          "node-killed",
          "%s %s killAtMs=%d leftPoolMs=%d"
              .formatted(
                  settings(), s.figures(), load.msSinceStart(killed), DrillRig.ms(killed, left)),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(s.failures())
        .as("failed reads after kill -9 of a node: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertThat(left).as("the killed node left the head pool").isPositive();
    soft.assertAll();
  }

  @Test
  void aStalledNodeLeavesTheHeadPoolWithinOnePollPlusOneBlockAndGetsNoRequestsAfter() {
    DrillRig rig = rig("node-stalled");
    GethNet.Node victim = net.node("full-1");
    Duration bound = POLL.plus(BLOCK);
    // Requests sent this long after chainroute dropped the node may still be in Envoy's hands:
    // the xDS push is coalesced (100 ms by default) and Envoy applies it.
    Duration grace = Duration.ofMillis(250);
    ConstantLoad.Snapshot s;
    long stalled;
    long left;
    long gone;
    try (ConstantLoad load = load()) {
      stalled = System.nanoTime();
      victim.unpeer();
      long[] t =
          DrillRig.settledTimes(
              Duration.ofSeconds(6),
              () -> !rig.healthyHead("eth").contains("full-1"),
              () -> !rig.envoyEndpoints("eth-head").containsKey(victim.address()));
      left = t[0];
      gone = t[1];
      load.stop();
      s = fromFault(load, stalled);
      long after = left < 0 ? -1 : s.answeredBy(victim.address(), left + grace.toNanos());
      DrillRig.report(
          "node-stalled",
          "%s %s stallAtMs=%d leftPoolMs=%d boundMs=%d envoyDroppedMs=%d answeredByItAfterLeaving=%d answeredByItAfterStall=%d"
              .formatted(
                  settings(),
                  s.figures(),
                  load.msSinceStart(stalled),
                  DrillRig.ms(stalled, left),
                  bound.toMillis(),
                  DrillRig.ms(stalled, gone),
                  after,
                  s.answeredBy(victim.address(), stalled)),
          s);
      SoftAssertions soft = new SoftAssertions();
      soft.assertThat(left)
          .as("the stalled node left the head pool (for good) within 6 s")
          .isPositive();
      soft.assertThat(DrillRig.ms(stalled, left))
          .as("ms from stall to leaving the head pool")
          .isLessThanOrEqualTo(bound.plus(MARGIN).toMillis());
      soft.assertThat(after)
          .as(
              "requests answered by the stalled node %d ms after it left the pool",
              grace.toMillis())
          .isZero();
      soft.assertThat(s.failures()).as("failed reads: %s", s.sampleFailures(3)).isEmpty();
      soft.assertAll();
    }
  }

  @Test
  void aHungNodesRequestsMoveOnWithinThePerTryTimeoutAndItLeavesThePoolWithinTheProbeTimeout() {
    DrillRig rig = rig("node-hung");
    GethNet.Node victim = net.node("full-1");
    Duration leaveBound = POLL.plus(PROBE_TIMEOUT);
    Optional<Duration> perTry = rig.perTryTimeout("eth-head");
    ConstantLoad.Snapshot s;
    long hung;
    long left;
    try (ConstantLoad load = load()) {
      hung = System.nanoTime();
      victim.hang();
      // Long enough for the requests stuck on the hung node to move on (per-try timeout) or to end
      // by the client's timeout.
      Duration settle = perTry.orElse(DrillRig.CLIENT_TIMEOUT).plusSeconds(1);
      left = DrillRig.settledTimes(settle, () -> !rig.healthyHead("eth").contains("full-1"))[0];
      load.stop();
      s = fromFault(load, hung);
      DrillRig.report(
          "node-hung",
          "%s %s hangAtMs=%d leftPoolMs=%d leaveBoundMs=%d perTryTimeoutMs=%s clientTimeoutMs=%d"
              .formatted(
                  settings(),
                  s.figures(),
                  load.msSinceStart(hung),
                  DrillRig.ms(hung, left),
                  leaveBound.toMillis(),
                  perTry.map(d -> String.valueOf(d.toMillis())).orElse("none"),
                  DrillRig.CLIENT_TIMEOUT.toMillis()),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(s.failures())
        .as("failed reads while a node hangs: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertThat(perTry).as("the rendered routes to eth-head set a per_try_timeout").isPresent();
    perTry.ifPresent(
        d ->
            soft.assertThat(s.maxLatencyMillis())
                .as("max latency vs per-try timeout %d ms + 500 ms", d.toMillis())
                .isLessThanOrEqualTo(d.toMillis() + 500));
    soft.assertThat(left).as("the hung node left the head pool (for good)").isPositive();
    soft.assertThat(DrillRig.ms(hung, left))
        .as("ms from hang to leaving the head pool")
        .isLessThanOrEqualTo(leaveBound.plus(MARGIN).toMillis());
    soft.assertAll();
  }

  @Test
  void aRestartedNodeIsBackInTheHeadPoolWithinAboutOnePollIntervalOfAnswering() {
    DrillRig rig = rig("node-restarted");
    GethNet.Node victim = net.node("full-1");
    // "About one poll interval": the next probe comes within one poll, plus its own round trip.
    Duration bound = POLL.multipliedBy(2);
    Duration down = Duration.ofSeconds(6);
    ConstantLoad.Snapshot s;
    long stopped;
    long answering;
    long back;
    try (ConstantLoad load = load()) {
      stopped = System.nanoTime();
      victim.stop();
      firstTime(Duration.ofSeconds(5), () -> !rig.healthyHead("eth").contains("full-1"));
      // Down long enough for chainroute's probe back-off to grow, as in a real upgrade.
      sleep(down);
      victim.restart();
      // Answering at the chain head: the moment chainroute could call it synced again.
      answering =
          firstTime(
              Duration.ofSeconds(10), () -> victim.blockNumber() >= net.sealer().blockNumber());
      back = firstTime(Duration.ofSeconds(20), () -> rig.healthyHead("eth").contains("full-1"));
      sleep(Duration.ofSeconds(1));
      load.stop();
      s = fromFault(load, stopped);
      DrillRig.report(
          "node-restarted",
          "%s %s downMs=%d rejoinAfterAnsweringMs=%d boundMs=%d"
              .formatted(
                  settings(),
                  s.figures(),
                  down.toMillis(),
                  DrillRig.ms(answering, back),
                  bound.toMillis()),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(answering)
        .as("the restarted node answers at the head within 10 s")
        .isPositive();
    soft.assertThat(back)
        .as("the restarted node is back in the head pool within 20 s")
        .isPositive();
    soft.assertThat(DrillRig.ms(answering, back))
        .as("ms from answering at the head to HEALTHY in the head pool")
        .isLessThanOrEqualTo(bound.toMillis());
    soft.assertThat(s.failures())
        .as("failed reads across the stop and restart: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertAll();
  }
}
