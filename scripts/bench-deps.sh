#!/usr/bin/env bash
# What `npm run bench` drives besides the test suite's tools (scripts/test-deps.sh: openssl for the
# CMS peer, PostgreSQL and HAProxy for the cluster bench): sshd and rsync for the album's
# rsync-over-ssh reference point (bench/rsync-peer.ts). Installed when missing and we are root
# with apt-get; elsewhere the album says the figure was not measured and why.
bash "$(dirname "$0")/test-deps.sh"
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
bash "$(dirname "$0")/apt-install.sh" "for the bench's rsync reference point" "${need[@]}"
