#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance,
# server mode, streamable HTTP) against a checkrail binary. Scenarios that
# need the suite's fixture tools, resources or prompts, or capabilities
# checkrail does not declare (logging, subscriptions), do not apply.
#
# Usage: conformance.sh /path/to/checkrail [--all]
#        conformance.sh --install
#   --all      also run every server scenario (suite "all") for information;
#              only the required scenarios decide the exit code.
#   --install  only install the suite and its Node (when missing or stale)
#              and print their versions; scripts/setup.sh calls this.
#
# Exit: 0 all required scenarios pass, 1 a required scenario failed,
#       2 setup problem (binary missing, install failed, server did not start).
#
# Environment (all optional):
#   CONFORMANCE_DIR      install/work dir (default ~/.cache/checkrail/conformance)
#   CONFORMANCE_VERSION  suite version, exact      (default 0.1.16)
#   NODE_PKG_VERSION     npm `node` package, exact (default 22.23.3)
#   REQUIRED_SCENARIOS   space-separated list      (default below)
#   START_TIMEOUT        seconds to wait for the server (default 30)
set -uo pipefail

usage() { echo "usage: $0 CHECKRAIL_BINARY [--all] | $0 --install" >&2; exit 2; }
[ $# -ge 1 ] || usage
BIN=$1
RUN_ALL=0
INSTALL_ONLY=0
case "$BIN" in --install) INSTALL_ONLY=1; [ $# -eq 1 ] || usage ;; esac
case "${2:-}" in
  "") ;;
  --all) RUN_ALL=1 ;;
  *) usage ;;
esac

CONF_DIR=${CONFORMANCE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/checkrail/conformance}
CONFORMANCE_VERSION=${CONFORMANCE_VERSION:-0.1.16}
NODE_PKG_VERSION=${NODE_PKG_VERSION:-22.23.3}
START_TIMEOUT=${START_TIMEOUT:-30}
read -r -a REQUIRED <<<"${REQUIRED_SCENARIOS:-server-initialize ping tools-list resources-list prompts-list dns-rebinding-protection server-sse-multiple-streams}"

die() { echo "conformance: $*" >&2; exit 2; }

# --- the binary -----------------------------------------------------------
if [ "$INSTALL_ONLY" -eq 0 ]; then
  case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
  [ -x "$BIN" ] || die "checkrail binary not found or not executable: $BIN"
fi

# --- install (idempotent) -------------------------------------------------
command -v npm >/dev/null || die "npm not found"
mkdir -p "$CONF_DIR" || die "cannot create $CONF_DIR"
cd "$CONF_DIR" || die "cannot cd to $CONF_DIR"

pkg_version() { # $1 = path of a package.json; prints its version or nothing
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n1
}
CLI=$CONF_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js

