package io.chainroute.chain;

import java.util.List;
import java.util.Map;

/**
 * What a proxy may decide without asking chainroute, as data: the single calls that go to the head
 * pool whatever the chain's heights are. A call qualifies when its method is in {@link #headAtTag}
 * and the parameter at that index is, exactly as written, one of {@link #tags}. Everything else
 * (batches, numbers, hashes, other methods, bad input) is chainroute's to decide. The adapter
 * derives it from its own method table and policy, so the proxy holds no rule of its own
 * (envoy/FastPathFilter compiles it into Envoy's configuration).
 *
 * @param headAtTag method name to the 0-based index in {@code params} of its block parameter
 * @param tags block tags that always mean the chain's head (for EVM: {@code latest}, {@code
 *     pending})
 */
public record FastPathTable(Map<String, Integer> headAtTag, List<String> tags) {
  public FastPathTable {
    headAtTag = Map.copyOf(headAtTag);
    tags = List.copyOf(tags);
  }
}
