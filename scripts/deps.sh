#!/bin/sh
# Install the Debian packages Tandem builds, tests and benchmarks with.
# Idempotent: it asks dpkg what is missing and calls apt-get only then.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: all)
set -eu

build_pkgs="gcc make pkg-config libevent-dev libssl-dev libxxhash-dev libyaml-dev libpq-dev"
test_pkgs="clang libclang-rt-14-dev libcmocka-dev valgrind memcached libmemcached-tools
 python3 python3-pytest python3-pymemcache python3-memcache
 php-cli php-memcached php-memcache postgresql"

bench_pkgs="memcached libmemcached-tools gnuplot-nox linux-perf valgrind nutcracker liburing-dev"

case "${1:-all}" in
  build) want="$build_pkgs" ;;
  test) want="$build_pkgs $test_pkgs" ;;
  bench) want="$build_pkgs $bench_pkgs" ;;
  all) want="$build_pkgs $test_pkgs $bench_pkgs" ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "deps: missing packages:$missing; run as root: apt-get install$missing" >&2
    exit 1
  fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts the memcached service on install; our tests run their own.
if [ -x /usr/sbin/service ] && echo "$missing" | grep -qw memcached; then
  $SUDO service memcached stop >/dev/null 2>&1 || true
fi
