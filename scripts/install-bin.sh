#!/usr/bin/env bash
# Installs the sis binary for the user who runs it: builds dist/sis if needed, copies it to $PREFIX/bin/sis.
# PREFIX defaults to ~/.local (so the binary lands in ~/.local/bin/sis); `PREFIX=/usr/local sudo -E …` for everyone.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${PREFIX:-$HOME/.local}"
BIN="$PREFIX/bin"
export PATH="$PWD/node_modules/.bin:$PATH"

# Rebuild when dist/sis is missing or older than any source file.
if [ ! -x dist/sis ] || [ -n "$(find cli src assets package.json -newer dist/sis -type f -print -quit 2>/dev/null)" ]; then
  echo "building dist/sis …"
  bun run build >/dev/null
fi

mkdir -p "$BIN"
# Copy to a temporary name and rename: a running sis keeps its old inode, a half-copied file is never `sis`.
tmp="$BIN/.sis.install.$$"
cp dist/sis "$tmp"
chmod 0755 "$tmp"
mv -f "$tmp" "$BIN/sis"
echo "installed $BIN/sis ($("$BIN/sis" --version))"

case ":$PATH:" in
  *":$BIN:"*) ;;
  *)
    echo "note: $BIN is not on your PATH; add it with"
    echo "  echo 'export PATH=\"$BIN:\$PATH\"' >> ~/.profile && . ~/.profile"
    ;;
esac
