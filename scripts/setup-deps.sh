#!/bin/sh
# Install what raw2dmp needs to build and test, from Debian's archive, if anything is missing.
# Debian 12 package names; needs root (or sudo) only when something must be installed.
set -eu
PKGS="gcc meson ninja-build pkg-config libjansson-dev libcurl4-openssl-dev liblzma-dev zlib1g-dev
libssl-dev libzip-dev liblzo2-dev libsnappy-dev libcmocka-dev python3 xz-utils binutils clang lld llvm
libclang-rt-dev qemu-system-x86 libvirt-clients libvirt-daemon
libvirt-daemon-driver-qemu libkdumpfile-dev
libzstd-dev liblz4-dev libzip-dev libewf-dev ewf-tools pigz zstd lz4 zip unzip python3-snappy python3-lz4
slurm-wlm munge"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "raw2dmp: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
