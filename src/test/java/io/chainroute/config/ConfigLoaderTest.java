package io.chainroute.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {
  private static final String MINIMAL =
      """
      chains:
        - name: eth
          protocol: evm
          nodes:
            - { name: a, url: "http://10.0.0.1:8545" }
            - { name: b, url: "http://node-b:8545", archive: true, region: eu }
      """;

  @Test
  void aMinimalConfigGetsTheDocumentedDefaults() {
    ChainrouteConfig c = ConfigLoader.parse(MINIMAL);
    ChainConfig eth = c.chains().get(0);
    assertThat(eth.pathPrefix()).isEqualTo("/eth");
    assertThat(eth.maxLagBlocks()).isZero();
    assertThat(eth.degradedLagBlocks()).isEqualTo(2);
    assertThat(eth.fullNodeStateBlocks()).isEqualTo(128);
    assertThat(eth.fullNodeLogBlocks()).isEqualTo(128);
    assertThat(eth.pollInterval()).isEqualTo(Duration.ofSeconds(1));
    assertThat(eth.blockTime()).isEqualTo(Duration.ofSeconds(12));
    assertThat(eth.nodes().get(1).archive()).isTrue();
    assertThat(eth.nodes().get(1).region()).isEqualTo("eu");
    assertThat(c.server().xdsPort()).isEqualTo(18000);
    assertThat(c.server().extProcPort()).isEqualTo(18001);
    assertThat(c.server().maxRequestBytes()).isEqualTo(4 * 1024 * 1024);
    assertThat(c.envoy().messageTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.envoy().extProcMaxRequests()).isEqualTo(4096);
    assertThat(c.envoy().maxRequestsPerSecond()).as("rate limit off").isZero();
  }

  private static String withMethods(String methods) {
    return MINIMAL.replace("protocol: evm\n", "protocol: evm\n    methods: " + methods + "\n");
  }

  @Test
  void aChainsMethodRulesAreReadAndBadOnesRefusedWithTheirPath() {
    assertThat(ConfigLoader.parse(MINIMAL).chains().get(0).methods()).isEqualTo(MethodRules.NONE);
    assertThat(
            ConfigLoader.parse(withMethods("{ allow: [debug_*], deny: [\"*\", eth_sign] }"))
                .chains()
                .get(0)
                .methods())
        .isEqualTo(new MethodRules(List.of("debug_*"), List.of("*", "eth_sign")));
    assertThatThrownBy(() -> ConfigLoader.parse(withMethods("{ allow: [\"debug_*_x\"] }")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("chains[0].methods.allow[0]: 'debug_*_x'")
        .hasMessageContaining("a prefix ending in '*'");
    assertThatThrownBy(() -> ConfigLoader.parse(withMethods("{ allow: debug_* }")))
        .hasMessageStartingWith("chains[0].methods.allow");
    assertThatThrownBy(() -> ConfigLoader.parse(withMethods("{ permit: [a] }")))
        .hasMessageStartingWith("chains[0].methods.permit: unknown key");
    assertThatThrownBy(() -> ConfigLoader.parse(withMethods("{ deny: [a, a] }")))
        .hasMessageStartingWith("chains[0].methods.deny[1]");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    MINIMAL
                        .replace("protocol: evm", "protocol: algorand")
                        .replace(
                            "protocol: algorand\n",
                            "protocol: algorand\n    methods: { allow: [a] }\n")))
        .hasMessageStartingWith("chains[0].methods");
  }

  @Test
  void theRateLimitIsReadFromTheEnvoySectionAndRefusedBelowZeroWithItsPath() {
    assertThat(
            ConfigLoader.parse("envoy: { maxRequestsPerSecond: 700 }\n" + MINIMAL)
                .envoy()
                .maxRequestsPerSecond())
        .isEqualTo(700);
    assertThatThrownBy(() -> ConfigLoader.parse("envoy: { maxRequestsPerSecond: -5 }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("envoy.maxRequestsPerSecond: -5")
        .hasMessageContaining("(expected: a whole number from 0 to 10000000)");
    assertThatThrownBy(() -> ConfigLoader.parse("envoy: { maxRequestsPerSecond: 1.5 }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("envoy.maxRequestsPerSecond");
  }

  @Test
  void envoysAccessLogGoesToStdoutByDefaultAndCanGoToAFileOrBeTurnedOff() {
    assertThat(ConfigLoader.parse(MINIMAL).envoy().accessLog()).isEqualTo("/dev/stdout");
    assertThat(ConfigLoader.parse(MINIMAL).envoy().accessLogOn()).isTrue();
    assertThat(
            ConfigLoader.parse("envoy: { accessLog: /var/log/envoy/access.log }\n" + MINIMAL)
                .envoy()
                .accessLog())
        .isEqualTo("/var/log/envoy/access.log");
    for (String off : new String[] {"off", "\"off\"", "false"}) {
      assertThat(ConfigLoader.parse("envoy: { accessLog: " + off + " }\n" + MINIMAL).envoy())
          .as(off)
          .satisfies(e -> assertThat(e.accessLogOn()).isFalse());
    }
    assertThatThrownBy(() -> ConfigLoader.parse("envoy: { accessLog: logs/a.log }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("envoy.accessLog: 'logs/a.log'")
        .hasMessageContaining("off, stdout or an absolute file path");
    assertThatThrownBy(() -> ConfigLoader.parse("envoy: { accessLog: 3 }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("envoy.accessLog: 3");
  }

  @Test
  void envoysAdminStaysOnLoopbackUnlessAnotherIpAddressIsGiven() {
    assertThat(ConfigLoader.parse(MINIMAL).envoy().adminAddress()).isEqualTo("127.0.0.1");
    assertThat(
            ConfigLoader.parse("envoy: { adminAddress: 0.0.0.0 }\n" + MINIMAL)
                .envoy()
                .adminAddress())
        .isEqualTo("0.0.0.0");
    assertThat(
            ConfigLoader.parse("envoy: { adminAddress: \"::1\" }\n" + MINIMAL)
                .envoy()
                .adminAddress())
        .isEqualTo("::1");
    assertThatThrownBy(() -> ConfigLoader.parse("envoy: { adminAddress: envoy-admin }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("envoy.adminAddress: 'envoy-admin'")
        .hasMessageContaining("an IP address");
  }

  @Test
  void envoysListenerBindsLoopbackUnlessAnotherIpAddressIsGiven() {
    assertThat(ConfigLoader.parse(MINIMAL).envoy().listenerAddress()).isEqualTo("127.0.0.1");
    assertThat(
            ConfigLoader.parse("envoy: { listenerAddress: 0.0.0.0 }\n" + MINIMAL)
                .envoy()
                .listenerAddress())
        .isEqualTo("0.0.0.0");
    assertThatThrownBy(() -> ConfigLoader.parse("envoy: { listenerAddress: my-host }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("envoy.listenerAddress: 'my-host'")
        .hasMessageContaining("an IP address");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          chains: []                                                                                            | chains:
          chains: [ { name: eth, protocol: evm, nodes: [] } ]                                                    | chains[0].nodes:
          chains: [ { name: eth, protocol: btc, nodes: [ { name: a, url: "http://h:1" } ] } ]                    | chains[0].protocol: 'btc'
          chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: "ftp://h:1" } ] } ]                     | chains[0].nodes[0].url: scheme 'ftp'
          chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: "http://secret@h:1" } ] } ]             | chains[0].nodes[0].url: user info without ':'
          chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: "http://h:1/v3/key#x" } ] } ]           | chains[0].nodes[0].url: a fragment
          chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: "http://h:1" }, { name: a, url: "http://g:1" } ] } ] | chains[0].nodes[1].name
          chains: [ { name: eth, protocol: evm, pollInterval: fast, nodes: [ { name: a, url: "http://h:1" } ] } ] | chains[0].pollInterval: 'fast'
          chains: [ { name: eth, protocol: evm, colour: red, nodes: [ { name: a, url: "http://h:1" } ] } ]        | chains[0].colour
          chains: [ { name: eth, protocol: evm, maxLagBlocks: -1, nodes: [ { name: a, url: "http://h:1" } ] } ]  | chains[0].maxLagBlocks
          server: { xdsPort: 70000 }                                                                             | server.xdsPort
          """)
  void errorsNameThePathAndTheExpectation(String yaml, String path) {
    assertThatThrownBy(() -> ConfigLoader.parse(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(path)
        .hasMessageContaining("(expected: ");
  }

  @Test
  void errorsNeverEchoACredential() {
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://s3cr3t@h:1/v2/k3yp4th?apikey=qu3ry\" } ] } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageNotContainingAny("s3cr3t", "k3yp4th", "qu3ry");
  }

  @Test
  void twoChainsCannotShareAPathPrefixOrAPort() {
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    """
                    chains:
                      - { name: a, protocol: evm, pathPrefix: /x, nodes: [ { name: n, url: "http://h:1" } ] }
                      - { name: b, protocol: evm, pathPrefix: /x, nodes: [ { name: n, url: "http://h:2" } ] }
                    """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("chains[1].pathPrefix");
    assertThatThrownBy(
            () -> ConfigLoader.parse("server: { xdsPort: 9000, extProcPort: 9000 }\n" + MINIMAL))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("extProcPort");
  }

  @Test
  void aDuplicateKeyIsRefusedWithItsPath() {
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    MINIMAL.replace("protocol: evm", "protocol: evm\n    protocol: algorand")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("chains[0].protocol: key 'protocol' appears twice");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(MINIMAL.replace("{ name: a, url:", "{ name: a, name: c, url:")))
        .hasMessageStartingWith("chains[0].nodes[0].name: key 'name' appears twice");
    assertThatThrownBy(() -> ConfigLoader.parse("server: {}\nserver: {}\n" + MINIMAL))
        .hasMessageStartingWith("server: key 'server' appears twice");
  }

  @Test
  void theArchiveMarginDefaultsToFourBlocksAndMustStayInsideTheWindow() {
    assertThat(ConfigLoader.parse(MINIMAL).chains().get(0).archiveMarginBlocks()).isEqualTo(4);
    assertThat(
            ConfigLoader.parse(
                    MINIMAL.replace("protocol: evm", "protocol: evm\n    archiveMarginBlocks: 0"))
                .chains()
                .get(0)
                .archiveMarginBlocks())
        .isZero();
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    MINIMAL.replace(
                        "protocol: evm",
                        "protocol: evm\n    fullNodeStateBlocks: 16\n    archiveMarginBlocks: 16")))
        .hasMessageStartingWith("chains[0].archiveMarginBlocks:");
  }

  @Test
  void invalidYamlIsAConfigError() {
    assertThatThrownBy(() -> ConfigLoader.parse("chains: [ {")).isInstanceOf(ConfigException.class);
  }

  @Test
  void aWsUrlTurnsOnNewHeadsForThatNodeAndIsNeverPrinted() {
    ChainrouteConfig c =
        ConfigLoader.parse(
            "chains: [ { name: eth, protocol: evm, nodes: [ "
                + "{ name: a, url: \"http://h:8545\", wsUrl: \"wss://h.example/ws/v3/k3y\" }, { name: b, url: \"http://h:8546\" } ] } ]");
    NodeConfig a = c.chains().get(0).nodes().get(0);
    assertThat(a.wsUrl()).hasToString("wss://h.example/ws/v3/k3y");
    assertThat(c.chains().get(0).nodes().get(1).wsUrl()).isNull();
    assertThat(a.toString()).contains("newHeads=on").doesNotContain("k3y");
  }

  @Test
  void aWsUrlMustBeWebSocketAndIsRejectedForAlgod() {
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://h:1\", wsUrl: \"http://h:2/k3y\" } ] } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("chains[0].nodes[0].wsUrl")
        .hasMessageContaining("ws://")
        .hasMessageNotContaining("k3y");
    assertThatThrownBy(
            () ->
                ConfigLoader.parse(
                    "chains: [ { name: algo, protocol: algorand, nodes: [ { name: a, url: \"http://h:1\", wsUrl: \"ws://h:2\" } ] } ]"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("wsUrl")
        .hasMessageContaining("algod has no head subscription");
  }

  private static final String SECRET = "Bearer pr0v1der-s3cret";

  private static String evmNode(String extra) {
    return "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://h:1\", "
        + extra
        + " } ] } ]";
  }

  private static ConfigException refused(String yaml, Map<String, String> env) {
    try {
      ConfigLoader.parse(yaml, env::get);
    } catch (ConfigException e) {
      return e;
    }
    throw new AssertionError("accepted: " + yaml);
  }

  @Test
  void nodeHeadersTakeTheirValuesFromTheEnvironmentAndPrintOnlyTheVariable() {
    Map<String, String> env =
        Map.of("PROVIDER_AUTH", SECRET + "\n", "KEY_B", "k3y-b", "ALGOD_TOKEN_1", "t0ken-1");
    ChainrouteConfig c =
        ConfigLoader.parse(
            """
            chains:
              - name: eth
                protocol: evm
                nodes:
                  - { name: a, url: "http://h:1", headers: { Authorization: { env: PROVIDER_AUTH }, x-api-key: { env: KEY_B } } }
                  - { name: b, url: "http://h:2" }
              - name: algo
                protocol: algorand
                nodes:
                  - { name: c, url: "http://h:3", tokenEnv: ALGOD_TOKEN_1 }
                  - { name: d, url: "http://h:4", headers: { X-Algo-API-Token: { env: ALGOD_TOKEN_1 } } }
            """,
            env::get);
    NodeConfig a = c.chains().get(0).nodes().get(0);
    assertThat(a.headers())
        .containsExactly(
            new NodeHeader("Authorization", "PROVIDER_AUTH", SECRET),
            new NodeHeader("x-api-key", "KEY_B", "k3y-b"));
    assertThat(c.chains().get(0).nodes().get(1).headers()).isEmpty();
    // tokenEnv is the same thing as the explicit header.
    assertThat(c.chains().get(1).nodes().get(0).headers())
        .containsExactly(new NodeHeader("X-Algo-API-Token", "ALGOD_TOKEN_1", "t0ken-1"));
    assertThat(c.chains().get(1).nodes().get(0).headers())
        .isEqualTo(c.chains().get(1).nodes().get(1).headers());
    assertThat(c.toString())
        .contains("Authorization from $PROVIDER_AUTH")
        .doesNotContain("pr0v1der", "k3y-b", "t0ken-1");
  }

  @Test
  void anUnsetOrEmptyVariableIsAnErrorWithThePathAndNeverTheValue() {
    assertThat(refused(evmNode("headers: { Authorization: { env: NOPE } }"), Map.of()))
        .hasMessageStartingWith("chains[0].nodes[0].headers.Authorization.env: ")
        .hasMessageContaining("environment variable NOPE is not set");
    assertThat(refused(evmNode("headers: { Authorization: { env: E } }"), Map.of("E", " \n")))
        .hasMessageContaining("environment variable E is empty");
    assertThat(
            refused(
                "chains: [ { name: algo, protocol: algorand, nodes: [ { name: a, url: \"http://h:1\", tokenEnv: T } ] } ]",
                Map.of()))
        .hasMessageStartingWith("chains[0].nodes[0].tokenEnv: environment variable T is not set");
    // A CR or LF would split the request; the message says where, not what.
    assertThat(
            refused(
                evmNode("headers: { Authorization: { env: E } }"),
                Map.of("E", "pr0v1der\r\nX-Injected: 1")))
        .hasMessageStartingWith("chains[0].nodes[0].headers.Authorization.env: ")
        .hasMessageContaining("position 8")
        .hasMessageNotContaining("pr0v1der")
        .hasMessageNotContaining("Injected");
  }

  @Test
  void aLiteralValueIsRefusedWithoutEchoingIt() {
    for (String literal :
        List.of(
            "headers: { Authorization: \"" + SECRET + "\" }",
            "headers: { x-api-key: 918273645 }",
            "headers: { Authorization: { value: \"" + SECRET + "\" } }",
            "headers: \"" + SECRET + "\"")) {
      ConfigException e = refused(evmNode(literal), Map.of());
      assertThat(e)
          .hasMessageStartingWith("chains[0].nodes[0].headers")
          .hasMessageContaining("(expected: ")
          .hasMessageNotContaining("pr0v1der")
          .hasMessageNotContaining("918273645");
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          headers: { "bad header": { env: E } }                         | headers.bad header: 'bad header' is not an HTTP header name
          headers: { Host: { env: E } }                                 | headers.Host: 'Host' is set by Envoy or chainroute
          headers: { x-chainroute-pool: { env: E } }                    | headers.x-chainroute-pool: 'x-chainroute-pool' is set by Envoy or chainroute
          headers: { Authorization: { env: E }, authorization: { env: E } } | headers.authorization: 'authorization' is given twice
          headers: { Authorization: { env: 1E } }                        | headers.Authorization.env: '1E'
          headers: { Authorization: { } }                                | headers.Authorization.env: missing
          headers: { Authorization: { env: E, from: file } }             | headers.Authorization.from: unknown key
          tokenEnv: E                                                    | tokenEnv: tokenEnv is algod's shorthand for X-Algo-API-Token
          """)
  void badNodeHeadersNameTheirPath(String extra, String message) {
    assertThat(refused(evmNode(extra), Map.of("E", "v")))
        .hasMessageStartingWith("chains[0].nodes[0]." + message)
        .hasMessageContaining("(expected: ");
  }

  @Test
  void tokenEnvAndAnExplicitAlgodTokenHeaderCannotBothBeGiven() {
    assertThat(
            refused(
                "chains: [ { name: algo, protocol: algorand, nodes: [ { name: a, url: \"http://h:1\", tokenEnv: T, headers: { x-algo-api-token: { env: T } } } ] } ]",
                Map.of("T", "v")))
        .hasMessageStartingWith(
            "chains[0].nodes[0].headers.x-algo-api-token: 'x-algo-api-token' is also set by tokenEnv");
  }
}
