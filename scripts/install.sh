#!/usr/bin/env bash
# Installs everything tailtab's tests and demo need, and says what it does. Idempotent: each step
# is skipped when its result is already present. Runs OUTSIDE any network namespace (it needs the
# Debian mirror, the npm registry and the Go module proxy).
#   - Debian packages: chromium, firefox-esr, webkit2gtk-driver (WebKitWebDriver + MiniBrowser), xvfb
#     (MiniBrowser has no headless mode), openssh-server, dropbear-bin, wireguard-go, wireguard-tools, iproute2,
#     python3, util-linux (unshare), procps (pgrep), golang toolchain is expected (Go >= 1.26).
#   - npm packages (npm ci) when node_modules is missing or older than package-lock.json.
#   - the pinned Go programs of the rig under .rig/bin/<version>/.
#   - the local user `tailtab` that the rig's OpenSSH server logs in.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TAILSCALE_VERSION=v1.102.3
HEADSCALE_VERSION=v0.29.2
say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- Debian packages --------------------------------------------------------------------------
PKGS=(chromium firefox-esr webkit2gtk-driver xvfb openssh-server wireguard-go wireguard-tools iproute2 python3 util-linux procps ca-certificates)
# nginx: e2e/nginx-deploy.test.ts runs the self-hosting site (scripts/nginx-site.ts) as its own process.
PKGS+=(nginx)
# dropbear-bin: e2e/ssh-dropbear.test.ts runs Dropbear (the SSH server of routers and appliances)
# as its own process; the -bin package has no service of its own.
PKGS+=(dropbear-bin)
# The Desktop (VNC) journey, e2e/desktop-vnc.test.ts: TigerVNC's Xvnc (an X server with VNC built
# in) and vncpasswd, xsetroot to paint a known colour, an xterm to type into (with its fonts),
# xclip for the X clipboard, xdotool to read what the server saw.
PKGS+=(tigervnc-standalone-server tigervnc-tools x11-xserver-utils xterm xfonts-base xclip xdotool)
# Debian's postinst would start packaged services (nginx on :80, sshd); the tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    say "apt-get install failed; running apt-get update and retrying"
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  fi
else
  say "Debian packages present: ${PKGS[*]}"
fi

# --- npm packages -----------------------------------------------------------------------------
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund
else
  say "npm packages up to date"
fi

# --- Go programs of the rig -------------------------------------------------------------------
if ! command -v go >/dev/null; then
  say "ERROR: the Go toolchain (>= 1.26) is needed to build tailscaled/derper/headscale; install it (e.g. apt-get install golang-go from a recent suite) and re-run"
  exit 1
fi
build() { # build <dir> <pkg@version> <binary>
  local dir=$1 pkg=$2 bin=$3
  if [ -x "$dir/$bin" ]; then say "present: $dir/$bin"; return; fi
  say "building $pkg into $dir (first build takes a few minutes; cached afterwards)"
  mkdir -p "$dir"
  if ! GOBIN="$dir" GOFLAGS=-buildvcs=false go install "$pkg"; then
    # `go install pkg@v` also asks the proxy for the module's version list (deprecation check),
    # which the proxy refuses for some modules (403). Building from the downloaded module source
    # gives the same binary of the same pinned version.
    say "go install failed; building $pkg from its downloaded module source instead"
    local mod=${pkg%@*} ver=${pkg##*@} modroot srcdir
    modroot=$(echo "$mod" | sed -E 's#/cmd/[^/]+$##')
    srcdir=$(go mod download -json "$modroot@$ver" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
    (cd "$srcdir" && GOFLAGS=-buildvcs=false go build -o "$dir/$bin" "./${mod#"$modroot"/}")
  fi
}
TS_DIR=$ROOT/.rig/bin/tailscale-$TAILSCALE_VERSION
HS_DIR=$ROOT/.rig/bin/headscale-$HEADSCALE_VERSION
for b in tailscaled tailscale derper; do build "$TS_DIR" "tailscale.com/cmd/$b@$TAILSCALE_VERSION" "$b"; done
build "$HS_DIR" "github.com/juanfont/headscale/cmd/headscale@$HEADSCALE_VERSION" headscale

# --- the rig's SSH login user -----------------------------------------------------------------
if ! id tailtab >/dev/null 2>&1; then
  say "creating local user 'tailtab' (login of the rig's OpenSSH server; password is set by the rig)"
  $SUDO useradd --create-home --shell /bin/bash tailtab
else
  say "user 'tailtab' exists"
fi
$SUDO mkdir -p /run/sshd
say "done"
