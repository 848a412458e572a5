package io.chainroute.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Hosted-provider node URLs: https, a key in the path or query, user info, CA bundles. */
class HostedNodeConfigTest {
  private static final String PEM =
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

  @TempDir Path dir;

  private static ChainrouteConfig parse(String nodes) {
    return ConfigLoader.parse(
        "chains: [ { name: eth, protocol: evm, nodes: [ " + nodes + " ] } ]",
        Map.of("KEY", "k3y-from-env")::get);
  }

  private static NodeConfig only(ChainrouteConfig c) {
    return c.chains().get(0).nodes().get(0);
  }

  @Test
  void anHttpsNodeWithAKeyInItsPathAndQueryLoadsAndShowsNoneOfIt() {
    NodeConfig n =
        only(
            parse("{ name: alchemy, url: \"https://eth.example.com/v2/s3cr3tk3y?apikey=qu3ry\" }"));
    assertThat(n.tls()).isTrue();
    assertThat(n.hostIsName()).isTrue();
    assertThat(n.port()).isEqualTo(443);
    assertThat(n.authority()).isEqualTo("eth.example.com");
    assertThat(n.rawPath()).isEqualTo("/v2/s3cr3tk3y");
    assertThat(n.rawQuery()).isEqualTo("apikey=qu3ry");
    assertThat(n.rewritten()).isTrue();
    assertThat(n.redactedEndpoint()).isEqualTo("https://eth.example.com:443");
    assertThat(n.toString()).doesNotContain("s3cr3tk3y", "qu3ry");
    // No caFile: the system bundle (Debian's path), read by Envoy from its own copy.
    assertThat(n.ca().system()).isTrue();
    assertThat(n.ca().file()).isEqualTo(CaBundle.SYSTEM_BUNDLE);
    assertThat(n.ca().toString()).isEqualTo("system CA bundle " + CaBundle.SYSTEM_BUNDLE);
    assertThat(n.requestUri("/"))
        .hasToString("https://eth.example.com:443/v2/s3cr3tk3y?apikey=qu3ry");
  }

  @Test
  void userInfoBecomesABasicAuthorizationHeaderAndLeavesTheUrl() {
    NodeConfig n = only(parse("{ name: a, url: \"https://us%40r:p%3Ass@rpc.example.com:8443/\" }"));
    assertThat(n.url().getRawUserInfo()).isNull();
    assertThat(n.url()).hasToString("https://rpc.example.com:8443/");
    assertThat(n.authority()).isEqualTo("rpc.example.com:8443");
    assertThat(n.headers()).hasSize(1);
    NodeHeader h = n.headers().get(0);
    assertThat(h.key()).isEqualTo("authorization");
    assertThat(h.value())
        .isEqualTo(
            "Basic "
                + Base64.getEncoder().encodeToString("us@r:p:ss".getBytes(StandardCharsets.UTF_8)));
    assertThat(h.toString()).isEqualTo("Authorization from the url's user info");
    assertThat(n.toString()).doesNotContain("p:ss", "p%3Ass", h.value());
  }

  @Test
  void userInfoAndAnAuthorizationHeaderTogetherAreRefusedWithoutEchoingEither() {
    assertThatThrownBy(
            () ->
                parse(
                    "{ name: a, url: \"https://u:pw5ecret@h.example\","
                        + " headers: { Authorization: { env: KEY } } }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("chains[0].nodes[0].url: user info and an Authorization header")
        .hasMessageNotContainingAny("pw5ecret", "k3y-from-env");
  }

  @Test
  void anHttpNodeByIpWithoutPathIsNotRewrittenAndNeedsNoCa() {
    NodeConfig n = only(parse("{ name: a, url: \"http://10.0.0.1:8545\" }"));
    assertThat(n.rewritten()).isFalse();
    assertThat(n.ca()).isNull();
    assertThat(n.hostIsName()).isFalse();
  }

  @Test
  void aCaFileOnTheNodeOrTheChainIsReadAndSentInline() throws Exception {
    Path ca = Files.writeString(dir.resolve("provider-ca.pem"), PEM);
    NodeConfig n = only(parse("{ name: a, url: \"https://h.example\", caFile: \"" + ca + "\" }"));
    assertThat(n.ca()).isEqualTo(new CaBundle(ca.toString(), PEM, false));
    ChainrouteConfig c =
        ConfigLoader.parse(
            "chains: [ { name: eth, protocol: evm, caFile: \""
                + ca
                + "\", nodes: [ { name: a, url: \"https://h.example\" },"
                + " { name: b, url: \"http://g.example\", wsUrl: \"wss://g.example/ws/k3y\" } ] } ]");
    assertThat(c.chains().get(0).nodes())
        .allSatisfy(x -> assertThat(x.ca()).isEqualTo(new CaBundle(ca.toString(), PEM, false)));
  }

  @Test
  void anUnreadableOrEmptyCaFileIsAPathError() throws Exception {
    assertThatThrownBy(
            () -> parse("{ name: a, url: \"https://h.example\", caFile: /no/such/ca.pem }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("chains[0].nodes[0].caFile: cannot read /no/such/ca.pem")
        .hasMessageContaining("a readable PEM file of CA certificates");
    Path junk = Files.writeString(dir.resolve("junk.pem"), "not a certificate");
    assertThatThrownBy(
            () -> parse("{ name: a, url: \"https://h.example\", caFile: \"" + junk + "\" }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("holds no PEM certificate");
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
          ''          | ''         | /                  | /
          ''          | ''         | /v2/status?a=1     | /v2/status?a=1
          /v2/KEY     | ''         | /                  | /v2/KEY
          /v2/KEY     | ''         | ''                 | /v2/KEY
          /v2/KEY/    | ''         | /                  | /v2/KEY/
          /ps2        | ''         | /v2/status         | /ps2/v2/status
          /ps2/       | ''         | /v2/status         | /ps2/v2/status
          ''          | apikey=K   | /                  | /?apikey=K
          /rpc        | apikey=K   | /?x=1              | /rpc?apikey=K&x=1
          /algod      | token=T    | /v2/blocks/5?x=1   | /algod/v2/blocks/5?token=T&x=1
          """)
  void theNodesPathAndQueryAreCombinedWithTheRequestsAsEnvoysScriptDoes(
      String nodePath, String nodeQuery, String request, String sent) {
    assertThat(NodeConfig.requestPath(nodePath, nodeQuery, request)).isEqualTo(sent);
  }
}
