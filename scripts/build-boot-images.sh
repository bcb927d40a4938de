#!/bin/sh
# Rebuilds the PC boot-sector guests (src/guest/pc/boot/*.img) from their NASM sources.
# Usage: scripts/build-boot-images.sh [OUT_DIR]   (default: src/guest/pc/boot, beside the sources)
# The committed images must equal what this script produces (test/guest/pc/boot-images.test.ts
# checks it when nasm is installed); -f bin output depends only on the source and nasm.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
src="$here/src/guest/pc/boot"
out=${1:-$src}

if ! command -v nasm >/dev/null 2>&1; then
  echo "build-boot-images: nasm not found on PATH; install Debian's nasm package (apt-get install nasm)" >&2
  exit 1
fi

mkdir -p "$out"
for name in stride load2011; do
  nasm -f bin -I "$src/" -o "$out/$name.img" "$src/$name.asm"
  size=$(wc -c <"$out/$name.img")
  # SeaBIOS loads exactly one sector: anything else means the source outgrew it
  if [ "$size" -ne 512 ]; then
    echo "build-boot-images: $out/$name.img is $size bytes, expected one 512-byte sector" >&2
    exit 1
  fi
done
