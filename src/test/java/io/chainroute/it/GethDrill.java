package io.chainroute.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/**
 * Shared ground of the fault drills on real geth nodes of one chain: one Clique network per class
 * (sealer, {@code full-1}, {@code full-2}, {@code archive}); per drill a fresh chainroute + Envoy
 * ({@link DrillRig}) and a constant load of {@link #RATE} reads per second. After each drill the
 * network is healed (resumed, restarted, re-peered, back at the head).
 *
 * <p>The drills fault {@code full-1}, a full node in the head pool's first priority together with
 * the sealer and {@code full-2}; the archive node is the head pool's last resort. The sealer is
 * never faulted: without it the chain stops.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class GethDrill {
  static final int RATE = 300;
  static final Duration POLL = Duration.ofMillis(250);

  /** Clique period of {@link GethNet}. */
  static final Duration BLOCK = Duration.ofSeconds(1);

  static final Duration PROBE_TIMEOUT = Duration.ofMillis(500);

  /** A drill faults the stack once the load runs steady: a second of reads all OK within this. */
  static final Duration STEADY = Duration.ofMillis(200);

  /** Slack for a bound measured from outside: one probe's latency, the 20 ms observation poll. */
  static final Duration MARGIN = Duration.ofMillis(250);

  static final List<String> HEAD_NODES = List.of("sealer", "full-1", "full-2");

  Path dir;
  GethNet net;
  DrillRig rig;

  /** How long the last {@link #load()} took to run steady; -1: it never did (busy machine). */
  long warmupMs;

  @BeforeAll
  void startNetwork() {
    RealBinaries.envoy();
    try {
      dir = Files.createTempDirectory("chainroute-drills");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    net = GethNet.start(dir, "full-1", "full", "full-2", "full", "archive", "archive");
  }

  @AfterEach
  void closeRigAndHealNetwork() {
    if (rig != null) {
      rig.close();
      rig = null;
    }
    net.heal();
  }

  @AfterAll
  void stopNetwork() {
    if (net != null) {
      net.close();
    }
  }

  /** The {@code chains:} YAML: one chain {@code eth} at {@code /eth} with these nodes. */
  String chains(List<GethNet.Node> nodes) {
    return chains("eth", "/eth", nodes);
  }

  String chains(String name, String prefix, List<GethNet.Node> nodes) {
    return "chains:\n" + chain(name, prefix, nodes);
  }

  /** One chain's entry: head tolerance 0 (followers import a sealed block within milliseconds). */
  static String chain(String name, String prefix, List<GethNet.Node> nodes) {
    String list =
        nodes.stream()
            .map(
                n ->
                    "      - { name: %s, url: \"%s\"%s }"
                        .formatted(
                            n.name, n.url(), n.name.equals("archive") ? ", archive: true" : ""))
            .collect(Collectors.joining("\n"));
    return """
          - name: %s
            protocol: evm
            pathPrefix: %s
            maxLagBlocks: 0
            pollInterval: %dms
            blockTime: %dms
            probeTimeout: %dms
            nodes:
        %s
        """
        .formatted(name, prefix, POLL.toMillis(), BLOCK.toMillis(), PROBE_TIMEOUT.toMillis(), list);
  }

  /** A rig for chain {@code eth} over every node, serving once all head nodes are HEALTHY. */
  DrillRig rig(String drill) {
    rig = DrillRig.start(dir, drill, chains(net.nodes()));
    rig.awaitServing("eth", "/eth", HEAD_NODES);
    return rig;
  }

  /** The constant load on {@code /eth}, returned once it runs steady (at most 6 s of warm-up). */
  ConstantLoad load() {
    ConstantLoad load = rig.load("/eth", RATE, ConstantLoad.evmReads(net.account()));
    warmupMs = load.awaitSteady(STEADY, Duration.ofSeconds(6));
    return load;
  }

  /**
   * The requests a drill judges: those sent from one second before its fault on. (Warm-up failures
   * and latencies say how busy the machine was, not how the stack handles the fault.)
   */
  static ConstantLoad.Snapshot fromFault(ConstantLoad load, long faultNanos) {
    return load.snapshot()
        .sentBetween(faultNanos - Duration.ofSeconds(1).toNanos(), Long.MAX_VALUE);
  }

  /**
   * The settings every figure depends on, the load's warm-up, the machine's load average and
   * Envoy's retry counters for the head pool.
   */
  String settings() {
    return "backend=geth rate=%d poll=%dms block=%dms probeTimeout=%dms warmupMs=%d loadavg=%s envoy=%s"
        .formatted(
            RATE,
            POLL.toMillis(),
            BLOCK.toMillis(),
            PROBE_TIMEOUT.toMillis(),
            warmupMs,
            DrillRig.loadAverage(),
            rig.envoyRetryStats("eth-head"));
  }
}
