#!/usr/bin/env bash
# Run the bundle's smoke test on a real X server from inside a minimal Debian 12 (debootstrap
# minbase) that has only the README's system packages installed. The build machine has far
# more libraries than a fresh desktop, so this is where a package missing from the README's
# line shows: the app refuses to start, naming what it could not load. Needs root.
set -euo pipefail
bundle="$1"
readme="$(dirname "$0")/../../README.md"
root=$(mktemp -d /tmp/envops-debian12.XXXXXX)
display=:$((90 + RANDOM % 9))
xvfb_pid=""

cleanup() {
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  umount "$root/tmp/.X11-unix" 2>/dev/null || true
  umount "$root/proc" 2>/dev/null || true
  # Never delete through a mount that is still there: the X socket folder is the host's own.
  if mountpoint -q "$root/tmp/.X11-unix" || mountpoint -q "$root/proc"; then
    echo "left $root in place: a mount inside it would not come off" >&2
    return
  fi
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
mount -t proc proc "$root/proc"
install_line=$(grep -m1 '^sudo apt-get install ' "$readme")
chroot "$root" /bin/sh -c \
  "apt-get update -qq && ${install_line#sudo } -y -qq --no-install-recommends >/dev/null"
cp -a "$bundle" "$root/opt/envops"

Xvfb "$display" -nolisten tcp -screen 0 1280x1024x24 >/dev/null 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -S "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
mkdir -p "$root/tmp/.X11-unix"
mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
chroot "$root" /usr/bin/env -i HOME=/tmp DISPLAY="$display" QT_QPA_PLATFORM=xcb \
  /opt/envops/envops-desktop --smoke-test
echo "smoke test passed on a minimal Debian 12 with only the README's packages"
