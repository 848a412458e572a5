package io.chainroute.probe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.chainroute.chain.evm.EvmAdapter;
import io.chainroute.config.CaBundle;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.NodeProber.Answered;
import io.chainroute.height.NodeProber.Failed;
import io.chainroute.height.NodeProber.Result;
import io.chainroute.testing.FakeNode;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Probes of hosted-style nodes: the URL's path and query, a DNS change, CA bundles. */
class HostedProbeTest {
  private FakeNode node;
  private final AtomicReference<String> dns = new AtomicReference<>("127.0.0.1");

  @BeforeEach
  void start() throws Exception {
    node = FakeNode.start();
  }

  @AfterEach
  void stop() {
    node.close();
  }

  private Result probe(NodeConfig n) throws Exception {
    HttpNodeProber prober =
        new HttpNodeProber(
            x -> HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(),
            Map.of("eth", new EvmAdapter()),
            Runnable::run,
            host -> dns.get());
    ChainConfig chain = TestConfigs.evm("eth").probeTimeout(Duration.ofSeconds(2)).nodes(n).build();
    return prober.probe(chain, n, -1).get(10, TimeUnit.SECONDS);
  }

  @Test
  void theProbeGoesToTheNodesPathAndQuery() throws Exception {
    node.answer(FakeNode.evm(7, false));
    Result r = probe(TestConfigs.node("n", node.url() + "/v2/k3y?apikey=q").build());
    assertThat(r).isInstanceOf(Answered.class);
    assertThat(node.requests().get(0).path()).isEqualTo("/v2/k3y");
    assertThat(node.requests().get(0).query()).isEqualTo("apikey=q");
  }

  @Test
  void theAddressPublishedToEnvoyFollowsADnsChange() throws Exception {
    node.answer(FakeNode.evm(7, false));
    NodeConfig n = TestConfigs.node("n", node.url()).build();
    assertThat(((Answered) probe(n)).address()).isEqualTo("127.0.0.1");
    dns.set("127.0.0.2");
    assertThat(((Answered) probe(n)).address()).isEqualTo("127.0.0.2");
    dns.set(null);
    assertThat(((Failed) probe(n)).reason()).isEqualTo("host name does not resolve");
  }

  @Test
  void aFailureReasonNeverQuotesTheKeyInTheNodesPath() {
    NodeConfig n =
        TestConfigs.node("n", "https://h.example/v2/abcdef123456?apikey=zyxw98765").build();
    assertThat(HttpNodeProber.masked("invalid key abcdef123456 or zyxw98765", n))
        .isEqualTo("invalid key *** or ***");
  }

  @Test
  void aCaBundleTrustsExactlyItsCertificatesAndAFileOfNoneIsRefused() throws Exception {
    Path system = Path.of(CaBundle.SYSTEM_BUNDLE);
    if (Files.isReadable(system)) {
      CaBundle b = new CaBundle(system.toString(), Files.readString(system), true);
      assertThat(NodeClients.context(b).getProtocol()).isEqualTo("TLS");
    }
    assertThatThrownBy(() -> NodeClients.context(new CaBundle("/x.pem", "nothing", false)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("CA file /x.pem holds no certificate");
  }
}
