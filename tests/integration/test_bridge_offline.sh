#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-bridge's offline queue against the real gateway and mosquitto:
#  1. broker down -> scans queued (on disk) -> broker up -> each delivered
#     exactly once, in order;
#  2. kill -9 with a non-empty queue -> restart -> nothing lost, nothing sent
#     twice;
#  3. kill -9 with a signed scan in flight that the gateway processed (it was
#     down; its persistent session gets the scan later) -> restart resends the
#     same bytes -> the gateway's stored reply, still one event;
#  4. a full queue refuses new scans and keeps the old.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
. "$(dirname "$0")/bridge.sh"

br_gateway || die "gateway with relay did not start"
br_device courier-05 courier || die "courier-05"
sed -i 's/^queue_max = .*/queue_max = 4/' "$T/courier-05.conf"
Q="$T/courier-05.state/queue"
OUT="$T/courier-05.out"
for i in 1 2 3 4 5 6 7 8 9; do
	br_issue "${i}栋${i}01室" || die "issue"
	eval "WB$i=\$WB TOK$i=\$TOKEN"
done
replies() { jq -c 'select(.status)' "$OUT" 2>/dev/null | grep -c . ; }
# Waits of 30 s: once the broker is back, the gateway's own reconnection
# (its backoff reaches 8 s while the broker is away) and the bridge's resend
# (up to 2 s) come before a reply; a loaded sanitizer run needed more than
# the 10 s these loops allowed.
replies_ge() { [ "$(replies)" -ge "$1" ]; }
queued_ge() { [ "$(ls "$Q" | grep -c '\.scan$')" -ge "$1" ]; }
events_of_wb6() { [ "$(count_events "$WB6" out_for_delivery)" = 1 ]; }

# --- 1. broker down, scans queued, broker up ----------------------------------
br_start courier-05 --event out_for_delivery || die "bridge did not start"
wait_match "$T/courier-05.err" 'event=bridge.online' 10 || die "bridge never online"
mqtt_stop
wait_match "$T/courier-05.err" 'event=bridge.offline' 10
br_scan "$TOK1"; br_scan "$TOK2"; br_scan "$TOK3"
wait_lines "$OUT" 3 10
t_eq "each scan taken while offline says so" "1 2 3" \
	"$(jq -r 'select(.notice == "queued") | .queued' "$OUT" | tr '\n' ' ' | sed 's/ $//')"
t_eq "three scans wait on disk" "3" "$(ls "$Q" | grep -c '\.scan$')"
t_eq "nothing reached the gateway" "0" "$(count_events "$WB1" out_for_delivery)"
mqtt_restart || die "broker did not come back"
wait_match "$T/courier-05.err" 'event=bridge.online' 10
wait_for 30 replies_ge 3
t_eq "broker back: three replies" "3" "$(replies)"
t_eq "in scan order" "$WB1 $WB2 $WB3" "$(jq -r 'select(.status) | .waybill' "$OUT" | tr '\n' ' ' | sed 's/ $//')"
t_eq "the queue is empty" "0" "$(ls "$Q" | grep -c '\.scan$')"
for i in 1 2 3; do
	eval "wb=\$WB$i"
	t_eq "scan $i recorded exactly once" "1" "$(count_events "$wb" out_for_delivery)"
done

# --- 2. kill -9 with a non-empty queue ------------------------------------------
mqtt_stop
wait_match "$T/courier-05.err" 'event=bridge.offline' 10
br_scan "$TOK4"; br_scan "$TOK5"
wait_for 30 queued_ge 2
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
t_eq "killed with two scans queued" "2" "$(ls "$Q" | grep -c '\.scan$')"
br_start courier-05 --event out_for_delivery || die "bridge did not restart"
t_match "the restarted bridge finds them" "$(grep 'event=bridge.start' "$T/courier-05.err" | tail -n1)" 'queued=2'
mqtt_restart || die "broker did not come back"
wait_for 30 replies_ge 5
t_eq "after the restart both are answered" "5" "$(replies)"
for i in 4 5; do
	eval "wb=\$WB$i"
	t_eq "scan $i recorded exactly once" "1" "$(count_events "$wb" out_for_delivery)"
done

# --- 3. kill -9 with a signed scan in flight --------------------------------------
gw_stop                                   # the gateway's session keeps the scan
br_scan "$TOK6"
wait_match "$T/courier-05.err" 'event=bridge.scan.resent' 10  # sent, unanswered, retrying
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
t_eq "killed with the signed scan still queued" "1" "$(ls "$Q" | grep -c '\.scan$')"
gw_start "$D" || die "gateway did not restart"
gw_wait_relay || die "gateway relay"
wait_for 30 events_of_wb6
t_eq "the gateway processed the scan it missed" "1" "$(count_events "$WB6" out_for_delivery)"
br_start courier-05 --event out_for_delivery || die "bridge did not restart"
wait_for 30 replies_ge 6
t_eq "the restarted bridge gets the reply" "6" "$(replies)"
t_eq "... revealed" "revealed $WB6" "$(jq -r 'select(.status) | "\(.status) \(.waybill)"' "$OUT" | tail -n1)"
t_eq "... and the scan was not recorded twice" "1" "$(count_events "$WB6" out_for_delivery)"
seqs=$(jq -r 'select(.status) | .seq' "$OUT" | tr '\n' ' ' | sed 's/ $//')
t_eq "sequence numbers: one per scan, never reused" "1 2 3 4 5 6" "$seqs"

# --- 4. a full queue refuses the new scan -----------------------------------------
mqtt_stop
wait_match "$T/courier-05.err" 'event=bridge.offline' 10
for i in 1 2 3 4 5; do br_scan "$TOK7"; done  # queue_max = 4
wait_match "$OUT" '"reason":"queue_full"' 10
t_eq "the fifth scan is refused as queue_full" "1" "$(grep -c '"reason":"queue_full"' "$OUT")"
t_match "... with a clear message" "$(grep '"queue_full"' "$OUT")" 'nothing was dropped'
t_eq "the four before it wait" "4" "$(ls "$Q" | grep -c '\.scan$')"
mqtt_restart || die "broker did not come back"
wait_for 30 replies_ge 10
t_eq "the four are answered once the broker is back" "10" "$(replies)"
kill -TERM "$BPID"
wait "$BPID"
t_eq "SIGTERM stops the bridge cleanly" "0" "$?"
t_match "... logging what it did" "$(grep 'event=bridge.exit' "$T/courier-05.err" | tail -n1)" 'replies=5 .*waiting=0'
t_eq "no contact details in the log or the state dir" "0" \
	"$(grep -l -a -r -e 13812345678 -e '张三明' "$T/courier-05.err" "$T/courier-05.state" | wc -l)"
t_done
