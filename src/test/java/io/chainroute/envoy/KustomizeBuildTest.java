package io.chainroute.envoy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code kubectl apply -k} would send: the real kustomize ({@code .ci/install-tools} builds
 * it; {@code KUSTOMIZE_BIN} names another) builds each entry point of deploy/kubernetes from a copy
 * with {@code secrets.env} made from its example, and every resource it prints is decoded strictly
 * ({@link StrictManifests}). Checks what only the built output shows: generated names (with their
 * content hashes) are the ones the Deployments mount, the generated data are the checked-in files,
 * namespaces land where they must, the Istio overlay's patch and config replace the base's. Under
 * {@code CI=true} a missing kustomize fails; elsewhere the test is skipped.
 */
class KustomizeBuildTest {
  @TempDir Path tmp;

  private static Path kustomize() {
    String env = System.getenv("KUSTOMIZE_BIN");
    Path bin = env != null && !env.isBlank() ? Path.of(env) : Path.of(".tools", "bin", "kustomize");
    boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
    if (!Files.isExecutable(bin)) {
      if (ci) {
        throw new AssertionError(
            "kustomize not found at " + bin + " (run .ci/install-tools or set KUSTOMIZE_BIN)");
      }
      assumeTrue(false, "kustomize not found at " + bin + "; run .ci/install-tools");
    }
    return bin.toAbsolutePath();
  }

  /** deploy/kubernetes copied, with secrets.env filled with stand-ins, built at {@code entry}. */
  private List<HasMetadata> build(String entry) throws Exception {
    Path bin = kustomize();
    Path src = Path.of("deploy/kubernetes");
    Path copy = tmp.resolve("kubernetes");
    if (!Files.exists(copy)) {
      try (Stream<Path> files = Files.walk(src)) {
        for (Path p : files.toList()) {
          Path to = copy.resolve(src.relativize(p).toString());
          if (Files.isDirectory(p)) {
            Files.createDirectories(to);
          } else if (!p.getFileName().toString().equals("secrets.env")) {
            Files.copy(p, to);
          }
        }
      }
      String example = Files.readString(copy.resolve("chainroute/secrets.env.example"));
      Files.writeString(
          copy.resolve("chainroute/secrets.env"),
          example.replaceAll("(?m)^([A-Z0-9_]+)=$", "$1=stand-in-$1"));
    }
    Process p =
        new ProcessBuilder(bin.toString(), "build", copy.resolve(entry).toString())
            .redirectErrorStream(false)
            .start();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(err).isZero();
    List<HasMetadata> resources = new ArrayList<>();
    for (Object o : StrictManifests.decode(new String(out, StandardCharsets.UTF_8))) {
      if (o instanceof HasMetadata h) {
        resources.add(h);
      } else {
        resources.add(new Other(o));
      }
    }
    return resources;
  }

  /** The Istio records, which are not fabric8 types, wrapped for a uniform list. */
  private static final class Other
      extends io.fabric8.kubernetes.api.model.GenericKubernetesResource {
    private static final long serialVersionUID = 1L;

    Other(Object o) {
      if (o instanceof StrictManifests.EnvoyFilter f) {
        setKind(f.kind());
        setMetadata(f.metadata());
      } else if (o instanceof StrictManifests.Gateway g) {
        setKind(g.kind());
        setMetadata(g.metadata());
      } else {
        throw new IllegalArgumentException(String.valueOf(o));
      }
    }
  }

  private static Map<String, Long> kinds(List<HasMetadata> rs) {
    return rs.stream()
        .collect(Collectors.groupingBy(HasMetadata::getKind, TreeMap::new, Collectors.counting()));
  }

  private static <T> T named(List<HasMetadata> rs, Class<T> type, String name) {
    return rs.stream()
        .filter(type::isInstance)
        .filter(r -> r.getMetadata().getName().equals(name))
        .map(type::cast)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
  }

