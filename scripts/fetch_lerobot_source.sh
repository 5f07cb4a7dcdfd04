#!/usr/bin/env bash
# Unpacks lerobot 0.4.4's source into .cache/lerobot-0.4.4 (no install: it pins torch < 2.11).
# The LeRobot v3 conformance test imports its dataset code from there.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.cache/lerobot-0.4.4
[ -f "$DEST/lerobot/__init__.py" ] && exit 0
TMP=$(mktemp -d)
.venv/bin/python -m pip download -q --no-deps "lerobot==0.4.4" -d "$TMP"
.venv/bin/python -m zipfile -e "$TMP"/lerobot-0.4.4-*.whl "$DEST.tmp"
rm -rf "$DEST" && mv "$DEST.tmp" "$DEST" && rm -rf "$TMP"
echo "lerobot source in $DEST"
