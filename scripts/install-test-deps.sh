#!/bin/sh
# Installs the Debian packages the tests run for real, listed once in .ci/apt-packages.txt: as root directly, as
# another user through sudo. Used by the README's test command and by .ci/run.
set -eu
cd "$(dirname "$0")/.."

packages=$(grep -v '^[[:space:]]*#' .ci/apt-packages.txt | grep -v '^[[:space:]]*$' | tr '\n' ' ')
if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "install-test-deps: installing Debian packages needs root or sudo; as root run: apt-get install -y $packages" >&2
  exit 1
fi

# shellcheck disable=SC2086 # $as_root is empty or one word; $packages is a list of words.
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "install-test-deps: installed $packages"