  /** Every ConfigMap and Secret a Deployment mounts or reads is in the same build. */
  private static void everyReferenceResolves(List<HasMetadata> rs) {
    Set<String> configMaps = names(rs, ConfigMap.class);
    Set<String> secrets = names(rs, Secret.class);
    for (HasMetadata r : rs) {
      if (!(r instanceof Deployment d)) {
        continue;
      }
      for (Volume v : d.getSpec().getTemplate().getSpec().getVolumes()) {
        if (v.getConfigMap() != null) {
          assertThat(configMaps).as(d.getMetadata().getName()).contains(v.getConfigMap().getName());
        }
      }
      for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
        if (c.getEnv() == null) {
          continue;
        }
        c.getEnv()
            .forEach(
                e ->
                    assertThat(secrets)
                        .as(e.getName())
                        .contains(e.getValueFrom().getSecretKeyRef().getName()));
      }
    }
  }

  private static Set<String> names(List<HasMetadata> rs, Class<?> type) {
    return rs.stream()
        .filter(type::isInstance)
        .map(r -> r.getMetadata().getName())
        .collect(Collectors.toCollection(TreeSet::new));
  }

  private static ConfigMap mountedConfigMap(
      List<HasMetadata> rs, String deployment, String volume) {
    Deployment d = named(rs, Deployment.class, deployment);
    String name =
        d.getSpec().getTemplate().getSpec().getVolumes().stream()
            .filter(v -> v.getName().equals(volume))
            .findFirst()
            .orElseThrow()
            .getConfigMap()
            .getName();
    return named(rs, ConfigMap.class, name);
  }

  @Test
  void theStandaloneBuildIsChainrouteAndItsGatewayWithTheCheckedInConfigAndBootstrap()
      throws Exception {
    List<HasMetadata> rs = build(".");
    assertThat(kinds(rs))
        .containsExactlyEntriesOf(
            new TreeMap<>(
                Map.of(
                    "ConfigMap", 2L,
                    "Deployment", 2L,
                    "Namespace", 1L,
                    "PodDisruptionBudget", 2L,
                    "Secret", 1L,
                    "Service", 2L)));
    for (HasMetadata r : rs) {
      if (!r.getKind().equals("Namespace")) {
        assertThat(r.getMetadata().getNamespace()).as(r.getKind()).isEqualTo("chainroute");
      }
    }
    everyReferenceResolves(rs);
    ConfigMap config = mountedConfigMap(rs, "chainroute", "config");
    assertThat(config.getMetadata().getName())
        .as("named by its content")
        .matches("chainroute-config-[a-z0-9]{10}");
    assertThat(config.getData())
        .containsExactlyEntriesOf(
            Map.of(
                "chainroute.yaml",
                Files.readString(Path.of("deploy/kubernetes/chainroute/chainroute.yaml"))));
    assertThat(mountedConfigMap(rs, "chainroute-gateway", "bootstrap").getData())
        .containsExactlyEntriesOf(
            Map.of(
                "envoy.yaml", Files.readString(Path.of("deploy/kubernetes/gateway/envoy.yaml"))));
    Secret secret = named(rs, Secret.class, "chainroute-secrets");
    Map<String, String> decoded = new TreeMap<>();
    secret
        .getData()
        .forEach(
            (k, v) ->
                decoded.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    assertThat(decoded)
        .containsExactlyEntriesOf(
            new TreeMap<>(
                Map.of(
                    "CHAINROUTE_ADMIN_TOKEN", "stand-in-CHAINROUTE_ADMIN_TOKEN",
                    "PROVIDER_KEY", "stand-in-PROVIDER_KEY")));
    assertThat(
            named(rs, Deployment.class, "chainroute")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getImage())
        .isEqualTo("chainroute:0.1.0");
  }

  @Test
  void theIstioBuildReplacesTheConfigAddsTheTlsFilesAndPutsTheFiltersBesideTheGateway()
      throws Exception {
    List<HasMetadata> rs = build("istio");
    assertThat(kinds(rs))
        .containsExactlyEntriesOf(
            new TreeMap<>(
                Map.of(
                    "ConfigMap", 1L,
                    "Deployment", 1L,
                    "EnvoyFilter", 3L,
                    "Gateway", 1L,
                    "Namespace", 1L,
                    "PodDisruptionBudget", 1L,
                    "Secret", 1L,
                    "Service", 1L)));
    for (HasMetadata r : rs) {
      String ns = r.getMetadata().getNamespace();
      switch (r.getKind()) {
        case "Namespace" -> assertThat(ns).isNull();
        case "EnvoyFilter", "Gateway" -> assertThat(ns).as(r.getKind()).isEqualTo("istio-system");
        default -> assertThat(ns).as(r.getKind()).isEqualTo("chainroute");
      }
    }
    everyReferenceResolves(rs);
    assertThat(mountedConfigMap(rs, "chainroute", "config").getData())
        .containsExactlyEntriesOf(
            Map.of(
                "chainroute.yaml",
                Files.readString(Path.of("deploy/kubernetes/istio/chainroute/chainroute.yaml"))));
    Deployment d = named(rs, Deployment.class, "chainroute");
    assertThat(d.getSpec().getTemplate().getMetadata().getAnnotations())
        .containsEntry("sidecar.istio.io/inject", "false");
    assertThat(d.getSpec().getTemplate().getSpec().getVolumes())
        .extracting(Volume::getName)
        .containsExactlyInAnyOrder("config", "tmp", "tls");
    Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(c.getVolumeMounts()).hasSize(3);
    assertThat(c.getReadinessProbe().getHttpGet().getPath())
        .as("the base's, kept")
        .isEqualTo("/readyz");
  }

  @Test
  void theMonitoringBuildIsTheServiceMonitorInChainroutesNamespace() throws Exception {
    List<HasMetadata> rs = build("monitoring");
    assertThat(rs).singleElement().isInstanceOf(ServiceMonitor.class);
    assertThat(rs.get(0).getMetadata().getNamespace()).isEqualTo("chainroute");
  }
}
