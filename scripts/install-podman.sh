#!/usr/bin/env bash
# Builds and installs podman 5.8.6 for the podman end-to-end test
# (apps/pasta/test/podman.e2e.test.ts) on a Debian 12 machine, as root.
#
# Debian 12 ships podman 4.3, which predates `--network pasta`; 5.8.6 is built
# here from the Go module proxy's copy of its source. Idempotent: when
# $PODMAN_PREFIX/bin/podman already reports the right version, nothing is
# built again (the Go module and build caches make a rebuild quicker too).
#
# Installs (apt) what podman needs at run time: runc (Debian's crun 1.8.1
# rejects podman 5.8's runtime spec), conmon, uidmap (newuidmap/newgidmap),
# netavark (podman 5 looks for it even for pasta networks) and Debian's
# busybox-static package file, unpacked by tooling/podman/build-image.sh for
# the test image (it is not installed: it would replace the busybox package).
#
# Environment: PODMAN_VERSION (5.8.6), PODMAN_PREFIX (/usr/local),
# PODMAN_BUILD_DIR (/var/tmp/passt-ts-podman-build).
set -euo pipefail

PODMAN_VERSION=${PODMAN_VERSION:-5.8.6}
PODMAN_PREFIX=${PODMAN_PREFIX:-/usr/local}
PODMAN_BUILD_DIR=${PODMAN_BUILD_DIR:-/var/tmp/passt-ts-podman-build}
GO=${GO:-}
if [ -z "$GO" ]; then
  if command -v go >/dev/null; then GO=$(command -v go); else GO=/usr/local/go/bin/go; fi
fi
export DEBIAN_FRONTEND=noninteractive

say() { echo "install-podman: $*"; }

if [ "$(id -u)" != 0 ]; then
  say "run me as root" >&2
  exit 1
fi

# Run-time and build-time packages (cheap when they are already there).
need=()
for p in runc conmon uidmap netavark libgpgme-dev libseccomp-dev libsqlite3-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# The busybox-static package file, for the test's image (downloaded, not
# installed). Kept under the build directory.
mkdir -p "$PODMAN_BUILD_DIR/debs"
if ! ls "$PODMAN_BUILD_DIR"/debs/busybox-static_*.deb >/dev/null 2>&1; then
  say "apt-get download busybox-static"
  (cd "$PODMAN_BUILD_DIR/debs" && { apt-get download busybox-static >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get download busybox-static >/dev/null; }; })
fi

# A rootless tap needs /dev/net/tun to be 0666.
chmod 0666 /dev/net/tun 2>/dev/null || true

bin="$PODMAN_PREFIX/bin/podman"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -qx "podman version $PODMAN_VERSION"; then
  say "$bin is podman $PODMAN_VERSION already"
  exit 0
fi

if [ ! -x "$GO" ]; then
  say "no Go toolchain (looked for $GO)" >&2
  exit 1
fi
export GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

say "fetching podman $PODMAN_VERSION from the Go module proxy"
json=$(cd /tmp && GOFLAGS=-mod=mod "$GO" mod download -json "github.com/containers/podman/v5@v$PODMAN_VERSION")
dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)
if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
  say "go mod download gave no module directory:" >&2
  printf '%s\n' "$json" >&2
  exit 1
fi

src="$PODMAN_BUILD_DIR/podman-$PODMAN_VERSION"
if [ ! -f "$src/.copied" ]; then
  rm -rf "$src"
  mkdir -p "$src"
  cp -a "$dir/." "$src/"
  chmod -R u+w "$src"
  touch "$src/.copied"
fi

say "building (a few minutes; go's output in $PODMAN_BUILD_DIR/build.log)"
started=$(date +%s)
tags='containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper seccomp libsqlite3 grpcnotrace'
if ! (cd "$src" && "$GO" build -mod=mod -tags "$tags" -trimpath -o "$PODMAN_BUILD_DIR/podman" ./cmd/podman) \
  >"$PODMAN_BUILD_DIR/build.log" 2>&1; then
  grep -v '^go: downloading' "$PODMAN_BUILD_DIR/build.log" | tail -n 40 >&2
  say "the build failed" >&2
  exit 1
fi
say "built in $(($(date +%s) - started)) s"

"$PODMAN_BUILD_DIR/podman" --version | grep -qx "podman version $PODMAN_VERSION" || {
  say "the built binary does not say podman version $PODMAN_VERSION" >&2
  exit 1
}
install -D -m 0755 "$PODMAN_BUILD_DIR/podman" "$bin"
say "installed $bin"
