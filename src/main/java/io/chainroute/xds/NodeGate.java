package io.chainroute.xds;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * In front of the xDS services: carries each stream's node onto its later requests (Envoy sends it
 * on the first only), and holds the allow-list of Envoy node ids ({@code
 * server.allowedEnvoyNodeIds}). A stream's first request names its node; if the id is not on the
 * list the stream is closed with {@code PERMISSION_DENIED} and the request never reaches
 * java-control-plane, so no snapshot is built and no resource (endpoints carry node credentials) is
 * sent.
 *
 * <p>Why close rather than leave the stream unanswered: Envoy logs the status and its description
 * (the operator of a misconfigured Envoy sees why), counts the failure in {@code
 * control_plane.connected_state}, and retries with its back-off; an unanswered stream would hold a
 * stream on chainroute for as long as the rogue likes and look to its operator like a slow control
 * plane. The retries are what the log's rate limit is for: the first refusal of a node id and host
 * is logged, then once a minute with the count; {@link #refused()} keeps the latest {@link
 * #MAX_REFUSED} for {@code /status}.
 *
 * <p>Threading: calls arrive on gRPC threads; one call's messages in order. The list is set before
 * the port opens; the refusal table is guarded by its own monitor.
 */
public final class NodeGate implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(NodeGate.class);

  static final int MAX_REFUSED = 64;
  static final long LOG_EVERY_MILLIS = 60_000;

  private final Clock clock;
  private volatile Set<String> allowed = Set.of();
  private volatile XdsListener listener = XdsListener.NONE;
  // By node id and host, oldest first.
  private final Map<String, Refusal> refused = new LinkedHashMap<>();

  /**
   * An Envoy that was refused: its node id, the host it connected from, why, how often and when
   * last.
   */
  public record Refusal(
      String nodeId,
      String address,
      String reason,
      long attempts,
      long lastAtMillis,
      long loggedAtMillis) {}

  NodeGate(Clock clock) {
    this.clock = clock;
  }

  /** Only these node ids are served; empty serves every Envoy. */
  void allowOnly(Set<String> nodeIds) {
    allowed = Set.copyOf(nodeIds);
  }

  /** Told of each refusal (the metrics). */
  void listener(XdsListener l) {
    this.listener = l;
  }

  List<Refusal> refused() {
    synchronized (refused) {
      return List.copyOf(refused.values());
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Set<String> allow = allowed;
    ServerCall.Listener<Q> delegate = next.startCall(call, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(delegate) {
      // The node the stream's first request named; null until then.
      private Node node;
      private boolean closed;

      @Override
      public void onMessage(Q message) {
        if (closed) {
          return;
        }
        if (!(message instanceof DiscoveryRequest request)) {
          super.onMessage(message);
          return;
        }
        if (node == null) {
          String id = request.hasNode() ? request.getNode().getId() : "";
          if (!allow.isEmpty() && !allow.contains(id)) {
            closed = true;
            refuse(id, PeerAddress.of(call));
            call.close(
                Status.PERMISSION_DENIED.withDescription(
                    "this chainroute does not serve Envoy node id '"
                        + printable(id)
                        + "' (server.allowedEnvoyNodeIds)"),
                new Metadata());
            // The service saw the stream open: it ends there, as for a client that went away.
            super.onCancel();
            return;
          }
          node = request.getNode();
          super.onMessage(message);
          return;
        }
        if (!request.hasNode()) {
          // Envoy names its node in the first request only (set_node_on_first_message_only), and
          // java-control-plane groups each request by its own node: without this, every later
          // request (ACKs, the watches that carry updates) would land in the group of an Envoy
          // with no region and an Envoy with one would never see an update.
          @SuppressWarnings("unchecked")
          Q withNode = (Q) request.toBuilder().setNode(node).build();
          super.onMessage(withNode);
          return;
        }
        super.onMessage(message);
      }

      @Override
      public void onHalfClose() {
        if (!closed) {
          super.onHalfClose();
        }
      }

      @Override
      public void onCancel() {
        if (!closed) {
          super.onCancel();
        }
      }

      @Override
      public void onComplete() {
        if (!closed) {
          super.onComplete();
        }
      }
    };
  }

  private void refuse(String nodeId, String address) {
    String reason =
        nodeId.isEmpty()
            ? "no node id in the first request"
            : "node id not in server.allowedEnvoyNodeIds";
    listener.refused(nodeId.isEmpty() ? "no_node_id" : "unknown_node");
    String key = nodeId + "@" + address;
    long now = clock.millis();
    long attempts;
    boolean logIt;
    synchronized (refused) {
      Refusal before = refused.remove(key);
      attempts = before == null ? 1 : before.attempts() + 1;
      logIt = before == null || now - before.loggedAtMillis() >= LOG_EVERY_MILLIS;
      long loggedAt = logIt ? now : before.loggedAtMillis();
      refused.put(key, new Refusal(nodeId, address, reason, attempts, now, loggedAt));
      if (refused.size() > MAX_REFUSED) {
        refused.remove(refused.keySet().iterator().next());
      }
    }
    if (logIt) {
      log.warn(
          "Envoy refused on xDS: it gets no resources. node=\"{}\" client={} attempts={}"
              + " reason=\"{}\"",
          printable(nodeId),
          address,
          attempts,
          reason);
    }
  }

  /** A node id as logs and errors show it: at most 128 printable ASCII characters. */
  static String printable(String nodeId) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < nodeId.length() && b.length() < 128; i++) {
      char c = nodeId.charAt(i);
      b.append(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?');
    }
    return b.toString();
  }
}
