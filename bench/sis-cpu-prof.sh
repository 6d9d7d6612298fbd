#!/bin/sh
# A SIS_BIN for bench/profile-album3.ts: runs cli/main.ts from source under `bun --cpu-prof`,
# one folder per command (serve, watch, post, register) in bench/results/profile/album3/.
# exec keeps the pid, so /proc/PID is the profiled process itself.
here=$(cd "$(dirname "$0")" && pwd)
out="$here/results/profile/album3/$1"
mkdir -p "$out"
exec "$here/../node_modules/.bin/bun" --cpu-prof --cpu-prof-dir "$out" "$here/../cli/main.ts" "$@"
