#!/usr/bin/env bash
# What the response cache and chainroute's own answers do: bench/run.sh twice, each time with plain
# Envoy (the baseline), chainroute with its cache on (d) and off (d4), once on the
# default mix and once on a public endpoint's mix (bench/mix/gen.py public), and bench/CACHE.md
# from the two reports. QUICK=1 by default (about 4 minutes a mix); QUICK=0 for full runs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${RESULTS:-$here/CACHE.md}"
export QUICK="${QUICK:-1}" JMH=0 SYSTEMS="plain chainroute nocache"
{
  echo "# The response cache: chainroute with its cache on and off, side by side"
  echo
  echo "Written by \`bench/cache.sh\` ($( [[ $QUICK == 1 ]] && echo QUICK || echo full ) runs of \`bench/run.sh\`"
  echo "with \`SYSTEMS=\"$SYSTEMS\"\`) on $(date -u '+%Y-%m-%d %H:%M UTC'). (d) is chainroute as shipped (cache"
  echo "on: \`eth_chainId\`, \`net_version\`, \`eth_blockNumber\` answered by chainroute, final data from its"
  echo "cache); (d4) is the same with \`cache: { enabled: false }\` on the chain. How it is measured:"
  echo "\`bench/README.md\`. Each mix's systems ran in interleaved rounds in one pass; compare within a mix."
  echo
} >"$out.tmp"
for mix in bodies public; do
  MIX="$mix" RESULTS="$here/.build/cache-$mix.md" "$here/run.sh"
  {
    echo "## Mix \`$mix\`"
    echo
    # The generated report, one heading level down, without its title.
    sed -e '1d' -e 's/^## /### /' -e '/^### Targets/,$d' "$here/.build/cache-$mix.md"
  } >>"$out.tmp"
done
{
  echo "## The cost of an answer from chainroute (\`bench/hitcost.sh\`)"
  echo
  echo "One body repeated at c=64, chainroute's cache on and off in turn (on, off, on, off), 8 s after an 8 s"
  echo "warm-up each: an identity answer (\`eth_chainId\`), a cache hit (a final receipt) and a control that"
  echo "chainroute never answers (\`eth_getBalance\` at \`latest\`). \"answered by\" is the node's \`X-Node\`."
  echo
  "$here/hitcost.sh"
  echo
} >>"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out" >&2
