#!/usr/bin/env bash
# Install the built bundle for one user (no root): the folder under
# ~/.local/opt/PneumoScan, a `PneumoScan` link in ~/.local/bin, the menu entry
# and its icon. Usage: bash packaging/install_linux.sh [dist/PneumoScan]
# Uninstall: bash packaging/install_linux.sh --uninstall
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
opt="$HOME/.local/opt/PneumoScan"
bin="$HOME/.local/bin/PneumoScan"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications/pneumoscan.desktop"
icon="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/256x256/apps/pneumoscan.png"
if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$opt" "$bin" "$apps" "$icon"
    echo "removed $opt, $bin, $apps and $icon (settings and results are kept)"
    exit 0
fi
bundle="${1:-$here/../dist/PneumoScan}"
[ -x "$bundle/PneumoScan" ] || { echo "no bundle at $bundle: run python packaging/build_bundle.py" >&2; exit 2; }
mkdir -p "$(dirname "$opt")" "$(dirname "$bin")" "$(dirname "$apps")" "$(dirname "$icon")"
rm -rf "$opt" && cp -a "$bundle" "$opt"
ln -sf "$opt/PneumoScan" "$bin"
sed "s|^Exec=PneumoScan|Exec=$opt/PneumoScan|; s|^TryExec=PneumoScan|TryExec=$opt/PneumoScan|" \
    "$here/pneumoscan.desktop" > "$apps"
cp "$opt/_internal/desktop/icons/pneumoscan.png" "$icon"
echo "installed $opt; run PneumoScan (or pick PneumoScan in the menu); check it with: PneumoScan self-test"
