#!/usr/bin/env bash
# Builds the podman test's image as a rootfs tar (for `podman import`): Debian's
# busybox-static with its applets linked in /bin, and the test's static probe
# tool (tooling/podman/probe, Go, standard library only) as /usr/local/bin/probe.
# No image registry is reachable from these machines, so nothing is pulled.
#
#   build-image.sh [OUT_DIR]     (default: tooling/podman/.cache)
#
# Writes OUT_DIR/rootfs.tar and OUT_DIR/probe (the tool also runs on the host
# side of the test as its servers), and prints the tar's path. Cached: nothing
# is rebuilt while the probe's source and the busybox package are unchanged.
#
# busybox-static comes from a package file, never installed (it would replace
# Debian's busybox package): one that scripts/install-podman.sh downloaded to
# $PODMAN_BUILD_DIR/debs, else `apt-get download` (as root) into OUT_DIR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/.cache}
PODMAN_BUILD_DIR=${PODMAN_BUILD_DIR:-/var/tmp/passt-ts-podman-build}
GO=${GO:-}
if [ -z "$GO" ]; then
  if command -v go >/dev/null; then GO=$(command -v go); else GO=/usr/local/go/bin/go; fi
fi
mkdir -p "$out"

deb=$(ls "$PODMAN_BUILD_DIR"/debs/busybox-static_*.deb "$out"/busybox-static_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
  (cd "$out" && apt-get download busybox-static >/dev/null 2>&1) || {
    echo "build-image: no busybox-static package file (run scripts/install-podman.sh as root)" >&2
    exit 1
  }
  deb=$(ls "$out"/busybox-static_*.deb | head -n 1)
fi

key=$( (cat "$here/probe/main.go" "$here/probe/go.mod" "$here/build-image.sh"; basename "$deb") | sha256sum | cut -d' ' -f1)
if [ -f "$out/rootfs.tar" ] && [ -x "$out/probe" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$key" ]; then
  echo "$out/rootfs.tar"
  exit 0
fi

if [ ! -x "$GO" ]; then
  echo "build-image: no Go toolchain (looked for $GO)" >&2
  exit 1
fi
(cd "$here/probe" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
  "$GO" build -trimpath -ldflags='-s -w' -o "$out/probe.new" .)
mv "$out/probe.new" "$out/probe"

work=$(mktemp -d "$out/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/deb"
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,root,proc,sys,dev,run,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$work/deb/bin/busybox" "$root/bin/busybox"
# Every applet as a link to busybox, in /bin (the image's PATH has /bin).
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cp "$out/probe" "$root/usr/local/bin/probe"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
: >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
tar --numeric-owner --owner=0 --group=0 --sort=name -C "$root" -cf "$out/rootfs.tar.new" .
mv "$out/rootfs.tar.new" "$out/rootfs.tar"
echo "$key" >"$out/stamp"
echo "$out/rootfs.tar"
