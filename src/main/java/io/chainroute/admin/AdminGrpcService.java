package io.chainroute.admin;

import io.chainroute.admin.v1.AdminServiceGrpc;
import io.chainroute.admin.v1.GetTopologyRequest;
import io.chainroute.admin.v1.WatchTopologyRequest;
import io.chainroute.height.Topology;
import io.chainroute.height.TopologySource;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * {@code chainroute.admin.v1.AdminService}: the topology now, and a stream of its changes.
 *
 * <p>Threading: a watch listener runs on the tracker's loop thread and never blocks: it only
 * records the latest topology and sends it when the client's transport is ready. A slow client
 * skips intermediate topologies and always ends up with the latest one.
 */
public final class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase
    implements AutoCloseable {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(AdminGrpcService.class);
  private final TopologySource source;
  private final java.util.Set<Watch> watches = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  public AdminGrpcService(TopologySource source) {
    this.source = source;
  }

  /**
   * The service behind the admin's access rules ({@link AdminAccess}): {@code DrainNode} and {@code
   * UndrainNode} need {@code authorization: Bearer <token>} metadata when a token is configured,
   * and reads too when {@code bind} is not loopback.
   *
   * @throws IllegalStateException when {@code bind} is not loopback and {@code adminToken} is empty
   */
  public io.grpc.ServerServiceDefinition guarded(java.net.InetAddress bind, String adminToken) {
    return io.grpc.ServerInterceptors.intercept(this, new AdminAccess(bind, adminToken).grpc());
  }

  @Override
  public void getTopology(
      GetTopologyRequest request, StreamObserver<io.chainroute.admin.v1.Topology> out) {
    out.onNext(TopologyProtos.toProto(source.topology()));
    out.onCompleted();
  }

  @Override
  public void drainNode(
      io.chainroute.admin.v1.DrainNodeRequest request,
      StreamObserver<io.chainroute.admin.v1.Node> out) {
    setDrained(request, true, out);
  }

  @Override
  public void undrainNode(
      io.chainroute.admin.v1.DrainNodeRequest request,
      StreamObserver<io.chainroute.admin.v1.Node> out) {
    setDrained(request, false, out);
  }

  private void setDrained(
      io.chainroute.admin.v1.DrainNodeRequest r,
      boolean drained,
      StreamObserver<io.chainroute.admin.v1.Node> out) {
    String client = AdminAccess.CLIENT.get();
    source
        .setDrained(r.getChain(), r.getNode(), drained)
        .whenComplete(
            (view, error) -> {
              io.chainroute.height.NodeView n =
                  view == null
                      ? null
                      : view.nodes().stream()
                          .filter(v -> v.name().equals(r.getNode()))
                          .findFirst()
                          .orElse(null);
              if (n == null) {
                out.onError(
                    io.grpc.Status.NOT_FOUND
                        .withDescription(
                            "no node '" + r.getNode() + "' in chain '" + r.getChain() + "'")
                        .asRuntimeException());
                return;
              }
              // Names from the request are logged only once they matched a configured node.
              log.info(
                  "Node {} over gRPC. chain={} node={} client={}",
                  drained ? "drained" : "undrained",
                  view.config().name(),
                  n.name(),
                  client == null ? "unknown" : client);
              out.onNext(TopologyProtos.node(n));
              out.onCompleted();
            });
  }

  @Override
  public void watchTopology(
      WatchTopologyRequest request, StreamObserver<io.chainroute.admin.v1.Topology> observer) {
    ServerCallStreamObserver<io.chainroute.admin.v1.Topology> out =
        (ServerCallStreamObserver<io.chainroute.admin.v1.Topology>) observer;
    if (closed) {
      out.onError(
          io.grpc.Status.UNAVAILABLE
              .withDescription("chainroute is shutting down")
              .asRuntimeException());
      return;
    }
    Watch watch = new Watch(out);
    watches.add(watch);
    out.setOnCancelHandler(
        () -> {
          source.removeListener(watch);
          watches.remove(watch);
        });
    out.setOnReadyHandler(watch::drain);
    source.addListener(watch);
    watch.accept(source.topology());
  }

  /**
   * Ends every open watch so a graceful server shutdown does not wait on them; later watches are
   * refused with UNAVAILABLE.
   */
  @Override
  public void close() {
    closed = true;
    for (Watch w : watches) {
      source.removeListener(w);
      w.complete();
    }
    watches.clear();
  }

  /** Holds the newest unsent topology; sends it whenever the stream can take a message. */
  private static final class Watch implements Consumer<Topology> {
    private final ServerCallStreamObserver<io.chainroute.admin.v1.Topology> out;
    private final AtomicReference<Topology> pending = new AtomicReference<>();
    private final AtomicBoolean sending = new AtomicBoolean();
    private long sentVersion = -1;

    Watch(ServerCallStreamObserver<io.chainroute.admin.v1.Topology> out) {
      this.out = out;
    }

    @Override
    public void accept(Topology t) {
      pending.set(t);
      drain();
    }

    void complete() {
      // Serialised with drain(): wait for a concurrent send to finish.
      while (!sending.compareAndSet(false, true)) {
        Thread.onSpinWait();
      }
      try {
        if (!out.isCancelled()) {
          out.onCompleted();
        }
      } finally {
        pending.set(null);
      }
    }

    void drain() {
      // One sender at a time; re-check after releasing so no update is left behind.
      while (pending.get() != null && sending.compareAndSet(false, true)) {
        try {
          while (!out.isCancelled() && out.isReady()) {
            Topology t = pending.getAndSet(null);
            if (t == null) {
              break;
            }
            if (t.version() != sentVersion) {
              sentVersion = t.version();
              out.onNext(TopologyProtos.toProto(t));
            }
          }
        } finally {
          sending.set(false);
        }
        if (out.isCancelled() || !out.isReady()) {
          return;
        }
      }
    }
  }
}
