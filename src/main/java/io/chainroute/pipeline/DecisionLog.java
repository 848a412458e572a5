package io.chainroute.pipeline;

import io.chainroute.chain.BlockRef;
import java.time.Duration;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decision log: one structured line per routing decision ({@code chain method block pool reason
 * head}, plus hold time and reply status when there are any), at DEBUG for every request and at
 * INFO for the unusual ones ({@link Reason#unusual}: archive routing, archive fallback, 503s,
 * shutdown answers; and every request held for a usable node), at most {@code infoPerSecond} INFO
 * lines a second, the next line saying how many were left out.
 *
 * <p>The line holds only the {@link Decided} values, which are normalised and bounded: a method
 * label from the adapter's table, a height or a tag (never a hash's value), never a body, a
 * parameter or a header. Logger: {@code io.chainroute.decisions} (turn DEBUG on for it alone to see
 * every request).
 *
 * <p>Threading: any thread.
 */
public final class DecisionLog implements DecisionListener {
  /** What the log writes to; slf4j in production, a recorder in tests. */
  interface Sink {
    boolean debugEnabled();

    void debug(String line);

    void info(String line);
  }

  private final Sink sink;
  private final RateLimit infoLimit;

  public DecisionLog() {
    this(slf4j(LoggerFactory.getLogger("io.chainroute.decisions")), 10, System::nanoTime);
  }

  DecisionLog(Sink sink, int infoPerSecond, LongSupplier nanoClock) {
    this.sink = sink;
    this.infoLimit = new RateLimit(infoPerSecond, Duration.ofSeconds(1).toNanos(), nanoClock);
  }

  @Override
  public void decided(Decided d) {
    boolean unusual = d.reason().unusual() || (d.held() && d.reason() != Reason.HEIGHT_WAIT);
    if (unusual) {
      long suppressed = infoLimit.tryAcquire();
      if (suppressed >= 0) {
        // suppressed: unusual lines left out since the last one written
        sink.info(line(d) + (suppressed > 0 ? " suppressed=" + suppressed : ""));
        return;
      }
    }
    if (sink.debugEnabled()) {
      sink.debug(line(d));
    }
  }

  /** The log line of one decision. */
  static String line(Decided d) {
    StringBuilder b =
        new StringBuilder(160)
            .append("Routing decision. chain=")
            .append(d.chain())
            .append(" method=")
            .append(d.method())
            .append(" block=")
            .append(block(d.block()))
            .append(" pool=")
            .append(d.pool() == null ? "-" : d.pool().id())
            .append(" reason=")
            .append(d.reason().label())
            .append(" head=")
            .append(d.head());
    if (!d.cache().isEmpty()) {
      b.append(" cache=").append(d.cache());
    }
    if (d.held()) {
      b.append(" heldMs=").append(d.heldNanos() / 1_000_000);
    }
    if (d.replied()) {
      b.append(" status=").append(d.httpStatus());
      if (!d.errorCode().isEmpty()) {
        b.append(" code=").append(d.errorCode());
      }
    }
    return b.toString();
  }

  /** A height as a number, a tag in lower case, {@code hash} for a hash (never its value). */
  static String block(BlockRef ref) {
    if (ref == null) {
      return "-";
    }
    return ref.kind() == BlockRef.Kind.NUMBER
        ? Long.toString(ref.number())
        : ref.kind().name().toLowerCase(java.util.Locale.ROOT);
  }

  private static Sink slf4j(Logger log) {
    return new Sink() {
      @Override
      public boolean debugEnabled() {
        return log.isDebugEnabled();
      }

      @Override
      public void debug(String line) {
        log.debug(line);
      }

      @Override
      public void info(String line) {
        log.info(line);
      }
    };
  }
}
