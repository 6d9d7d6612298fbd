#!/usr/bin/env bash
# Installs Debian packages that are missing, when we are root with apt-get; elsewhere says what to
# install. Usage: apt-install.sh "WHAT FOR" PACKAGE... (nothing to do without packages).
what=$1
shift
[ $# -gt 0 ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages $what: $*"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
else
  echo "missing $what (install them): $*" >&2
fi
