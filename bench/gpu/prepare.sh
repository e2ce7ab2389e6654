#!/usr/bin/env bash
# bench/gpu/prepare.sh — run HERE (a Debian machine with apt), before sending the tree to a bare
# CUDA machine: fills the git-ignored .device/ folder that bench/gpu/run.sh uses there.
#   .device/sysroot.tar.gz  the build's Debian dependencies (headers, .pc files, .so, pkg-config),
#                           unpacked with dpkg -x from `apt-get download`ed .debs, then packed:
#                           oneDNN alone is 38 MiB unpacked, and a run carries at most 64 MiB
#   .device/fashion-mnist/  the IDX files (gzip) both lhost and the Lightning peer train on
#   .device/lightning_gpu.py  the Lightning / PyTorch peer benchmark
# Usage: bash bench/gpu/prepare.sh [peer-script] [data-dir]
#   peer-script defaults to $LHOST_PEER_SCRIPT, data-dir to the dataset-fashion-mnist package's
#   folder. Carry .device with the run (about 42 MiB).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
peer=${1:-${LHOST_PEER_SCRIPT:-}}
data=${2:-/usr/share/datasets/fashion-mnist}
dev=$src/.device
# What a bare CUDA image may lack: the libraries lhost builds against (oneDNN for the CPU backend
# with its OpenCL loader; its OpenMP runtime comes with the image's gcc), Check for the tests,
# and pkg-config itself. Runtime packages come along so the -dev symlinks resolve.
pkgs="libyaml-dev libyaml-0-2 libffi-dev libffi8 zlib1g-dev zlib1g libcjson-dev libcjson1
      libdnnl-dev libdnnl2 ocl-icd-libopencl1
      check libsubunit-dev libsubunit0 pkgconf pkgconf-bin libpkgconf3"

rm -rf "$dev/sysroot" "$dev/sysroot.tar.gz"
mkdir -p "$dev/debs" "$dev/sysroot" "$dev/fashion-mnist"
(cd "$dev/debs" && apt-get download $pkgs)
for deb in "$dev"/debs/*.deb; do
  dpkg -x "$deb" "$dev/sysroot"
done
rm -rf "$dev/debs" "$dev/sysroot/usr/share/doc" "$dev/sysroot/usr/share/man"
# One library folder, and no link that points outside the sysroot (zlib1g ships /lib and an
# absolute libz.so link): links must resolve wherever .device lands.
if [ -d "$dev/sysroot/lib" ]; then
  cp -a "$dev/sysroot/lib/." "$dev/sysroot/usr/lib/"
  rm -rf "$dev/sysroot/lib"
fi
find "$dev/sysroot" -type l | while read -r link; do
  case $(readlink "$link") in /*) ln -sfn "$(basename "$(readlink "$link")")" "$link" ;; esac
done
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
         t10k-labels-idx1-ubyte; do
  if [ -e "$data/$f.gz" ]; then cp "$data/$f.gz" "$dev/fashion-mnist/"
  else cp "$data/$f" "$dev/fashion-mnist/"; fi
done
if [ -n "$peer" ]; then
  cp "$peer" "$dev/lightning_gpu.py"
else
  echo "prepare: no peer script given; the Lightning comparison will be skipped" >&2
fi
tar -czf "$dev/sysroot.tar.gz" -C "$dev" sysroot
rm -rf "$dev/sysroot"
du -sh "$dev"
