#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-label print / printers against real parts: a private cupsd with a
# test queue (each job lands in a file; PDFs and PNGs are decoded with
# zbarimg), and zebra_sim.py, a stand-in for a Zebra on raw TCP 9100 that
# keeps every ZPL label and answers ~HS with states the test sets (this
# machine has no printer). Faults: printer away (refused, connect time-out),
# a printer that never answers, paper out / head open before a job, paper
# out mid-batch (socket and CUPS), a stopped or rejecting queue.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/label.sh"
. "$(dirname "$0")/printer.sh"

"$LABEL" sample --count 3 --seed 11 >"$T/s3.jsonl"
"$LABEL" sample --count 5 --seed 12 >"$T/s5.jsonl"
waybills() { grep -o '"waybill":"[^"]*"' "$1" | cut -d'"' -f4 | tr '\n' ' '; }
# codes N FILE: token and waybill of record N of FILE, sorted (what zbarimg reads)
codes() {
	local l
	l=$(sed -n "${1}p" "$2")
	printf '%s\n%s\n' "$(grep -o '"token":"[^"]*"' <<<"$l" | cut -d'"' -f4)" \
		"$(grep -o '"waybill":"[^"]*"' <<<"$l" | cut -d'"' -f4)" | LC_ALL=C sort
}
print() {
	"$LABEL" print --no-progress "$@" 2>"$T/err"
	local rc=$?
	cat "$T/err" >>"$T/allerr"
	return $rc
}

# ------------------------------------------------------------ raw TCP 9100
zebra_start || die "zebra_sim.py did not start"
Z="socket://127.0.0.1:$ZEBRA_PORT"

out=$("$LABEL" printers --probe "$Z")
t_eq "probe: a ready printer" "0 $Z: ready" "$? $out"

print --in "$T/s3.jsonl" --printer "$Z"
t_eq "socket: 3 labels printed, exit 0" "0 3" "$? $(zebra_labels)"
"$LABEL" render --in "$T/s3.jsonl" --format zpl --out "$T/s3.zpl"
t_eq "the printer got exactly the rendered ZPL, in order" "$(cat "$T/s3.zpl")" \
	"$(for f in "$ZEBRA_DIR"/label-000[123].zpl; do cat "$f"; echo; done)"

head -n1 "$T/s5.jsonl" | print --in - --printer "$Z" --copies 2
t_eq "--copies 2: one format with ^PQ2, printed twice" "0 5 ^PQ2" \
	"$? $(zebra_labels) $(grep -o '\^PQ[0-9]*' "$ZEBRA_DIR/label-0005.zpl")"

zebra_set paper_out=1
print --in "$T/s3.jsonl" --printer "$Z"
rc=$?
err=$(cat "$T/err")
t_eq "paper out before the job: exit 3, nothing printed" "3 5" "$rc $(zebra_labels)"
t_match "... the error says paper out and that nothing was sent" "$err" \
	"line 1 \(waybill SW[0-9]+\): printer: not ready: paper out; nothing sent \[printer_not_ready\]"
t_match "... and counts" "$err" "stopped the batch: 0 printed, 0 held or uncertain, 3 not sent"

zebra_set paper_out=0 head_open=1 paused=1
out=$("$LABEL" printers --probe "$Z")
t_eq "probe: head open and paused, exit 3" "3 $Z: not ready: head open, paused" "$? $out"
zebra_set head_open=0 paused=0 buffer_full=1
out=$("$LABEL" printers --probe "$Z")
t_eq "probe: buffer full" "3 $Z: not ready: buffer full" "$? $out"
zebra_set buffer_full=0

# paper out mid-batch: the roll holds 2 labels
zebra_set paper=2
print --in "$T/s5.jsonl" --printer "$Z"
rc=$?
err=$(cat "$T/err")
t_eq "paper out mid-batch: exit 3, 2 more labels printed" "3 7" "$rc $(zebra_labels)"
t_match "... stopped at line 3, paper out" "$err" \
	"line 3 \(waybill $(sed -n 3p "$T/s5.jsonl" | grep -o 'SW[0-9]*' | head -n1)\): printer: not ready: paper out; nothing sent"
t_match "... 2 printed, 3 not sent" "$err" "stopped the batch: 2 printed, 0 held or uncertain, 3 not sent"
t_eq "... the two printed are the batch's first two" \
	"$(waybills "$T/s5.jsonl" | cut -d' ' -f1-2)" \
	"$(cat "$ZEBRA_DIR"/label-000[67].zpl | grep -o '\^BCN[^F]*\^FD[A-Z0-9-]*' | sed 's/.*\^FD//' | tr '\n' ' ' | sed 's/ $//')"
# new roll: the rest of the batch, by hand; nothing was held back to print twice
zebra_set paper_out=0 paper=-1
sed -n '3,5p' "$T/s5.jsonl" | print --in - --printer "$Z"
t_eq "after reloading, the 3 unsent print and nothing else does" "0 10" "$? $(zebra_labels)"

# bad records in between: reported and skipped, the rest printed
{ sed -n 1p "$T/s3.jsonl"; echo '{"waybill":'; sed -n 2p "$T/s3.jsonl"; } >"$T/mixed.jsonl"
print --in "$T/mixed.jsonl" --printer "$Z"
rc=$?
t_eq "a bad record: exit 1, the 2 good ones printed" "1 12" "$rc $(zebra_labels)"
t_match "... reported by line, as render does" "$(cat "$T/err")" "line 2: .*\[invalid_json\]"

# the progress bar, as render's, on a terminal only
if command -v script >/dev/null 2>&1; then
	script -qec "'$LABEL' print --in '$T/s5.jsonl' --printer '$Z'" /dev/null >"$T/tty.out" 2>&1
	t_match "a progress bar on a terminal" "$(tr '\r' '\n' <"$T/tty.out")" \
		'[0-9]+/5 +[0-9]+ labels/s +ETA'
	t_eq "... and those 5 printed" 17 "$(zebra_labels)"
else
	t_skip "a progress bar on a terminal" "no script(1)"
	t_skip "... and those 5 printed" "no script(1)"
fi

print --in "$T/s3.jsonl" --printer "$Z" --format png
t_eq "png to a socket printer: usage error" 2 $?

# printer away: nothing listens
port=$(free_port)
start=$SECONDS
print --in "$T/s3.jsonl" --printer "socket://127.0.0.1:$port" --retries 1
rc=$?
t_eq "connection refused: exit 3" 3 "$rc"
t_match "... says so" "$(cat "$T/err")" "cannot connect: Connection refused \[printer_unreachable\]"
t_match "... 0 printed, 3 not sent" "$(cat "$T/err")" "0 printed, 0 held or uncertain, 3 not sent"

# printer away: off the network (the accept queue full, SYNs dropped)
zebra_start --blackhole || die "zebra_sim.py --blackhole did not start"
start=$(date +%s%N)
out=$("$LABEL" printers --probe "socket://127.0.0.1:$ZEBRA_PORT" --timeout 400 2>&1)
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
t_eq "connect time-out: exit 3" 3 "$rc"
t_match "... names the time-out" "$out" "no connection within 400 ms \(printer off or away\?\) \[printer_unreachable\]"
t_ok "... and keeps it (${ms} ms)" test "$ms" -lt 3000

# a printer that takes the connection and never answers
zebra_start --silent || die "zebra_sim.py --silent did not start"
print --in "$T/s3.jsonl" --printer "socket://127.0.0.1:$ZEBRA_PORT" --timeout 400 --retries 0
t_eq "no answer to ~HS: exit 3" 3 $?
t_match "... a time-out, named" "$(cat "$T/err")" "no status answer within 400 ms .*\[timeout\]"
t_eq "... and no label was sent to it" "~HS" "$(cat "$ZEBRA_DIR/received")"

# ------------------------------------------------------------ CUPS
if ! command -v cupsd >/dev/null 2>&1 && [ ! -x /usr/sbin/cupsd ]; then
	t_skip "CUPS tests" "no cupsd (make deps installs cups)"
	t_done
	exit 0
fi
cups_start || die "cupsd did not start"
cups_queue labels || die "lpadmin failed: $(cat "$CUPS_DIR/log/lpadmin.labels")"
Q="$CUPS_DIR/out/labels"

t_eq "printers lists the queue, ready" "$(printf 'cups:labels\tready')" "$("$LABEL" printers)"

print --in "$T/s3.jsonl" --printer cups:labels
t_eq "cups: PDF, 3 jobs, exit 0" "0 3" "$? $(ls "$Q" | grep -c '^job-[0-9]*$')"
i=0
for f in $(ls "$Q" | sort -t- -k2 -n); do
	i=$((i + 1))
	pdftoppm -r 300 -png "$Q/$f" "$T/pdf-$i"
	t_eq "cups PDF job $i decodes to record $i's token and waybill" "$(codes $i "$T/s3.jsonl")" \
		"$(decode "$T/pdf-$i-1.png")"
done
rm -f "$Q"/job-*

print --in "$T/s3.jsonl" --printer "ipp://127.0.0.1:$CUPS_PORT/printers/labels" --format png
t_eq "ipp://.../printers/labels: PNG, 3 jobs, exit 0" "0 3" "$? $(ls "$Q" | grep -c '^job-[0-9]*$')"
i=0
for f in $(ls "$Q" | sort -t- -k2 -n); do
	i=$((i + 1))
	t_eq "ipp PNG job $i decodes to record $i's token and waybill" "$(codes $i "$T/s3.jsonl")" \
		"$(decode "$Q/$f")"
done
rm -f "$Q"/job-*

cups_q cupsdisable -r "roll empty" labels
print --in "$T/s3.jsonl" --printer cups:labels
rc=$?
err=$(cat "$T/err")
t_eq "stopped queue: exit 3, nothing sent" "3 0 0" "$rc $(ls "$Q" | wc -l) $(lpstat -o labels 2>/dev/null | wc -l)"
t_match "... the error names the state, its reason and message" "$err" \
	'not ready: queue stopped \(printer-state-reasons=paused; message "roll empty"\); nothing sent \[printer_not_ready\]'
t_match "printers shows it too" "$("$LABEL" printers)" 'cups:labels	not ready: queue stopped'
cups_q cupsenable labels
cups_q cupsreject -r "maintenance" labels
print --in "$T/s3.jsonl" --printer cups:labels
t_eq "rejecting queue: exit 3" 3 $?
t_match "... named" "$(cat "$T/err")" 'not ready: queue rejecting jobs .*message "maintenance"'
cups_q cupsaccept labels

# paper out mid-batch at the queue: the backend finds the roll empty on job 2
echo 1 >"$Q/paper"
print --in "$T/s3.jsonl" --printer cups:labels
rc=$?
err=$(cat "$T/err")
t_eq "cups paper out mid-batch: exit 3, 1 printed" "3 1" "$rc $(ls "$Q" | grep -c '^job-[0-9]*$')"
t_match "... job 2 stopped, with the printer's reasons" "$err" \
	"line 2 \(waybill SW[0-9]+\): printer: job [0-9]+ stopped in the queue \(do not send it again: it prints once the queue is fixed\): paper out.*media-empty-error"
t_match "... counted" "$err" "1 printed, 1 held or uncertain, 1 not sent"
rm -f "$Q/paper"

out=$("$LABEL" printers --probe cups:nosuch 2>&1)
t_eq "unknown queue: exit 3" 3 $?
t_match "... named" "$out" "no queue 'nosuch' on the CUPS server \[not_found\]"
out=$(CUPS_SERVER=127.0.0.1:$(free_port) "$LABEL" printers 2>&1)
t_eq "no CUPS server: exit 3" 3 $?
t_match "... says so" "$out" "printer_unreachable"
t_match "every print run's errors were kept" "$(cat "$T/allerr")" "rejecting"
t_nomatch "no personal data (masked names, phones, addresses) in any error" "$(cat "$T/allerr")" '\*|＊|省|市|ul\.|phone'

t_done
