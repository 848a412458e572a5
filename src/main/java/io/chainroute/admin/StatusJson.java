package io.chainroute.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.chainroute.height.ChainView;
import io.chainroute.height.NodeView;
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
              .put("priority", m.priority());
        }
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
