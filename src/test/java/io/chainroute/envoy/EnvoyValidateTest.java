package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.xds.XdsResources;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.extensions.filters.http.header_mutation.v3.HeaderMutation;
import io.envoyproxy.envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real Envoy binary checks what the proto parse in {@link BootstrapRendererTest} cannot: PGV
 * constraints, extension names, cross-field rules ({@code envoy --mode validate}). Runs where the
 * binary is ({@code ENVOY_BIN} or {@code .tools/bin/envoy}); under {@code CI=true} it must be.
 */
class EnvoyValidateTest {
  /** The demo's algod nodes have API tokens (tokenEnv): any value renders the same. */
  private static String demoToken(String variable) {
    return "t";
  }

  @TempDir Path dir;

  private static Path envoy() {
    String fromEnv = System.getenv("ENVOY_BIN");
    Path p =
        fromEnv != null && !fromEnv.isBlank()
            ? Path.of(fromEnv)
            : Path.of(".tools", "bin", "envoy").toAbsolutePath();
    boolean ok = Files.isExecutable(p);
    if (!ok && "true".equalsIgnoreCase(System.getenv("CI"))) {
      throw new IllegalStateException("CI=true and envoy not found at " + p);
    }
    assumeTrue(ok, "envoy not found at " + p);
    return p;
  }

  private String validate(ChainrouteConfig config) throws IOException, InterruptedException {
    return validate(
        BootstrapRenderer.render(config, "envoy", io.chainroute.adapters.ChainAdapters::forChain));
  }

