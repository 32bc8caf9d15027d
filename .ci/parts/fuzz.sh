#!/usr/bin/env bash
# Fuzz smoke: every cargo-fuzz target for a short, bounded run; any crash
# fails CI. Needs nightly (or RUSTC_BOOTSTRAP=1 on stable) and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${FUZZ_SMOKE_SECS:-30}"

skip() {
  echo "WARNING: $* -- fuzz smoke SKIPPED" >&2
  exit 0
}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked || cargo install cargo-fuzz || skip "cargo-fuzz could not be installed"
fi

cd fuzz
# Probe with a real build: nightly first, else stable with RUSTC_BOOTSTRAP.
if cargo +nightly --version >/dev/null 2>&1 && cargo +nightly fuzz build -O; then
  fuzz=(cargo +nightly fuzz)
elif RUSTC_BOOTSTRAP=1 cargo fuzz build -O; then
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
else
  skip "neither nightly nor RUSTC_BOOTSTRAP=1 can build the fuzz targets here"
fi
# Every target (ten, 30 s each by default: about 5 min of fuzzing in all).
for t in decode_stream differential roundtrip corrupt header recover writer sink deadline idle; do
  echo "--- fuzz smoke: $t (${secs}s)"
  # A scratch copy of the committed corpus: CI never rewrites the repo.
  work="$(mktemp -d)"
  cp -r "corpus/$t/." "$work/" 2>/dev/null || true
  log="$work.log"
  status=0
  "${fuzz[@]}" run -O "$t" "$work" -- -max_total_time="$secs" -print_final_stats=1 \
      -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|ERROR|panicked|SUMMARY" "$log" || true
  if [ "$status" -ne 0 ]; then tail -n 60 "$log"; fi
  rm -f "$log"
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $t failed (exit $status); see fuzz/artifacts/$t" >&2
    exit 1
  fi
done
