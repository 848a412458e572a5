package io.chainroute;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  @TempDir Path dir;

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      int code = Main.run(args);
      return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  @Test
  void aBadConfigExitsWith2NamingThePathBeforeBindingAnyPort() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0)) {
      port = probe.getLocalPort();
    }
    Path config = dir.resolve("bad.yaml");
    Files.writeString(
        config,
        "server: { xdsPort: "
            + port
            + " }\nchains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://h:1\", weight: 3 } ] } ]\n");
    Run r = run("run", "--config", config.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("chains[0].nodes[0].weight").contains("expected");
    try (ServerSocket stillFree = new ServerSocket(port)) {
      assertThat(stillFree.isBound()).isTrue();
    }
  }

  /** A config file of one EVM node with the given {@code headers:} value. */
  private Path withNodeHeaders(String file, String headers) throws Exception {
    Path p = dir.resolve(file);
    Files.writeString(
        p,
        "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://h:1\", headers: "
            + headers
            + " } ] } ]\n");
    return p;
  }

  @Test
  void aNodeHeaderFromAnUnsetVariableOrALiteralExitsWith2NamingThePathNotTheValue()
      throws Exception {
    Path unset =
        withNodeHeaders(
            "unset.yaml", "{ Authorization: { env: CHAINROUTE_TEST_SURELY_UNSET_9F3 } }");
    Run r = run("run", "--config", unset.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains("chains[0].nodes[0].headers.Authorization.env")
        .contains("CHAINROUTE_TEST_SURELY_UNSET_9F3 is not set");

    Path literal = withNodeHeaders("literal.yaml", "{ Authorization: \"Bearer l1teral-s3cret\" }");
    Run l = run("bootstrap", "--config", literal.toString());
    assertThat(l.code()).isEqualTo(2);
    assertThat(l.err()).contains("chains[0].nodes[0].headers.Authorization");
    assertThat(l.out() + l.err()).doesNotContain("l1teral", "s3cret");
  }

  @Test
  void usageErrorsExitWith2() {
    assertThat(run().code()).isEqualTo(2);
    assertThat(run("--config").code()).isEqualTo(2);
    assertThat(run("frobnicate", "--config", "x.yaml").code()).isEqualTo(2);
    assertThat(run("--help").code()).isZero();
  }

  @Test
  void bootstrapPrintsTheEnvoyBootstrapForTheConfig() {
    Run r = run("bootstrap", "--config", "config/demo.yaml", "--node-id", "edge-9");
    assertThat(r.code()).isZero();
    assertThat(r.out()).contains("id: edge-9", "envoy.filters.http.ext_proc", "eth-local-archive");
  }

  @Test
  void theBootstrapNeedsNoSecretButRunRefusesAnOpenAdminWithoutAToken() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("CHAINROUTE_ADMIN_TOKEN") == null);
    // config/docker.yaml names CHAINROUTE_ADMIN_TOKEN, unset here: rendering needs no secret.
    Run bootstrap = run("bootstrap", "--config", "config/docker.yaml");
    assertThat(bootstrap.code()).as(bootstrap.err()).isZero();
    assertThat(bootstrap.out()).doesNotContain("unset-when-rendering");
    Run docker = run("run", "--config", "config/docker.yaml");
    assertThat(docker.code()).isEqualTo(2);
    assertThat(docker.err()).contains("environment variable CHAINROUTE_ADMIN_TOKEN is not set");
    Path open = dir.resolve("open.yaml");
    Files.writeString(
        open,
        """
        server: { bindAddress: 0.0.0.0 }
        chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: "http://127.0.0.1:1" } ] } ]
        """);
    Run r = run("run", "--config", open.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err())
        .contains(
            "server.adminTokenEnv: not set while server.bindAddress is 0.0.0.0 (not loopback)");
  }

  @Test
  void aPortInUseIsAClearStartupFailure() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      Path config = dir.resolve("c.yaml");
      Files.writeString(
          config,
          "server: { xdsPort: "
              + taken.getLocalPort()
              + ", extProcPort: 0, adminHttpPort: 0, adminGrpcPort: 0 }\n"
              + "chains: [ { name: eth, protocol: evm, nodes: [ { name: a, url: \"http://127.0.0.1:1\" } ] } ]\n");
      Run r = run("run", "--config", config.toString());
      assertThat(r.code()).as(r.err()).isEqualTo(1);
      assertThat(r.err()).contains("xDS port " + taken.getLocalPort() + " is not available");
    }
  }
}
