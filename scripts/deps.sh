#!/usr/bin/env bash
# Installs the Debian packages cartd needs to build, test and benchmark, when they are missing.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: all)
# Safe to run repeatedly: it only calls apt-get when a package is absent.
set -euo pipefail

build_pkgs=(gcc make pkg-config libsodium-dev zlib1g-dev libdeflate-dev libevent-dev
            libjansson-dev liblmdb-dev)
test_pkgs=(check valgrind clang libclang-rt-dev iproute2 nftables curl)
# libmicrohttpd-dev, libh2o-evloop-dev and libssl-dev (which h2o.h
# includes): bench_httplib's other servers; strace: its syscall count where
# perf cannot.
bench_pkgs=(wrk redis-server redis-tools libmicrohttpd-dev libh2o-evloop-dev libssl-dev strace)

case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
  all)   want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
