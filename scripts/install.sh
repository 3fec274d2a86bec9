#!/usr/bin/env bash
# Installs everything tailtab's tests and demo need, and says what it does. Idempotent: each step
# is skipped when its result is already present. Runs OUTSIDE any network namespace (it needs the
# Debian mirror, the npm registry and the Go module proxy).
#   - Debian packages: chromium, firefox-esr, webkit2gtk-driver (WebKitWebDriver + MiniBrowser), xvfb
#     (MiniBrowser has no headless mode), openssh-server, dropbear-bin, wireguard-go, wireguard-tools, iproute2,
#     python3, util-linux (unshare), procps (pgrep), golang toolchain is expected (Go >= 1.26).
#   - npm packages (npm ci) when node_modules is missing or older than package-lock.json.
#   - the Go programs of the rig under .rig/bin/<program>-<version>/: the pinned versions and the
#     cells of the version matrix (e2e/rig/versions.json), plus any TAILTAB_TAILSCALE_VERSION,
#     TAILTAB_DERPER_VERSION, TAILTAB_HEADSCALE_VERSION given (TAILTAB_SKIP_MATRIX=1 skips the matrix).
#   - the local user `tailtab` that the rig's OpenSSH server logs in.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
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
# libpam-google-authenticator: e2e/ssh-auth-ui.test.ts gives sshd a real TOTP "Verification code:"
# PAM prompt (RFC 6238, the code computed by the test) over keyboard-interactive.
PKGS+=(libpam-google-authenticator)
# putty-tools: e2e/ssh-keys-browser.test.ts makes a PuTTY .ppk key with puttygen (Argon2id, its
# defaults) and logs in with it from the widget.
PKGS+=(putty-tools)
# nftables: e2e/faults.test.ts drops 5% of the packets in its own network namespace during a transfer.
PKGS+=(nftables)
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
# Which versions: e2e/rig/versions.json is the one list (the rig and e2e/versions.test.ts read it
# too); the env vars add versions for a run of any combination (README "The rig's versions").
want_list=$(python3 - <<'PY'
import json, os, re
v = json.load(open('e2e/rig/versions.json'))
cells = [v['pinned']]
if os.environ.get('TAILTAB_SKIP_MATRIX') != '1':
    cells += v['matrix']
ts, derp, hs = [], [], []
for c in cells:
    ts.append(c['tailscale']); derp.append(c['derper']); hs.append(c['headscale'])
env = lambda k: os.environ.get(k) or None
# As the rig reads them (e2e/rig/index.ts rigVersions): derper follows tailscaled unless given.
for x, lst in ((env('TAILTAB_TAILSCALE_VERSION'), ts), (env('TAILTAB_DERPER_VERSION') or env('TAILTAB_TAILSCALE_VERSION'), derp), (env('TAILTAB_HEADSCALE_VERSION'), hs)):
    if x: lst.append(x)
for x in ts + derp + hs:
    if not re.fullmatch(r'v\d+\.\d+\.\d+', x): raise SystemExit(f'not a release version: {x!r} (want vMAJOR.MINOR.PATCH)')
bins = {}  # (kind, version) -> binaries, in order: one `go build` per version
for x in ts: bins.setdefault(('tailscale', x), []).extend(['tailscaled', 'tailscale'])
for x in derp: bins.setdefault(('tailscale', x), []).append('derper')
for x in hs: bins.setdefault(('headscale', x), []).append('headscale')
for (kind, ver), b in bins.items(): print(kind, ver, ','.join(dict.fromkeys(b)))
PY
)
# build <kind> <version> <bin,bin>: builds the missing binaries of one version from the module's
# source (`go mod download` + `go build`, one compile for all of them) into a temp folder, then
# moves each into .rig/bin/<kind>-<version>/ (other work trees share .rig/bin: a binary is either
# absent or complete, and a lock keeps two installs from building the same version at once).
# GOTOOLCHAIN=auto: a version whose go.mod needs a newer Go (tailscale v1.104 needs 1.27.4) gets
# that toolchain from the Go module proxy, and only for its own build.
# An optional 4th argument is a source folder already in place (a branch build, below): no module download.
build() {
  local kind=$1 ver=$2 bins=$3 srcdir=${4:-} dir mod pkgs=() missing=() want=() b t0 tmp
  dir=$ROOT/.rig/bin/$kind-$ver
  IFS=, read -ra want <<<"$bins"
  for b in "${want[@]}"; do [ -x "$dir/$b" ] || missing+=("$b"); done
  if [ ${#missing[@]} -eq 0 ]; then say "present: $dir/{$bins}"; return; fi
  mkdir -p "$dir"
  exec 9>"$dir/.build.lock"; flock 9
  missing=(); for b in "${want[@]}"; do [ -x "$dir/$b" ] || missing+=("$b"); done
  if [ ${#missing[@]} -eq 0 ]; then say "present: $dir/{$bins}"; exec 9>&-; return; fi
  case $kind in
    tailscale) mod=tailscale.com; for b in "${missing[@]}"; do pkgs+=("./cmd/$b"); done ;;
    headscale) mod=github.com/juanfont/headscale; pkgs=(./cmd/headscale) ;;
  esac
  say "building $kind $ver: ${missing[*]} (a few minutes on 2 cores; cached afterwards)"
  t0=$SECONDS
  [ -n "$srcdir" ] || srcdir=$(cd /tmp && GOTOOLCHAIN=auto GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | python3 -c 'import json,sys;d=json.load(sys.stdin);print(d.get("Dir") or sys.exit(d.get("Error","no Dir")))')
  tmp=$(mktemp -d "$dir/.build.XXXXXX")
  if ! (cd "$srcdir" && GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false go build -o "$tmp/" "${pkgs[@]}"); then
    rm -rf "$tmp"
    say "ERROR: could not build $kind $ver (see the go build errors above; a 403 from the module proxy means it does not serve a dependency of that version)"
    exit 1
  fi
  for b in "${missing[@]}"; do mv -f "$tmp/$b" "$dir/$b"; done
  rmdir "$tmp"
  say "built $kind $ver (${missing[*]}) in $((SECONDS - t0)) s with $(cd "$srcdir" && GOTOOLCHAIN=auto go version | cut -d' ' -f3)"
  exec 9>&-
}
while read -r kind ver bins; do build "$kind" "$ver" "$bins"; done <<<"$want_list"

# --- optional: tailscaled of the WebRTC branch (issue #20) --------------------------------------
# TAILTAB_WEBRTC_PEER=1 builds tailscaled and the CLI of tailscale/tailscale's branch
# adrianosela/demo-may-19-webrtc at commit cab3f319f (the WebRTC path in magicsock) into
# .rig/bin/tailscale-webrtc-cab3f319f/, the peer of e2e/webrtc-tailscaled.test.ts. The module proxy
# does not serve a branch commit (tailscale.com@cab3f319f...: 403 "This module version is not
# available"), so the source comes from git: TAILTAB_TAILSCALE_GIT names a clone of
# tailscale/tailscale that has the commit, else the branch is cloned from GitHub. Its dependencies
# (pion/webrtc v4 among them) do come from the module proxy.
WEBRTC_COMMIT=cab3f319fd05a014175bc7d81ca89985fc9e226a
if [ "${TAILTAB_WEBRTC_PEER:-}" = 1 ]; then
  wdir=$ROOT/.rig/bin/tailscale-webrtc-${WEBRTC_COMMIT:0:9}
  if [ -x "$wdir/tailscaled" ] && [ -x "$wdir/tailscale" ]; then
    say "present: $wdir/{tailscaled,tailscale}"
  else
    wsrc=$(mktemp -d /tmp/tailtab-ts-webrtc.XXXXXX)
    wgit=${TAILTAB_TAILSCALE_GIT:-}
    if [ -z "$wgit" ]; then
      wgit=$wsrc/git
      say "cloning tailscale/tailscale branch adrianosela/demo-may-19-webrtc (no TAILTAB_TAILSCALE_GIT given)"
      git clone --quiet --bare --filter=blob:none --single-branch --branch adrianosela/demo-may-19-webrtc \
        https://github.com/tailscale/tailscale.git "$wgit"
    fi
    if ! git -C "$wgit" cat-file -e "$WEBRTC_COMMIT^{commit}" 2>/dev/null; then
      say "ERROR: $wgit has no commit $WEBRTC_COMMIT (branch adrianosela/demo-may-19-webrtc of tailscale/tailscale)"
      exit 1
    fi
    mkdir -p "$wsrc/src"
    git -C "$wgit" archive "$WEBRTC_COMMIT" | tar -x -C "$wsrc/src"
    (cd "$wsrc/src" && GOTOOLCHAIN=auto go mod download)
    build tailscale "webrtc-${WEBRTC_COMMIT:0:9}" tailscaled,tailscale "$wsrc/src"
    rm -rf "$wsrc"
  fi
fi

# --- the rig's SSH login user -----------------------------------------------------------------
if ! id tailtab >/dev/null 2>&1; then
  say "creating local user 'tailtab' (login of the rig's OpenSSH server; password is set by the rig)"
  $SUDO useradd --create-home --shell /bin/bash tailtab
else
  say "user 'tailtab' exists"
fi
$SUDO mkdir -p /run/sshd
say "done"
