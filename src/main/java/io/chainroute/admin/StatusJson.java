package io.chainroute.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.chainroute.height.ChainView;
import io.chainroute.height.NodeView;
import io.chainroute.height.RegionPreference;
import io.chainroute.height.Topology;
import io.chainroute.routing.Pool;
import io.chainroute.routing.PoolMember;
import io.chainroute.routing.PoolPlan;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;

/**
 * Renders {@code GET /status}: chains, nodes, pools and connected Envoys. Pure. Node endpoints are
 * shown as {@code scheme://host:port} only: a URL may carry credentials.
 */
public final class StatusJson {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private StatusJson() {}

  public static ObjectNode status(Topology topology, List<EnvoyConnection> envoys) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", topology.version());
    root.put("ready", topology.ready());
    ArrayNode chains = root.putArray("chains");
    for (ChainView c : topology.chains().values()) {
      ObjectNode chain = chains.addObject();
      chain.put("name", c.name());
      chain.put("protocol", c.config().protocol().configName());
      chain.put("pathPrefix", c.config().pathPrefix());
      chain.put("head", c.head());
      chain.put("ready", c.ready());
      putInstant(chain, "headAdvanced", c.headAdvancedWallMillis());
      ArrayNode nodes = chain.putArray("nodes");
      for (NodeView n : c.nodes()) {
        ObjectNode node = nodes.addObject();
        node.put("name", n.name());
        node.put("endpoint", n.config().redactedEndpoint());
        node.put("region", n.config().region());
        node.put("archive", n.config().archive());
        node.put("head", n.head());
        node.put("lag", n.lag());
        node.put("health", n.health().name());
        node.put("status", n.status().name());
        node.put("reason", n.reason());
        node.put("probeLatencyMicros", n.latencyMicros());
        // What the latency earns the node (LatencyWeights): its EDS load_balancing_weight and why.
        node.put("smoothedLatencyMicros", n.score().latencyMicros());
        node.put("weight", n.score().weight());
        node.put("weightReason", n.score().reason());
        putInstant(node, "lastAdvanced", n.lastAdvancedWallMillis());
      }
      ArrayNode pools = chain.putArray("pools");
      for (Pool p : Pool.values()) {
        ObjectNode pool = pools.addObject();
        pool.put("name", p.id());
        pool.put("cluster", io.chainroute.contract.EnvoyContract.nodeCluster(c.config().name(), p));
        ArrayNode members = pool.putArray("members");
        for (PoolMember m : PoolPlan.members(c, p, "")) {
          members
              .addObject()
              .put("node", m.node().name())
              .put("status", m.status().name())
              .put("priority", m.priority())
              .put("weight", m.node().score().weight());
        }
      }
      ArrayNode regions = chain.putArray("regions");
      for (RegionPreference p : c.preferences()) {
        regions.add(region(c, p));
      }
    }
    ArrayNode list = root.putArray("envoys");
    for (EnvoyConnection e : envoys) {
      ObjectNode envoy = list.addObject();
      envoy.put("nodeId", e.nodeId());
      envoy.put("cluster", e.cluster());
      envoy.put("region", e.region());
      envoy.put("address", e.address());
      if (!e.refused().isEmpty()) {
        // Refused by server.allowedEnvoyNodeIds: no resource was sent to it.
        envoy.put("refused", e.refused());
        envoy.put("attempts", e.attempts());
        envoy.put("lastAttemptAt", Instant.ofEpochMilli(e.connectedAtMillis()).toString());
        continue;
      }
      envoy.put("connectedAt", Instant.ofEpochMilli(e.connectedAtMillis()).toString());
      ArrayNode types = envoy.putArray("resources");
      for (EnvoyConnection.TypeState t : e.types()) {
        ObjectNode type = types.addObject();
        type.put("type", t.typeUrl());
        type.put("sentVersion", t.sentVersion());
        type.put("ackedVersion", t.ackedVersion());
        type.put("acked", !t.sentVersion().isEmpty() && t.sentVersion().equals(t.ackedVersion()));
        type.put("lastNack", t.lastNack());
        if (t.lastNackAtMillis() > 0) {
          type.put("lastNackAt", Instant.ofEpochMilli(t.lastNackAtMillis()).toString());
        }
      }
    }
    return root;
  }

  /**
   * What an Envoy in one region gets for one pool: whether it keeps the pool's traffic in its
   * region or spills over, why ({@link io.chainroute.height.RegionPreferences}), and the members
   * with the priorities and weights that Envoy is sent.
   */
  private static ObjectNode region(ChainView c, RegionPreference p) {
    ObjectNode o = JSON.createObjectNode();
    Pool pool = p.archivePool() ? Pool.ARCHIVE : Pool.HEAD;
    o.put("region", p.region());
    o.put("pool", pool.id());
    o.put("spill", p.spill());
    o.put("reason", p.reason());
    ArrayNode members = o.putArray("members");
    for (PoolMember m : PoolPlan.members(c, pool, p.region())) {
      members
          .addObject()
          .put("node", m.node().name())
          .put("region", m.node().config().region())
          .put("status", m.status().name())
          .put("priority", m.priority())
          .put("weight", m.node().score().weight());
    }
    return o;
  }

  /** An ISO-8601 instant, or null when {@code millis} is 0 (not known). */
  private static void putInstant(ObjectNode o, String field, long millis) {
    if (millis > 0) {
      o.put(field, Instant.ofEpochMilli(millis).toString());
    } else {
      o.putNull(field);
    }
  }

  public static byte[] bytes(ObjectNode node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The chains with no synced node, for /readyz. */
  public static List<String> unreadyChains(Topology topology) {
    return topology.chains().values().stream()
        .filter(c -> !c.ready())
        .map(ChainView::name)
        .toList();
  }
}
