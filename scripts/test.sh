#!/usr/bin/env bash
# What `npm test` runs: the typecheck, the compiled binary, then the whole bun:test suite.
# Ends with one line "N passed, N failed" (the typecheck and the build count as one test each).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

# Debian's packages the tests drive (Chromium, faketime, exiftool, …), installed when missing and root.
bash scripts/test-deps.sh

passed=0
failed=0
step() {
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "(pass) $name"
  else
    failed=$((failed + 1))
    echo "(fail) $name"
  fi
}

step "typecheck (tsc --noEmit, strict)" tsc --noEmit -p .
step "build dist/sis (bun build --compile)" bun run build

log=$(mktemp)
# End-to-end tests spawn servers and the compiled binary: allow them two minutes each.
bun test --timeout 120000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
suite_pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
suite_fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
passed=$((passed + suite_pass))
failed=$((failed + suite_fail))
# A runner that died without a summary still fails the run.
if [ "$status" -ne 0 ] && [ "$suite_fail" -eq 0 ]; then failed=$((failed + 1)); fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
