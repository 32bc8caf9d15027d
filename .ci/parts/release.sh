#!/usr/bin/env bash
# What a release needs to be true, checked as a user and docs.rs would see
# the crate: the docs.rs build (nightly, --cfg docsrs), the packaged crate
# (its file list, and its own tests passing once unpacked), the declared
# MSRV with the committed lock, and the lower bounds of the direct
# dependencies (-Z direct-minimal-versions).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

have_nightly() {
  cargo +nightly --version >/dev/null 2>&1 ||
    rustup toolchain install nightly --profile minimal >/dev/null 2>&1
}

echo "--- docs.rs build (nightly, --cfg docsrs, all features)"
if have_nightly; then
  RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo +nightly doc -p lpframe --no-deps --all-features \
    --target-dir "$scratch/docsrs"
  grep -q "Available on" "$scratch/docsrs/doc/lpframe/struct.FrameCodec.html" ||
    { echo "docs.rs build does not mark the tokio-only items" >&2; exit 1; }
else
  echo "WARNING: no nightly toolchain could be had -- docs.rs build SKIPPED" >&2
fi

echo "--- cargo package: file list, then build and test the unpacked crate"
# (LPFRAME_ALLOW_DIRTY=1 to try it on uncommitted changes.)
# A warning here is a target dropped or a field that does not resolve. The
# one kind allowed: a test or example that Cargo.toml's `exclude` leaves out on
# purpose (it uses the workspace-only test-support crate, testkit/, which
# cargo package strips); any other warning, or a test dropped that is not
# listed there, fails.
cargo package -p lpframe --no-verify ${LPFRAME_ALLOW_DIRTY:+--allow-dirty} 2>"$scratch/package.log" ||
  { cat "$scratch/package.log" >&2; exit 1; }
excluded="$(sed -n 's/^exclude = \[\(.*\)\]/\1/p' Cargo.toml)"
while IFS= read -r line; do
  file="$(printf '%s\n' "$line" | sed -n 's/^warning: ignoring [a-z]* `[^`]*` as `\([^`]*\)` is not included in the published package$/\1/p')"
  # (A bash match, not `printf | grep -q`: under pipefail, grep -q exiting
  # at its first match can make printf fail with SIGPIPE.)
  if [ -n "$file" ] && [[ "$excluded" == *"\"$file\""* ]]; then continue; fi
  echo "$line"; echo "cargo package warns" >&2; exit 1
done < <(grep -i "^warning" "$scratch/package.log" || true)
crate="$(ls -t target/package/lpframe-*.crate | head -1)"
ls -l "$crate"
tar -tzf "$crate" | sed 's|^[^/]*/||' | sort > "$scratch/files"
wc -l < "$scratch/files"
for unwanted in '^\.ci/' '^fuzz/' '^tools/' '^interop/' '^cli/' '^testkit/' '^conform/'; do
  if grep -E "$unwanted" "$scratch/files"; then echo "the package carries $unwanted" >&2; exit 1; fi
done
for needed in LICENSE-MIT LICENSE-APACHE PROTOCOL.md README.md BENCHMARKS.md RELIABILITY.md \
  tests/vectors/lpf-v1.txt Cargo.lock; do
  grep -qx "$needed" "$scratch/files" || { echo "the package lacks $needed" >&2; exit 1; }
done
mkdir "$scratch/unpacked"
tar -xzf "$crate" -C "$scratch/unpacked"
(cd "$scratch/unpacked"/lpframe-* &&
  RUSTFLAGS="${RUSTFLAGS:-} --cfg lpframe_packaged" \
    cargo test --locked --target-dir "$scratch/pkg-target" 2>&1 | grep -E "^test result|FAILED|panicked")

msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
echo "--- MSRV $msrv: the library builds with it and the committed lock"
rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1 || true
cargo "+$msrv" build -p lpframe --locked --target-dir "$scratch/msrv"
cargo "+$msrv" build -p lpframe --locked --no-default-features --target-dir "$scratch/msrv"
echo "--- MSRV $msrv: every crate of the workspace checks with it (lib and bin targets)"
# Each member must declare the same rust-version, so that nothing newer
# slips into a crate that no one builds with the old toolchain.
for manifest in $(cargo metadata --no-deps --format-version 1 --locked |
  grep -o '"manifest_path":"[^"]*"' | sed 's/^"manifest_path":"//; s/"$//'); do
  grep -q "^rust-version = \"$msrv\"" "$manifest" ||
    { echo "$manifest does not declare rust-version = \"$msrv\"" >&2; exit 1; }
done
cargo "+$msrv" check --workspace --locked --lib --bins --target-dir "$scratch/msrv"

echo "--- minimal versions of the direct dependencies (-Z direct-minimal-versions)"
if have_nightly; then
  git -C "$root" archive --format=tar HEAD | tar -x -C "$scratch" --one-top-level=minver 2>/dev/null ||
    { mkdir -p "$scratch/minver" && git -C "$root" archive --format=tar HEAD | tar -x -C "$scratch/minver"; }
  (cd "$scratch/minver" &&
    cargo +nightly update -Z direct-minimal-versions --quiet &&
    cargo +nightly check -p lpframe --all-features --target-dir "$scratch/minver-target" &&
    cargo +nightly check -p lpframe --no-default-features --target-dir "$scratch/minver-target")
else
  echo "WARNING: no nightly toolchain could be had -- minimal-versions check SKIPPED" >&2
fi
