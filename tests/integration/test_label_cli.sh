#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-label as a warehouse uses it: help on every command, sample records,
# a batch with bad records (each reported by line and reason, counted, never
# echoing personal data, exit 1, good records still rendered), single files
# and directories, standard input and output, --jobs, --stats, layout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/label.sh"

# --- help
for cmd in "" render sample layout; do
	out=$("$LABEL" $cmd --help 2>&1)
	t_eq "'smile-label $cmd --help' exits 0" 0 $?
	t_match "'smile-label $cmd --help' shows usage" "$out" "^Usage: smile-label"
done
t_match "render help explains --out, --dpi, --size, --jobs" "$("$LABEL" help render)" \
	"--out PATH.*"
"$LABEL" render --format png --in x 2>"$T/usage.err"
t_eq "missing --out is a usage error (exit 2)" 2 $?
t_match "usage error says what is missing" "$(cat "$T/usage.err")" "--out is required"
"$LABEL" render --in x --format gif --out y 2>/dev/null
t_eq "unknown format: exit 2" 2 $?
"$LABEL" render --in "$LABEL_DATA/records.jsonl" --format png --out "$T/one.png" 2>"$T/png.err"
t_eq "PNG into a file is refused: exit 2" 2 $?
t_match "and says to give a directory" "$(cat "$T/png.err")" "give a directory"
"$LABEL" frobnicate 2>/dev/null
t_eq "unknown command: exit 2" 2 $?

# --- samples
"$LABEL" sample --count 25 --seed 9 >"$T/s1.jsonl"
"$LABEL" sample --count 25 --seed 9 >"$T/s2.jsonl"
t_eq "sample prints --count records" 25 "$(wc -l <"$T/s1.jsonl")"
t_ok "same seed, same records" cmp -s "$T/s1.jsonl" "$T/s2.jsonl"
t_fails "another seed, other records" cmp -s "$T/s1.jsonl" <("$LABEL" sample --count 25 --seed 10)
t_ok "samples mix Chinese and Latin (Polish) names" \
	bash -c "grep -q '省' '$T/s1.jsonl' && grep -q '+48' '$T/s1.jsonl'"

# --- a batch with every kind of bad record
{
	sed -n 1p "$LABEL_DATA/records.jsonl"                                   # 1 good
	echo '{"waybill":"SW1","recipient":'                                    # 2 bad JSON
	sed -n 2p "$LABEL_DATA/records.jsonl" | sed 's/"sort_code":"[^"]*",//'  # 3 missing field
	sed -n 1p "$LABEL_DATA/records.jsonl" | sed 's/138\*\*\*\*\*\*\*8/13812345678/' # 4 phone
	sed -n 3p "$LABEL_DATA/records.jsonl" | sed 's/"name":"ד\*\* כ\*\*"/"name":"David Kohen"/' # 5 name
	echo                                                                    # 6 blank: skipped
	sed -n 2p "$LABEL_DATA/records.jsonl" | sed 's/"merchant":"[^"]*"/"merchant":"Store \xf0\x90\x80\x80"/' # 7 glyph
	sed -n 1p "$LABEL_DATA/records.jsonl" |
		sed "s/\"note\":\"[^\"]*\"/\"note\":\"$(printf 'W%.0s' $(seq 1 140))\"/"  # 8 no fit
	printf '{"note":"%s"}\n' "$(head -c 20000 /dev/zero | tr '\0' x)"       # 9 too long
	sed -n 3p "$LABEL_DATA/records.jsonl" | sed 's/Saudi Arabia/Saudi \xff Arabia/' # 10 UTF-8
	sed -n 2p "$LABEL_DATA/records.jsonl"                                   # 11 good
	sed -n 3p "$LABEL_DATA/records.jsonl"                                   # 12 good
} >"$T/mixed.jsonl"

"$LABEL" render --in "$T/mixed.jsonl" --format pdf --out "$T/mixed.pdf" --size 76x130 2>"$T/mixed.err"
rc=$?
err=$(cat "$T/mixed.err")
t_eq "bad records make the exit status 1" 1 "$rc"
t_match "line 2: malformed JSON" "$err" "line 2: .*\[invalid_json\]"
t_match "line 3: the missing field is named" "$err" "line 3: sort_code: required \[missing_field\]"
t_match "line 4: unmasked phone refused" "$err" \
	"line 4: recipient.phone: shows 11 digits, at most 5 may be visible \[label_unmasked\]"
t_match "line 5: unmasked name refused" "$err" "line 5: sender.name: no masking character .*\[label_unmasked\]"
t_match "line 7: a character no font has" "$err" "line 7: merchant: .*no installed font covers \[label_glyph\]"
t_match "line 8: text that does not fit" "$err" "line 8: note: does not fit .*\[label_no_fit\]"
t_match "line 9: over-long line" "$err" "line 9: record: line longer than 16384 bytes \[too_large\]"
t_match "line 10: invalid UTF-8 pinned to its field" "$err" "line 10: recipient.address\[2\]: .*\[invalid_utf8\]"
t_nomatch "the blank line 6 is no error" "$err" "line 6:"
t_match "failures are counted" "$err" "8 of 11 records failed"
t_eq "the good records were still rendered, in one PDF" 3 \
	"$(pdfinfo "$T/mixed.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')"
