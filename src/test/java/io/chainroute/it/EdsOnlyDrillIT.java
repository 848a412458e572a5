package io.chainroute.it;

import static io.chainroute.it.DrillRig.firstTimes;
import static io.chainroute.it.DrillRig.ms;
import static io.chainroute.it.DrillRig.sleep;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * EDS-only mode (issue 12 item 1) on real geth nodes: Envoy's listener, routes, ext_proc filter and
 * chain clusters are static in its bootstrap (the shape a mesh's control plane produces), and each
 * chain cluster takes its endpoints from chainroute over its own EDS stream, not ADS. Health and
 * priorities arrive as in ADS mode, requests route by pool, and a {@code kill -9} and restart of
 * chainroute under constant load fails no read.
 */
class EdsOnlyDrillIT extends GethDrill {
  private static final Duration CATCH_UP = Duration.ofSeconds(15);

  @Test
  void anEnvoyWithStaticClustersGetsEndpointsOverEdsAndAChainrouteRestartFailsNoRead() {
    rig = DrillRig.start(dir, "eds-only", chains(net.nodes()), true);
    rig.awaitServing("eth", "/eth", HEAD_NODES);
    assertThat(rig.bootstrap()).doesNotContain("ads_config").contains("api_config_source");

    // chainroute sees the Envoy on EDS streams only: no CDS was asked for.
    List<String> types = types(rig);
    assertThat(types).isNotEmpty().allMatch(t -> t.endsWith("ClusterLoadAssignment"));
    // Priorities as in ADS mode: in the head pool the archive node is the last resort.
    String archive = net.node("archive").address();
    String sealer = net.sealer().address();
    assertThat(priority(rig, "eth-head", archive)).isGreaterThan(priority(rig, "eth-head", sealer));
    assertThat(rig.envoyEndpoints("eth-archive")).containsOnlyKeys(archive);
    // A read of the latest state is served by a head-pool node at priority 0, through ext_proc.
    Rpc.Reply latest =
        Rpc.post(rig.envoy().url("/eth"), Rpc.call("eth_getBlockByNumber", "[\"latest\",false]"));
    assertThat(latest.json().has("result")).as(latest.body()).isTrue();
    assertThat(latest.upstream()).isNotEqualTo(archive).isNotEmpty();
    String extProc = rig.envoy().admin("/stats?filter=ext_proc.streams_started");
    assertThat(extProc).as(extProc).containsPattern("streams_started: [1-9]");

    ConstantLoad.Snapshot s;
    long killed;
    long back;
    long[] t;
    try (ConstantLoad load = load()) {
      killed = System.nanoTime();
      rig.chainroute.kill();
      sleep(Duration.ofSeconds(1));
      rig.chainroute.launch(rig.config(chains(net.nodes())));
      back = rig.chainroute.readyNanos();
      t = firstTimes(CATCH_UP, () -> !types(rig).isEmpty() && allAcked(rig));
      sleep(Duration.ofSeconds(2));
      load.stop();
      s = fromFault(load, killed);
    }
    DrillRig.report(
        "eds-only-chainroute-killed",
        "%s %s outageMs=%d edsStreams=%d envoyBackAndAckedMs=%d failed=%d"
            .formatted(
                settings(),
                s.figures(),
                ms(killed, back),
                types(rig).size(),
                t[0] < 0 ? -1 : ms(back, t[0]),
                s.failures().size()),
        s);
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(s.failures())
        .as("failed reads around the restart: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertThat(s.ok()).as("reads served").isPositive();
    soft.assertThat(t[0]).as("Envoy's EDS streams back on the new chainroute, ACKed").isPositive();
    soft.assertAll();
  }

  /** Resource types of every stream chainroute's /status lists for the drill's Envoy. */
  private static List<String> types(DrillRig rig) {
    List<String> out = new ArrayList<>();
    for (JsonNode e : rig.status().get("envoys")) {
      if (e.get("nodeId").asText().equals(DrillRig.ENVOY_NODE_ID)) {
        e.get("resources").forEach(r -> out.add(r.get("type").asText()));
      }
    }
    return out;
  }

  private static boolean allAcked(DrillRig rig) {
    for (JsonNode e : rig.status().get("envoys")) {
      for (JsonNode r : e.get("resources")) {
        if (!r.get("acked").asBoolean()) {
          return false;
        }
      }
    }
    return true;
  }

  /** The priority Envoy's {@code /clusters} shows for one host of one cluster. */
  private static int priority(DrillRig rig, String cluster, String address) {
    for (String line : rig.envoy().admin("/clusters").split("\n")) {
      String[] f = line.split("::");
      if (f.length == 4
          && f[0].equals(cluster)
          && f[1].equals(address)
          && f[2].equals("priority")) {
        return Integer.parseInt(f[3].trim());
      }
    }
    throw new AssertionError("no priority for " + address + " in " + cluster);
  }
}
