package io.chainroute.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExtProcSocketConfigTest {
  private static final String CHAINS =
      "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://10.0.0.1:8545\" } ] } ]\n";

  @TempDir Path dir;

  private static ChainrouteConfig parse(String server) {
    return ConfigLoader.parse("server: " + server + "\n" + CHAINS, name -> null);
  }

  @Test
  void absentMeansTcpOnly() {
    assertThat(parse("{ }").server().extProcSocket()).isNull();
  }

  @Test
  void anAbsolutePathInAnExistingDirectoryIsAccepted() {
    Path sock = dir.resolve("extproc.sock");
    assertThat(parse("{ extProcSocket: " + sock + " }").server().extProcSocket()).isEqualTo(sock);
    assertThat(parse("{ extProcSocket: " + sock + " }").server().toString())
        .contains("extProcSocket=" + sock);
  }

  @Test
  void aRelativePathIsRefusedNamingIt() {
    assertThatThrownBy(() -> parse("{ extProcSocket: run/extproc.sock }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.extProcSocket")
        .hasMessageContaining("'run/extproc.sock' is not absolute");
  }

  @Test
  void aMissingDirectoryIsRefusedNamingThePath() {
    Path sock = dir.resolve("nope").resolve("extproc.sock");
    assertThatThrownBy(() -> parse("{ extProcSocket: " + sock + " }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.extProcSocket")
        .hasMessageContaining(sock.toString())
        .hasMessageContaining("does not exist");
  }

  @Test
  void aMissingDirectoryIsNoErrorWhenOnlyRenderingTheBootstrap() {
    // The bootstrap is rendered where Envoy runs; the directory is chainroute's.
    assertThat(
            ConfigLoader.parseForBootstrap(
                    "server: { extProcSocket: /run/chainroute/extproc.sock }\n" + CHAINS)
                .server()
                .extProcSocket())
        .isEqualTo(Path.of("/run/chainroute/extproc.sock"));
  }

  @Test
  void aRegularFileAtThePathIsNotReplaced() throws Exception {
    Path file = Files.writeString(dir.resolve("data.sock"), "keep me");
    assertThatThrownBy(() -> parse("{ extProcSocket: " + file + " }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("is not a socket");
  }

  @Test
  void aPathLongerThanASocketAddressIsRefused() {
    String longPath = "/tmp/" + "x".repeat(120) + ".sock";
    assertThatThrownBy(() -> parse("{ extProcSocket: " + longPath + " }"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(longPath)
        .hasMessageContaining("longer than a Unix socket address");
  }

  @Test
  void theSocketTogetherWithTlsIsRefused() {
    String yaml =
        """
        server:
          extProcSocket: /run/chainroute/extproc.sock
          tls: { cert: /c.pem, key: /k.pem, clientCa: /ca.pem, envoyCert: /e.pem,
                 envoyKey: /ek.pem, envoyCa: /eca.pem }
        """
            + CHAINS;
    assertThatThrownBy(() -> ConfigLoader.parseForBootstrap(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.extProcSocket")
        .hasMessageContaining("server.tls");
  }
}
