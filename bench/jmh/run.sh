#!/usr/bin/env bash
# Runs the classifier JMH benchmark: bench/jmh/run.sh [results.json]
# Needs target/chainroute.jar at the repository root (mvn -B -q package -DskipTests).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here/target/jmh.json}"
[[ -f "$root/target/chainroute.jar" ]] || (cd "$root" && mvn -B -q package -DskipTests)
cd "$here"
mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt >/dev/null
java -cp "target/classes:$(cat target/cp.txt):$root/target/chainroute.jar" org.openjdk.jmh.Main \
  "${JMH_INCLUDE:-ClassifyBenchmark|DecisionBenchmark}" -prof gc -rf json -rff "$out" ${JMH_ARGS:-}
