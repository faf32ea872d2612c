#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian/Ubuntu machine (run as root):
# installs the system packages isolwatch builds and tests with, runs `npm ci`,
# and builds (BPF object, C workloads, TypeScript). Cheap when nothing changed,
# so `npm start` and `npm test` run it every time.
set -euo pipefail
cd "$(dirname "$0")/.."
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }

# command -> Debian package
declare -A need=(
  [clang]=clang [llc]=llvm [bpftool]=bpftool [bpftrace]=bpftrace [perf]=linux-perf
  [gcc]=gcc [make]=make [tmux]=tmux [rtla]=rtla [oslat]=rt-tests [stress-ng]=stress-ng
  [qemu-system-x86_64]=qemu-system-x86 [cpio]=cpio [xz]=xz-utils [syscount]=libbpf-tools [llvm-strip]=llvm
  # headless, for the HTML report's browser test and docs/ screenshot
  [chromium]=chromium
  # a real Prometheus server scrapes `isolwatch serve` in the tests; promtool checks the exposition
  [prometheus]=prometheus [promtool]=prometheus
)
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
[ -f /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
[ -x /bin/busybox ] || missing+=(busybox-static)
[ -f /usr/include/linux/bpf.h ] || missing+=(linux-libc-dev)
# the helpers the package ships (chisol, the demo's disturb) are linked statically
[ -f "/usr/lib/$(uname -m)-linux-gnu/libc.a" ] || missing+=(libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run 'npm run setup' as root (or apt-get install them)" >&2
    exit 3
  fi
  echo "setup: installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" libbpf1 >/dev/null
fi

# bpftrace (an independent counter in the tests) and perf need tracefs/debugfs mounted
if [ "$(id -u)" = 0 ]; then
  mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
  mountpoint -q /sys/kernel/debug 2>/dev/null || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

bash scripts/build.sh $([ "$quiet" = 1 ] && echo --quiet)
