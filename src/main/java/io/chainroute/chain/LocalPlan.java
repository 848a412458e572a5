package io.chainroute.chain;

import java.util.List;

/**
 * How chainroute may answer a request itself, call by call: from what it knows of the chain (its
 * identity, its head) or from answers it stored earlier for data that can no longer change. A
 * request is answered here only when every call is; otherwise it goes to a node whole, and the
 * calls that may be stored are captured from the node's answer. Built by the adapter (pure), used
 * by the request pipeline, which owns the store and the chain's finality.
 *
 * @param calls one per call, in order
 * @param assembler builds the reply once every call has its answer
 */
public record LocalPlan(List<Call> calls, Assembler assembler) {
  public LocalPlan {
    calls = List.copyOf(calls);
  }

  /** One call's part in the plan. */
  public sealed interface Call {}

  /** Answered from what chainroute knows of the chain (the adapter's node state, the head). */
  public record Fact() implements Call {}

  /**
   * Answered from the store when it holds {@code key}; stored from a node's answer when it passes
   * {@code admission}.
   *
   * @param key what identifies the answer within the chain (the method and its parameters)
   * @param atMost a block the call reads: it may be stored or answered only while this height is at
   *     or below the chain's finalized height; -1 when the call names no height (by hash)
   * @param admission what the node's answer must show before it is stored
   * @param idTag identifies the call's id in the node's answer (a batch element is matched by
   *     position and checked with it); opaque to the pipeline
   */
  public record Stored(String key, long atMost, Admission admission, String idTag)
      implements Call {}

  /** Not answered here: the request goes to a node. */
  public record Never(String why) implements Call {}

  /** What a node's answer must show before it is kept. */
  public enum Admission {
    /** Any successful answer with a non-null result (the height was checked before). */
    ANY('A'),
    /** The result's own block (a block's {@code number}) is at or below the finalized height. */
    OWN_NUMBER('N'),
    /** The result's including block ({@code blockNumber}) is at or below the finalized height. */
    BLOCK_NUMBER('B');

    private final char code;

    Admission(char code) {
      this.code = code;
    }

    /** One character, for the capture note that travels through the proxy. */
    public char code() {
      return code;
    }

    /** The admission for {@code c}, or null. */
    public static Admission of(char c) {
      for (Admission a : values()) {
        if (a.code == c) {
          return a;
        }
      }
      return null;
    }
  }

  /** One call of a captured answer, as the pipeline hands it back to the adapter. */
  public record Capture(Admission admission, String idTag) {}

  /** Builds the reply from every call's answer. */
  @FunctionalInterface
  public interface Assembler {
    /**
     * Returns the reply, or null when the facts do not answer every call.
     *
     * @param stored per call: the stored answer for {@link Stored} calls, null for {@link Fact}
     * @param facts what the adapter kept from a synced node of the chain (null when none)
     * @param head the head to answer with (never lower than one answered before)
     */
    Reply reply(List<byte[]> stored, AdapterState facts, long head);
  }
}
