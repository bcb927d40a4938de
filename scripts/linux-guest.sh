#!/usr/bin/env bash
# Builds livemig's Linux guest for the x86 PC machine (v86) from Debian's own i386 packages:
# the kernel of linux-image-686 as bzImage, and an initramfs (initrd.img) holding
# busybox-static:i386 and our memory writer (src/guest/pc/linux/memwriter.asm), plus
# manifest.json (sha256 of both, the package versions, the kernel command line to use).
#
#   bash scripts/linux-guest.sh [OUTPUT_DIR]
#
# OUTPUT_DIR defaults to $LIVEMIG_LINUX_GUEST_DIR, else ~/.cache/livemig/linux-guest. A run
# whose outputs are present, intact and made from the current sources does nothing. Needs
# apt-get, apt-cache and dpkg-deb (Debian), nasm, node and a built dist/ (npm run build).
# The system's dpkg architectures are left alone: apt runs for i386 on a private lists and
# cache directory (OUTPUT_DIR/.apt, kept so a rebuild downloads nothing it already has).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "linux-guest: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [ $# -gt 1 ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
  echo "usage: bash scripts/linux-guest.sh [OUTPUT_DIR]   (default \$LIVEMIG_LINUX_GUEST_DIR, else ~/.cache/livemig/linux-guest)" >&2
  exit 2
fi
if [ -n "${1:-}" ]; then
  out="$1"
elif [ -n "${LIVEMIG_LINUX_GUEST_DIR:-}" ]; then
  out="$LIVEMIG_LINUX_GUEST_DIR"
else
  [ -n "${HOME:-}" ] || die "HOME is not set: pass an output directory or set LIVEMIG_LINUX_GUEST_DIR"
  out="$HOME/.cache/livemig/linux-guest"
fi
started=$(date +%s%N)

# What the outputs are made from: any change to these rebuilds them.
sources=(scripts/linux-guest.sh src/guest/pc/linux/memwriter.asm src/guest/pc/cpio.ts src/guest/pc/initramfs.ts)
for f in "${sources[@]}"; do
  [ -f "$repo/$f" ] || die "$repo/$f is missing (this script runs from a livemig source checkout)"
done
recipe=$(cd "$repo" && sha256sum "${sources[@]}" | sha256sum | cut -d' ' -f1)

# True when OUTPUT_DIR holds a complete guest of this recipe (sizes and sha256 checked).
up_to_date() {
  [ -f "$out/manifest.json" ] && command -v node >/dev/null || return 1
  RECIPE="$recipe" DIR="$out" node --input-type=module -e '
    import { createHash } from "node:crypto";
    import { readFileSync } from "node:fs";
    import { join } from "node:path";
    const dir = process.env.DIR;
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    if (m.format !== 1 || m.recipe !== process.env.RECIPE) process.exit(1);
    for (const f of [m.kernel, m.initrd]) {
      const bytes = readFileSync(join(dir, f.file));
      if (bytes.length !== f.bytes || createHash("sha256").update(bytes).digest("hex") !== f.sha256) process.exit(1);
    }' 2>/dev/null
}

if up_to_date; then
  say "up to date: $out"
  exit 0
fi

# Everything needed, named when missing.
missing=()
for c in apt-get apt-cache dpkg-deb; do command -v "$c" >/dev/null || missing+=("$c (Debian's apt and dpkg: this script needs a Debian system)"); done
command -v tar >/dev/null || missing+=("tar (apt-get install -y tar)")
command -v sha256sum >/dev/null || missing+=("sha256sum (apt-get install -y coreutils)")
command -v nasm >/dev/null || missing+=("nasm (apt-get install -y nasm)")
command -v node >/dev/null || missing+=("node (Node.js 20 or later)")
[ -f "$repo/dist/src/guest/pc/initramfs.js" ] || missing+=("$repo/dist/src/guest/pc/initramfs.js (run npm run build first)")
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do say "missing: $m"; done
  die "cannot build the Linux guest"
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# One build at a time per output directory; a run that waited may find the work done.
if command -v flock >/dev/null; then
  exec 9>"$out/.lock"
  flock 9
  if up_to_date; then
    say "up to date: $out (built by a concurrent run)"
    exit 0
  fi
fi

