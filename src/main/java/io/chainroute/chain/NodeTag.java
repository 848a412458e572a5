package io.chainroute.chain;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * A node's short, stable mark inside an id chainroute hands out for state that lives on that node
 * (an EVM filter id): {@value #LENGTH} lowercase hex digits from the node's configured name. The
 * same on every replica and across restarts, so any chainroute finds the node again without shared
 * state. Two nodes of a chain with the same tag (a 1 in 16 million chance per pair) make the tag
 * ambiguous; it is then treated as unknown.
 */
public final class NodeTag {
  public static final int LENGTH = 6;

  private NodeTag() {}

  public static String of(String nodeName) {
    CRC32 crc = new CRC32();
    crc.update(nodeName.getBytes(StandardCharsets.UTF_8));
    return String.format("%06x", crc.getValue() & 0xffffffL);
  }
}
