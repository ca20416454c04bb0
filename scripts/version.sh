#!/usr/bin/env bash
# Prints the version to stamp into the binaries and release names: the last
# vX.Y.Z tag as git describe gives it (1.2.0, or 1.2.0-14-gabc1234 after 14
# more commits, -dirty with uncommitted changes), or before any tag
# 0.0.0-dev.N+gCOMMIT (N commits; .dirty with uncommitted changes). Outside a
# git checkout: 0.0.0-dev.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
  echo "${v#v}"
  exit 0
fi
if c=$(git rev-parse --short=12 HEAD 2>/dev/null); then
  n=$(git rev-list --count HEAD)
  d=""
  git diff --quiet HEAD -- 2>/dev/null || d=".dirty"
  echo "0.0.0-dev.$n+g$c$d"
  exit 0
fi
echo "0.0.0-dev"
