#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzz build script for lpframe: builds every cargo-fuzz
# target with `cargo fuzz build -O`, copies the binaries to $OUT and zips each
# target's committed seed corpus as $OUT/<target>_seed_corpus.zip.
#
# In OSS-Fuzz (image base-builder-rust) $SRC, $OUT, the nightly toolchain and
# the sanitizer flags come from the environment. Locally:
#   OUT=/tmp/out bash fuzz/oss-fuzz/build.sh
# (nightly through rustup's `+nightly`, or RUSTC_BOOTSTRAP=1 on stable).
# Run from the repository's copy (fuzz/oss-fuzz/build.sh) or, as OSS-Fuzz
# does, from $SRC/build.sh with the checkout as the working directory.
if [ -d "$(dirname "$0")/../fuzz_targets" ]; then
  cd "$(dirname "$0")/../.."
fi
[ -d fuzz/fuzz_targets ] || { echo "run from the lpframe checkout" >&2; exit 1; }
: "${OUT:?set OUT to the output directory}"
mkdir -p "$OUT"

if cargo --version | grep -q nightly; then
  fuzz=(cargo fuzz)
elif cargo +nightly --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

cd fuzz
# OSS-Fuzz sets CARGO_BUILD_TARGET; cargo-fuzz's default otherwise.
triple="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
"${fuzz[@]}" build -O
release="target/$triple/release"
targets=$("${fuzz[@]}" list)
[ -n "$targets" ] || { echo "no fuzz targets" >&2; exit 1; }
for t in $targets; do
  cp "$release/$t" "$OUT/$t"
  rm -f "$OUT/${t}_seed_corpus.zip"
  if [ -d "corpus/$t" ] && [ -n "$(ls -A "corpus/$t")" ]; then
    # Flat (-j), as ClusterFuzz unpacks it; past crashes are seeds too.
    zip -q -j "$OUT/${t}_seed_corpus.zip" corpus/"$t"/*
    if [ -d "regressions/$t" ] && [ -n "$(ls -A "regressions/$t")" ]; then
      zip -q -j "$OUT/${t}_seed_corpus.zip" regressions/"$t"/*
    fi
  fi
  echo "built $t ($(unzip -l "$OUT/${t}_seed_corpus.zip" 2>/dev/null | tail -n 1 | awk '{print $2}') seeds)"
done
