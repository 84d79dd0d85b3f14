#!/usr/bin/env bash
# Re-vendor the socket.io browser client used by the web chat page (bot/static/chat/vendor/).
# The built bundle is committed so the page works offline; run this only to change the version:
#   scripts/vendor-webchat.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-4.8.4}"
case "$version" in
  4.*) ;;
  *) echo "vendor-webchat: the server (python-socketio 5) speaks protocol 5: use socket.io-client 4.x" >&2; exit 1 ;;
esac
target=bot/static/chat/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# npm pack fetches the published tarball (with its integrity check) without running any scripts.
(cd "$work" && npm pack --silent "socket.io-client@$version" >/dev/null)
tar -xzf "$work"/socket.io-client-*.tgz -C "$work"
mkdir -p "$target"
cp "$work/package/dist/socket.io.min.js" "$target/socket.io.min.js"
cp "$work/package/LICENSE" "$target/socket.io-client.LICENSE"
printf 'socket.io-client %s (dist/socket.io.min.js and LICENSE from the npm package)\n' "$version" \
  > "$target/VERSION"
echo "vendored socket.io-client $version into $target"
