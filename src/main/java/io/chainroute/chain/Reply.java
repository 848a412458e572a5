package io.chainroute.chain;

/**
 * A complete answer chainroute sends itself instead of a node: HTTP status, content type and body.
 */
public record Reply(int httpStatus, String contentType, byte[] body) {}
