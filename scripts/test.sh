#!/usr/bin/env bash
# The whole test suite, from a fresh machine. In order:
#  1. scripts/setup.sh's system part: the wasm32-wasip2 target and Debian's
#     packages the tests use, where missing;
#  2. its per-user part (TypeScript, ESLint, Jest and Vitest into an npm
#     prefix; a venv with the Python MCP SDK, pytest, ruff, bandit, mypy,
#     coverage.py and Playwright; the MCP conformance suite with Node 22),
#     run alongside the format check, clippy and the first compile, then
#     checked: every tool it installed must answer `--version`;
#  3. the README's quick start command, exactly as written there;
#  4. every test (unit, doc, integration against real wasm components, real
#     toolchains, a real registry, PostgreSQL and headless Chromium, and an
#     outside MCP client), with the MCP conformance suite beside it;
#  5. the SDK's package (with the sandbox crate it depends on), and every
#     benchmark in its short mode.
# Each step prints what it cost.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
timed_by=test.sh

suite_began=$SECONDS
logs=$(mktemp -d "${TMPDIR:-/tmp}/checkrail-test.XXXXXX")
background=()
stop_background() {
  local pid
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop_background EXIT

# Waits for the background job $1 whose output went to $2; prints that
# output, and fails with it when the job failed.
join() {
  local pid=$1 log=$2 what=$3
  if wait "$pid"; then
    cat "$log"
  else
    cat "$log" >&2
    echo "test.sh: $what failed (log: $log)" >&2
    exit 1
  fi
}

timed "Debian packages and the wasm target" setup_system

# Network-bound installs run while the CPU compiles.
timed_by=setup setup_user >"$logs/setup-user.log" 2>&1 &
user_pid=$!
background+=("$user_pid")

timed "cargo fmt --check" cargo fmt --all --check
timed "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
timed "building the tests" cargo test --workspace --locked --no-run

join "$user_pid" "$logs/setup-user.log" "the per-user installs"
setup_verify
setup_export

# The quick start, as the README writes it: the checkpoint on the bundled
# example fails (exit 1) naming the missing license and changelog.
quick_start() {
  local command out status=0
  command=$(grep -m1 '^rustup target add wasm32-wasip2 && cargo run' README.md) || {
    echo "test.sh: the README has no quick start command" >&2
    return 1
  }
  out=$(bash -c "$command" 2>&1) || status=$?
  printf '%s\n' "$out"
  if [[ $status -ne 1 ]] || ! grep -q 'FAILED — 1 of 2 rules failed' <<<"$out" \
    || ! grep -q 'required file `CHANGELOG.md` does not exist' <<<"$out"; then
    echo "test.sh: the quick start did not fail as the README says (exit $status)" >&2
    return 1
  fi
}
timed "the quick start" quick_start

# The conformance suite talks to its own server; it runs beside the tests.
binary="${CARGO_TARGET_DIR:-target}/debug/checkrail"
scripts/conformance.sh "$binary" >"$logs/conformance.log" 2>&1 &
conformance_pid=$!
background+=("$conformance_pid")

timed "the tests" cargo test --workspace --locked
join "$conformance_pid" "$logs/conformance.log" "the MCP conformance suite"

# The SDK is publishable: it packages with its WIT inside, beside the
# sandbox crate it depends on (published first, or cargo cannot resolve it).
timed "packaging the SDK" cargo package -p checkrail-sandbox -p checkrail-sdk --locked --allow-dirty --no-verify --quiet

# Each benchmark once in its short mode, in the test build's profile: every
# figure is printed beside a baseline from the same run. Release figures come
# from `cargo bench -p checkrail` (see the README).
timed "the benchmarks (short mode)" cargo bench -p checkrail --profile dev --locked --bench '*' -- --quick

echo "test.sh: everything passed in $((SECONDS - suite_began)) s"
