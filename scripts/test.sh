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

cargo test --locked "$@"
