package io.chainroute.chain;

/**
 * One node's answer to a request chainroute sent it itself: the HTTP status and body, or why there
 * is none ({@code failure}: a timeout, a refused connection; safe to log, never a URL or a header).
 *
 * @param node the node's configured name
 */
public record NodeReply(String node, int httpStatus, byte[] body, String failure) {
  public static NodeReply failed(String node, String failure) {
    return new NodeReply(node, 0, new byte[0], failure);
  }

  public boolean answered() {
    return failure == null;
  }
}
