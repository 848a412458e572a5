package io.chainroute.chain;

import io.chainroute.config.Protocol;

/**
 * Everything protocol-specific, behind one stateless, thread-safe interface: how to ask a node for
 * its head, and how to read a client request into {@link Requirement}s. The engine (tracking,
 * routing, xDS) knows heights and pools, never a method name or a path template.
 */
public interface ChainAdapter {

  Protocol protocol();

  /** The HTTP request that asks a node for its head. */
  HeadProbe headProbe();

  /**
   * Reads a probe answer.
   *
   * @throws ProbeException when the answer does not say what the head is
   */
  ProbeReading readHeadProbe(int httpStatus, byte[] body);

  /**
   * Reads one client request.
   *
   * @param method HTTP method
   * @param body complete request body, empty when there is none
   */
  Classification classify(String method, byte[] body);

  /** The probe request: HTTP method, path, content type and body. */
  record HeadProbe(String method, String path, String contentType, byte[] body) {}

  /** A probe answer that cannot be read; its message is safe to log (no URL, no secret). */
  final class ProbeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ProbeException(String message) {
      super(message);
    }
  }
}
