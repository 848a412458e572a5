package io.chainroute.xds;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Carries the client's host address from the transport into the gRPC {@link Context} of each call,
 * where java-control-plane's stream callbacks (which are not told the peer) can read it: the xDS
 * log lines and {@code /status} name the host an Envoy connected from.
 *
 * <p>Threading: stateless; {@link #current()} reads the calling thread's attached context.
 */
final class PeerAddress implements ServerInterceptor {
  private static final Context.Key<String> KEY = Context.key("chainroute-peer");

  static final PeerAddress INTERCEPTOR = new PeerAddress();

  private PeerAddress() {}

  /** The current call's client host ("127.0.0.1"), or "" outside a call. */
  static String current() {
    String a = KEY.get();
    return a == null ? "" : a;
  }

  /** The client host of {@code call} ("127.0.0.1"). */
  static String of(ServerCall<?, ?> call) {
    SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    return remote instanceof InetSocketAddress inet
        ? inet.getAddress() != null ? inet.getAddress().getHostAddress() : inet.getHostString()
        : String.valueOf(remote);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    return Contexts.interceptCall(Context.current().withValue(KEY, of(call)), call, headers, next);
  }
}
