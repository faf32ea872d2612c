#!/usr/bin/env bash
# Builds what isolwatch runs from: build/ARCH/ (the CO-RE object, chisol, the
# demo's disturb; ARCH as Node names it), the C test workloads, and dist/
# (TypeScript). Incremental: make decides what is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
q=""
[ "${1:-}" = "--quiet" ] && q="-s"
make $q -f scripts/Makefile all
