package io.chainroute.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metric names a PromQL expression reads, for tests that check a dashboard or a rule file
 * against the series a live scrape has. Not a PromQL parser: it removes what can hold a name that
 * is not a metric (string literals, label matchers in braces, the label lists of {@code by}, {@code
 * without}, {@code on}, {@code ignoring}, {@code group_left} and {@code group_right}) and takes
 * every remaining identifier with one of the given prefixes.
 */
public final class PromQlNames {
  private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'");
  private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
  private static final Pattern LABEL_LISTS =
      Pattern.compile(
          "\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)",
          Pattern.CASE_INSENSITIVE);
  private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

  private PromQlNames() {}

  /** The metric names in {@code expr} that start with one of {@code prefixes}. */
  public static Set<String> in(String expr, List<String> prefixes) {
    String rest = STRING.matcher(expr).replaceAll(" ");
    rest = MATCHERS.matcher(rest).replaceAll(" ");
    rest = LABEL_LISTS.matcher(rest).replaceAll(" ");
    Set<String> names = new TreeSet<>();
    Matcher m = IDENTIFIER.matcher(rest);
    while (m.find()) {
      String id = m.group();
      if (prefixes.stream().anyMatch(id::startsWith)) {
        names.add(id);
      }
    }
    return names;
  }

  /** Every {@code expr} of every panel (rows' nested panels included) of a Grafana dashboard. */
  public static List<String> dashboardExpressions(Path dashboard) throws IOException {
    List<String> out = new ArrayList<>();
    collect(new ObjectMapper().readTree(dashboard.toFile()).path("panels"), out);
    return out;
  }

  private static void collect(JsonNode panels, List<String> out) {
    for (JsonNode panel : panels) {
      for (JsonNode target : panel.path("targets")) {
        if (target.hasNonNull("expr")) {
          out.add(target.get("expr").asText());
        }
      }
      collect(panel.path("panels"), out);
    }
  }
}
