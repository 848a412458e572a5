package io.chainroute;

import io.chainroute.sim.AlgodSimulator;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * {@code chainroute simulate-algod}: runs one simulated algod node until the process is stopped.
 */
final class SimulateAlgod {
  private SimulateAlgod() {}

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
              System.err.println(
                  "chainroute simulate-algod: environment variable " + name + " is not set");
              return 2;
            }
          }
          default -> {
            System.err.println("chainroute simulate-algod: unknown argument: " + a);
            return 2;
          }
        }
      } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
        System.err.println("chainroute simulate-algod: bad or missing value for " + a);
        return 2;
      }
    }
    if (port < 0) {
      System.err.println("chainroute simulate-algod: --port N is required");
      return 2;
    }
    AlgodSimulator sim;
    try {
      sim =
          new AlgodSimulator(
              port, roundTime, startRound, archival, AlgodSimulator.DEFAULT_RETENTION, token);
    } catch (IOException e) {
      System.err.println(
          "chainroute simulate-algod: port " + port + " is not available: " + e.getMessage());
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
      Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "algod-sim-stall");
                t.setDaemon(true);
                return t;
              })
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
