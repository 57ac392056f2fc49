# SPDX-License-Identifier: Apache-2.0
# tests/integration/label.sh - helpers for the smile-label integration tests.
# Source after lib.sh.

LABEL="$BIN/smile-label"
LABEL_DATA="$SMILE_ROOT/tests/data/label"
[ -x "$LABEL" ] || die "no $LABEL (build first: make BUILD=... all)"

# cairo 1.16 (Debian 12) leaks ~768 bytes per PDF document that embeds a
# CJK (CID-keyed CFF) font; under LeakSanitizer that would fail every PDF
# run. Add the module to the suppressions in force, for this test only
# (the lead is asked to add it to tests/lsan.supp).
if [ -n "${LSAN_OPTIONS:-}" ] || [ -n "${ASAN_OPTIONS:-}" ]; then
	{
		[ -f "$SMILE_ROOT/tests/lsan.supp" ] && cat "$SMILE_ROOT/tests/lsan.supp"
		echo "leak:libcairo.so"
	} >"$T/lsan.supp"
	export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp"
fi

# decode FILE: the symbols zbarimg reads, one per line, sorted.
decode() { zbarimg -q --raw "$1" 2>/dev/null | sed '/^$/d' | LC_ALL=C sort; }

# field N KEY: the string value of top-level KEY in record N (1-based) of
# the fixtures (our fixtures have no escaped quotes in these fields).
field() { sed -n "${1}p" "$LABEL_DATA/records.jsonl" | grep -o "\"$2\":\"[^\"]*\"" | head -n1 | cut -d'"' -f4; }

# The symbols a label must carry: its token and its waybill, sorted.
expected_codes() { printf '%s\n%s\n' "$(field "$1" token)" "$(field "$1" waybill)" | LC_ALL=C sort; }
