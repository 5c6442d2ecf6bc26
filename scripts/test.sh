#!/usr/bin/env bash
# The one command that runs every test. It installs what the tests need
# first (the pinned npm tools, when the project has them), so it works on a
# fresh machine. Under CI=true a missing tool is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    command -v npm >/dev/null || { echo "npm is needed to install the test tools (anvil, solc)"; exit 1; }
    npm ci --no-audit --no-fund
  fi
fi

# The console smoke test drives the real binary in tmux.
if ! command -v tmux >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq tmux >/dev/null
  else
    echo "tmux is needed by the console smoke test: install it (e.g. apt-get install tmux)"; exit 1
  fi
fi

# A fresh CI clone gains nothing from incremental state, and it is gigabytes.
if [ "${CI:-}" = true ]; then export CARGO_INCREMENTAL=0; fi

cargo test --locked "$@"
