package io.chainroute.chain;

import java.util.List;
import java.util.Map;

/**
 * What a proxy may decide without asking chainroute, as data: the single calls whose pool follows
 * from their block parameter alone. A call qualifies when its method is in {@link #methods} and the
 * parameter at that method's index is, exactly as written, one of {@link #tags} (the head pool
 * whatever the chain's heights are), or, for a method with {@link Method#numbers}, a block number
 * in a range chainroute publishes for the method's {@link Method#kind} (routing/FastPathBounds).
 * Everything else (batches, hashes, other methods, bad input) is chainroute's to decide. The
 * adapter derives it from its own method table and policy, so the proxy holds no rule of its own
 * (envoy/FastPathFilter compiles it into Envoy's configuration).
 *
 * @param methods method name to where its block parameter is and what it reads
 * @param tags block tags that always mean the chain's head (for EVM: {@code latest}, {@code
 *     pending})
 */
public record FastPathTable(Map<String, Method> methods, List<String> tags) {
  public FastPathTable {
    methods = Map.copyOf(methods);
    tags = List.copyOf(tags);
  }

  /**
   * Where a method's block parameter is and what a read there needs.
   *
   * @param position 0-based index in {@code params} of the block parameter
   * @param kind what a read at that block needs (its window decides the pool)
   * @param numbers true when the adapter classifies a canonical hex number there as a plain read of
   *     {@code kind} at that height, so a proxy may compare it with published bounds
   * @param filter true when the parameter is a log filter object whose {@code fromBlock} (latest
   *     when absent) is the block; its only keys may be {@code fromBlock}, {@code toBlock} (each a
   *     tag or a canonical number), {@code address} and {@code topics}
   */
  public record Method(int position, DataKind kind, boolean numbers, boolean filter) {}
}