apt_dir="$out/.apt"
debs="$apt_dir/debs"
work="$out/.work"
rm -rf "$work"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$debs" "$work"
trap 'rm -rf "$work"' EXIT
apt_opts=(
  -o APT::Architecture=i386 -o APT::Architectures=i386
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o Dir::State::status=/dev/null
)
# As root, apt would download as the _apt user, who cannot reach a directory under /root
# (apt then warns and downloads as root anyway): say so up front.
if [ "$(id -u)" = 0 ]; then apt_opts+=(-o APT::Sandbox::User=root); fi

say "apt-get update (i386, private lists in $apt_dir)"
# A failed index (a mirror caught mid-sync, a suite the proxy lacks) is not fatal: what matters
# is whether the two packages resolve below.
if ! apt-get "${apt_opts[@]}" -q update >"$work/apt-update.log" 2>&1; then
  say "warning: apt-get update reported errors (continuing with the indexes it got):"
  grep -E '^(E|W):' "$work/apt-update.log" | head -5 | sed 's/^/  /' >&2 || true
fi

# linux-image-686 is a metapackage: the kernel is in the versioned package it depends on.
kernel_pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-686 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-686$/ { print $2; exit }')
if [ -z "$kernel_pkg" ]; then
  sed 's/^/  /' "$work/apt-update.log" >&2
  die "cannot resolve linux-image-686 for i386 (apt-get update's output above); is Debian's archive reachable?"
fi

say "apt-get download $kernel_pkg busybox-static (i386)"
(cd "$debs" && apt-get "${apt_opts[@]}" -q download "$kernel_pkg" busybox-static >"$work/apt-download.log" 2>&1) || {
  sed 's/^/  /' "$work/apt-download.log" >&2
  die "apt-get download $kernel_pkg busybox-static failed"
}
kernel_deb=$(ls -t "$debs/${kernel_pkg}"_*_i386.deb 2>/dev/null | head -1) || true
busybox_deb=$(ls -t "$debs"/busybox-static_*_i386.deb 2>/dev/null | head -1) || true
[ -n "$kernel_deb" ] && [ -n "$busybox_deb" ] || die "apt-get download left no $kernel_pkg or busybox-static .deb in $debs"
# Older versions left from earlier builds.
for d in "$debs"/*.deb; do
  [ "$d" = "$kernel_deb" ] || [ "$d" = "$busybox_deb" ] || rm -f "$d"
done
kernel_version=$(dpkg-deb -f "$kernel_deb" Version)
busybox_version=$(dpkg-deb -f "$busybox_deb" Version)

# Only the kernel image out of the kernel package (its modules are not needed: everything the
# guest uses is built in).
mkdir -p "$work/kernel" "$work/busybox"
dpkg-deb --fsys-tarfile "$kernel_deb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*'
dpkg-deb -x "$busybox_deb" "$work/busybox"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* | head -1)
[ -f "$vmlinuz" ] || die "no boot/vmlinuz-* in $kernel_deb"
[ -f "$work/busybox/bin/busybox" ] || die "no bin/busybox in $busybox_deb"

say "nasm memwriter.asm"
nasm -f bin -Werror -o "$work/memwriter" "$repo/src/guest/pc/linux/memwriter.asm"

say "writing bzImage, initrd.img, manifest.json"
VMLINUZ="$vmlinuz" BUSYBOX="$work/busybox/bin/busybox" MEMWRITER="$work/memwriter" OUT="$out" \
KERNEL_PKG="$kernel_pkg" KERNEL_VERSION="$kernel_version" BUSYBOX_VERSION="$busybox_version" RECIPE="$recipe" \
MODULE="$repo/dist/src/guest/pc/initramfs.js" node --input-type=module -e '
  import { pathToFileURL } from "node:url";
  const e = process.env;
  const { assembleLinuxGuest } = await import(pathToFileURL(e.MODULE).href);
  assembleLinuxGuest({
    outDir: e.OUT, vmlinuz: e.VMLINUZ, busybox: e.BUSYBOX, memwriter: e.MEMWRITER,
    kernelPackage: e.KERNEL_PKG, kernelVersion: e.KERNEL_VERSION, busyboxVersion: e.BUSYBOX_VERSION, recipe: e.RECIPE,
  });'

up_to_date || die "the guest written to $out does not check out against its manifest"
ms=$(( ($(date +%s%N) - started) / 1000000 ))
say "done in ${ms} ms: $out/bzImage ($(stat -c %s "$out/bzImage") bytes, $kernel_pkg $kernel_version), $out/initrd.img ($(stat -c %s "$out/initrd.img") bytes, busybox-static $busybox_version)"
