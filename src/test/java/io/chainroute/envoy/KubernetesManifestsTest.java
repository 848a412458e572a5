package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import io.chainroute.adapters.ChainAdapters;
import io.chainroute.admin.AdminHttpServer;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import io.chainroute.config.ServerConfig;
import io.chainroute.envoy.StrictManifests.EnvoyFilter;
import io.chainroute.envoy.StrictManifests.Kustomization;
import io.chainroute.height.ChainView;
import io.chainroute.height.Topology;
import io.chainroute.height.TopologySource;
import io.chainroute.metrics.ChainrouteMetrics;
import io.chainroute.xds.XdsResources;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * deploy/kubernetes, offline: every kustomization and every manifest it reaches decodes strictly
 * into the Kubernetes, Prometheus-operator, Istio and kustomize types ({@link StrictManifests}: a
 * misspelt field fails), and the manifests agree with the code — the config parses with
 * chainroute's own loader, every variable it names comes from the Secret, the ports and probe paths
 * are the admin server's, the gateway's bootstrap and the EnvoyFilters are what the renderers make
 * of the checked-in configs, and the memory sizes cover the benchmark's footprint.
 */
class KubernetesManifestsTest {
  private static final Path ROOT = Path.of("deploy/kubernetes");
  private static final String NAMESPACE = "chainroute";
  private static final String GATEWAY_NODE_ID = "chainroute-gateway";

  /** The entry points a user applies, and the patch applied with kubectl patch. */
  private static final List<Path> KUSTOMIZATIONS =
      List.of(ROOT, ROOT.resolve("monitoring"), ROOT.resolve("istio"));

  private static final Path GATEWAY_TLS_PATCH = ROOT.resolve("istio/gateway-tls-patch.yaml");

  private static String read(String relative) throws IOException {
    return Files.readString(ROOT.resolve(relative));
  }

  private static <T> T one(String relative, Class<T> type) throws IOException {
    List<Object> docs = StrictManifests.decode(read(relative));
    assertThat(docs).as(relative).hasSize(1);
    return type.cast(docs.get(0));
  }

  private static Kustomization kustomization(Path dir) throws IOException {
    return StrictManifests.decode(
        Files.readString(dir.resolve("kustomization.yaml")), Kustomization.class);
  }

