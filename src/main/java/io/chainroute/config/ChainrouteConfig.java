package io.chainroute.config;

import java.util.List;
import java.util.Optional;

/** The whole configuration file. Immutable; validated by {@link ConfigLoader}. */
public record ChainrouteConfig(ServerConfig server, EnvoyConfig envoy, List<ChainConfig> chains) {
  public ChainrouteConfig {
    chains = List.copyOf(chains);
  }

  public Optional<ChainConfig> chain(String name) {
    return chains.stream().filter(c -> c.name().equals(name)).findFirst();
  }
}
