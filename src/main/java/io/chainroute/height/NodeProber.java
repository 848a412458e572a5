package io.chainroute.height;

import io.chainroute.chain.ProbeReading;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import java.util.concurrent.CompletableFuture;

/**
 * Asks one node for its head. Implementations do I/O off the tracker's thread and complete the
 * future with a {@link Result}; they never complete it exceptionally.
 */
public interface NodeProber {
  /**
   * Probes one node once.
   *
   * @param lastHead the node's last reported head, or -1 when unknown or its last probe failed
   */
  CompletableFuture<Result> probe(ChainConfig chain, NodeConfig node, long lastHead);

  /** A probe outcome. */
  sealed interface Result {}

  /**
   * The node answered.
   *
   * @param address the IP address the node was reached at
   */
  record Answered(ProbeReading reading, long latencyMicros, String address, boolean longPoll)
      implements Result {
    public Answered(ProbeReading reading, long latencyMicros, String address) {
      this(reading, latencyMicros, address, false);
    }
  }

  /**
   * The reason is safe to log: no URL, no credential. {@code cause} is its bounded kind, for
   * metrics.
   */
  record Failed(String reason, Cause cause) implements Result {
    public Failed(String reason) {
      this(reason, Cause.OTHER);
    }
  }

  /** What kind of failure a probe met: a small fixed set (a metric label). */
  enum Cause {
    TIMEOUT("timeout"),
    REFUSED("refused"),
    DNS("dns"),
    IO("io"),
    /** The node answered, but not with a head (HTTP error, malformed body, an RPC error). */
    BAD_ANSWER("bad_answer"),
    OTHER("other");

    private final String label;

    Cause(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }
}
