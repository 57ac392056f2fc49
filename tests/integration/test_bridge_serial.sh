#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-bridge reading a serial barcode scanner: a pseudo-terminal (openpty,
# tests/integration/bridge_pty.c) stands in for the scanner; codes end with
# CR LF, CR or LF as scanners are set up to send them. Each reveals for a
# courier through the real gateway and mosquitto.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
. "$(dirname "$0")/bridge.sh"

cc -O1 -o "$T/bridge_pty" "$SMILE_ROOT/tests/integration/bridge_pty.c" 2>"$T/cc.err" ||
	die "cannot build the pty helper: $(cat "$T/cc.err")"
br_gateway || die "gateway with relay did not start"
br_device courier-07 courier || die "courier-07"
for d in A B C D; do
	br_issue "$d栋1201室" || die "issue"
	eval "WB_$d=\$WB TOK_$d=\$TOKEN"
done

mkfifo "$T/scanner.in"
"$T/bridge_pty" "$T/ttyScanner" <"$T/scanner.in" &
PTY=$!
at_exit "kill $PTY"
exec 8>"$T/scanner.in"
for i in $(seq 1 50); do [ -L "$T/ttyScanner" ] && break; sleep 0.05; done
t_ok "the pseudo-terminal scanner is there" test -L "$T/ttyScanner"

br_start courier-07 --event out_for_delivery --input "serial:$T/ttyScanner" ||
	die "bridge did not start: $(cat "$T/courier-07.err")"
t_match "the bridge opened the serial port" "$(cat "$T/courier-07.err")" 'event=bridge.start'
sleep 0.3
printf '%s\r\n' "$TOK_A" >&8        # CR LF
printf '%s\r' "$TOK_B" >&8          # CR
printf '%s\n' "$TOK_C" >&8          # LF
printf '%s' "${TOK_D:0:10}" >&8     # a code split across writes
sleep 0.2
printf '%s\r\n' "${TOK_D:10}" >&8
wait_match "$T/courier-07.out" "$WB_D" 20
replies=$(jq -c 'select(.status)' "$T/courier-07.out")
t_eq "four codes, four replies" "4" "$(printf '%s\n' "$replies" | grep -c .)"
t_eq "in scan order" "$WB_A $WB_B $WB_C $WB_D" "$(printf '%s\n' "$replies" | jq -r .waybill | tr '\n' ' ' | sed 's/ $//')"
t_eq "each revealed for the courier" "revealed revealed revealed revealed" \
	"$(printf '%s\n' "$replies" | jq -r .status | tr '\n' ' ' | sed 's/ $//')"
t_eq "with the contact details" "13812345678" "$(printf '%s\n' "$replies" | head -n1 | jq -r .contact.phone)"
for d in A B C D; do
	eval "wb=\$WB_$d"
	t_eq "gateway recorded $d once" "1" "$(count_events "$wb" out_for_delivery)"
done

# a mode barcode over the serial line
printf 'SMILE:MODE:DELIVERED\r\n%s\r\n' "$TOK_A" >&8
wait_match "$T/courier-07.out" '"event":"delivered"' 15
t_eq "a mode barcode switches the event (delivered: recorded, it needs no contact)" "delivered recorded" \
	"$(jq -r 'select(.status and .event == "delivered") | "\(.event) \(.status)"' "$T/courier-07.out")"
t_eq "logs carry no contact details" "0" "$(grep -c -a -e 13812345678 -e '张三明' "$T/courier-07.err")"
t_done
