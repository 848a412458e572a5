package io.chainroute.admin;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Who may use the admin endpoints (HTTP and gRPC), decided from the admin's bind address, the admin
 * token and what a request carries. Immutable; pure apart from reading the machine's host name
 * once.
 *
 * <ul>
 *   <li><b>Host</b> (HTTP): the request's {@code Host} (port ignored) must be one of the admin's
 *       own addresses or names: {@code localhost}, a loopback IP, the bind address, and, when bound
 *       to a wildcard address, any IP literal and the machine's host name. A browser page on
 *       another name that DNS re-points here (DNS rebinding) sends its own name and is refused.
 *   <li><b>Origin</b> (HTTP): when present it must be {@code http://<the request's Host>}: a page
 *       of another origin (a cross-site form or fetch) is refused, whatever its content type.
 *   <li><b>Mutations</b> (drain, undrain, reload; gRPC {@code DrainNode}, {@code UndrainNode}) need
 *       {@code Authorization: Bearer <token>} when a token is configured; without one they are
 *       allowed on a loopback bind only (the config loader refuses a non-loopback bind without a
 *       token, and so does this constructor).
 *   <li><b>Reads</b> ({@code /status}, {@code /metrics}, gRPC topology) are open on a loopback bind
 *       and need the token elsewhere; {@code /healthz}, {@code /readyz} and the status page's
 *       static files are always open (they show no node detail).
 * </ul>
 *
 * <p>Tokens are compared as SHA-256 digests with {@link MessageDigest#isEqual} (constant time, and
 * the same length whatever was sent). No message here ever holds a token.
 */
final class AdminAccess {
  /** What a request does. */
  enum Kind {
    /** {@code /healthz}, {@code /readyz}, the status page's files: open to any allowed Host. */
    PROBE,
    /** {@code /status}, {@code /metrics}, gRPC topology reads. */
    READ,
    /** Drain, undrain, reload. */
    MUTATION
  }

  /** The outcome: allowed ({@link #OK}), or an HTTP status with a message safe to send. */
  record Verdict(int httpStatus, String message) {
    static final Verdict OK = new Verdict(0, "");

    boolean ok() {
      return httpStatus == 0;
    }
  }

  /** The client's address on a gRPC call (for the log line of a drain), "" when unknown. */
  static final Context.Key<String> CLIENT = Context.key("chainroute-admin-client");

  static final String TOKEN_REQUIRED =
      "a valid 'Authorization: Bearer <admin token>' header is required (the token is in the"
          + " environment variable named by server.adminTokenEnv)";

  private static final Pattern IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
  private static final Pattern IPV6 = Pattern.compile("[0-9a-f:.]*:[0-9a-f:.]*(%[0-9a-z]+)?");

  private final InetAddress bind;
  private final byte[] tokenDigest;
  private final String hostName;

  /**
   * @param bind the admin's bind address
   * @param token the admin token; empty when none is configured
   * @throws IllegalStateException when {@code bind} is not loopback and there is no token
   */
  AdminAccess(InetAddress bind, String token) {
    this(bind, token, bind.isAnyLocalAddress() ? localHostName() : "");
  }

  AdminAccess(InetAddress bind, String token, String hostName) {
    this.bind = bind;
    this.tokenDigest = token.isEmpty() ? null : sha256(token);
    this.hostName = hostName.toLowerCase(Locale.ROOT);
    if (tokenDigest == null && !bind.isLoopbackAddress()) {
      throw new IllegalStateException(
          "the admin is bound to "
              + bind.getHostAddress()
              + ", not loopback, without an admin token: set server.adminTokenEnv");
    }
  }

  boolean loopback() {
    return bind.isLoopbackAddress();
  }

  boolean hasToken() {
    return tokenDigest != null;
  }

  /** An HTTP request: its Host, Origin and Authorization headers (null when absent). */
  Verdict http(String host, String origin, String authorization, Kind kind) {
    if (host == null || !ownHost(hostOf(host))) {
      return new Verdict(
          403,
          "the Host header is not this admin's own address or name (use its IP address or"
              + " localhost; other names are refused against DNS rebinding)");
    }
    if (origin != null && !origin.equalsIgnoreCase("http://" + host.strip())) {
      return new Verdict(
          403, "cross-origin request refused: the Origin is not this admin's own (no CSRF)");
    }
    return token(authorization, kind);
  }

  /** The token rule alone (gRPC has no Host or Origin a browser could forge). */
  Verdict token(String authorization, Kind kind) {
    if (kind == Kind.PROBE || (kind == Kind.READ && loopback())) {
      return Verdict.OK;
    }
    if (tokenDigest == null) {
      // Only reachable on loopback (the constructor refuses the rest): changes allowed.
      return Verdict.OK;
    }
    return tokenMatches(authorization) ? Verdict.OK : new Verdict(401, TOKEN_REQUIRED);
  }

  /** True when {@code authorization} is {@code Bearer <the token>} (scheme in any case). */
  boolean tokenMatches(String authorization) {
    if (tokenDigest == null || authorization == null) {
      return false;
    }
    String a = authorization.strip();
    if (!a.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    return MessageDigest.isEqual(sha256(a.substring(7).strip()), tokenDigest);
  }

  /** The host part of a Host header value, lower case, without brackets or port. */
  static String hostOf(String host) {
    String h = host.strip().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      return end < 0 ? h : h.substring(1, end);
    }
    int colon = h.indexOf(':');
    return colon >= 0 && colon == h.lastIndexOf(':') ? h.substring(0, colon) : h;
  }

  private boolean ownHost(String h) {
    if (h.isEmpty()) {
      return false;
    }
    if (h.equals("localhost")) {
      return true;
    }
    if ((IPV4.matcher(h).matches() && octets(h)) || IPV6.matcher(h).matches()) {
      InetAddress a = literal(h);
      if (a == null) {
        return false;
      }
      return a.isLoopbackAddress() || a.equals(bind) || bind.isAnyLocalAddress();
    }
    return bind.isAnyLocalAddress() && h.equals(hostName);
  }

  /** Every part of a dotted quad is at most 255 (else the JDK would look it up as a name). */
  private static boolean octets(String h) {
    for (String part : h.split("\\.")) {
      if (Integer.parseInt(part) > 255) {
        return false;
      }
    }
    return true;
  }

  /** An IP literal parsed without any name lookup, or null. */
  private static InetAddress literal(String h) {
    try {
      // A literal (digits, dots, colons) is parsed, never resolved.
      return InetAddress.getByName(h);
    } catch (java.net.UnknownHostException | SecurityException e) {
      return null;
    }
  }

  /** The client's address for a log line: an IP, never a name or anything the client wrote. */
  static String client(SocketAddress a) {
    return a instanceof InetSocketAddress i && i.getAddress() != null
        ? i.getAddress().getHostAddress()
        : "unknown";
  }

  /**
   * The gRPC side: {@code DrainNode} and {@code UndrainNode} are mutations, the rest reads; a call
   * the token rule refuses ends {@code UNAUTHENTICATED} (or {@code PERMISSION_DENIED}) before the
   * service sees it. The client's address goes into {@link #CLIENT}.
   */
  ServerInterceptor grpc() {
    Metadata.Key<String> authorization =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getBareMethodName();
        Kind kind =
            "DrainNode".equals(method) || "UndrainNode".equals(method) ? Kind.MUTATION : Kind.READ;
        Verdict v = token(headers.get(authorization), kind);
        if (!v.ok()) {
          call.close(
              (v.httpStatus() == 401 ? Status.UNAUTHENTICATED : Status.PERMISSION_DENIED)
                  .withDescription(v.message()),
              new Metadata());
          return new ServerCall.Listener<>() {};
        }
        Context ctx =
            Context.current()
                .withValue(
                    CLIENT, client(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)));
        return Contexts.interceptCall(ctx, call, headers, next);
      }
    };
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is always available", e);
    }
  }

  private static String localHostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (java.net.UnknownHostException | SecurityException e) {
      return "";
    }
  }
}
