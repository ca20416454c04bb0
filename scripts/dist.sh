#!/usr/bin/env bash
# Builds the release tarballs for the boxes.
# Usage: scripts/dist.sh VERSION OUTDIR [ARCH...]     ARCH: armv7, arm64 (default both)
#
# For each ARCH it writes OUTDIR/bayagent-VERSION-linux-ARCH.tar.gz holding the
# directory bayagent-VERSION-linux-ARCH/ with:
#   bayagent                 static binary (CGO off, -trimpath, stripped, main.version=VERSION)
#   README.md
#   firmware-config/         one configuration per supported board
#   scripts/install.sh       run as root on the box: scripts/install.sh --config firmware-config/X.yaml
#   scripts/can-up.sh        brings the CAN interface up at the vehicle's bit rate
#   scripts/bayagent.service
#   docs/                    the command reference, the record schema, the health-record mapping
# and OUTDIR/SHA256SUMS (sha256sum of every tarball; check with sha256sum -c).
# The tarballs are reproducible: fixed order, owner root, mtime of the last commit.
set -euo pipefail

die() { echo "dist.sh: $*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: dist.sh VERSION OUTDIR [armv7|arm64 ...]"
version=$1
outdir=$2
shift 2
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(armv7 arm64)
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "VERSION must be letters, digits and . _ + - (got '$version')"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# A fixed timestamp makes the archives reproducible.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}

tarballs=()
for arch in "${arches[@]}"; do
  case "$arch" in
    armv7) goarch=arm; goarm=7 ;;
    arm64) goarch=arm64; goarm= ;;
    *) die "unknown ARCH '$arch' (want armv7 or arm64)" ;;
  esac
  name="bayagent-$version-linux-$arch"
  dir="$stage/$name"
  mkdir -p "$dir/scripts" "$dir/firmware-config" "$dir/docs"
  echo "dist.sh: building $name" >&2
  (cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
    go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$dir/bayagent" ./cmd/bayagent)
  install -m 0644 "$root/README.md" "$dir/README.md"
  install -m 0644 "$root"/firmware-config/*.yaml "$dir/firmware-config/"
  if [ -f "$root/firmware-config/README.md" ]; then
    install -m 0644 "$root/firmware-config/README.md" "$dir/firmware-config/"
  fi
  install -m 0755 "$root/scripts/install.sh" "$dir/scripts/install.sh"
  install -m 0755 "$root/scripts/can-up.sh" "$dir/scripts/can-up.sh"
  for f in "$root"/docs/*; do
    if [ -f "$f" ]; then install -m 0644 "$f" "$dir/docs/"; fi
  done
  install -m 0644 "$root/scripts/bayagent.service" "$dir/scripts/bayagent.service"
  tarball="$name.tar.gz"
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - "$name" | gzip -9 -n >"$outdir/$tarball"
  tarballs+=("$tarball")
done

(cd "$outdir" && sha256sum "${tarballs[@]}" >SHA256SUMS)
echo "dist.sh: wrote ${tarballs[*]} and SHA256SUMS to $outdir" >&2
