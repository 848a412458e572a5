package io.chainroute.pipeline;

import io.chainroute.cache.CacheKeys;
import io.chainroute.cache.ResponseStore;
import io.chainroute.chain.AdapterState;
import io.chainroute.chain.ChainAdapter;
import io.chainroute.chain.LocalPlan;
import io.chainroute.chain.Reply;
import io.chainroute.config.ChainConfig;
import io.chainroute.height.ChainView;
import io.chainroute.height.EndpointStatus;
import io.chainroute.height.Health;
import io.chainroute.height.NodeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The pipeline stage that answers requests from chainroute itself ({@link LocalPlan}): the chain's
 * facts (identity, head) and stored answers of data that can no longer change. It also keeps what a
 * node answered to a request it captured ({@link #captured}).
 *
 * <p>Rules it keeps: a stored answer is used, and kept, only while its block is at or below the
 * chain's finalized height (the lowest finalized height of the synced nodes Envoy may use), so a
 * reorg above it can never show through the store; the head it answers is the highest head of the
 * head pool Envoy has ACKed and never lower than a head it answered before for that chain (a
 * follow-up request for that block then waits for a node that has it rather than failing).
 *
 * <p>Threading: any thread; the only mutable state is the per-chain head floor (an atomic).
 */
final class LocalAnswers {
  private final ResponseStore store;
  private final Map<String, AtomicLong> headFloor = new ConcurrentHashMap<>();

  LocalAnswers(ResponseStore store) {
    this.store = store;
  }

  /** The outcome of the plan: a reply, or null with {@code capture} set to what may be stored. */
  record Result(Reply reply, boolean fromStore, String capture) {}

  private static final Result NOTHING = new Result(null, false, null);

  Result answer(ChainConfig chain, LocalPlan plan, ChainView view) {
    if (plan == null || !chain.cache().enabled() || view == null) {
      return NOTHING;
    }
    long finalized = view.finalized();
    List<byte[]> stored = new ArrayList<>(plan.calls().size());
    List<String> notes = new ArrayList<>(plan.calls().size());
    boolean all = true;
    boolean fromStore = false;
    boolean anyNote = false;
    boolean needsHead = false;
    for (LocalPlan.Call c : plan.calls()) {
      byte[] hit = null;
      String note = "";
      if (c instanceof LocalPlan.Fact) {
        needsHead = true;
      } else if (c instanceof LocalPlan.Stored s
          && (s.atMost() < 0 || (finalized >= 0 && s.atMost() <= finalized))) {
        String key = CacheKeys.of(s.key());
        hit = store.get(chain.name(), key);
        if (hit == null) {
          all = false;
          anyNote = true;
          note = s.admission().code() + key + "/" + s.idTag();
        } else {
          fromStore = true;
        }
      } else {
        all = false;
      }
      stored.add(hit);
      notes.add(note);
    }
    if (!all) {
      return new Result(null, false, anyNote ? String.join(",", notes) : null);
    }
    NodeView facts = factsNode(view);
    long head = -1;
    if (needsHead) {
      long usable = view.usableHead();
      head = usable < 0 ? -1 : raiseFloor(chain.name(), usable);
    }
    AdapterState state = facts == null ? null : facts.adapterState();
    Reply r = plan.assembler().reply(stored, state, head);
    return r == null ? NOTHING : new Result(r, fromStore, null);
  }

  /** The head to answer: {@code usable}, or the highest answered before when that is higher. */
  private long raiseFloor(String chain, long usable) {
    return headFloor
        .computeIfAbsent(chain, c -> new AtomicLong(-1))
        .accumulateAndGet(usable, Math::max);
  }

  /** The synced node Envoy may use with the highest head (its facts answer for the chain). */
  private static NodeView factsNode(ChainView view) {
    NodeView best = null;
    for (NodeView n : view.nodes()) {
      if (n.health() == Health.SYNCED
          && n.status() == EndpointStatus.HEALTHY
          && n.adapterState() != null
          && (best == null || n.head() > best.head())) {
        best = n;
      }
    }
    return best;
  }

  /**
   * Keeps what may be kept of a node's answer to a captured request.
   *
   * @param capture the note {@link #answer} made for the request
   * @return how many answers were stored
   */
  int captured(
      ChainConfig chain, ChainAdapter adapter, String capture, byte[] body, ChainView view) {
    if (!chain.cache().enabled() || view == null) {
      return 0;
    }
    String[] notes = capture.split(",", -1);
    List<LocalPlan.Capture> calls = new ArrayList<>(notes.length);
    List<String> keys = new ArrayList<>(notes.length);
    for (String n : notes) {
      int slash = n.indexOf('/');
      LocalPlan.Admission a = n.isEmpty() ? null : LocalPlan.Admission.of(n.charAt(0));
      if (a == null || slash < 2) {
        calls.add(null);
        keys.add(null);
      } else {
        calls.add(new LocalPlan.Capture(a, n.substring(slash + 1)));
        keys.add(n.substring(1, slash));
      }
    }
    List<byte[]> entries = adapter.captured(body, calls, view.finalized());
    int kept = 0;
    for (int i = 0; i < entries.size() && i < keys.size(); i++) {
      if (entries.get(i) != null && keys.get(i) != null) {
        store.put(chain.name(), keys.get(i), entries.get(i), chain.cache().ttl());
        kept++;
      }
    }
    return kept;
  }
}
