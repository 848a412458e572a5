package io.chainroute.chain;

import io.chainroute.config.Protocol;

/**
 * Everything protocol-specific, behind one stateless, thread-safe interface: how to ask a node for
 * its head (and, where the protocol pushes them, a {@link #headSource}), how to read a client
 * request into {@link Requirement}s (including a wait for a height, answered with the adapter's own
 * replies), and which paths and headers the proxy must treat apart ({@link #pathRoutes}, {@link
 * #clientHeadersToDrop}). Implementations are registered in {@code
 * io.chainroute.adapters.ChainAdapters}. The engine (tracking, routing, xDS) knows heights and
 * pools, never a method name or a path template.
 */
public interface ChainAdapter {

  Protocol protocol();

  /**
   * The HTTP request that asks a node for its head.
   *
   * @param node the node (its API token, if any, goes into the probe's headers)
   * @param lastHead the head the node reported last, or -1 when unknown or its last probe failed; a
   *     protocol with a long poll (algod) uses it to wait for the next height
   */
  HeadProbe headProbe(io.chainroute.config.NodeConfig node, long lastHead);

  /**
   * Reads a probe answer.
   *
   * @throws ProbeException when the answer does not say what the head is
   */
  ProbeReading readHeadProbe(int httpStatus, byte[] body);

  /**
   * This adapter set up for one chain (its config's per-chain rules, such as EVM's method policy);
   * the adapter itself when the protocol has none. Called once per chain at start.
   */
  default ChainAdapter forChain(io.chainroute.config.ChainConfig chain) {
    return this;
  }

  /**
   * The calls a proxy may send to the head pool on its own (the in-Envoy fast path), or null when
   * every request must be classified here. Derived from this adapter's own tables.
   */
  default FastPathTable fastPath() {
    return null;
  }

  /**
   * Reads a client request from its request line alone, for protocols that route on the path
   * (algod). Returns null when the body is needed ({@link #classify} is called with it).
   *
   * @param method HTTP method
   * @param path path after the chain's prefix, with its query string; starts with "/"
   */
  default Classification classifyRequestLine(String method, String path) {
    return null;
  }

  /**
   * Reads one client request.
   *
   * @param method HTTP method
   * @param body complete request body, empty when there is none
   */
  Classification classify(String method, byte[] body);

  /**
   * Paths the proxy routes apart from the generic pool routes (a long poll chainroute holds, a
   * lookup only one node can answer), first match first. None by default.
   */
  default java.util.List<PathRoute> pathRoutes() {
    return java.util.List.of();
  }

  /**
   * A push source of head news for the chain's nodes, or null when the protocol has none or no node
   * of the chain is set up for one (the tracker then relies on polling alone).
   *
   * @param http the client for each node's connections (the probes', with the node's CA bundle)
   * @param timer for its reconnects; single-threaded, never to be blocked
   * @param wake rung per node with news
   */
  default HeadSource headSource(
      io.chainroute.config.ChainConfig chain,
      java.util.function.Function<io.chainroute.config.NodeConfig, java.net.http.HttpClient> http,
      java.util.concurrent.ScheduledExecutorService timer,
      HeadSource.Wake wake) {
    return null;
  }

  /**
   * The body of an error the proxy writes itself for this protocol's requests (Envoy's local
   * replies: no node available, a timeout, a limit reached), in the protocol's own error format.
   *
   * @param code a JSON-RPC style error code; a protocol without codes ignores it
   * @param message fixed text (no secret, no '%')
   * @param idJson spliced in verbatim where the protocol echoes the request's id: a proxy
   *     placeholder or {@code null}; ignored by a protocol without ids (see {@link
   *     #proxyErrorsEchoId})
   */
  String proxyErrorBody(int code, String message, String idJson);

  /** True when the protocol's errors carry the request's id, which the proxy echoes when known. */
  default boolean proxyErrorsEchoId() {
    return false;
  }

  /** True when the adapter's requests may carry a {@link LocalPlan} with stored calls. */
  default boolean storesAnswers() {
    return false;
  }

  /**
   * The answers worth keeping from a node's answer to a request whose {@link LocalPlan} had {@link
   * LocalPlan.Stored} calls, in the store's format (what {@link LocalPlan.Assembler} reads back):
   * one per call of {@code calls}, null where a call's answer is not kept (an error, a null result,
   * a block above {@code finalized}, an answer that cannot be matched to its call).
   *
   * @param calls per call of the request: what its answer must show, or null for a call not kept
   * @param finalized the chain's finalized height now
   */
  default java.util.List<byte[]> captured(
      byte[] responseBody, java.util.List<LocalPlan.Capture> calls, long finalized) {
    return java.util.Collections.nCopies(calls.size(), null);
  }

  /**
   * The protocol's own error for a call on state that lived on a node which is gone (EVM: geth's
   * {@code -32000 filter not found}), which the proxy answers when it cannot reach that node
   * (Envoy's local reply for the node's route; chainroute answers the same once it saw the node
   * go); null when the protocol keeps no state on a node.
   */
  default NodeStateGone nodeStateGone() {
    return null;
  }

  /** A JSON-RPC style error: the code and the node's own message. */
  record NodeStateGone(int code, String message) {}

  /**
   * Client request headers (lower case) dropped on every route of the chain before a request
   * reaches a node: credentials a client sent, where chainroute sends each node its own.
   */
  default java.util.List<String> clientHeadersToDrop() {
    return java.util.List.of();
  }

  /**
   * The probe request.
   *
   * @param headers extra request headers (may hold a secret: never log them)
   * @param timeout how long to wait for the answer; null means the chain's probe timeout
   * @param longPoll true when the node answers only once it has something new (the tracker then
   *     probes again at once instead of after the poll interval)
   */
  record HeadProbe(
      String method,
      String path,
      String contentType,
      byte[] body,
      java.util.Map<String, String> headers,
      java.time.Duration timeout,
      boolean longPoll) {
    public HeadProbe(String method, String path, String contentType, byte[] body) {
      this(method, path, contentType, body, java.util.Map.of(), null, false);
    }
  }

  /** A probe answer that cannot be read; its message is safe to log (no URL, no secret). */
  final class ProbeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ProbeException(String message) {
      super(message);
    }
  }
}
