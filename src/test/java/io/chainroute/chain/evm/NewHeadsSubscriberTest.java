package io.chainroute.chain.evm;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.evm.NewHeadsSubscriber.Kind;
import org.junit.jupiter.api.Test;

/**
 * How a node's WebSocket messages are read; the socket itself is covered by NewHeadsIT with anvil.
 */
class NewHeadsSubscriberTest {
  @Test
  void aNotificationIsAHeadWhateverItCarries() {
    assertThat(
            NewHeadsSubscriber.classify(
                "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0x1\",\"result\":{\"number\":\"0x10\"}}}"))
        .isEqualTo(Kind.HEAD);
    // The block in it is not trusted or even read: the probe that follows is what counts.
    assertThat(NewHeadsSubscriber.classify("{\"method\":\"eth_subscription\",\"params\":null}"))
        .isEqualTo(Kind.HEAD);
  }

  @Test
  void theAnswerToOurSubscribeIsSubscribedOrRefused() {
    assertThat(NewHeadsSubscriber.classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xabc\"}"))
        .isEqualTo(Kind.SUBSCRIBED);
    assertThat(
            NewHeadsSubscriber.classify(
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}"))
        .isEqualTo(Kind.REFUSED);
  }

  @Test
  void anythingElseIsIgnoredWithoutThrowing() {
    assertThat(NewHeadsSubscriber.classify("not json")).isEqualTo(Kind.OTHER);
    assertThat(NewHeadsSubscriber.classify("[1,2]")).isEqualTo(Kind.OTHER);
    assertThat(NewHeadsSubscriber.classify("")).isEqualTo(Kind.OTHER);
    assertThat(NewHeadsSubscriber.classify("{\"id\":2,\"result\":\"0x1\"}")).isEqualTo(Kind.OTHER);
    assertThat(NewHeadsSubscriber.classify("{\"method\":\"eth_subscription\""))
        .isEqualTo(Kind.OTHER);
  }
}
