#!/bin/sh
# Builds one program from its Go module at a pinned version with `go install` into BIN_DIR (GOFLAGS=-mod=mod; the
# module and its dependencies are verified against the Go checksum database), and records that version in
# BIN_DIR/NAME.version: a program already built at that version is kept. Extra VAR=VALUE arguments are set in go's
# environment (CGO_ENABLED=0 builds Litestream as the MLflow image does).
# Used by scripts/build-sso-test-tools.sh (oauth2-proxy) and test/support/litestream.ts (Litestream).
#
# usage: build-go-tool.sh BIN_DIR NAME PACKAGE VERSION [VAR=VALUE ...]
set -eu
[ "$#" -ge 4 ] || { echo "usage: build-go-tool.sh BIN_DIR NAME PACKAGE VERSION [VAR=VALUE ...]" >&2; exit 2; }
bin=$1 name=$2 package=$3 version=$4
shift 4
command -v go >/dev/null 2>&1 || { echo "build-go-tool: the Go toolchain (go) is needed to build $name $version from $package" >&2; exit 1; }
if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
# One build at a time per folder: .ci/run starts Litestream's build early in the background, and the test run's own
# call then waits for it here and finds the program built.
if command -v flock >/dev/null 2>&1 && [ -z "${BUILD_GO_TOOL_LOCKED:-}" ]; then
  BUILD_GO_TOOL_LOCKED=1 exec flock "$bin/.build.lock" sh "$0" "$bin" "$name" "$package" "$version" "$@"
fi
if [ -x "$bin/$name" ] && [ "$(cat "$bin/$name.version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
rm -f "$bin/$name.version"
env GOFLAGS=-mod=mod GOBIN="$bin" "$@" go install "$package@$version"
# go install names the program after the package's last path element, or the one before a major version suffix (/v7).
program=$(basename "$package")
case "$program" in v[0-9]*) program=$(basename "$(dirname "$package")") ;; esac
[ -x "$bin/$program" ] || { echo "build-go-tool: go install $package@$version left no $bin/$program" >&2; exit 1; }
[ "$program" = "$name" ] || mv "$bin/$program" "$bin/$name"
echo "$version" >"$bin/$name.version"
