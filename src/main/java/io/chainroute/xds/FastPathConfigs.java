package io.chainroute.xds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.extension.v3.ExtensionConfigDiscoveryServiceGrpc;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.StreamObserver;
import java.util.LinkedHashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fast path's filter configuration over ECDS (ExtensionConfigDiscoveryService, state of the
 * world): one resource, the Lua filter's configuration with the current number bounds, sent to
 * every Envoy that subscribes to its name and again whenever {@link #set} replaces it (which the
 * fast path's owner does only when the bounds move, not on every block). java-control-plane's cache
 * has no ECDS type, hence this small server; it sits behind the same node allow-list as ADS.
 *
 * <p>Protocol: the first request of a stream gets the current resource (if any); later requests are
 * ACKs (counted in {@link #acks}) or NACKs (logged once per version with Envoy's reason; Envoy
 * keeps its previous configuration). A stream that asks for another name gets an empty response.
 *
 * <p>Threading: gRPC threads and the caller of {@link #set}; one monitor guards the resource and
 * the stream set, and each stream's writes.
 */
public final class FastPathConfigs {
  private static final Logger log = LoggerFactory.getLogger(FastPathConfigs.class);

  public static final String TYPE_URL =
      "type.googleapis.com/" + TypedExtensionConfig.getDescriptor().getFullName();

  private final Object lock = new Object();
  private final Set<Stream> streams = new LinkedHashSet<>();
  private TypedExtensionConfig current;
  private long version;
  private long acks;
  private long nacks;
  private long loggedNackVersion = -1;

  /** Replaces the resource and sends it to every subscribed Envoy. */
  public void set(TypedExtensionConfig config) {
    synchronized (lock) {
      current = config;
      version++;
      for (Stream s : java.util.List.copyOf(streams)) {
        s.send();
      }
    }
  }

  /** How many times the resource has been set. */
  public long version() {
    synchronized (lock) {
      return version;
    }
  }

  /** ACKs received, all streams (a test and {@code /status} read it). */
  public long acks() {
    synchronized (lock) {
      return acks;
    }
  }

  public long nacks() {
    synchronized (lock) {
      return nacks;
    }
  }

  /**
   * One subscribed Envoy: its node id, the version last sent and ACKed (-1: none), its last NACK.
   */
  public record Subscriber(
      String nodeId, long sentVersion, long ackedVersion, String lastNack, long lastNackAtMillis) {}

  /** Every subscribed Envoy, for {@code /status}. */
  public java.util.List<Subscriber> subscribers() {
    synchronized (lock) {
      return streams.stream()
          .map(
              s ->
                  new Subscriber(s.nodeId, s.sentVersion, s.ackedVersion, s.lastNack, s.lastNackAt))
          .toList();
    }
  }

  /** The gRPC service (wrap it in the allow-list before adding it to a server). */
  public ServerServiceDefinition service() {
    return new ExtensionConfigDiscoveryServiceGrpc.ExtensionConfigDiscoveryServiceImplBase() {
      @Override
      public StreamObserver<DiscoveryRequest> streamExtensionConfigs(
          StreamObserver<DiscoveryResponse> out) {
        return new Stream(out);
      }
    }.bindService();
  }

  private final class Stream implements StreamObserver<DiscoveryRequest> {
    private final StreamObserver<DiscoveryResponse> out;
    private boolean subscribed;
    private java.util.List<String> names = java.util.List.of();
    private long nonce;
    private boolean closed;
    private String nodeId = "";
    private long sentVersion = -1;
    private long ackedVersion = -1;
    private String lastNack = "";
    private long lastNackAt;

    Stream(StreamObserver<DiscoveryResponse> out) {
      this.out = out;
    }

    @Override
    public void onNext(DiscoveryRequest r) {
      synchronized (lock) {
        if (closed) {
          return;
        }
        names = java.util.List.copyOf(r.getResourceNamesList());
        if (r.hasNode()) {
          nodeId = r.getNode().getId();
        }
        if (!subscribed) {
          subscribed = true;
          streams.add(this);
          send();
          return;
        }
        if (r.hasErrorDetail()) {
          nacks++;
          lastNack = r.getErrorDetail().getMessage();
          lastNackAt = System.currentTimeMillis();
          if (loggedNackVersion != version) {
            loggedNackVersion = version;
            log.warn(
                "Envoy refused the fast path configuration (version {}): {}",
                r.getVersionInfo().isEmpty() ? "none" : r.getVersionInfo(),
                r.getErrorDetail().getMessage());
          }
        } else if (r.getResponseNonce().equals(Long.toString(nonce))) {
          acks++;
          ackedVersion = sentVersion;
        }
      }
    }

    /** Sends the current resource (under the monitor). */
    void send() {
      if (current == null || closed) {
        return;
      }
      DiscoveryResponse.Builder b =
          DiscoveryResponse.newBuilder()
              .setVersionInfo(Long.toString(version))
              .setTypeUrl(TYPE_URL)
              .setNonce(Long.toString(++nonce));
      if (names.isEmpty() || names.contains(current.getName())) {
        b.addResources(Any.pack(current));
      }
      try {
        out.onNext(b.build());
        sentVersion = version;
      } catch (RuntimeException e) {
        // The stream is gone (cancelled): forget it.
        closed = true;
        streams.remove(this);
      }
    }

    @Override
    public void onError(Throwable t) {
      end();
    }

    @Override
    public void onCompleted() {
      end();
      try {
        out.onCompleted();
      } catch (RuntimeException e) {
        // already closed
      }
    }

    private void end() {
      synchronized (lock) {
        closed = true;
        streams.remove(this);
      }
    }
  }
}
