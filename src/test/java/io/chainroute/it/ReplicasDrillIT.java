package io.chainroute.it;

import static io.chainroute.it.DrillRig.firstTimes;
import static io.chainroute.it.DrillRig.ms;
import static io.chainroute.it.DrillRig.sleep;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.chainroute.config.ConfigLoader;
import io.chainroute.envoy.BootstrapRenderer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two chainroute replicas behind one Envoy, as deploy/kubernetes runs them: the Envoy's {@code
 * chainroute_xds} and {@code chainroute_extproc} clusters hold both replicas (what the headless
 * Service's DNS answer gives its STRICT_DNS clusters), its ADS stream sits on one of them and its
 * ext_proc calls go to both. Then the replica holding the ADS stream is killed ({@code kill -9})
 * under constant load: Envoy keeps serving from the config it has, moves its ADS stream to the
 * other replica, which sends it the whole state, and no read fails. Measures how long the move
 * takes and how many requests skipped routing (ext_proc failed open) while the dead replica was
 * still one of the ext_proc cluster's hosts, as it is in Kubernetes until the DNS answer drops it.
 */
class ReplicasDrillIT {
  private static final String ACCOUNT0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
  private static final int RATE = 300;
  private static final Duration AFTER_KILL = Duration.ofSeconds(6);

  private Path dir;
  private final List<AnvilProcess> nodes = new ArrayList<>();
  private final List<Replica> replicas = new ArrayList<>();
  private EnvoyProcess envoy;

  /** One chainroute process and its ports. */
  private record Replica(
      String name, int xds, int extProc, int adminHttp, int adminGrpc, ChainrouteProcess process) {
    JsonNode status() {
      return Rpc.getJson(process.adminUrl("/status"));
    }

    /** True when this replica holds the Envoy's ADS stream and every type is ACKed. */
    boolean holdsAckedEnvoy() {
      for (JsonNode e : status().get("envoys")) {
        if (e.get("nodeId").asText().equals(DrillRig.ENVOY_NODE_ID)
            && !e.has("refused")
            && e.get("resources").size() >= 2) {
          boolean acked = true;
          for (JsonNode r : e.get("resources")) {
            acked &= r.get("acked").asBoolean();
          }
          return acked;
        }
      }
      return false;
    }

    /** ext_proc requests this replica decided (its chainroute_requests_total, summed). */
    double decided() {
      double sum = 0;
      for (String line : Rpc.get(process.adminUrl("/metrics")).split("\n")) {
        if (line.startsWith("chainroute_requests_total{")) {
          sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
      return sum;
    }
  }

  @BeforeEach
  void start() throws IOException {
    RealBinaries.envoy();
    dir = Files.createTempDirectory("chainroute-replicas-drill");
    for (String name : List.of("a", "b")) {
      nodes.add(AnvilProcess.startMining(dir, name, 1));
    }
  }

  @AfterEach
  void stop() {
    if (envoy != null) {
      envoy.close();
    }
    replicas.forEach(r -> r.process().close());
    nodes.forEach(AnvilProcess::close);
  }

  private String config(Replica ports, int listener, int envoyAdmin) {
    String list =
        java.util.stream.IntStream.range(0, nodes.size())
            .mapToObj(
                i ->
                    "      - { name: %s, url: \"%s\" }"
                        .formatted(List.of("a", "b").get(i), nodes.get(i).url()))
            .collect(Collectors.joining("\n"));
    return """
        server:
          xdsPort: %d
          extProcPort: %d
          adminHttpPort: %d
          adminGrpcPort: %d
        envoy:
          listenerPort: %d
          adminPort: %d
        chains:
          - name: eth
            protocol: evm
            pathPrefix: /eth
            maxLagBlocks: 1
            pollInterval: 250ms
            blockTime: 1000ms
            probeTimeout: 500ms
            nodes:
        %s
        """
        .formatted(
            ports.xds(),
            ports.extProc(),
            ports.adminHttp(),
            ports.adminGrpc(),
            listener,
            envoyAdmin,
            list);
  }

  /**
   * The rendered bootstrap with both replicas as hosts of each chainroute cluster, as a headless
   * Service's DNS answer gives them (here distinct ports on loopback instead of distinct pod IPs).
   */
  private static String withBothReplicas(String bootstrap, Replica a, Replica b)
      throws IOException {
    YAMLMapper yaml = new YAMLMapper();
    JsonNode root = yaml.readTree(bootstrap);
    int rewritten = 0;
    for (JsonNode c : root.at("/static_resources/clusters")) {
      String name = c.get("name").asText();
      if (!name.startsWith("chainroute_")) {
        continue;
      }
      boolean xds = name.equals("chainroute_xds");
      ArrayNode endpoints = (ArrayNode) c.at("/load_assignment/endpoints/0/lb_endpoints");
      ObjectNode first = (ObjectNode) endpoints.get(0);
      endpoints.removeAll();
      for (Replica r : List.of(a, b)) {
        ObjectNode e = first.deepCopy();
        ((ObjectNode) e.at("/endpoint/address/socket_address"))
            .put("port_value", xds ? r.xds() : r.extProc());
        endpoints.add(e);
      }
      rewritten++;
    }
    assertThat(rewritten).as("chainroute clusters in the bootstrap").isGreaterThanOrEqualTo(2);
    return yaml.writeValueAsString(root);
  }

  @Test
  void killingTheReplicaThatHoldsTheEnvoysAdsStreamFailsNoReadAndTheOtherTakesOver()
      throws Exception {
    int listener = Ports.free();
    int envoyAdmin = Ports.free();
    for (String name : List.of("r1", "r2")) {
      Path d = Files.createDirectories(dir.resolve(name));
      Replica ports =
          new Replica(name, Ports.free(), Ports.free(), Ports.free(), Ports.free(), null);
      ChainrouteProcess p =
          ChainrouteProcess.start(d, config(ports, listener, envoyAdmin), ports.adminHttp());
      replicas.add(
          new Replica(name, ports.xds(), ports.extProc(), ports.adminHttp(), ports.adminGrpc(), p));
    }
    Replica r1 = replicas.get(0);
    Replica r2 = replicas.get(1);
    String bootstrap =
        withBothReplicas(
            BootstrapRenderer.render(
                ConfigLoader.parse(config(r1, listener, envoyAdmin)),
                DrillRig.ENVOY_NODE_ID,
                io.chainroute.adapters.ChainAdapters::forChain),
            r1,
            r2);
    envoy = EnvoyProcess.start(dir, bootstrap, listener, envoyAdmin);

    long[] serving =
        firstTimes(
            Duration.ofSeconds(20),
            () -> r1.holdsAckedEnvoy() || r2.holdsAckedEnvoy(),
            () ->
                Rpc.post(
                        envoy.url("/eth"),
                        Rpc.call("eth_getBalance", "[\"" + ACCOUNT0 + "\",\"latest\"]"))
                    .json()
                    .has("result"));
    assertThat(serving).as("an ACKed ADS stream, a routed read").doesNotContain(-1L);
    boolean firstHolds = r1.holdsAckedEnvoy();
    Replica owner = firstHolds ? r1 : r2;
    Replica other = firstHolds ? r2 : r1;
    assertThat(other.holdsAckedEnvoy()).as("one ADS stream, on one replica").isFalse();

    ConstantLoad.Snapshot s;
    long killed;
    long[] moved;
    double ownerDecided;
    double otherDecided;
    long failOpenBefore;
    long failOpenAfter;
    int endpointsRightAfter;
    try (ConstantLoad load =
        ConstantLoad.start(
            envoy.url("/eth"), RATE, DrillRig.CLIENT_TIMEOUT, ConstantLoad.evmReads(ACCOUNT0))) {
      long warmup = load.awaitSteady(Duration.ofMillis(200), Duration.ofSeconds(6));
      sleep(Duration.ofSeconds(2));
      // Both replicas decide requests: Envoy spreads its ext_proc streams over the cluster's hosts.
      ownerDecided = owner.decided();
      otherDecided = other.decided();
      failOpenBefore = counter("http.rpc.ext_proc.failure_mode_allowed");
      killed = System.nanoTime();
      owner.process().kill();
      endpointsRightAfter = endpoints("eth-head");
      moved = firstTimes(AFTER_KILL, other::holdsAckedEnvoy);
      sleep(Duration.ofMillis(Math.max(0, AFTER_KILL.toMillis() - ms(killed, System.nanoTime()))));
      failOpenAfter = counter("http.rpc.ext_proc.failure_mode_allowed");
      load.stop();
      s = load.snapshot().sentBetween(killed - Duration.ofSeconds(1).toNanos(), Long.MAX_VALUE);
      DrillRig.report(
          "replica-holding-ads-killed",
          ("rate=%d warmupMs=%d loadavg=%s %s decidedBefore=%s:%.0f,%s:%.0f adsMovedAckedMs=%d"
                  + " endpointsKept=%d failedOpenAfterKill=%d failed=%d")
              .formatted(
                  RATE,
                  warmup,
                  DrillRig.loadAverage(),
                  s.figures(),
                  owner.name(),
                  ownerDecided,
                  other.name(),
                  otherDecided,
                  ms(killed, moved[0]),
                  endpointsRightAfter,
                  failOpenAfter - failOpenBefore,
                  s.failures().size()),
          s);
    }
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(ownerDecided).as("requests decided by the ADS replica").isPositive();
    soft.assertThat(otherDecided).as("requests decided by the other replica").isPositive();
    soft.assertThat(endpointsRightAfter).as("Envoy keeps its endpoints").isEqualTo(2);
    soft.assertThat(moved[0]).as("ADS stream moved to the other replica, ACKed").isPositive();
    soft.assertThat(s.failures())
        .as("failed reads after the kill: %s", s.sampleFailures(3))
        .isEmpty();
    soft.assertThat(s.ok()).isPositive();
    // The dead replica is ejected from the ext_proc cluster after two refused connections
    // (outlier detection); without it about half the requests after the kill skipped routing.
    soft.assertThat(failOpenAfter - failOpenBefore)
        .as("requests that skipped routing after the kill (ext_proc failed open)")
        .isLessThan(RATE / 2);
    soft.assertAll();
  }

  private long counter(String name) {
    for (String line :
        envoy
            .admin(
                "/stats?filter="
                    + java.net.URLEncoder.encode(
                        "^" + name.replace(".", "\\.") + "$",
                        java.nio.charset.StandardCharsets.UTF_8))
            .split("\n")) {
      String[] kv = line.split(": ", 2);
      if (kv.length == 2 && kv[0].equals(name)) {
        return Long.parseLong(kv[1].trim());
      }
    }
    return 0;
  }

  private int endpoints(String cluster) {
    int n = 0;
    for (String line : envoy.admin("/clusters").split("\n")) {
      String[] f = line.split("::");
      if (f.length == 4 && f[0].equals(cluster) && f[2].equals("health_flags")) {
        n++;
      }
    }
    return n;
  }
}
