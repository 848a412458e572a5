package io.chainroute.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.chainroute.testing.TestCerts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code server.tls} and {@code server.allowedEnvoyNodeIds}: read, checked, refused with paths. */
class ServerTlsConfigTest {
  private static final String CHAINS =
      """
      chains:
        - name: eth
          protocol: evm
          nodes:
            - { name: a, url: "http://10.0.0.1:8545" }
      """;

  @TempDir Path dir;

  private static ChainrouteConfig parse(String server) {
    return ConfigLoader.parse("server:\n" + server.indent(2) + CHAINS, Map.of("TOKEN", "t0k")::get);
  }

  private String tls(Path cert, Path key, Path ca, String extra) {
    return "tls:\n"
        + ("cert: "
                + cert
                + "\nkey: "
                + key
                + "\nclientCa: "
                + ca
                + "\n"
                + "envoyCert: /etc/envoy/envoy.pem\nenvoyKey: /etc/envoy/envoy-key.pem\n"
                + "envoyCa: /etc/envoy/ca.pem\n"
                + extra)
            .indent(2);
  }

  @Test
  void mutualTlsIsReadWithEnvoysPathsAndTheDefaultServerName() {
    TestCerts pki = new TestCerts(dir, "ca");
    TestCerts.Leaf server = pki.leaf("chainroute", "chainroute");
    ServerTls tls =
        parse(
                "bindAddress: 0.0.0.0\nadminTokenEnv: TOKEN\n"
                    + tls(server.cert(), server.key(), pki.caCert(), ""))
            .server()
            .tls();
    assertThat(tls.serverName()).isEqualTo("chainroute");
    assertThat(tls.cert()).isEqualTo(server.cert());
    assertThat(tls.envoyKey()).isEqualTo("/etc/envoy/envoy-key.pem");
    assertThat(parse("bindAddress: 127.0.0.1").server().tls()).as("off by default").isNull();
  }

  @Test
  void aKeyOfAnotherCertificateAServerNameTheCertificateLacksOrAMissingFileIsRefusedWithItsPath() {
    TestCerts pki = new TestCerts(dir, "ca");
    TestCerts.Leaf server = pki.leaf("chainroute", "chainroute");
    TestCerts.Leaf other = pki.leaf("other", "other");
    assertThatThrownBy(() -> parse(tls(server.cert(), other.key(), pki.caCert(), "")))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("server.tls.key: ")
        .hasMessageContaining("is not the key of");
    assertThatThrownBy(
            () -> parse(tls(server.cert(), server.key(), pki.caCert(), "serverName: xds.example")))
        .hasMessageStartingWith("server.tls.cert: ")
        .hasMessageContaining("no subjectAltName DNS:xds.example");
    assertThatThrownBy(() -> parse(tls(server.cert(), server.key(), dir.resolve("nope.pem"), "")))
        .hasMessageStartingWith("server.tls.clientCa: cannot read ");
    assertThatThrownBy(() -> parse(tls(server.key(), server.key(), pki.caCert(), "")))
        .hasMessageStartingWith("server.tls.cert: ")
        .hasMessageContaining("holds no certificate");
    assertThatThrownBy(() -> parse("tls: { cert: " + server.cert() + " }"))
        .hasMessageStartingWith("server.tls.key: missing");
  }

  @Test
  void aPkcs1OrEncryptedKeyIsRefusedWithoutShowingItsContent() throws Exception {
    TestCerts pki = new TestCerts(dir, "ca");
    TestCerts.Leaf server = pki.leaf("chainroute", "chainroute");
    Path pkcs1 = dir.resolve("rsa.pem");
    Files.writeString(
        pkcs1, "-----BEGIN RSA PRIVATE KEY-----\nU0VDUkVUS0VZ\n-----END RSA PRIVATE KEY-----\n");
    assertThatThrownBy(() -> parse(tls(server.cert(), pkcs1, pki.caCert(), "")))
        .hasMessageStartingWith("server.tls.key: ")
        .hasMessageContaining("PKCS#8")
        .hasMessageNotContaining("U0VDUkVUS0VZ");
  }

  @Test
  void offLoopbackWithNeitherMutualTlsNorAnAllowListXdsIsRefused() {
    assertThatThrownBy(() -> parse("bindAddress: 0.0.0.0\nadminTokenEnv: TOKEN"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("server.tls: not set while server.bindAddress is 0.0.0.0")
        .hasMessageContaining("credentials");
    assertThat(
            parse("bindAddress: 0.0.0.0\nadminTokenEnv: TOKEN\nallowedEnvoyNodeIds: [envoy]")
                .server()
                .allowedEnvoyNodeIds())
        .containsExactly("envoy");
  }

  @Test
  void badNodeIdsAreRefusedWithTheirIndex() {
    assertThatThrownBy(() -> parse("allowedEnvoyNodeIds: [envoy, \"a b\"]"))
        .hasMessageStartingWith("server.allowedEnvoyNodeIds[1]: 'a b'");
    assertThatThrownBy(() -> parse("allowedEnvoyNodeIds: [envoy, envoy]"))
        .hasMessageStartingWith("server.allowedEnvoyNodeIds[1]: 'envoy' twice");
    assertThatThrownBy(() -> parse("allowedEnvoyNodeIds: []"))
        .hasMessageStartingWith("server.allowedEnvoyNodeIds: an empty list");
  }
}
