package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.chainroute.config.ChainrouteConfig;
import io.chainroute.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The shipped docker-compose.yml and config/docker.yaml, read as files (no Docker needed; {@link
 * DockerComposeTest} runs them where Docker is): only Envoy's listener is published, and
 * chainroute's admin, xDS and ext_proc stay inside the compose network, behind the admin token.
 */
class ComposeFileTest {
  @Test
  void onlyEnvoysListenerIsPublishedAndTheAdminNeedsAToken() throws Exception {
    JsonNode compose =
        new ObjectMapper(new YAMLFactory())
            .readTree(Files.readString(Path.of("docker-compose.yml")));
    List<String> published = new ArrayList<>();
    JsonNode services = compose.get("services");
    for (java.util.Iterator<String> it = services.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      services.get(name).path("ports").forEach(p -> published.add(name + " " + p.asText()));
    }
    ChainrouteConfig docker =
        ConfigLoader.parse(
            Files.readString(Path.of("config/docker.yaml")),
            v -> v.equals("CHAINROUTE_ADMIN_TOKEN") ? "t" : null);
    assertThat(published).containsExactly("envoy 10000:" + docker.envoy().listenerPort());
    assertThat(docker.server().adminTokenEnv()).isEqualTo("CHAINROUTE_ADMIN_TOKEN");
    assertThat(compose.at("/services/chainroute/environment/CHAINROUTE_ADMIN_TOKEN").asText())
        .startsWith("${CHAINROUTE_ADMIN_TOKEN:?");
  }
}