find_node22() { # prints a node >= 22 to run the suite with, or nothing
  local c v
  for c in "$CONF_DIR/node_modules/.bin/node" \
           "$CONF_DIR"/node_modules/node/node_modules/node-*/bin/node \
           "$(command -v node 2>/dev/null)"; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    v=$("$c" --version 2>/dev/null) || continue
    v=${v#v}; v=${v%%.*}
    if [ -n "$v" ] && [ "$v" -ge 22 ] 2>/dev/null; then echo "$c"; return; fi
  done
}

NODE=$(find_node22)
if [ "$(pkg_version "$CONF_DIR/node_modules/@modelcontextprotocol/conformance/package.json")" != "$CONFORMANCE_VERSION" ] \
   || [ ! -f "$CLI" ] || [ -z "$NODE" ]; then
  echo "conformance: installing node@$NODE_PKG_VERSION and @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $CONF_DIR"
  [ -f package.json ] || npm init -y >/dev/null 2>&1 || die "npm init failed"
  npm install --no-audit --no-fund --save-exact \
      "node@$NODE_PKG_VERSION" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" \
      >"$CONF_DIR/npm-install.log" 2>&1 \
    || { tail -n 30 "$CONF_DIR/npm-install.log" >&2; die "npm install failed (log: $CONF_DIR/npm-install.log)"; }
  NODE=$(find_node22)
fi
[ -n "$NODE" ] || die "no Node >= 22 available (the npm package node@$NODE_PKG_VERSION did not provide one; its preinstall script may have been blocked)"
[ -f "$CLI" ] || die "conformance CLI missing at $CLI"
SUITE="suite $(pkg_version "$CONF_DIR/node_modules/@modelcontextprotocol/conformance/package.json") on node $("$NODE" --version)"
if [ "$INSTALL_ONLY" -eq 1 ]; then echo "$SUITE"; exit 0; fi
echo "conformance: $SUITE; server $("$BIN" --version 2>/dev/null | head -n1)"

# --- start the server -----------------------------------------------------
mkdir -p "$CONF_DIR/runs" "$CONF_DIR/cache"
WORK=$(mktemp -d "$CONF_DIR/runs/$(date +%Y%m%d-%H%M%S).XXXX") || die "mktemp failed"
mkdir -p "$WORK/ws" "$WORK/results"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK/ws"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CHECKRAIL_CACHE_DIR="$CONF_DIR/cache" "$BIN" serve --http 127.0.0.1:0 --workspace "$WORK/ws" \
  >"$WORK/server.stdout" 2>"$WORK/server.stderr" </dev/null &
SERVER_PID=$!

URL=
for _ in $(seq 1 $((START_TIMEOUT * 10))); do
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$WORK/server.stderr" 2>/dev/null | head -n1)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ]; then
  cat "$WORK/server.stderr" >&2
  die "server did not report its URL within ${START_TIMEOUT}s"
fi
echo "conformance: server pid $SERVER_PID at $URL; results in $WORK/results"

# --- run the scenarios ----------------------------------------------------
# summarise CHECKS_JSON: prints "<n_success> <n_failure> <n_warning>" then one
# line per failing/warning check.
summarise() {
  "$NODE" -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const n = s => c.filter(x => x.status === s).length;
    console.log(n("SUCCESS"), n("FAILURE"), n("WARNING"));
    for (const x of c) if (x.status === "FAILURE" || x.status === "WARNING")
      console.log(`    ${x.status} ${x.id}: ${x.errorMessage ?? ""}`);
  ' "$1"
}

passed=0; failed=0; failed_names=()
for s in "${REQUIRED[@]}"; do
  "$NODE" "$CLI" server --url "$URL" --scenario "$s" -o "$WORK/results" >"$WORK/$s.log" 2>&1
  rc=$?
  checks=$(ls -d "$WORK/results/server-$s-"[0-9]*/checks.json 2>/dev/null | tail -n1)
  ok=0; detail=
  if [ -n "$checks" ]; then
    out=$(summarise "$checks")
    read -r ns nf nw <<<"$(head -n1 <<<"$out")"
    detail=$(tail -n +2 <<<"$out")
    [ "$rc" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$ns" -gt 0 ] && ok=1
    counts="$ns ok, $nf failed, $nw warnings"
  else
    counts="no checks.json (exit $rc)"; detail=$(tail -n 5 "$WORK/$s.log" | sed 's/^/    /')
  fi
  if [ "$ok" -eq 1 ]; then
    passed=$((passed + 1)); echo "PASS $s ($counts)"
  else
    failed=$((failed + 1)); failed_names+=("$s"); echo "FAIL $s ($counts; log $WORK/$s.log)"
  fi
  [ -n "$detail" ] && echo "$detail"
done
kill -0 "$SERVER_PID" 2>/dev/null || { echo "conformance: the server died during the run" >&2; failed=$((failed + 1)); }

if [ "$RUN_ALL" -eq 1 ]; then
  echo "--- informational: every server scenario (suite all) ---"
  "$NODE" "$CLI" server --url "$URL" --suite all -o "$WORK/results-all" >"$WORK/all.log" 2>&1
  sed -n '/=== SUMMARY ===/,$p' "$WORK/all.log"
fi

[ "$failed" -eq 0 ] || echo "conformance: failing required scenarios: ${failed_names[*]:-server crashed}"
echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
