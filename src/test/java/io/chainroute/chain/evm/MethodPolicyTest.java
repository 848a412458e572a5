package io.chainroute.chain.evm;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.config.MethodRules;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MethodPolicyTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "admin_addPeer",
        "personal_unlockAccount",
        "miner_setEtherbase",
        "engine_forkchoiceUpdatedV3",
        "eth_sendTransaction",
        "eth_sign",
        "eth_signTypedData_v4",
        "debug_setHead",
        "debug_startCPUProfile",
        "debug_chaindbCompact",
        "anvil_setBalance",
        "hardhat_impersonateAccount",
        "evm_mine",
        "evm_revert"
      })
  void byDefaultNodeControlsKeysAndTestControlsAreRefused(String method) {
    assertThat(MethodPolicy.defaults().refused(method)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "eth_blockNumber",
        "eth_sendRawTransaction",
        "eth_getLogs",
        "eth_call",
        "net_version",
        "web3_clientVersion",
        "debug_traceTransaction",
        "debug_getRawBlock",
        "trace_block",
        "txpool_content",
        "clique_getSigners",
        "eth_accounts",
        "unknown_method"
      })
  void byDefaultReadsTracesAndWritesOfSignedTransactionsPass(String method) {
    assertThat(MethodPolicy.defaults().refused(method)).isFalse();
  }

  @Test
  void aChainsRulesComeBeforeTheDefaultsAndTheMostSpecificRuleDecides() {
    MethodPolicy p =
        MethodPolicy.of(
            new MethodRules(List.of("debug_*", "anvil_mine"), List.of("debug_setHead")));
    assertThat(p.refused("debug_startCPUProfile")).as("allowed by debug_*").isFalse();
    assertThat(p.refused("debug_setHead")).as("the exact deny beats debug_*").isTrue();
    assertThat(p.refused("anvil_mine")).isFalse();
    assertThat(p.refused("anvil_setBalance")).as("defaults still apply").isTrue();
    assertThat(p.refused("eth_call")).isFalse();
  }

  @Test
  void denyAllWithAnAllowListServesOnlyTheList() {
    MethodPolicy p =
        MethodPolicy.of(new MethodRules(List.of("eth_*", "net_version"), List.of("*", "eth_sign")));
    assertThat(p.refused("eth_getBalance")).isFalse();
    assertThat(p.refused("net_version")).isFalse();
    assertThat(p.refused("web3_clientVersion")).isTrue();
    assertThat(p.refused("eth_sign")).as("exact deny over eth_*").isTrue();
  }

  @Test
  void aTieBetweenAllowAndDenyRefuses() {
    MethodPolicy p = MethodPolicy.of(new MethodRules(List.of("foo_*"), List.of("foo_*")));
    assertThat(p.refused("foo_bar")).isTrue();
  }
}
