#!/bin/sh
# Builds the two programs the SSO e2e tests run for real, from their Go modules at pinned versions, into
# .cache/sso-tools/bin (ignored by git): Ory Hydra (the OpenID provider on loopback) and oauth2-proxy (the same
# proxy the stack runs as a sidecar in auth=sso mode). A binary already built at its pinned version is kept.
# Run by `npm run test:e2e` (so by `npm test` and .ci/run); test/e2e/support/openid-provider.ts names the same directory.
set -eu
cd "$(dirname "$0")/.."

HYDRA_VERSION=v2.3.0
OAUTH2_PROXY_VERSION=v7.15.6

root="$PWD/.cache/sso-tools"
bin="$root/bin"
mkdir -p "$bin"
export GOFLAGS=-mod=mod
command -v go >/dev/null 2>&1 || { echo "build-sso-test-tools: the Go toolchain (go) is needed to build Hydra and oauth2-proxy" >&2; exit 1; }

built() { # name version: true when bin/name was built from that version
  [ -x "$bin/$1" ] && [ "$(cat "$bin/$1.version" 2>/dev/null)" = "$2" ]
}

sh scripts/build-go-tool.sh "$bin" oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7 "$OAUTH2_PROXY_VERSION"

if ! built hydra "$HYDRA_VERSION"; then
  # Hydra's go.mod replaces its generated client with a folder that its module zip leaves out, so `go install`
  # refuses it: build the module as the main module from a copy, with the published client instead.
  src=$(go mod download -json "github.com/ory/hydra/v2@$HYDRA_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  work="$root/build/hydra-$HYDRA_VERSION"
  rm -rf "$work"
  mkdir -p "$(dirname "$work")"
  cp -R "$src" "$work"
  chmod -R u+w "$work"
  (cd "$work" && go mod edit -dropreplace github.com/ory/hydra-client-go/v2 &&
    CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension -o "$bin/hydra" .)
  rm -rf "$work"
  echo "$HYDRA_VERSION" >"$bin/hydra.version"
fi
echo "build-sso-test-tools: $bin/hydra $HYDRA_VERSION, $bin/oauth2-proxy $OAUTH2_PROXY_VERSION"
