package io.chainroute.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The response cache never shows a reorg's old branch: a real anvil (its {@code finalized} tag
 * trails its head by 64 blocks) is reorged 5 blocks deep ({@code anvil_reorg}, sent to the node
 * itself: chainroute refuses test-chain controls) and every answer through a real Envoy then equals
 * the node's own.
 */
class CacheReorgIT {
  AnvilProcess anvil;
  DrillRig rig;

  @AfterEach
  void stop() {
    if (rig != null) {
      rig.close();
    }
    if (anvil != null) {
      anvil.close();
    }
  }

  private static String block(String tagOrNumber) {
    return Rpc.call("eth_getBlockByNumber", "[\"" + tagOrNumber + "\",false]");
  }

  @Test
  void afterAReorgNoOldBranchAnswerIsServed() throws IOException {
    RealBinaries.envoy();
    Path dir = Files.createTempDirectory("chainroute-reorg");
    anvil = AnvilProcess.start(dir, "a", null);
    anvil.mine(100);
    rig =
        DrillRig.start(
            dir,
            "reorg",
            DrillRig.anvilChain(
                Duration.ofSeconds(2), List.of("{ name: a, url: \"" + anvil.url() + "\" }")));
    rig.awaitServing("eth", "/eth", List.of("a"));
    String url = rig.envoy().url("/eth");
    Awaitility.await("chainroute at the head")
        .atMost(Duration.ofSeconds(10))
        .until(() -> Rpc.post(url, Rpc.call("eth_blockNumber", "[]")).body().contains("\"0x64\""));

    String recent = block("0x62");
    String oldHash =
        anvil.rpc("eth_getBlockByNumber", "[\"0x62\",false]").get("result").get("hash").asText();
    String byOldHash = Rpc.call("eth_getBlockByHash", "[\"" + oldHash + "\",false]");
    String finalBlock = block("0xa");
    for (int i = 0; i < 2; i++) {
      assertThat(Rpc.post(url, recent).upstream()).as("unfinalized: from the node").isNotEmpty();
      assertThat(Rpc.post(url, byOldHash).upstream()).as("unfinal block by hash").isNotEmpty();
    }
    Rpc.post(url, finalBlock);
    assertThat(Rpc.post(url, finalBlock).upstream()).as("finalized: from the store").isEmpty();

    assertThat(anvil.rpc("anvil_reorg", "[5,[]]").has("error")).isFalse();
    String newHash =
        anvil.rpc("eth_getBlockByNumber", "[\"0x62\",false]").get("result").get("hash").asText();
    assertThat(newHash).isNotEqualTo(oldHash);

    for (String req : List.of(recent, byOldHash, finalBlock, block("latest"))) {
      assertThat(Rpc.post(url, req).body()).as(req).isEqualTo(Rpc.post(anvil.url(), req).body());
    }
    assertThat(Rpc.post(url, byOldHash).json().get("result").isNull()).isTrue();
    assertThat(Rpc.post(url, Rpc.call("eth_blockNumber", "[]")).json().get("result").asText())
        .isEqualTo("0x64");
  }
}
