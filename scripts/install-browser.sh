#!/usr/bin/env bash
# What the browser tests need, from the package registries: Debian's chromium and
# chromium-driver (apt-get, when missing and when run as root) and axe-core from the npm
# registry (pinned, sha256-checked) into <repo>/.cache/browser/axe.min.js.
#
# Idempotent. Without root or apt-get, a missing browser is reported and the script goes on:
# the browser tests then skip loudly outside CI and fail in CI (CI=true).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="$repo_root/.cache/browser"

axe_version="4.14.1"
axe_tgz_sha256="e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745"

say() { echo "install-browser: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  say "chromium and chromedriver present: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
elif [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
  say "installing chromium and chromium-driver from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null
  say "installed: $(/usr/bin/chromium --version 2>/dev/null || echo '?')"
else
  say "WARNING: chromium/chromedriver missing and cannot be installed here (needs root and apt-get); browser tests will skip outside CI"
fi

mkdir -p "$cache_dir"
axe="$cache_dir/axe.min.js"
stamp="$cache_dir/axe.version"
if [[ -f "$axe" && -f "$stamp" && "$(cat "$stamp")" == "$axe_version $axe_tgz_sha256" ]]; then
  say "axe-core $axe_version present"
  exit 0
fi
command -v npm >/dev/null || die "npm is required to fetch axe-core"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$axe_version" >/dev/null) || die "npm pack axe-core@$axe_version failed"
tgz="$work/axe-core-$axe_version.tgz"
[[ -f "$tgz" ]] || die "npm pack did not produce $tgz"
got="$(sha256sum "$tgz" | cut -d' ' -f1)"
[[ "$got" == "$axe_tgz_sha256" ]] || die "axe-core $axe_version: sha256 $got, expected $axe_tgz_sha256"
tar -xzf "$tgz" -C "$work" package/axe.min.js
mv "$work/package/axe.min.js" "$axe"
echo "$axe_version $axe_tgz_sha256" > "$stamp"
say "axe-core $axe_version installed in $axe"
