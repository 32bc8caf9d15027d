#!/usr/bin/env bash
# The independent Python implementation (interop/python): every test vector
# at every split, and live cross tests against the Rust echo example over
# 127.0.0.1 in both directions. Standard library only; needs python3 >= 3.8.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v python3 >/dev/null 2>&1; then
  echo "installing python3"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3 >/dev/null
fi
python3 --version
# The live tests run the reference server (`cargo run -q -p lpframe-testkit
# --example reference_server`): build it first so their
# first-line deadline does not include a compile.
cargo build -q -p lpframe-testkit --example reference_server
LPFRAME_REQUIRE_LIVE=1 python3 -m unittest discover -s interop/python -v
