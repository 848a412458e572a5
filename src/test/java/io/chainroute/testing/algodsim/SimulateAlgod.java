package io.chainroute.testing.algodsim;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/simulate-algod} ({@code java -jar target/algod-sim.jar}): runs one simulated algod
 * node until the process is stopped (SIGINT or SIGTERM). Exit codes: 1 when the port cannot be
 * bound, 2 for a bad command line.
 *
 * <pre>
 * simulate-algod --port N [--round-time 3s] [--archival] [--stall-after 30s] [--start-round N]
 *                [--token-env NAME]
 * </pre>
 */
public final class SimulateAlgod {
  private static final String USAGE =
      "usage: simulate-algod --port N [--round-time 3s] [--archival] [--stall-after 30s]"
          + " [--start-round N] [--token-env NAME]";

  private SimulateAlgod() {}

  public static void main(String[] args) {
    int code = run(List.of(args));
    if (code != 0) {
      System.exit(code);
    }
  }

  static int run(List<String> args) {
    int port = -1;
    Duration roundTime = Duration.ofSeconds(3);
    boolean archival = false;
    Duration stallAfter = null;
    long startRound = 1000;
    String token = "";
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      try {
        switch (a) {
          case "--archival" -> archival = true;
          case "--port" -> port = Integer.parseInt(args.get(++i));
          case "--round-time" -> roundTime = parseDuration(args.get(++i));
          case "--stall-after" -> stallAfter = parseDuration(args.get(++i));
          case "--start-round" -> startRound = Long.parseLong(args.get(++i));
          case "--token-env" -> {
            String name = args.get(++i);
            token = System.getenv(name);
            if (token == null || token.isEmpty()) {
              System.err.println("simulate-algod: environment variable " + name + " is not set");
              return 2;
            }
          }
          default -> {
            System.err.println("simulate-algod: unknown argument: " + a + "\n" + USAGE);
            return 2;
          }
        }
      } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
        System.err.println("simulate-algod: bad or missing value for " + a);
        return 2;
      }
    }
    if (port < 0) {
      System.err.println("simulate-algod: --port N is required\n" + USAGE);
      return 2;
    }
    AlgodSimulator sim;
    try {
      sim =
          new AlgodSimulator(
              port, roundTime, startRound, archival, AlgodSimulator.DEFAULT_RETENTION, token);
    } catch (IOException e) {
      System.err.println("simulate-algod: port " + port + " is not available: " + e.getMessage());
      return 1;
    }
    System.out.println(
        "simulated algod on "
            + sim.url()
            + (archival ? " (archival)" : "")
            + ", round every "
            + roundTime.toMillis()
            + " ms");
    if (stallAfter != null) {
      Executors.newSingleThreadScheduledExecutor(AlgodSimulator.daemon("algod-sim-stall"))
          .schedule(
              () -> {
                sim.stall();
                System.out.println(
                    "simulated algod on " + sim.url() + " is now stuck at round " + sim.round());
              },
              stallAfter.toMillis(),
              TimeUnit.MILLISECONDS);
    }
    CountDownLatch forever = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(sim::close));
    try {
      forever.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  static Duration parseDuration(String s) {
    if (s.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
    }
    if (s.endsWith("s")) {
      return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    throw new IllegalArgumentException(s);
  }
}
