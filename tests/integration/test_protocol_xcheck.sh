#!/usr/bin/env bash
# docs/protocol.md is precise enough to implement from: an independent Python
# implementation written from the page alone (Debian's python3-cryptography,
# no Smile code) rebuilds every test vector it prints, byte for byte.
. "$(dirname "$0")/lib.sh"
out=$(/usr/bin/python3 "$SMILE_ROOT/tests/integration/xcheck_protocol.py" 2>&1)
t_ok "an implementation from the spec alone reproduces every vector" test $? -eq 0
t_match "... all of them" "$out" 'vectors: [0-9]+ checks, all match'
# and the check can fail: a vector changed in a copy of the page is caught
mkdir -p "$T/docs" "$T/tests/integration"
cp "$SMILE_ROOT/tests/integration/xcheck_protocol.py" "$T/tests/integration/"
# the last long hex run on the page is an output (the replies come last)
hex=$(grep -oE '[0-9a-f]{64,}' "$SMILE_ROOT/docs/protocol.md" | tail -n 1)
case ${hex:10:1} in 0) c=1 ;; *) c=0 ;; esac
flip="${hex:0:10}$c${hex:11}"
sed "s/$hex/$flip/" "$SMILE_ROOT/docs/protocol.md" >"$T/docs/protocol.md"
t_fails "a wrong vector in the page is reported" /usr/bin/python3 "$T/tests/integration/xcheck_protocol.py"
t_done
