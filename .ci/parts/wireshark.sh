#!/usr/bin/env bash
# The Wireshark dissector, checked with tshark on a capture the test builds.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v tshark >/dev/null 2>&1; then
  echo "installing tshark"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Answer the wireshark-common debconf question (non-root capture) up front.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
  apt-get install -y -qq tshark >/dev/null
fi
tshark --version | head -1
python3 tools/wireshark/test_dissector.py
