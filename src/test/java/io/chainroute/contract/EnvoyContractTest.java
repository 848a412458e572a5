package io.chainroute.contract;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.chainroute.chain.algod.AlgodAdapter;
import io.chainroute.config.ConfigLoader;
import io.chainroute.routing.Pool;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class EnvoyContractTest {
  private static final String CHAIN =
      "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]\n";

  @Test
  void everyHoldChainrouteMakesEndsBeforeEnvoysLongestMessageTimeout() {
    assertThat(EnvoyContract.holdMessageTimeout(AlgodAdapter.WAIT_TIMEOUT))
        .isLessThanOrEqualTo(EnvoyContract.LONGEST_HOLD);
    Duration longestStartupWait =
        ConfigLoader.parse("server: { unavailableWait: 55s }\n" + CHAIN).server().unavailableWait();
    assertThat(EnvoyContract.holdMessageTimeout(longestStartupWait))
        .isLessThanOrEqualTo(EnvoyContract.LONGEST_HOLD);
    assertThatThrownBy(() -> ConfigLoader.parse("server: { unavailableWait: 56s }\n" + CHAIN))
        .hasMessageContaining("unavailableWait");
  }

  @Test
  void holdMessageTimeoutKeepsTheHoldsMilliseconds() {
    assertThat(EnvoyContract.holdMessageTimeout(Duration.ofMillis(2500)))
        .isEqualTo(Duration.ofMillis(7500));
  }

  @Test
  void everyRoutingHeaderCarriesThePrefixExtProcStripsFromClients() {
    assertThat(EnvoyContract.ROUTING_HEADERS)
        .allSatisfy(h -> assertThat(h).startsWith(EnvoyContract.HEADER_PREFIX))
        .containsExactly(
            "x-chainroute-pool",
            "x-chainroute-write",
            "x-chainroute-node",
            "x-chainroute-upstream",
            "x-chainroute-fast",
            "x-chainroute-cache");
  }

  @Test
  void nodeClustersAreNamedForTheChainAndPool() {
    assertThat(EnvoyContract.nodeCluster("eth", Pool.HEAD)).isEqualTo("eth-head");
    assertThat(EnvoyContract.nodeCluster("eth", Pool.ARCHIVE)).isEqualTo("eth-archive");
  }
}
