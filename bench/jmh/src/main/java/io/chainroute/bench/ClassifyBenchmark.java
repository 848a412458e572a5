package io.chainroute.bench;

import io.chainroute.chain.Classification;
import io.chainroute.chain.evm.EvmAdapter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code EvmAdapter#classify(String, byte[])}: the per-request work chainroute does on the ext_proc
 * path before it answers Envoy. ns/op and, with {@code -prof gc}, bytes allocated per op
 * ({@code gc.alloc.rate.norm}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ClassifyBenchmark {
  private static final String[] CALLS = {
    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"eth_getBalance\",\"params\":[\"0x52d32377e78131c132decd6b8efbc170a26a25c8\",\"0x%x\"]}",
    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"eth_call\",\"params\":[{\"to\":\"0xccea71ff4a14876aeaff1a098ca5996666ceab36\",\"data\":\"0x70a082310000000000000000000000003543c7a68692c6f33e0d36b740ddfed8411ff179\"},\"latest\"]}",
    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"eth_blockNumber\",\"params\":[]}",
    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"eth_getLogs\",\"params\":[{\"fromBlock\":\"0x%x\",\"toBlock\":\"latest\",\"address\":\"0xd5b8c2551f4d4cc5091b5ffbff651b9052496e1e\"}]}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"req-%08x\",\"method\":\"eth_getBalance\",\"params\":[\"0x8534f45738d048ec0f1099c6c3e1b258fd724452\",\"latest\"]}",
  };

  private final EvmAdapter adapter = new EvmAdapter();
  /** eth_getBalance at an old block: the typical single request that needs parameter inspection. */
  private final byte[] single = String.format(CALLS[0], 340801, 0x116c84).getBytes(StandardCharsets.UTF_8);
  /** A 10-call batch mixing the methods above. */
  private final byte[] batch10 = batch(10);

  private static byte[] batch(int n) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        sb.append(',');
      }
      String f = CALLS[i % CALLS.length];
      sb.append(f.contains("0x%x") ? String.format(f, 1000 + i, 0x1000000 + i) : String.format(f, 1000 + i));
    }
    return sb.append(']').toString().getBytes(StandardCharsets.UTF_8);
  }

  @Benchmark
  public Classification single() {
    return adapter.classify("POST", single);
  }

  @Benchmark
  public Classification batch10() {
    return adapter.classify("POST", batch10);
  }
}
