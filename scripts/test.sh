#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the wasm target the
# rule plugins build for, Go from Debian's packages, and a venv with the Python MCP SDK (the end-to-end
# test drives the server with it) plus pytest and ruff (the test and lint
# rules run them), Debian's docker-registry (the OCI tests push to and pull
# from it on loopback), TypeScript, ESLint, Jest and Vitest from npm into
# a cache prefix of their own (the JavaScript toolchain tests run them) and
# PostgreSQL (the session-store tests), then checks formatting, lints, and
# runs every test (unit,
# doc, integration against real wasm components, and the outside MCP client),
# then the MCP conformance suite (installs Node 22 and the suite from npm).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2

# Debian packages the tests use: Go (the Go toolchain tests), Node.js and
# npm (the JavaScript toolchain tests), the distribution registry (the OCI
# tests start a real one on loopback), Chromium (the dashboard is tested in
# a headless browser), make (the C workflow runs `make test`) and
# PostgreSQL (the session-store tests start a real server, as a non-root
# user).
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
[[ -x /usr/lib/chromium/chromium || -x /usr/bin/chromium ]] || missing+=(chromium)
command -v make >/dev/null 2>&1 || missing+=(make)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
if (( ${#missing[@]} )); then
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# The JavaScript tools, pinned to a major version each, installed once into
# a prefix outside any project (the generated test projects have no
# node_modules of their own) and put on PATH for the rules under test.
node_tools="${CHECKRAIL_NODE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/checkrail/node-tools}"
node_tool_specs=(typescript@5 eslint@9 jest@30 vitest@3)
node_tools_stale=0
for spec in "${node_tool_specs[@]}"; do
  name=${spec%@*} major=${spec##*@}
  installed=$(sed -n 's/^ *"version": *"\([0-9]*\)\..*/\1/p' "$node_tools/node_modules/$name/package.json" 2>/dev/null | head -n1)
  [[ "$installed" == "$major" ]] || node_tools_stale=1
done
if (( node_tools_stale )); then
  mkdir -p "$node_tools"
  npm install --prefix "$node_tools" --no-audit --no-fund --loglevel=error "${node_tool_specs[@]}"
fi
export PATH="$node_tools/node_modules/.bin:$PATH"

venv="${CHECKRAIL_E2E_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/checkrail/e2e-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export CHECKRAIL_E2E_PYTHON="$venv/bin/python"
# python3, pytest and ruff as the rules under test will find them.
export PATH="$venv/bin:$PATH"

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# The SDK is publishable: packages with its WIT inside.
cargo package -p checkrail-sdk --locked --allow-dirty --no-verify --quiet

# The official MCP conformance suite against the server over streamable HTTP.
scripts/conformance.sh "${CARGO_TARGET_DIR:-target}/debug/checkrail"