  private String validate(String yaml) throws IOException, InterruptedException {
    Path file = dir.resolve("bootstrap.yaml");
    Files.writeString(file, yaml);
    Process p =
        new ProcessBuilder(
                envoy().toString(),
                "--mode",
                "validate",
                "-c",
                file.toString(),
                "--log-level",
                "warn")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "envoy/bootstrap.yaml",
        "envoy/bootstrap-docker.yaml",
        "deploy/kubernetes/gateway/envoy.yaml"
      })
  void checkedInBootstrapsAreValidForTheRealEnvoy(String file) throws Exception {
    assertThat(validate(Files.readString(Path.of(file)))).contains("OK");
  }

  @Test
  void anAccessLogFileAndAnAccessLogTurnedOffAreValidForTheRealEnvoy() throws Exception {
    for (String setting :
        new String[] {"accessLog: " + dir.resolve("access.log"), "accessLog: off"}) {
      String yaml =
          Files.readString(Path.of("config/demo.yaml"))
              .replaceFirst("(?m)^envoy:\\s*\\n", "envoy:\n  " + setting + "\n");
      ChainrouteConfig config = ConfigLoader.parse(yaml, EnvoyValidateTest::demoToken);
      assertThat(validate(config)).as(setting).contains("OK");
    }
  }

  @Test
  void withMutualTlsTheSidecarClustersPresentEnvoysCertificateAndCheckChainroutesName()
      throws Exception {
    io.chainroute.testing.TestCerts pki = new io.chainroute.testing.TestCerts(dir, "ca");
    io.chainroute.testing.TestCerts.Leaf server = pki.leaf("chainroute", "chainroute");
    io.chainroute.testing.TestCerts.Leaf envoy = pki.leaf("envoy", "envoy");
    String tls =
        "  tls:\n    cert: %s\n    key: %s\n    clientCa: %s\n    envoyCert: %s\n    envoyKey: %s\n    envoyCa: %s\n"
            .formatted(
                server.cert(), server.key(), pki.caCert(), envoy.cert(), envoy.key(), pki.caCert());
    ChainrouteConfig config =
        ConfigLoader.parse(
            Files.readString(Path.of("config/demo.yaml"))
                .replaceFirst("(?m)^server:\\s*\\n", "server:\n" + tls),
            EnvoyValidateTest::demoToken);
    io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap b =
        BootstrapRenderer.bootstrap(
            config, "envoy", io.chainroute.adapters.ChainAdapters::forChain);
    List<String> sidecar =
        List.of(
            io.chainroute.contract.EnvoyContract.XDS_CLUSTER,
            io.chainroute.contract.EnvoyContract.EXTPROC_CLUSTER);
    for (var c : b.getStaticResources().getClustersList()) {
      var ctx =
          c.getTransportSocket()
              .getTypedConfig()
              .unpack(
                  io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.class);
      assertThat(ctx.getSni()).as(c.getName()).isEqualTo("chainroute");
      assertThat(
              ctx.getCommonTlsContext().getTlsCertificates(0).getCertificateChain().getFilename())
          .isEqualTo(envoy.cert().toString());
      assertThat(ctx.getCommonTlsContext().getValidationContext().getTrustedCa().getFilename())
          .isEqualTo(pki.caCert().toString());
      assertThat(
              ctx.getCommonTlsContext()
                  .getValidationContext()
                  .getMatchTypedSubjectAltNames(0)
                  .getMatcher()
                  .getExact())
          .isEqualTo("chainroute");
    }
    assertThat(b.getStaticResources().getClustersList())
        .extracting(io.envoyproxy.envoy.config.cluster.v3.Cluster::getName)
        .containsAll(sidecar);
    assertThat(validate(config)).contains("OK");
  }

  @Test
  void theEdsOnlyBootstrapHoldsEveryClusterStaticallyWithChainrouteAsItsEdsSourceAndIsValid()
      throws Exception {
    ChainrouteConfig config = ConfigLoader.loadForBootstrap(Path.of("config/demo.yaml"));
    var clusters = io.chainroute.xds.XdsResources.clusters(config.chains(), config.envoy());
    io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap b =
        BootstrapRenderer.edsOnly(
            config, "envoy", io.chainroute.adapters.ChainAdapters::forChain, clusters);
    assertThat(b.hasDynamicResources()).as("no ADS, no CDS").isFalse();
    for (var want : clusters) {
      var c =
          b.getStaticResources().getClustersList().stream()
              .filter(x -> x.getName().equals(want.getName()))
              .findFirst()
              .orElseThrow();
      var eds = c.getEdsClusterConfig();
      assertThat(eds.getServiceName()).isEqualTo(want.getName());
      assertThat(eds.getEdsConfig().hasAds()).isFalse();
      assertThat(
              eds.getEdsConfig()
                  .getApiConfigSource()
                  .getGrpcServices(0)
                  .getEnvoyGrpc()
                  .getClusterName())
          .isEqualTo(io.chainroute.contract.EnvoyContract.XDS_CLUSTER);
      // Everything else (limits, outlier detection, LB policy) as chainroute sends it over CDS.
      assertThat(c.toBuilder().clearEdsClusterConfig().build())
          .isEqualTo(want.toBuilder().clearEdsClusterConfig().build());
    }
    String yaml =
        BootstrapRenderer.renderEdsOnly(
            config, "envoy", io.chainroute.adapters.ChainAdapters::forChain, clusters);
    assertThat(yaml).doesNotContain("ads_config");
    assertThat(validate(yaml)).contains("OK");
  }

  @Test
  void aGatewayWithTheIstioPatchesAppliedIsValidForTheRealEnvoy() throws Exception {
    assertThat(
            validate(
                BootstrapRenderer.yaml(IstioFiltersTest.gatewayBootstrap(IstioFiltersTest.demo()))))
        .contains("OK");
  }

  @Test
  void theKubernetesIstioGatewayWithItsPatchesAndClientCertificateIsValidForTheRealEnvoy()
      throws Exception {
    // deploy/kubernetes/istio: the gateway reads its client certificate from the Secret
    // chainroute-envoy-tls; here a throw-away one at the same file names.
    io.chainroute.testing.TestCerts pki = new io.chainroute.testing.TestCerts(dir, "ca");
    io.chainroute.testing.TestCerts.Leaf envoy = pki.leaf("envoy", "envoy");
    Path tls = Files.createDirectories(dir.resolve("chainroute-tls"));
    Files.copy(envoy.cert(), tls.resolve("tls.crt"));
    Files.copy(envoy.key(), tls.resolve("tls.key"));
    Files.copy(pki.caCert(), tls.resolve("ca.crt"));
    ChainrouteConfig istio =
        ConfigLoader.parseForBootstrap(
            Files.readString(Path.of("deploy/kubernetes/istio/chainroute/chainroute.yaml"))
                .replace("/etc/chainroute-tls/", tls + "/"));
    assertThat(validate(BootstrapRenderer.yaml(IstioFiltersTest.gatewayBootstrap(istio))))
        .contains("OK");
  }

  @Test
  void theRateLimitFilterIsValidForTheRealEnvoy() throws Exception {
    for (int rate : new int[] {5, 14, 698}) {
      String yaml =
          Files.readString(Path.of("config/demo.yaml"))
              .replaceFirst("(?m)^envoy:\\s*\\n", "envoy:\n  maxRequestsPerSecond: " + rate + "\n");
      ChainrouteConfig config = ConfigLoader.parse(yaml, EnvoyValidateTest::demoToken);
      assertThat(config.envoy().maxRequestsPerSecond()).isEqualTo(rate);
      assertThat(validate(config)).contains("OK");
    }
  }

  /**
   * The EDS clusters chainroute sends over xDS, inlined as static clusters so validate sees them.
   */
  @Test
  void clustersSentOverXdsAreValidForTheRealEnvoy() throws Exception {
    ChainrouteConfig config =
        ConfigLoader.parse(
            Files.readString(Path.of("config/demo.yaml")), EnvoyValidateTest::demoToken);
    List<Cluster> clusters = XdsResources.clusters(config.chains(), config.envoy());
    assertThat(clusters)
        .anySatisfy(
            c ->
                assertThat(
                        c.getTypedExtensionProtocolOptionsMap()
                            .values()
                            .iterator()
                            .next()
                            .unpack(HttpProtocolOptions.class)
                            .getHttpFiltersCount())
                    .isEqualTo(2));
    JsonFormat.Printer printer =
        JsonFormat.printer()
            .usingTypeRegistry(
                JsonFormat.TypeRegistry.newBuilder()
                    .add(HttpProtocolOptions.getDescriptor())
                    .add(HeaderMutation.getDescriptor())
                    .add(UpstreamCodec.getDescriptor())
                    .build());
    ObjectMapper json = new ObjectMapper();
    ObjectNode root =
        (ObjectNode)
            new YAMLMapper()
                .readTree(
                    BootstrapRenderer.render(
                        config, "envoy", io.chainroute.adapters.ChainAdapters::forChain));
    ArrayNode statics = (ArrayNode) root.get("static_resources").get("clusters");
    for (Cluster c : clusters) {
      statics.add(json.readTree(printer.print(c)));
    }
    assertThat(validate(json.writeValueAsString(root))).contains("OK");
  }
}
