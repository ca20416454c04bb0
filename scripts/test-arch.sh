#!/usr/bin/env bash
# Runs the Go test suite for another Linux architecture under qemu-user.
# Usage: scripts/test-arch.sh arm|arm64 [packages...]
set -euo pipefail
arch=${1:?usage: test-arch.sh arm|arm64 [packages...]}
shift
pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)

case "$arch" in
  arm)   qemu=qemu-arm-static;     export GOARM=7 ;;
  arm64) qemu=qemu-aarch64-static ;;
  *) echo "test-arch: unknown arch '$arch' (arm or arm64)" >&2; exit 2 ;;
esac
if ! command -v "$qemu" >/dev/null; then
  "$(dirname "$0")/install-test-tools.sh" qemu
fi
echo "== go test for linux/$arch under $qemu" >&2
# Tests that re-run their own binary as a child (crash and power-loss
# tests) run it through qemu too (agent/internal/selfexec).
export BAYAGENT_TEST_EXEC="$(command -v "$qemu")"
CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go test -count=1 -timeout 20m -exec "$qemu" "${pkgs[@]}"
