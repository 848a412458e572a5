package io.chainroute.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class LocalStoreTest {
  @Test
  void keysAreNamespacedByChain() {
    LocalStore s = new LocalStore(1 << 20);
    s.put("a", "k", new byte[] {1}, Duration.ofMinutes(1));
    assertThat(s.get("a", "k")).containsExactly(1);
    assertThat(s.get("b", "k")).isNull();
    assertThat(s.stats().stores()).isEqualTo(1);
    assertThat(s.stats().bytes()).isEqualTo(LocalStore.weight("a/k", new byte[1]));
  }

  @Test
  void theBoundIsInBytesAndEvictionsAreCounted() {
    LocalStore s = new LocalStore(10_000);
    for (int i = 0; i < 100; i++) {
      s.put("c", "k" + i, new byte[1000], Duration.ofMinutes(1));
    }
    s.cleanUp();
    assertThat(s.stats().bytes()).isLessThanOrEqualTo(10_000);
    assertThat(s.stats().evictions()).isGreaterThan(80);
  }
}
