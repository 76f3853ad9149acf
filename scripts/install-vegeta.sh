#!/usr/bin/env bash
# Installs vegeta, B5's open-loop HTTP load generator (fixed rate, compiled, HDR latencies), into
# ~/.cache/fraudsite/bin from the Go module proxy; skipped when that version is already there.
# Prints the binary's path on its last line.
set -euo pipefail

VERSION=v12.13.0
BIN_DIR="${FRAUDSITE_BIN:-$HOME/.cache/fraudsite/bin}"
VEGETA="$BIN_DIR/vegeta"

# `go version -m` reads the module version compiled into the binary (vegeta's own -version flag
# is empty when built by `go install`, which sets no ldflags).
installed_version() {
  go version -m "$VEGETA" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/tsenart/vegeta/v12" {print $3}'
}

if [ ! -x "$VEGETA" ] || [ "$(installed_version)" != "$VERSION" ]; then
  command -v go >/dev/null || { echo "install-vegeta: Go is needed (https://go.dev/dl/)" >&2; exit 1; }
  echo "installing vegeta $VERSION into $BIN_DIR ..." >&2
  mkdir -p "$BIN_DIR"
  GOBIN="$BIN_DIR" go install "github.com/tsenart/vegeta/v12@$VERSION"
fi
echo "$VEGETA"
