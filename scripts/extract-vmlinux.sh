#!/usr/bin/env bash
# Extracts the uncompressed vmlinux ELF from a Linux x86 bzImage: usage extract-vmlinux.sh BZIMAGE OUT
#
# The setup header says exactly where the compressed kernel is (boot protocol 2.08+):
#   setup_sects (0x1f1, 0 means 4) -> the protected-mode part starts at (setup_sects + 1) * 512;
#   payload_offset (0x248) and payload_length (0x24c) locate the payload inside that part.
# The payload ends with the 4-byte little-endian uncompressed size (the kernel's mkpiggy appends
# it), which is not part of the compressed stream. The compression is recognised by its magic.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BZIMAGE OUT" >&2
  exit 2
fi
bz=$1
out=$2
fail() {
  echo "extract-vmlinux: $bz: $*" >&2
  exit 1
}

[ -r "$bz" ] || fail "cannot read the file"
# u8/u16/u32 little-endian at a byte offset.
read_uint() { od -An -tu"$2" -j "$1" -N "$2" "$bz" | tr -d ' \n'; }

size=$(stat -c %s "$bz")
[ "$size" -ge 1024 ] || fail "too small for a bzImage"
[ "$(od -An -c -j 514 -N 4 "$bz" | tr -d ' ')" = "HdrS" ] || fail "no \"HdrS\" setup header magic at 0x202"
version=$(read_uint 518 2)
[ "$version" -ge $((0x208)) ] || fail "boot protocol $((version >> 8)).$((version & 255)) has no payload_offset (needs 2.08)"
setup_sects=$(read_uint $((0x1f1)) 1)
[ "$setup_sects" -ne 0 ] || setup_sects=4
payload_offset=$(read_uint $((0x248)) 4)
payload_length=$(read_uint $((0x24c)) 4)
start=$(((setup_sects + 1) * 512 + payload_offset))
[ "$payload_length" -gt 4 ] && [ $((start + payload_length)) -le "$size" ] ||
  fail "payload [$start, +$payload_length) is not inside the $size-byte file"
stream_length=$((payload_length - 4))

magic=$(od -An -tx1 -j "$start" -N 6 "$bz" | tr -d ' \n')
case "$magic" in
  1f8b*) decompress=(gzip -dc) ;;
  fd377a585a00) decompress=(xz -dc --single-stream) ;;
  28b52ffd*) decompress=(zstd -dcq) ;;
  5d0000*) decompress=(xz -dc --format=lzma) ;;
  425a68*) decompress=(bzip2 -dc) ;;
  02214c18*) decompress=(lz4 -dc) ;;
  *) fail "unknown compression (payload starts with $magic)" ;;
esac
command -v "${decompress[0]}" >/dev/null || fail "${decompress[0]} is needed to decompress this kernel"

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count="$stream_length" bs=1M status=none |
  "${decompress[@]}" >"$tmp" ||
  fail "decompressing the payload with ${decompress[*]} failed"
[ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ] || fail "the decompressed payload is not an ELF file"
mv "$tmp" "$out"
trap - EXIT
echo "extract-vmlinux: $out ($(stat -c %s "$out") bytes, ${decompress[0]})"
