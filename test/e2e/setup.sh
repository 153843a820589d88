#!/usr/bin/env bash
# Installs what the e2e tier needs to run a real VS Code on a machine that reaches only the npm
# registry and Debian's packages: Debian's Chromium, and code-server (VS Code 1.100.3's own server
# and web workbench) from npm, built per shared/docs/real-vscode.md. code-server is cached outside
# the repository and reused when present:
#   ${SQLMIGRATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlmigrate}/code-server-4.100.3/package
# Prints the package folder on stdout; logs on stderr. Exit 1 when something could not be installed.
set -uo pipefail
VERSION=4.100.3
CACHE="${SQLMIGRATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlmigrate}"
DIR="$CACHE/code-server-$VERSION"
PKG="$DIR/package"
log() { printf '[e2e-setup] %s\n' "$*" >&2; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >&2 || { log "apt-get failed"; exit 1; }
fi

if [ -f "$PKG/.sqlmigrate-ready" ]; then
  log "code-server $VERSION cached at $PKG"
  echo "$PKG"; exit 0
fi

log "installing code-server $VERSION into $DIR (a few minutes, ~320 MB; done once)"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR" || exit 1
{
  npm pack "code-server@$VERSION" --silent &&
  tar xzf "code-server-$VERSION.tgz" && rm -f "code-server-$VERSION.tgz" &&
  cd package &&
  npm install --omit=dev --ignore-scripts --no-audit --no-fund &&
  npm rebuild argon2 &&
  cd lib/vscode &&
  npm install --omit=dev --ignore-scripts --no-audit --no-fund
} >&2 2>&1 || { log "npm install of code-server failed"; exit 1; }
# Builds the native modules; node-pty's helper step fails after pty.node is built, so check files.
(cd "$PKG/lib/vscode" && npm rebuild kerberos @parcel/watcher @vscode/spdlog @vscode/deviceid native-watchdog node-pty >&2 2>&1) || true
# (@parcel/watcher ships prebuilt binaries in @parcel/watcher-linux-*.)
for f in node_modules/kerberos/build/Release/kerberos.node node_modules/@vscode/spdlog/build/Release/spdlog.node \
         node_modules/native-watchdog/build/Release/watchdog.node node_modules/node-pty/build/Release/pty.node; do
  [ -f "$PKG/lib/vscode/$f" ] || { log "native module missing after rebuild: $f"; exit 1; }
done
mkdir -p "$PKG/lib/vscode/node_modules/@vscode/ripgrep/bin" && cp "$(command -v rg)" "$PKG/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
ln -sfn node_modules "$PKG/lib/vscode/node_modules.asar"
(cd "$PKG/lib/vscode/extensions" && npm install --omit=dev --ignore-scripts --no-audit --no-fund >&2 2>&1) || { log "npm install of built-in extensions failed"; exit 1; }
touch "$PKG/.sqlmigrate-ready"
log "code-server ready at $PKG"
echo "$PKG"