  private static Container container(Deployment d, String name) {
    return d.getSpec().getTemplate().getSpec().getContainers().stream()
        .filter(c -> c.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no container " + name));
  }

  private static Map<String, Integer> ports(Container c) {
    return c.getPorts().stream()
        .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
  }

  private static VolumeMount mount(Container c, String volume) {
    return c.getVolumeMounts().stream()
        .filter(m -> m.getName().equals(volume))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no mount of " + volume + " in " + c.getName()));
  }

  private static Volume volume(Deployment d, String name) {
    return d.getSpec().getTemplate().getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  @org.junit.jupiter.api.io.TempDir Path tmp;

  /**
   * The variables a config names, each answered with a stand-in value. chainroute's TLS files, as
   * the Secret chainroute-tls would hold them, are made here (a throw-away CA) and checked as at
   * startup: chainroute's certificate names {@code serverName} and the key is its key.
   */
  private Set<String> variablesNamedBy(String configYaml) throws IOException {
    String tlsDir = "/etc/chainroute-tls/";
    if (configYaml.contains(tlsDir)) {
      io.chainroute.testing.TestCerts pki = new io.chainroute.testing.TestCerts(tmp, "ca");
      io.chainroute.testing.TestCerts.Leaf leaf = pki.leaf("chainroute", "chainroute");
      Files.copy(leaf.cert(), tmp.resolve("tls.crt"));
      Files.copy(leaf.key(), tmp.resolve("tls.key"));
      Files.copy(pki.caCert(), tmp.resolve("ca.crt"));
      configYaml = configYaml.replace(tlsDir, tmp + "/");
    }
    Set<String> names = new TreeSet<>();
    ConfigLoader.parse(
        configYaml,
        name -> {
          names.add(name);
          return "stand-in-" + name.toLowerCase(java.util.Locale.ROOT);
        });
    return names;
  }

  private static ChainrouteConfig chainrouteConfig() throws IOException {
    return ConfigLoader.parseForBootstrap(read("chainroute/chainroute.yaml"));
  }

  // ---------------------------------------------------------------- strict decoding

  @Test
  void everyKustomizationAndEveryFileItReachesDecodesStrictly() throws Exception {
    Set<Path> reached = new LinkedHashSet<>();
    int[] documents = {0};
    for (Path k : KUSTOMIZATIONS) {
      walk(k, reached, documents);
    }
    documents[0] += StrictManifests.decode(Files.readString(GATEWAY_TLS_PATCH)).size();
    reached.add(GATEWAY_TLS_PATCH.normalize());
    // Nothing under deploy/kubernetes is left out of the check (README and the example excepted).
    try (Stream<Path> files = Files.walk(ROOT)) {
      Set<Path> yaml =
          files
              .filter(p -> p.toString().endsWith(".yaml"))
              .map(Path::normalize)
              .collect(Collectors.toCollection(TreeSet::new));
      assertThat(reached).containsAll(yaml);
    }
    assertThat(documents[0]).as("manifest documents decoded").isGreaterThanOrEqualTo(13);
  }

  private static void walk(Path dir, Set<Path> reached, int[] documents) throws IOException {
    Path file = dir.resolve("kustomization.yaml");
    assertThat(file).as("a kustomization in " + dir).exists();
    reached.add(file.normalize());
    Kustomization k = kustomization(dir);
    assertThat(k.apiVersion()).isEqualTo("kustomize.config.k8s.io/v1beta1");
    assertThat(k.kind()).isEqualTo("Kustomization");
    for (String r : k.resources()) {
      Path p = dir.resolve(r).normalize();
      if (Files.isDirectory(p)) {
        walk(p, reached, documents);
        continue;
      }
      assertThat(p).as(dir + " resources").exists();
      // kustomize's default load restrictor: a file is loaded only from in or below the
      // kustomization's own directory (another kustomization may be anywhere).
      assertThat(p).as("a file resource of " + dir).startsWith(dir.normalize());
      reached.add(p);
      List<Object> docs = StrictManifests.decode(Files.readString(p));
      assertThat(docs).as(p.toString()).isNotEmpty();
      documents[0] += docs.size();
    }
    for (StrictManifests.Patch patch : k.patches()) {
      Path p = dir.resolve(patch.path()).normalize();
      assertThat(p).as("a patch of " + dir).startsWith(dir.normalize());
      reached.add(p);
      documents[0] += StrictManifests.decode(Files.readString(p)).size();
    }
    for (StrictManifests.Generator g : k.configMapGenerator()) {
      for (String f : g.files()) {
        Path p = dir.resolve(f).normalize();
        assertThat(p).exists().startsWith(dir.normalize());
        reached.add(p);
      }
    }
    for (StrictManifests.Generator g : k.secretGenerator()) {
      for (String env : g.envs()) {
        // The real file is the user's (ignored by git); its example is checked in.
        assertThat(dir.resolve(env + ".example")).exists();
        assertThat(Files.readString(Path.of(".gitignore")))
            .contains(dir.resolve(env).normalize().toString());
      }
    }
  }

  /** A misspelt field or a wrong type in any kind of file is an error, not a silent default. */
  @ParameterizedTest(name = "{0}: {1} -> {2}")
  @CsvSource(
      delimiter = '|',
      value = {
        "chainroute/deployment.yaml | readinessProbe: | readinesProbe: | Unrecognized field \"readinesProbe\"",
        "chainroute/deployment.yaml | containerPort: 18000 | containerport: 18000 | Unrecognized field \"containerport\"",
        "chainroute/deployment.yaml | path: /readyz | paht: /readyz | Unrecognized field \"paht\"",
        "chainroute/deployment.yaml | 'replicas: 2' | 'replicas: \"2\"' | Cannot coerce String value (\"2\")",
        "chainroute/deployment.yaml | secretKeyRef: | secretRef: | Unrecognized field \"secretRef\"",
        "chainroute/service.yaml | clusterIP: None | clusterIp: None | Unrecognized field \"clusterIp\"",
        "chainroute/pdb.yaml | maxUnavailable: 1 | maxUnavailabe: 1 | Unrecognized field \"maxUnavailabe\"",
        "gateway/deployment.yaml | tcpSocket: | tcpsocket: | Unrecognized field \"tcpsocket\"",
        "monitoring/servicemonitor.yaml | credentials: | credential: | Unrecognized field \"credential\"",
        "istio/chainroute/deployment-patch.yaml | 'sidecar.istio.io/inject: \"false\"' |"
            + " 'sidecar.istio.io/inject: false' | Cannot coerce Boolean value (false)",
        "istio/envoyfilters.yaml | workloadSelector: | workloadSelectors: | Unrecognized field \"workloadSelectors\"",
        "istio/envoyfilters.yaml | applyTo: CLUSTER | applyTo: CLUSTERS | String \"CLUSTERS\": not one of the values accepted",
        "istio/gateway.yaml | protocol: HTTP | protocol: HTTPX | String \"HTTPX\": not one of the values accepted",
        "istio/envoyfilters.yaml | context: GATEWAY | contxt: GATEWAY | Unrecognized field \"contxt\"",
        "kustomization.yaml | resources: | resource: | Unrecognized field \"resource\"",
        "chainroute/kustomization.yaml | configMapGenerator: | configmapGenerator: | Unrecognized field \"configmapGenerator\"",
      })
  void aMisspeltFieldOrAWrongTypeIsRejected(String file, String from, String to, String error)
      throws Exception {
    String original = read(file);
    String broken = original.replaceFirst(Pattern.quote(from), Matcher.quoteReplacement(to));
    assertThat(broken).as("the test's text is in " + file).isNotEqualTo(original);
    if (file.endsWith("kustomization.yaml")) {
      StrictManifests.decode(original, Kustomization.class);
      assertThatThrownBy(() -> StrictManifests.decode(broken, Kustomization.class))
          .isInstanceOf(IOException.class)
          .hasMessageContaining(error);
      return;
    }
    StrictManifests.decode(original);
    assertThatThrownBy(() -> StrictManifests.decode(broken))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(error);
  }

  @Test
  void aKeyGivenTwiceIsRejected() throws Exception {
    String original = read("chainroute/pdb.yaml");
    assertThatThrownBy(
            () ->
                StrictManifests.decode(
                    original.replace(
                        "maxUnavailable: 1", "maxUnavailable: 1\n  maxUnavailable: 2")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Duplicate field");
  }

  // ---------------------------------------------------------------- agreement with the code

  @Test
  void theConfigParsesAndEveryVariableItNamesComesFromTheSecret() throws Exception {
    Set<String> named = variablesNamedBy(read("chainroute/chainroute.yaml"));
    assertThat(named).contains("CHAINROUTE_ADMIN_TOKEN", "PROVIDER_KEY");
    assertThat(variablesNamedBy(read("istio/chainroute/chainroute.yaml"))).isEqualTo(named);

    String secretName = kustomization(ROOT.resolve("chainroute")).secretGenerator().get(0).name();
    Deployment d = one("chainroute/deployment.yaml", Deployment.class);
    Set<String> fromSecret = new HashSet<>();
    for (EnvVar e : container(d, "chainroute").getEnv()) {
      var ref = e.getValueFrom().getSecretKeyRef();
      assertThat(ref.getName()).isEqualTo(secretName);
      assertThat(ref.getKey()).isEqualTo(e.getName());
      fromSecret.add(e.getName());
    }
    assertThat(fromSecret).isEqualTo(named);

    Set<String> example = new TreeSet<>();
    for (String line : read("chainroute/secrets.env.example").split("\n")) {
      if (!line.isBlank() && !line.startsWith("#")) {
        example.add(line.substring(0, line.indexOf('=')));
      }
    }
    assertThat(example).isEqualTo(named);

    ChainrouteConfig config =
        ConfigLoader.parse(read("chainroute/chainroute.yaml"), v -> "stand-in");
    assertThat(config.server().adminTokenEnv()).isEqualTo("CHAINROUTE_ADMIN_TOKEN");
    assertThat(config.server().metrics()).isTrue();
  }

  @Test
  void portsServiceAndSelectorsMatchTheConfig() throws Exception {
    ServerConfig server = chainrouteConfig().server();
    Deployment d = one("chainroute/deployment.yaml", Deployment.class);
    Container c = container(d, "chainroute");
    assertThat(ports(c))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "xds", server.xdsPort(),
                "extproc", server.extProcPort(),
                "admin-http", server.adminHttpPort(),
                "admin-grpc", server.adminGrpcPort()));
    assertThat(server.bindAddress()).isEqualTo("0.0.0.0");
    VolumeMount config = mount(c, "config");
    assertThat(c.getArgs())
        .containsExactly("run", "--config", config.getMountPath() + "/chainroute.yaml");
    assertThat(volume(d, "config").getConfigMap().getName())
        .isEqualTo(kustomization(ROOT.resolve("chainroute")).configMapGenerator().get(0).name());

    Service svc = one("chainroute/service.yaml", Service.class);
    assertThat(svc.getSpec().getClusterIP()).as("headless").isEqualTo("None");
    Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
    assertThat(podLabels).containsAllEntriesOf(svc.getSpec().getSelector());
    assertThat(podLabels).containsAllEntriesOf(d.getSpec().getSelector().getMatchLabels());
    for (ServicePort p : svc.getSpec().getPorts()) {
      assertThat(ports(c)).containsEntry(p.getTargetPort().getStrVal(), p.getPort());
    }
    assertThat(
            one("chainroute/pdb.yaml", PodDisruptionBudget.class)
                .getSpec()
                .getSelector()
                .getMatchLabels())
        .isEqualTo(d.getSpec().getSelector().getMatchLabels());

    // The Envoys reach the replicas through the headless Service's DNS name.
    assertThat(chainrouteConfig().envoy().chainrouteHost())
        .isEqualTo(svc.getMetadata().getName() + "." + NAMESPACE + ".svc.cluster.local");
    assertThat(kustomization(ROOT.resolve("chainroute")).namespace()).isEqualTo(NAMESPACE);
    assertThat(kustomization(ROOT.resolve("gateway")).namespace()).isEqualTo(NAMESPACE);

    ServiceMonitor sm = one("monitoring/servicemonitor.yaml", ServiceMonitor.class);
    assertThat(svc.getMetadata().getLabels())
        .containsAllEntriesOf(sm.getSpec().getSelector().getMatchLabels());
    var endpoint = sm.getSpec().getEndpoints().get(0);
    assertThat(svc.getSpec().getPorts())
        .extracting(ServicePort::getName)
        .contains(endpoint.getPort());
    assertThat(endpoint.getPath()).isEqualTo("/metrics");
    assertThat(endpoint.getAuthorization().getCredentials().getName())
        .isEqualTo(kustomization(ROOT.resolve("chainroute")).secretGenerator().get(0).name());
    assertThat(endpoint.getAuthorization().getCredentials().getKey())
        .isEqualTo(server.adminTokenEnv());
    assertThat(kustomization(ROOT.resolve("chainroute")).secretGenerator().get(0).options())
        .as("the ServiceMonitor names the Secret: no hash suffix")
        .extracting(StrictManifests.GeneratorOptions::disableNameSuffixHash)
        .isEqualTo(true);
  }

  /**
   * The probes and the scrape against a real admin server bound as in the pod (every interface,
   * with the admin token), asked with the Host header the kubelet and Prometheus send: the pod's IP
   * and port. The probes need no token; /metrics needs the one the ServiceMonitor sends.
   */
  @Test
  void theProbesAndTheScrapeReachTheAdminServerAsTheKubeletAndPrometheusAsk() throws Exception {
    Container c = container(one("chainroute/deployment.yaml", Deployment.class), "chainroute");
    assertThat(c.getStartupProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
    for (var probe : List.of(c.getStartupProbe(), c.getLivenessProbe(), c.getReadinessProbe())) {
      assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("admin-http");
      assertThat(probe.getHttpGet().getHttpHeaders()).isNullOrEmpty();
    }
    String token = "scrape-token-3f9a";
    ChainrouteConfig config = chainrouteConfig();
    var notReady = Topology.of(1, List.of(new ChainView(config.chains().get(0), -1, List.of())));
    TopologySource source =
        new TopologySource() {
          @Override
          public Topology topology() {
            return notReady;
          }

          @Override
          public void addListener(Consumer<Topology> listener) {}

          @Override
          public void removeListener(Consumer<Topology> listener) {}

          @Override
          public CompletableFuture<ChainView> setDrained(String chain, String node, boolean d) {
            return CompletableFuture.completedFuture(null);
          }
        };
    // Bound like the pod's (every interface); only loopback is asked.
    try (AdminHttpServer admin =
        new AdminHttpServer(
                new InetSocketAddress(InetAddress.getByName(config.server().bindAddress()), 0),
                source,
                List::of,
                () -> new io.chainroute.config.ConfigReload.Outcome(false, "off"),
                token,
                new ChainrouteMetrics(java.time.Clock.systemUTC(), false))
            .start()) {
      String podHost = "10.244.1.7:" + config.server().adminHttpPort();
      // A raw request: java.net.http does not let a client set Host.
      java.util.function.BiFunction<String, String, Integer> get =
          (path, auth) -> {
            try (java.net.Socket s =
                new java.net.Socket(InetAddress.getLoopbackAddress(), admin.port())) {
              String request =
                  "GET "
                      + path
                      + " HTTP/1.1\r\nHost: "
                      + podHost
                      + "\r\n"
                      + (auth == null ? "" : "Authorization: Bearer " + auth + "\r\n")
                      + "Connection: close\r\n\r\n";
              s.getOutputStream()
                  .write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
              String status =
                  new java.io.BufferedReader(
                          new java.io.InputStreamReader(
                              s.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII))
                      .readLine();
              return Integer.parseInt(status.split(" ")[1]);
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          };
      assertThat(get.apply(c.getLivenessProbe().getHttpGet().getPath(), null)).isEqualTo(200);
      // 503 while no chain has a synced node: the replica is alive but not ready.
      assertThat(get.apply(c.getReadinessProbe().getHttpGet().getPath(), null)).isEqualTo(503);
      assertThat(get.apply("/metrics", null)).isEqualTo(401);
      assertThat(get.apply("/metrics", token)).isEqualTo(200);
      assertThat(get.apply("/status", token)).isEqualTo(200);
    }
  }

  @Test
  void theGatewaysBootstrapIsWhatTheRendererMakesOfTheConfig() throws Exception {
    ChainrouteConfig config = chainrouteConfig();
    String rendered = BootstrapRenderer.render(config, GATEWAY_NODE_ID, ChainAdapters::forChain);
    assertThat(read("gateway/envoy.yaml"))
        .as(
            "deploy/kubernetes/gateway/envoy.yaml is stale: run bin/chainroute bootstrap --config"
                + " deploy/kubernetes/chainroute/chainroute.yaml --node-id "
                + GATEWAY_NODE_ID
                + " --out deploy/kubernetes/gateway/envoy.yaml")
        .isEqualTo(rendered);
    assertThat(config.server().allowedEnvoyNodeIds()).containsExactly(GATEWAY_NODE_ID);
    assertThat(read("gateway/kustomization.yaml")).contains("--node-id " + GATEWAY_NODE_ID);

    Deployment gw = one("gateway/deployment.yaml", Deployment.class);
    Container envoy = container(gw, "envoy");
    assertThat(ports(envoy)).containsExactlyEntriesOf(Map.of("rpc", config.envoy().listenerPort()));
    assertThat(config.envoy().listenerAddress()).isEqualTo("0.0.0.0");
    assertThat(config.envoy().adminAddress())
        .as("config_dump holds node keys")
        .isEqualTo("127.0.0.1");
    VolumeMount bootstrap = mount(envoy, "bootstrap");
    assertThat(envoy.getArgs()).containsSequence("-c", bootstrap.getMountPath() + "/envoy.yaml");
    assertThat(volume(gw, "bootstrap").getConfigMap().getName())
        .isEqualTo(kustomization(ROOT.resolve("gateway")).configMapGenerator().get(0).name());
    assertThat(kustomization(ROOT.resolve("gateway")).configMapGenerator().get(0).files())
        .containsExactly("envoy.yaml");
    assertThat(envoy.getReadinessProbe().getTcpSocket().getPort().getStrVal()).isEqualTo("rpc");

    Service svc = one("gateway/service.yaml", Service.class);
    assertThat(gw.getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(svc.getSpec().getSelector());
    assertThat(svc.getSpec().getPorts().get(0).getTargetPort().getStrVal()).isEqualTo("rpc");
    assertThat(
            one("gateway/pdb.yaml", PodDisruptionBudget.class)
                .getSpec()
                .getSelector()
                .getMatchLabels())
        .isEqualTo(gw.getSpec().getSelector().getMatchLabels());
  }

  /** Memory limits from the benchmark's figures and the JVM caps of the launcher. */
  @Test
  void memoryRequestsAndLimitsCoverTheMeasuredFootprint() throws Exception {
    String results = Files.readString(Path.of("bench/RESULTS.md"));
    long chainroutePeak =
        megabytes(results, "chainroute RSS after the load: .*?peak \\(VmHWM\\) (\\d+) MB");
    long envoyRss = megabytes(results, "Envoy \\(same run\\) VmRSS (\\d+) MB");
    String launcher = Files.readString(Path.of("bin/chainroute"));
    long jvmCaps =
        mebibytes(launcher, "-Xmx(\\d+)m")
            + mebibytes(launcher, "-XX:MaxMetaspaceSize=(\\d+)m")
            + mebibytes(launcher, "-XX:MaxDirectMemorySize=(\\d+)m");

    var chainroute =
        container(one("chainroute/deployment.yaml", Deployment.class), "chainroute").getResources();
    long request = bytes(chainroute.getRequests().get("memory"));
    long limit = bytes(chainroute.getLimits().get("memory"));
    assertThat(request).as("request >= measured peak RSS").isGreaterThanOrEqualTo(chainroutePeak);
    // Heap, metaspace and direct buffers at their caps, plus code cache, stacks and the JVM itself.
    assertThat(limit).isGreaterThanOrEqualTo(jvmCaps + (64L << 20));
    assertThat(chainroute.getLimits())
        .as("no CPU limit: throttling stalls ext_proc")
        .doesNotContainKey("cpu");

    var envoy = container(one("gateway/deployment.yaml", Deployment.class), "envoy").getResources();
    long envoyLimit = bytes(envoy.getLimits().get("memory"));
    assertThat(bytes(envoy.getRequests().get("memory"))).isGreaterThanOrEqualTo(envoyRss);
    assertThat(chainrouteConfig().envoy().maxHeapBytes())
        .as("the overload manager acts before the kernel's OOM killer")
        .isLessThan(envoyLimit);
  }

  private static long megabytes(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    assertThat(m.find()).as(regex).isTrue();
    return Long.parseLong(m.group(1)) * 1_000_000L;
  }

  private static long mebibytes(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    assertThat(m.find()).as(regex).isTrue();
    return Long.parseLong(m.group(1)) << 20;
  }

  private static long bytes(Quantity q) {
    BigDecimal b = Quantity.getAmountInBytes(q);
    return b.longValueExact();
  }

  // ---------------------------------------------------------------- Istio

  @Test
  void theEnvoyFiltersAreWhatChainrouteIstioMakesOfTheIstioConfig() throws Exception {
    String istioYaml = read("istio/chainroute/chainroute.yaml");
    ChainrouteConfig istio = ConfigLoader.parseForBootstrap(istioYaml);
    assertThat(istioYaml)
        .contains("--namespace istio-system --gateway-label ingressgateway --host rpc.example.com");
    String rendered =
        IstioFilters.render(
            istio,
            ChainAdapters::forChain,
            XdsResources.clusters(istio.chains(), istio.envoy()),
            "istio-system",
            "ingressgateway",
            "rpc.example.com");
    assertThat(read("istio/envoyfilters.yaml"))
        .as(
            "deploy/kubernetes/istio/envoyfilters.yaml is stale: run the bin/chainroute istio line"
                + " at the top of deploy/kubernetes/istio/chainroute/chainroute.yaml")
        .isEqualTo(rendered);

    // The same chains as the standalone config.
    ObjectMapper yaml = new YAMLMapper();
    assertThat(yaml.readTree(istioYaml).get("chains"))
        .isEqualTo(yaml.readTree(read("chainroute/chainroute.yaml")).get("chains"));
    assertThat(istio.envoy().chainrouteHost())
        .isEqualTo(chainrouteConfig().envoy().chainrouteHost());

    // chainroute's TLS files from the patch's Secret volume, Envoy's from the gateway's.
    Deployment patch = one("istio/chainroute/deployment-patch.yaml", Deployment.class);
    String chainrouteTls = mount(container(patch, "chainroute"), "tls").getMountPath() + "/";
    assertThat(volume(patch, "tls").getSecret().getSecretName()).isEqualTo("chainroute-tls");
    assertThat(
            List.of(
                istio.server().tls().cert(),
                istio.server().tls().key(),
                istio.server().tls().clientCa()))
        .allSatisfy(p -> assertThat(p.toString()).startsWith(chainrouteTls));
    assertThat(patch.getSpec().getTemplate().getMetadata().getAnnotations())
        .containsEntry("sidecar.istio.io/inject", "false");
    Deployment gateway =
        (Deployment) StrictManifests.decode(Files.readString(GATEWAY_TLS_PATCH)).get(0);
    String envoyTls =
        mount(container(gateway, "istio-proxy"), "chainroute-envoy-tls").getMountPath() + "/";
    assertThat(gateway.getMetadata().getNamespace()).isEqualTo("istio-system");
    assertThat(
            List.of(
                istio.server().tls().envoyCert(),
                istio.server().tls().envoyKey(),
                istio.server().tls().envoyCa()))
        .allSatisfy(p -> assertThat(p).startsWith(envoyTls));

    // The Gateway server that makes istiod build the route table the virtual host is added to.
    StrictManifests.Gateway gw = one("istio/gateway.yaml", StrictManifests.Gateway.class);
    assertThat(gw.spec().selector()).containsEntry("istio", "ingressgateway");
    assertThat(gw.spec().servers())
        .anySatisfy(
            s -> {
              assertThat(s.port().number()).isEqualTo(istio.envoy().listenerPort());
              assertThat(s.port().protocol()).isEqualTo(StrictManifests.Gateway.Protocol.HTTP);
            })
        .allSatisfy(s -> assertThat(s.hosts()).doesNotContain("rpc.example.com", "*"));

    // Every EnvoyFilter in the gateway's namespace, every patch value strictly its Envoy type.
    List<Object> docs = StrictManifests.decode(read("istio/envoyfilters.yaml"));
    assertThat(docs).hasSize(3);
    List<String> clusters = new ArrayList<>();
    for (Object o : docs) {
      EnvoyFilter f = (EnvoyFilter) o;
      assertThat(f.metadata().getNamespace()).isEqualTo("istio-system");
      assertThat(f.spec().workloadSelector().labels()).containsEntry("istio", "ingressgateway");
      for (EnvoyFilter.ConfigPatch p : f.spec().configPatches()) {
        assertThat(p.match().context()).isEqualTo(EnvoyFilter.Context.GATEWAY);
        JsonNode value = p.patch().value();
        switch (p.applyTo()) {
          case CLUSTER -> clusters.add(parse(value, Cluster.newBuilder()).getName());
          case HTTP_FILTER -> parse(value, HttpFilter.newBuilder());
          case NETWORK_FILTER -> parse(value, Filter.newBuilder());
          case VIRTUAL_HOST -> parse(value, VirtualHost.newBuilder());
          default -> throw new AssertionError("unexpected applyTo " + p.applyTo());
        }
      }
    }
    assertThat(clusters)
        .contains(
            "chainroute_xds", "chainroute_extproc", "eth-mainnet-head", "eth-mainnet-archive");
  }

  private static <T extends Message.Builder> T parse(JsonNode value, T builder) throws Exception {
    JsonFormat.parser()
        .usingTypeRegistry(BootstrapRenderer.TYPES)
        .merge(new ObjectMapper().writeValueAsString(value), builder);
    return builder;
  }
}