t_nomatch "stderr never echoes personal data" "$err" "13812345678|David|Kohen|Store"

# the same batch into a directory, with two threads: same failures, same files
"$LABEL" render --in "$T/mixed.jsonl" --format png --out "$T/dir/" --size 76x130 --jobs 2 \
	2>"$T/dir.err"
t_eq "with --jobs 2 the exit status is still 1" 1 $?
t_eq "with --jobs 2 the same errors, in line order" "$(cat "$T/mixed.err")" "$(cat "$T/dir.err")"
t_eq "one PNG per good record, named by waybill" \
	"SW2611290000017.png SW2611290000024.png SW2611290000031.png" "$(cd "$T/dir" && echo *)"

# a batch where nothing is good leaves no file behind
sed -n 2p "$T/mixed.jsonl" | "$LABEL" render --in - --format pdf --out "$T/none.pdf" 2>/dev/null
t_eq "all records bad: exit 1" 1 $?
t_fails "all records bad: no empty PDF left" test -e "$T/none.pdf"

# --- ZPL: stdin to stdout, order kept with and without threads
"$LABEL" sample --count 40 --seed 4 >"$T/s40.jsonl"
"$LABEL" render --in - --format zpl --out - <"$T/s40.jsonl" >"$T/j1.zpl"
t_eq "stdin to stdout: exit 0" 0 $?
"$LABEL" render --in "$T/s40.jsonl" --format zpl --out "$T/j3.zpl" --jobs 3
t_ok "--jobs 3 writes the same ZPL file as one thread" cmp -s "$T/j1.zpl" "$T/j3.zpl"
t_eq "40 labels in the file" 40 "$(grep -c '^\^XZ' "$T/j1.zpl")"
t_eq "in input order" "$(grep -o '"waybill":"[^"]*"' "$T/s40.jsonl" | cut -d'"' -f4 | tr '\n' ' ')" \
	"$(grep -o '\^BCN[^F]*\^FD[A-Z0-9-]*' "$T/j1.zpl" | sed 's/.*\^FD//' | tr '\n' ' ')"

# --- stats and progress
"$LABEL" render --in "$T/s40.jsonl" --format png --dpi 300 --out "$T/p300/" --stats 2>"$T/stats.err"
t_match "--stats prints labels, failures, time, rate and peak RSS" "$(cat "$T/stats.err")" \
	'^40 labels, 0 failed, [0-9]+\.[0-9] s, [0-9]+ labels/s, peak RSS [0-9]+\.[0-9] MiB$'
t_nomatch "no progress bar when stderr is not a terminal" "$(cat "$T/stats.err")" $'\r|ETA'
if command -v script >/dev/null 2>&1; then
	script -qec "'$LABEL' render --in '$T/s40.jsonl' --format zpl --out /dev/null" /dev/null \
		>"$T/tty.out" 2>&1
	t_match "a progress bar on a terminal" "$(tr '\r' '\n' <"$T/tty.out")" \
		'[0-9]+/40 +[0-9]+ labels/s +ETA'
else
	t_skip "a progress bar on a terminal" "no script(1)"
fi

# --- layout
"$LABEL" layout --in "$LABEL_DATA/records.jsonl" --dpi 300 --size 100x180 >"$T/layout.jsonl"
t_eq "layout: one JSON object per record" 3 "$(grep -c '^{"size":"100x180","dpi":300,"width":1181,"height":2126,' "$T/layout.jsonl")"
for b in header barcode sort recipient sender qr footer; do
	t_match "layout names block $b" "$(head -n1 "$T/layout.jsonl")" "\"$b\":\\{\"x\":[0-9]+,\"y\":[0-9]+,\"w\":[0-9]+,\"h\":[0-9]+\\}"
done

# the CLI exposes the same layout as the goldens the unit tests check (blocks
# come from the fixed grid, so they match exactly, whatever the fonts)
blocks_of() { tr -d ' \n' | grep -o '"blocks":{[^}]*}[^}]*}[^}]*}[^}]*}[^}]*}[^}]*}[^}]*}}'; }
for g in "$LABEL_DATA"/layout-*.json; do
	b=$(basename "$g" .json)
	size=$(echo "$b" | cut -d- -f2)
	dpi=$(echo "$b" | cut -d- -f3)
	want=$(blocks_of <"$g")
	t_match "golden $b.json has the 7 blocks" "$want" '"header":.*"footer":\{"x":[0-9]+'
	t_eq "layout $size@$dpi: blocks as in the golden" "$want" \
		"$(sed -n 1p "$LABEL_DATA/records.jsonl" | "$LABEL" layout --in - --size "$size" --dpi "$dpi" | blocks_of)"
done

t_done
