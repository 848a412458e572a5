package io.chainroute.config;

import java.util.List;

/**
 * What a running chainroute can take from a new configuration without a restart. Pure.
 *
 * <p>Nodes (added, removed, changed), thresholds and intervals of existing chains apply live: they
 * only change what the tracker probes and what xDS publishes. The chain set (names, order,
 * protocol, path prefix) is fixed by the Envoy bootstrap's routes, and the {@code server} section
 * by the bound ports: changing either needs a restart (and, for chains, a new bootstrap). The
 * {@code envoy} section only feeds {@code chainroute bootstrap}, so a change there is reported, not
 * applied.
 */
public final class ConfigReload {
  private ConfigReload() {}

  /** What a reload did: applied, or refused with the reason (a path-qualified config error). */
  public record Outcome(boolean applied, String message) {}

  /**
   * Throws a path-qualified {@link ConfigException} when {@code next} cannot be applied to a
   * process running {@code running}.
   */
  public static void check(ChainrouteConfig running, ChainrouteConfig next) {
    if (!running.server().equals(next.server())) {
      throw new ConfigException(
          "server",
          "changed while running",
          "the same server section (ports and limits need a restart)");
    }
    List<ChainConfig> a = running.chains();
    List<ChainConfig> b = next.chains();
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      String path = "chains[" + i + "]";
      if (i >= a.size()) {
        throw new ConfigException(
            path,
            "a new chain '" + b.get(i).name() + "'",
            "the running chains only (a new chain needs a new Envoy bootstrap and a restart)");
      }
      if (i >= b.size()) {
        throw new ConfigException(
            "chains",
            "chain '" + a.get(i).name() + "' removed",
            "the running chains (removing a chain needs a new Envoy bootstrap and a restart)");
      }
      ChainConfig was = a.get(i);
      ChainConfig is = b.get(i);
      if (!was.name().equals(is.name())) {
        throw new ConfigException(
            path + ".name",
            "'" + is.name() + "' where '" + was.name() + "' runs",
            "the running chains in the same order");
      }
      if (was.protocol() != is.protocol()) {
        throw new ConfigException(
            path + ".protocol",
            "changed while running",
            was.protocol().name().toLowerCase(java.util.Locale.ROOT));
      }
      if (!was.pathPrefix().equals(is.pathPrefix())) {
        throw new ConfigException(
            path + ".pathPrefix",
            "changed while running",
            "'" + was.pathPrefix() + "' (the Envoy bootstrap routes it)");
      }
      if (!was.methods().equals(is.methods())) {
        throw new ConfigException(
            path + ".methods",
            "changed while running",
            "the running rules (a restart applies them)");
      }
    }
  }

  /** True when only the {@code envoy} section differs in a way that needs a new bootstrap. */
  public static boolean envoyChanged(ChainrouteConfig running, ChainrouteConfig next) {
    return !running.envoy().equals(next.envoy());
  }
}
