package io.chainroute.config;

import java.util.List;

/**
 * A chain's method rules from the config ({@code methods: {allow: [...], deny: [...]}}): names or
 * prefixes ending in {@code *}. The protocol's adapter decides what they mean next to its own
 * defaults (for EVM: chain/evm/MethodPolicy).
 */
public record MethodRules(List<String> allow, List<String> deny) {
  /** No rules: the adapter's defaults alone. */
  public static final MethodRules NONE = new MethodRules(List.of(), List.of());

  public MethodRules {
    allow = List.copyOf(allow);
    deny = List.copyOf(deny);
  }
}
