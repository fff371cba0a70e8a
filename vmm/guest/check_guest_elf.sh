#!/usr/bin/env bash
# Post-build check of the rrvm guest ELF: usage check_guest_elf.sh ELF READELF OBJDUMP
#  - a static x86-64 executable (no interpreter, no dynamic section);
#  - with the PVH note (Xen, XEN_ELFNOTE_PHYS32_ENTRY) and rrvm's 64-bit entry note;
#  - with no instruction that KVM's instruction emulator refuses or that the guest must avoid
#    (rep string ops, int3, iret, x87/SSE/AVX state, xsave family, ud2), except cmpxchg16b inside
#    guest_bad_insn, which executes it on purpose.
set -euo pipefail
elf=$1
readelf=$2
objdump=$3
fail() {
  echo "check_guest_elf: $elf: $*" >&2
  exit 1
}

header=$("$readelf" -h "$elf")
grep -q 'Class:[[:space:]]*ELF64' <<<"$header" || fail "not ELF64"
grep -q 'Type:[[:space:]]*EXEC' <<<"$header" || fail "not a static executable (ET_EXEC)"
grep -q 'Machine:[[:space:]]*Advanced Micro Devices X86-64' <<<"$header" || fail "not x86-64"

phdrs=$("$readelf" -lW "$elf")
grep -q 'INTERP' <<<"$phdrs" && fail "has a program interpreter"
grep -q 'DYNAMIC' <<<"$phdrs" && fail "has a dynamic section"
grep -q 'NOTE' <<<"$phdrs" || fail "has no PT_NOTE segment"

notes=$("$readelf" -nW "$elf")
# readelf names Xen's note type; older versions print the raw number.
grep -Eq 'Xen[[:space:]]+0x00000008[[:space:]]+(XEN_ELFNOTE_PHYS32_ENTRY|Unknown note type: \(0x00000012\))' <<<"$notes" ||
  fail "has no PVH note (Xen, XEN_ELFNOTE_PHYS32_ENTRY, 8-byte entry)"
grep -Eq 'rrvm[[:space:]]+0x00000010[[:space:]]+.*0x52520001' <<<"$notes" ||
  fail "has no rrvm 64-bit entry note (rrvm, type 0x52520001, 16 bytes)"

# Disassemble everything, tracking the current function, and reject forbidden mnemonics.
bad=$("$objdump" -d --no-show-raw-insn "$elf" | awk '
  /^[0-9a-f]+ <[^>]+>:$/ { fn = $2; next }
  {
    insn = $0
    sub(/^[[:space:]]*[0-9a-f]+:[[:space:]]*/, "", insn)
    if (insn ~ /^(rep|repz|repnz|repe|repne)[[:space:]]+(stos|movs|lods|cmps|scas|ins|outs)/ ||
        insn ~ /^(int3|iret|iretq|iretd|ud2|xsave|xsaveopt|xsavec|xsaves|xrstor|xrstors|fxsave|fxsave64|fxrstor|fxrstor64)([[:space:]]|$)/ ||
        insn ~ /^(fld|fst|fild|fist|fadd|fsub|fmul|fdiv|fcom|fucom|fxch|fninit|fnstcw|fldcw|fnstsw|fnsave|frstor|fwait)/ ||
        insn ~ /%[xyz]mm[0-9]/ ||
        (insn ~ /^(lock[[:space:]]+)?cmpxchg16b/ && fn != "<guest_bad_insn>:")) {
      print fn " " insn
    }
  }')
[ -z "$bad" ] || fail "instructions the guest must not contain:
$bad"
exit 0
