#!/bin/sh
# Install the unpacked bundle for the current user: ~/.local/opt, a launcher, an icon.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix="${XDG_DATA_HOME:-$HOME/.local/share}"
opt="$HOME/.local/opt/envops-desktop"
mkdir -p "$opt" "$HOME/.local/bin" "$prefix/applications" "$prefix/icons/hicolor/256x256/apps"
cp -a "$here/." "$opt/"
ln -sf "$opt/envops-desktop" "$HOME/.local/bin/envops-desktop"
ln -sf "$opt/envops" "$HOME/.local/bin/envops"
sed "s|^Exec=envops-desktop|Exec=$opt/envops-desktop|" "$here/envops-desktop.desktop" \
  > "$prefix/applications/envops-desktop.desktop"
cp "$here/envops-desktop.png" "$prefix/icons/hicolor/256x256/apps/envops-desktop.png"
command -v update-desktop-database >/dev/null && update-desktop-database "$prefix/applications" || true
echo "Installed EnvOps Desktop in $opt"
# Qt's X11 plugin needs system libraries that a minimal system lacks; say which now, not with
# a window that never opens. The app names the packages (one apt-get line) and exits 1.
if ! QT_QPA_PLATFORM=xcb "$opt/envops-desktop" --check-display; then
  echo "EnvOps Desktop cannot open a window until those libraries are installed." >&2
  exit 1
fi
