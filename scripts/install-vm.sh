#!/usr/bin/env bash
# What the real-guest test (apps/passt/test/vm.e2e.test.ts) and
# `pnpm demo:passt` need, on a fresh Debian 12 machine, as root; called by
# scripts/install.sh. Idempotent: packages are installed only when missing,
# and the guest (tooling/vm/build-guest.mjs: Debian's cloud kernel and a
# busybox-static initramfs with the virtio-net modules and the Go tool gt)
# is built only when .cache/vm (PASST_VM_CACHE) lacks it or its inputs
# changed. busybox-static and the kernel are fetched with `apt-get download`
# and unpacked, not installed (busybox-static would replace the host's
# busybox). The initramfs is written by the build script itself, so cpio is
# not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" != 0 ]; then
  echo "install-vm.sh: run as root" >&2
  exit 1
fi

# depmod (kmod), qemu and its BIOS, dpkg-deb and apt-get download (dpkg,
# apt), ip netns (iproute2), setpriv (util-linux).
missing=()
for p in kmod qemu-system-x86 seabios iproute2 util-linux dpkg apt; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go builds the guest's tool (no modules needed).
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null; then
  echo "install-vm.sh: Go not found (PATH or /usr/local/go/bin/go)" >&2
  exit 1
fi
# `apt-get download` needs package lists; a fresh machine may have none yet.
if ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  apt-get update -q
fi

node tooling/vm/build-guest.mjs >/dev/null
echo "install-vm.sh: guest ready in ${PASST_VM_CACHE:-$(pwd)/.cache/vm}/guest"
