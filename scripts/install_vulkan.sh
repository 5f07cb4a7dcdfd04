#!/usr/bin/env bash
# Installs a CPU Vulkan driver (Mesa lavapipe from bookworm-backports) into a private prefix.
# SAPIEN (ManiSkill) needs a Vulkan device even for state-only simulation; bookworm's own
# lavapipe lacks descriptorBindingPartiallyBound, the backports one works.
# Usage: scripts/install_vulkan.sh [PREFIX]   (default: ./.vulkan). Prints the env to export.
set -euo pipefail
PREFIX="${1:-$(pwd)/.vulkan}"
ICD="$PREFIX/lvp_icd.json"
if [ -f "$ICD" ]; then echo "vulkan: already installed in $PREFIX"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
SRC=/etc/apt/sources.list.d/blazer-backports.sources
if [ ! -f "$SRC" ]; then
  cat > "$SRC" <<SRCS
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
fi
apt-get update -qq
apt-get install -y -qq libvulkan1 libllvm15 >/dev/null
mkdir -p "$PREFIX/debs"
( cd "$PREFIX/debs" && apt-get download -qq mesa-vulkan-drivers/bookworm-backports \
    libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports )
for deb in "$PREFIX"/debs/*.deb; do dpkg-deb -x "$deb" "$PREFIX/root"; done
LIB="$PREFIX/root/usr/lib/x86_64-linux-gnu"
python3 - "$PREFIX" "$LIB" <<'PY'
import json, sys, pathlib
prefix, lib = sys.argv[1], sys.argv[2]
src = pathlib.Path(prefix, "root/usr/share/vulkan/icd.d/lvp_icd.x86_64.json")
if not src.exists():
    src = next(pathlib.Path(prefix, "root/usr/share/vulkan/icd.d").glob("lvp_icd*.json"))
data = json.loads(src.read_text())
data["ICD"]["library_path"] = f"{lib}/libvulkan_lvp.so"
pathlib.Path(prefix, "lvp_icd.json").write_text(json.dumps(data, indent=2))
PY
echo "vulkan: installed in $PREFIX"
