#!/usr/bin/env bash
# Regenerates src/contract/syscalls-x86_64.ts from the installed kernel headers.
set -euo pipefail
f=/usr/include/x86_64-linux-gnu/asm/unistd_64.h
{
  echo "// Syscall numbers -> names for x86_64, generated from linux-libc-dev's asm/unistd_64.h."
  echo "// Regenerate: see scripts/gen-syscalls.sh"
  echo "export const SYSCALLS_X86_64: Record<number, string> = {"
  grep -E "^#define __NR_" "$f" | awk '{sub("__NR_","",$2); printf "  %s: \x27%s\x27,\n", $3, $2}'
  echo "};"
} > "$(dirname "$0")/../src/contract/syscalls-x86_64.ts"
