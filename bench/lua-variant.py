#!/usr/bin/env python3
"""Put a fixed Lua filter in front of the routing ext_proc filter of a chainroute bootstrap rendered
with envoy.fastPath off, to take the fast path's cost in Envoy apart (bench/fastpath.sh B_ENVOY_EDIT).

  lua-variant.py MODE FASTPATH_BOOTSTRAP FILE

MODE: nop    a Lua filter whose envoy_on_request does nothing (the filter's own per-request cost);
      parse  the fast-path script of FASTPATH_BOOTSTRAP (a bootstrap rendered with envoy.fastPath: true)
             with its head tags emptied and no bounds: it reads and scans every body as the fast path
             does, and decides nothing, so every request still goes through ext_proc.
FILE is edited in place; every route gets the Lua filter's `chain` metadata, as with the fast path on.
"""
import re
import sys

mode, source, path = sys.argv[1:4]
text = open(path).read()
if "envoy.filters.http.lua" in text:
    sys.exit("%s already has a Lua filter" % path)

if mode == "nop":
    script = "function envoy_on_request(handle)\nend\n"
elif mode == "parse":
    lines = open(source).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.strip() == "inline_string: |"
                 and "fast path" in lines[i + 1])
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    body = []
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    script = "\n".join(body)
    script, n = re.subn(r"^local TAGS = .*$", "local TAGS = {}", script, flags=re.M)
    if n != 1 or "local BOUNDS = {\n}" not in script:
        sys.exit("unexpected fast-path script in %s" % source)
else:
    sys.exit("unknown mode %s" % mode)

marker = "          - name: envoy.filters.http.ext_proc\n"
if text.count(marker) != 1:
    sys.exit("no single routing ext_proc filter in %s" % path)
pad = " " * 18
lua = ("          - name: envoy.filters.http.lua\n"
       "            typed_config:\n"
       "              '@type': type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua\n"
       "              default_source_code:\n"
       "                inline_string: |\n"
       + "".join(pad + l + "\n" for l in script.rstrip("\n").split("\n")))
text = text.replace(marker, lua + marker)
meta = "                    chainroute:\n                      chain: eth\n"
if meta not in text:
    sys.exit("no route metadata for chain eth in %s" % path)
text = text.replace(meta, meta + "                    envoy.filters.http.lua:\n                      chain: eth\n")
open(path, "w").write(text)
