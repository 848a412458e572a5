package io.chainroute.pipeline;

import java.util.List;

/**
 * Told of each request's fate exactly once, from the one place the {@link RequestPipeline} decides
 * it (for a held request: when the hold ends). Implementations: the metrics and the {@link
 * DecisionLog}.
 *
 * <p>Threading: called on the thread that decided (gRPC transport threads, the hold timer, the
 * tracker or xDS loop for released holds); must be quick, never block and never throw.
 */
@FunctionalInterface
public interface DecisionListener {
  void decided(Decided d);

  DecisionListener NONE = d -> {};

  /** Tells each of {@code listeners}, in order. */
  static DecisionListener all(List<DecisionListener> listeners) {
    List<DecisionListener> copy = List.copyOf(listeners);
    if (copy.size() == 1) {
      return copy.get(0);
    }
    return d -> {
      for (DecisionListener l : copy) {
        l.decided(d);
      }
    };
  }
}
