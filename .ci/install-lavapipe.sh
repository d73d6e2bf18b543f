#!/usr/bin/env bash
# Installs Mesa 25's lavapipe, a software Vulkan driver, so that Dawn (the `webgpu` package) gives
# the WebGPU tests an adapter on a machine without a GPU. Debian 12's own Mesa 22.3 is rejected by
# Dawn ("shaderUniform*ArrayDynamicIndexing required"); the bookworm-backports suite has 25.x.
# A no-op when lavapipe ≥ 25 is already installed. Needs root (or sudo) to install.
#
#   bash .ci/install-lavapipe.sh             # install when missing (.ci/run does this)
#   bash .ci/install-lavapipe.sh --dry-run   # say what it would do, change nothing
#
# LAVAPIPE_ROOT (for tests, with --dry-run) reads /etc and the ICD file under another folder.
set -euo pipefail

ROOT="${LAVAPIPE_ROOT:-}"
ICD="$ROOT/usr/share/vulkan/icd.d/lvp_icd.json"
MIN_VERSION=25
APT="$ROOT/etc/apt"
BACKPORTS_SOURCE="$APT/sources.list.d/bookworm-backports.sources"
DRY_RUN=false
[ "${1:-}" = "--dry-run" ] && DRY_RUN=true

# The installed version of mesa-vulkan-drivers; empty when absent or removed (config files left).
installed_version() {
  local status version
  read -r status version < <(dpkg-query -W -f='${db:Status-Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null || true)
  [ "${status:-}" = "installed" ] && echo "$version" || true
}

# The ICD file is there and the package that ships it is Mesa ≥ 25.
lavapipe_ready() {
  local version
  version="$(installed_version)"
  [ -f "$ICD" ] && [ -n "$version" ] && dpkg --compare-versions "$version" ge "$MIN_VERSION"
}

# Runs a command, or prints it under --dry-run; as root directly, else through sudo.
run() {
  if $DRY_RUN; then
    echo "would run: $*"
  elif [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

# The mirror and keyring of the machine's bookworm source (deb822 or one-line), so the backports
# suite comes from where the rest of the system does.
bookworm_mirror() {
  local found=""
  if [ -f "$APT/sources.list.d/debian.sources" ]; then
    # Paragraph mode: the stanza whose Suites name bookworm itself.
    found="$(awk -v RS= '
      /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t\n]|$)/ {
        uris = ""; key = ""
        n = split($0, lines, "\n")
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^URIs:/) { uris = lines[i]; sub(/^URIs:[ \t]*/, "", uris); sub(/[ \t].*/, "", uris) }
          if (lines[i] ~ /^Signed-By:/) { key = lines[i]; sub(/^Signed-By:[ \t]*/, "", key) }
        }
        if (uris != "") { print uris " " key; exit }
      }' "$APT/sources.list.d/debian.sources")"
  fi
  if [ -z "$found" ] && [ -f "$APT/sources.list" ]; then
    found="$(awk '$1 == "deb" && $0 ~ /[ \t]bookworm[ \t]/ {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$APT/sources.list")"
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

if lavapipe_ready; then
  echo "lavapipe: mesa-vulkan-drivers $(installed_version) with $ICD, nothing to do"
  exit 0
fi
echo "lavapipe: mesa-vulkan-drivers is '$(installed_version)' (need ≥ $MIN_VERSION) or $ICD is missing; installing"

codename="$(. "$ROOT/etc/os-release" 2>/dev/null && echo "${VERSION_CODENAME:-}")"
if ! command -v apt-get >/dev/null; then
  echo "lavapipe: no apt-get here; install Mesa ≥ $MIN_VERSION's Vulkan drivers (lavapipe) with the system's package manager" >&2
  exit 1
fi

if [ "$codename" = "bookworm" ]; then
  if grep -qsE '^[^#]*bookworm-backports' "$APT/sources.list" "$APT"/sources.list.d/*.list \
    "$APT"/sources.list.d/*.sources; then
    echo "lavapipe: a bookworm-backports source is already configured"
  else
    read -r mirror keyring <<<"$(bookworm_mirror)"
    source_text="Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: ${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}"
    if $DRY_RUN; then
      printf 'would write %s:\n%s\n' "$BACKPORTS_SOURCE" "$source_text"
    else
      printf '%s\n' "$source_text" | run tee "$BACKPORTS_SOURCE" >/dev/null
    fi
  fi
  run apt-get update
  run apt-get install -y -t bookworm-backports mesa-vulkan-drivers
else
  # Newer Debian (trixie) and Ubuntu releases carry a recent enough Mesa in their own suites.
  run apt-get update
  run apt-get install -y mesa-vulkan-drivers
fi

if $DRY_RUN; then exit 0; fi
if ! lavapipe_ready; then
  echo "lavapipe: after the install mesa-vulkan-drivers is '$(installed_version)' and $ICD $( [ -f "$ICD" ] && echo exists || echo is missing); Dawn needs Mesa ≥ $MIN_VERSION" >&2
  exit 1
fi
echo "lavapipe: mesa-vulkan-drivers $(installed_version) installed"
