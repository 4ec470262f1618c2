# tests/support/counter_image.sh — sourced by the RADOS shell tests (rados_gc_load.sh,
# rados_faults.sh, cli_rados_load.sh): the smallest counter guest as a JIMG file, no compiler
# needed.
# le V N: V as N little-endian bytes
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done; }
# counter_image FILE K: a guest that adds K to the u64 at 0x10000 and returns the sum (pvm.md
# encodings, as tests/cli_store.sh): φ7 = u64 [0x10000] + K
counter_image() {
  { printf 'JIMG'; le 1 4; le 0 4
    le 15 4; printf '\x3a\x07\x00\x00\x01\x95\x77'; printf "\\x$(printf %02x "$2")"
    printf '\x3e\x07\x00\x00\x01\x0a\x00'
    le 2 4; printf '\x21\x21'
    le 0 4
    le 1 4; le 0 8; le 0 8; le 0 4; le 0 1; for r in $(seq 13); do le 0 8; done
    le 1 4; le $((0x10000)) 8; le 8 8; le 1 1; le 0 1
    le 0 4; le 0 4; le 0 1; } > "$1"
}
