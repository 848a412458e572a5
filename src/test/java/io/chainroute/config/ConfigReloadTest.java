package io.chainroute.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ConfigReloadTest {
  private static final String BASE =
      """
      server: { xdsPort: 18000 }
      chains:
        - name: eth
          protocol: evm
          pathPrefix: /eth
          nodes:
            - { name: a, url: "http://10.0.0.1:8545" }
            - { name: b, url: "http://10.0.0.2:8545" }
        - name: algo
          protocol: algorand
          nodes:
            - { name: x, url: "http://10.0.0.9:8080" }
      """;

  private static ChainrouteConfig parse(String yaml) {
    return ConfigLoader.parse(yaml, name -> "tok");
  }

  @Test
  void nodesAndThresholdsOfRunningChainsChangeLive() {
    ChainrouteConfig next =
        parse(
            BASE.replace(
                    "            - { name: b, url: \"http://10.0.0.2:8545\" }",
                    "            - { name: c, url: \"http://10.0.0.3:8545\", archive: true }")
                .replace(
                    "    pathPrefix: /eth",
                    "    pathPrefix: /eth\n    fullNodeStateBlocks: 64\n    pollInterval: 200ms"));
    assertThatCode(() -> ConfigReload.check(parse(BASE), next)).doesNotThrowAnyException();
    assertThat(ConfigReload.envoyChanged(parse(BASE), next)).isFalse();
  }

  @Test
  void aNewChainIsRefusedWithItsPath() {
    String more =
        BASE
            + "  - { name: base, protocol: evm, nodes: [ { name: z, url: \"http://10.0.0.7:8545\" } ] }\n";
    assertThatThrownBy(() -> ConfigReload.check(parse(BASE), parse(more)))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("chains[2]: a new chain 'base'");
  }

  @Test
  void aChangedPathPrefixOrServerSectionIsRefused() {
    assertThatThrownBy(
            () ->
                ConfigReload.check(
                    parse(BASE), parse(BASE.replace("pathPrefix: /eth", "pathPrefix: /ethereum"))))
        .hasMessageStartingWith("chains[0].pathPrefix: changed while running");
    assertThatThrownBy(
            () ->
                ConfigReload.check(
                    parse(BASE), parse(BASE.replace("xdsPort: 18000", "xdsPort: 18005"))))
        .hasMessageStartingWith("server: changed while running");
  }

  @Test
  void anEnvoySectionChangeIsReportedNotRefused() {
    ChainrouteConfig next =
        parse(
            BASE.replace(
                "server: { xdsPort: 18000 }",
                "server: { xdsPort: 18000 }\nenvoy: { listenerPort: 10001 }"));
    assertThatCode(() -> ConfigReload.check(parse(BASE), next)).doesNotThrowAnyException();
    assertThat(ConfigReload.envoyChanged(parse(BASE), next)).isTrue();
  }

  @Test
  void theAdminTokenComesFromTheEnvironmentAndNeverPrints() {
    ChainrouteConfig c =
        ConfigLoader.parse(
            BASE.replace(
                "server: { xdsPort: 18000 }",
                "server: { xdsPort: 18000, adminTokenEnv: ADMIN_TOKEN }"),
            n -> n.equals("ADMIN_TOKEN") ? "hunter2-admin" : null);
    assertThat(c.server().adminToken()).isEqualTo("hunter2-admin");
    assertThat(c.server().toString()).doesNotContain("hunter2").contains("$ADMIN_TOKEN");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    BASE.replace("server: { xdsPort: 18000 }", "server: { adminTokenEnv: NOPE }"),
                    n -> null))
        .hasMessageStartingWith("server.adminTokenEnv: environment variable NOPE is not set");
  }
}
