#!/usr/bin/env bash
# The outside judges and tools the test suite drives, from Debian's packages: installed when
# missing and we are root with apt-get (CI, a fresh machine); elsewhere the tests that need one
# fail and say what is missing. Used by .ci/run and scripts/test.sh.
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Debian's Chromium for the gallery's browser test (playwright-core drives it; nothing is downloaded).
[ -x /usr/bin/chromium ] || need+=(chromium)
# HAProxy for the PROXY protocol test (test/server/proxy-tls-listener.test.ts).
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# Time moved for the real binary (renewal, time-stamps, expiry): libfaketime.
command -v faketime >/dev/null 2>&1 || need+=(faketime)
# Photos: exiftool judges metadata, heif-enc/heif-convert make and read HEIC/AVIF fixtures.
command -v exiftool >/dev/null 2>&1 || need+=(libimage-exiftool-perl)
command -v heif-enc >/dev/null 2>&1 || need+=(libheif-examples)
# PostgreSQL's server binaries: the PostgreSQL store's tests start a private server (test/support/postgres.ts).
if [ ! -x /usr/local/bin/initdb ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
# fincore judges what a saved image leaves in the page cache (test/support/fincore.ts).
command -v fincore >/dev/null 2>&1 || need+=(util-linux-extra)
# Terminal behaviour is tested in a real pseudo-terminal.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
bash "$(dirname "$0")/apt-install.sh" "for the tests" "${need[@]}"
