package io.chainroute.xds;

import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tracks every connected Envoy: who it is and, per resource type, the version last sent, the
 * version it ACKed and its last NACK. Fed by java-control-plane's stream callbacks.
 *
 * <p>Threading: callbacks for one stream arrive in order on gRPC threads; each stream's state is
 * guarded by its own monitor. {@link #clients()} returns an immutable copy for any thread.
 */
public final class XdsClients implements DiscoveryServerCallbacks {
  private static final Logger log = LoggerFactory.getLogger(XdsClients.class);

  private final Clock clock;
  private final Consumer<Node> onFirstRequest;
  private volatile Runnable onAck = () -> {};
  private volatile XdsListener listener = XdsListener.NONE;
  private final Map<Long, Stream> streams = new ConcurrentHashMap<>();

  /**
   * @param onFirstRequest runs synchronously on the first request that names its node, before the
   *     cache answers it (the publisher uses it to build that Envoy's snapshot)
   */
  XdsClients(Clock clock, Consumer<Node> onFirstRequest) {
    this.clock = clock;
    this.onFirstRequest = onFirstRequest;
  }

  /** One Envoy's xDS state for a resource type. Empty strings mean "none yet". */
  public record TypeState(
      String typeUrl,
      String sentVersion,
      String ackedVersion,
      String lastNack,
      long lastNackAtMillis) {}

  /** One connected Envoy (one ADS stream). */
  public record Client(
      long streamId,
      String nodeId,
      String cluster,
      String region,
      String address,
      long connectedAtMillis,
      List<TypeState> types) {}

  /** Runs (on a gRPC thread) after each ACK; must not block. */
  void onAck(Runnable r) {
    onAck = r;
  }

  void listener(XdsListener l) {
    listener = l;
  }

  List<Client> clients() {
    List<Client> out = new ArrayList<>();
    for (Map.Entry<Long, Stream> e : new TreeMap<>(streams).entrySet()) {
      out.add(e.getValue().snapshot(e.getKey()));
    }
    return out;
  }

  @Override
  public void onStreamOpen(long streamId, String typeUrl) {
    streams.put(streamId, new Stream(clock.millis(), PeerAddress.current()));
  }

  @Override
  public void onStreamClose(long streamId, String typeUrl) {
    Stream s = streams.remove(streamId);
    if (s != null && s.nodeId != null) {
      log.info("Envoy disconnected from xDS. stream={} node={}", streamId, s.nodeId);
    }
  }

  @Override
  public void onStreamCloseWithError(long streamId, String typeUrl, Throwable error) {
    Stream s = streams.remove(streamId);
    // A stream that never named its node (one the allow-list refused) is not an Envoy's session.
    if (s != null && s.nodeId != null) {
      log.info(
          "Envoy xDS stream ended. stream={} node={} reason=\"{}\"",
          streamId,
          s.nodeId,
          error.toString());
    }
  }

  @Override
  public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
    Stream s =
        streams.computeIfAbsent(streamId, id -> new Stream(clock.millis(), PeerAddress.current()));
    boolean first = false;
    String nacked = null;
    long ackedAfter = -1;
    synchronized (s) {
      if (s.nodeId == null && request.hasNode()) {
        Node node = request.getNode();
        s.nodeId = node.getId();
        s.cluster = node.getCluster();
        s.region = node.getLocality().getRegion();
        first = true;
      }
      TypeEntry t = s.types.computeIfAbsent(request.getTypeUrl(), k -> new TypeEntry());
      if (request.hasErrorDetail()) {
        t.lastNack = request.getErrorDetail().getMessage();
        t.lastNackAt = clock.millis();
        log.warn(
            "Envoy rejected xDS update. node={} type={} version={} error=\"{}\"",
            s.nodeId,
            shortType(request.getTypeUrl()),
            t.sent,
            t.lastNack);
        nacked = s.nodeId == null ? "" : s.nodeId;
      } else if (!request.getResponseNonce().isEmpty()) {
        t.acked = request.getVersionInfo();
        if (t.sentAt >= 0 && t.acked.equals(t.sent)) {
          ackedAfter = Math.max(0, clock.millis() - t.sentAt);
          t.sentAt = -1; // one ACK per response sent
        }
      }
    }
    if (nacked != null) {
      listener.nacked(nacked, request.getTypeUrl());
    } else if (ackedAfter >= 0) {
      listener.acked(s.nodeId == null ? "" : s.nodeId, request.getTypeUrl(), ackedAfter);
    }
    if (!request.hasErrorDetail() && !request.getResponseNonce().isEmpty()) {
      onAck.run();
    }
    if (first) {
      log.info(
          "Envoy connected to xDS. stream={} node={} region={} client={}",
          streamId,
          s.nodeId,
          s.region,
          s.address);
      onFirstRequest.accept(request.getNode());
    }
  }

  @Override
  public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
    // Delta xDS is not offered (DESIGN.md: state of the world); java-control-plane rejects it.
  }

  @Override
  public void onV3StreamResponse(
      long streamId, DiscoveryRequest request, DiscoveryResponse response) {
    Stream s = streams.get(streamId);
    if (s == null) {
      return;
    }
    synchronized (s) {
      TypeEntry t = s.types.computeIfAbsent(response.getTypeUrl(), k -> new TypeEntry());
      t.sent = response.getVersionInfo();
      t.sentAt = clock.millis();
    }
    listener.pushed(response.getTypeUrl());
  }

  public static String shortType(String typeUrl) {
    return typeUrl.substring(typeUrl.lastIndexOf('.') + 1);
  }

  private static final class Stream {
    final long connectedAt;
    final String address;
    String nodeId;
    String cluster = "";
    String region = "";
    final Map<String, TypeEntry> types = new TreeMap<>();

    Stream(long connectedAt, String address) {
      this.connectedAt = connectedAt;
      this.address = address;
    }

    synchronized Client snapshot(long id) {
      List<TypeState> ts = new ArrayList<>();
      types.forEach((k, v) -> ts.add(new TypeState(k, v.sent, v.acked, v.lastNack, v.lastNackAt)));
      return new Client(
          id, nodeId == null ? "" : nodeId, cluster, region, address, connectedAt, List.copyOf(ts));
    }
  }

  private static final class TypeEntry {
    String sent = "";
    String acked = "";
    String lastNack = "";
    long lastNackAt;
    // When the last response was sent; -1 once it was ACKed.
    long sentAt = -1;
  }
}
