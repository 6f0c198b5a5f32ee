#!/usr/bin/env bash
# Installs everything passt-ts needs on a fresh Debian machine (run as root):
# the tools the tests drive, pnpm, the workspace's packages, and a build.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ]; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends \
    iproute2 iputils-ping man-db socat iperf iperf3 sockperf passt tshark udhcpc python3-scapy \
    qemu-system-x86 slirp4netns uidmap util-linux procps strace >/dev/null
  # A rootless tap needs /dev/net/tun to be 0666, as distributions ship it.
  chmod 0666 /dev/net/tun || true
fi
command -v pnpm >/dev/null || npm i -g pnpm@9
if [ "$(id -u)" = 0 ]; then
  # The real Linux guest behind passt (tooling/vm), built once and cached.
  bash scripts/install-vm.sh
  # podman 5.8.6 from the Go module proxy, for the rootless container tests (tooling/podman).
  bash scripts/install-podman.sh
fi
pnpm install --frozen-lockfile
pnpm build
