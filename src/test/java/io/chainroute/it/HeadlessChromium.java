package io.chainroute.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's Chromium, headless, one short run per page load: {@code --dump-dom} prints the DOM after
 * the page's scripts ran for a virtual-time budget (timers run, and virtual time waits while a
 * fetch is under way, so polls see the real server), {@code --screenshot} saves a PNG. Each run has
 * a fresh profile ({@code --user-data-dir}) under {@code dir} and is killed, with its child
 * processes, when it overruns its timeout.
 */
final class HeadlessChromium {
  /** Wall-clock bound of one run; a run normally takes a second or two. */
  private static final Duration RUN_TIMEOUT = Duration.ofSeconds(40);

  private final Path binary;
  private final Path dir;
  private int runs;

  HeadlessChromium(Path binary, Path dir) {
    this.binary = binary;
    this.dir = dir;
  }

  /** The serialized DOM of {@code url} once its scripts had {@code budget} of virtual time. */
  String dumpDom(String url, Duration budget) {
    return run(List.of("--dump-dom", url), budget);
  }

  /** Saves a screenshot of {@code url} after {@code budget} of virtual time. */
  void screenshot(String url, Duration budget, Path png, int width, int height) {
    run(
        List.of(
            "--screenshot=" + png.toAbsolutePath(),
            "--window-size=" + width + "," + height,
            "--hide-scrollbars",
            url),
        budget);
  }

  private String run(List<String> what, Duration budget) {
    int n = ++runs;
    Path profile = dir.resolve("chromium-profile-" + n);
    Path out = dir.resolve("chromium-" + n + ".out");
    Path log = dir.resolve("chromium-" + n + ".log");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                binary.toString(),
                "--headless=new",
                "--disable-gpu",
                // Root in CI: Chromium's sandbox refuses to run as root.
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--user-data-dir=" + profile.toAbsolutePath(),
                "--virtual-time-budget=" + budget.toMillis()));
    cmd.addAll(what);
    try {
      Files.createDirectories(profile);
      Process p =
          new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(log.toFile()).start();
      if (!p.waitFor(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new IllegalStateException(
            "chromium did not finish within " + RUN_TIMEOUT + " (killed); see " + log);
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException("chromium exited " + p.exitValue() + "; see " + log);
      }
      return Files.readString(out, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    } finally {
      deleteTree(profile);
    }
  }

  /** A profile is tens of megabytes; the DOM, the screenshot and the log are what is kept. */
  private static void deleteTree(Path root) {
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // Best effort: a leftover profile under target/ harms nothing.
    }
  }
}
