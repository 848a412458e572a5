package io.chainroute.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.chainroute.chain.BlockRef;
import io.chainroute.chain.DataKind;
import io.chainroute.chain.Requirement;
import io.chainroute.config.CacheConfig;
import io.chainroute.config.ChainConfig;
import io.chainroute.config.NodeConfig;
import io.chainroute.config.TestConfigs;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeScore;
import io.chainroute.height.NodeView;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FastPathBoundsTest {
  private final NodeConfig full = TestConfigs.node("full", "http://10.0.0.1:8545").build();
  private final NodeConfig archive =
      TestConfigs.node("archive", "http://10.0.0.3:8545").archive().build();

  private ChainConfig chain(boolean cache, long window, long margin) {
    return TestConfigs.evm("eth")
        .fullNodeStateBlocks(window)
        .archiveMarginBlocks(margin)
        .blockTime(Duration.ofSeconds(12))
        .cache(new CacheConfig(cache, 64, Duration.ofHours(1)))
        .nodes(full, archive)
        .build();
  }

  private static NodeView node(NodeConfig n, long head, long finalized, boolean up) {
    return new NodeView(
        n,
        head,
        0,
        up ? Health.SYNCED : Health.UNREACHABLE,
        "",
        up ? EndpointStatus.HEALTHY : EndpointStatus.NONE,
        1,
        0,
        n.host(),
        null,
        NodeScore.UNSCORED,
        null,
        finalized,
        -1);
  }

  private ChainView view(ChainConfig c, long head, long finalized, boolean archiveUp) {
    return new ChainView(
        c,
        head,
        List.of(node(full, head, finalized, true), node(archive, head, finalized, archiveUp)));
  }

  private static Decision decide(DataKind kind, long n, ChainView v) {
    return RoutingPolicy.decide(List.of(Requirement.read(kind, BlockRef.number(n))), v);
  }

  @Test
  void everyNumberInsideTheBoundsIsDecidedAsChainrouteDecidesItWhileTheChainMovesWithinTheSlack() {
    Random rnd = new Random(7);
    int checked = 0;
    int head = 0;
    int archived = 0;
    for (int round = 0; round < 400; round++) {
      boolean cache = rnd.nextBoolean();
      long window = 8L + rnd.nextInt(300);
      long margin = rnd.nextInt(6);
      ChainConfig c = chain(cache, window, margin);
      long h0 = 1_000L + rnd.nextInt(100_000);
      long f0 = rnd.nextInt(4) == 0 ? -1 : h0 - rnd.nextInt(100);
      boolean archiveUp = rnd.nextInt(4) != 0;
      FastPathBounds b = FastPathBounds.of(view(c, h0, f0, archiveUp), 0);
      long slack = FastPathBounds.slack(c);
      for (int k = 0; k < 40; k++) {
        // Anywhere the chain may be before the bounds are replaced, including a head that went
        // back (a node left) and a finalized height that caught up with the head.
        long h = Math.max(0, h0 - slack + rnd.nextInt((int) (2 * slack + 1)));
        long f = f0 < 0 ? -1 : Math.min(h, f0 + rnd.nextInt((int) slack + 1));
        ChainView now = view(c, h, f, archiveUp);
        for (DataKind kind : List.of(DataKind.STATE, DataKind.NONE)) {
          FastPathBounds.Range r = b.ranges().get(kind);
          long n = Math.max(0, h - 2 * window - 50 + rnd.nextInt((int) (2 * window) + 100));
          Decision d = decide(kind, n, now);
          if (n >= r.headFrom()) {
            head++;
            assertThat(d)
                .as("n=%d h=%d %s", n, h, b)
                .isEqualTo(new Decision.Route(Pool.HEAD, false, RouteReason.RECENT));
            // Nothing chainroute may answer from its cache is taken from it.
            if (cache) {
              assertThat(f0 < 0 ? n > h : n > f).as("n=%d f=%d %s", n, f, b).isTrue();
            }
          } else if (n <= r.archiveTo()) {
            archived++;
            assertThat(d)
                .as("n=%d h=%d %s", n, h, b)
                .isEqualTo(new Decision.Route(Pool.ARCHIVE, false, RouteReason.ARCHIVE));
            assertThat(cache).isFalse();
          }
          checked++;
        }
      }
    }
    // The bounds do decide: both ranges are used, not only left empty.
    assertThat(head).isGreaterThan(checked / 10);
    assertThat(archived).isGreaterThan(checked / 20);
  }

  @Test
  void theRangesCoverMostOfTheWindowWithoutCacheAndOnlyWhatIsNotFinalWithIt() {
    ChainConfig open = chain(false, 128, 4);
    FastPathBounds b = FastPathBounds.of(view(open, 10_000, 9_936, true), 0);
    long slack = FastPathBounds.slack(open);
    assertThat(slack).isEqualTo(31);
    // Head range: from the window's edge at head + slack; archive: below it at head - slack.
    assertThat(b.ranges().get(DataKind.STATE))
        .isEqualTo(new FastPathBounds.Range(10_000 + 31 - 124 + 1, 10_000 - 31 - 124));
    assertThat(b.ranges().get(DataKind.NONE)).isEqualTo(new FastPathBounds.Range(0, -1));
    ChainConfig cached = chain(true, 128, 4);
    FastPathBounds c = FastPathBounds.of(view(cached, 10_000, 9_936, true), 0);
    assertThat(c.ranges().get(DataKind.STATE))
        .isEqualTo(new FastPathBounds.Range(9_936 + 31 + 1, -1));
    assertThat(c.ranges().get(DataKind.NONE))
        .isEqualTo(new FastPathBounds.Range(9_936 + 31 + 1, -1));
    // No usable archive: nothing is sent there (chainroute sends those reads to the head pool).
    assertThat(
            FastPathBounds.of(view(open, 10_000, 9_936, false), 0)
                .ranges()
                .get(DataKind.STATE)
                .archiveTo())
        .isEqualTo(-1);
  }

  @Test
  void boundsAreReplacedOnlyWhenTheChainMovesHalfTheSlackOrHalfTheirLifetimePasses() {
    ChainConfig c = chain(true, 128, 4);
    FastPathBounds b = FastPathBounds.of(view(c, 10_000, 9_936, true), 0);
    long ttl = FastPathBounds.ttlMillis(c);
    assertThat(ttl).isEqualTo(31 * 12_000);
    assertThat(b.stale(view(c, 10_014, 9_950, true), 1_000)).isFalse();
    assertThat(b.stale(view(c, 10_015, 9_950, true), 1_000)).isTrue();
    assertThat(b.stale(view(c, 9_985, 9_936, true), 1_000)).isTrue();
    assertThat(b.stale(view(c, 10_000, 9_951, true), 1_000)).isTrue();
    assertThat(b.stale(view(c, 10_000, 9_936, false), 1_000)).isTrue();
    assertThat(b.stale(view(c, 10_000, 9_936, true), ttl / 2 - 1)).isFalse();
    assertThat(b.stale(view(c, 10_000, 9_936, true), ttl / 2)).isTrue();
    // A block a minute for an hour moves the bounds 4 times, not 60.
    int rebuilt = 0;
    FastPathBounds cur = b;
    for (int i = 1; i <= 60; i++) {
      ChainView v = view(c, 10_000 + i, 9_936 + i, true);
      if (cur.stale(v, 0)) {
        cur = FastPathBounds.of(v, 0);
        rebuilt++;
      }
    }
    assertThat(rebuilt).isEqualTo(4);
    // No usable node: no bounds at all.
    ChainView down =
        new ChainView(
            c, 10_000, List.of(node(full, 10_000, -1, false), node(archive, 10_000, -1, false)));
    assertThat(FastPathBounds.of(down, 0)).isNull();
    assertThat(b.stale(down, 0)).isTrue();
  }

  @Test
  void aChainFasterThanItsBlockTimeShortensTheLifetimeNeverLengthensIt() {
    ChainConfig c = chain(false, 128, 4); // blockTime 12 s, slack 31
    FastPathBounds first = FastPathBounds.of(view(c, 10_000, 9_936, true), 0);
    assertThat(first.ttlMillis()).isEqualTo(31 * 12_000);
    // 16 blocks in 16 s: one a second, so the slack takes 31 s to move, not 372.
    FastPathBounds fast = FastPathBounds.of(view(c, 10_016, 9_952, true), 16_000, first);
    assertThat(fast.ttlMillis()).isEqualTo(31_000);
    assertThat(fast.stale(view(c, 10_016, 9_952, true), 16_000 + 15_499)).isFalse();
    assertThat(fast.stale(view(c, 10_016, 9_952, true), 16_000 + 15_500)).isTrue();
    // Slower than configured: the configured interval stays (the shorter one wins).
    FastPathBounds slow = FastPathBounds.of(view(c, 10_016, 9_952, true), 16 * 60_000, first);
    assertThat(slow.ttlMillis()).isEqualTo(31 * 12_000);
    // A jump (a node catching up) gives the floor, never less.
    FastPathBounds jump = FastPathBounds.of(view(c, 12_000, 11_936, true), 1_000, first);
    assertThat(jump.ttlMillis()).isEqualTo(10_000);
    // No movement, or no earlier bounds: the configured interval.
    assertThat(FastPathBounds.of(view(c, 10_000, 9_936, true), 60_000, first).ttlMillis())
        .isEqualTo(31 * 12_000);
  }
}
