#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Webhooks from two gateway nodes on one PostgreSQL store (pg_start):
#   - both nodes deliver the same outbox: every event reaches the receiver
#     exactly once while nobody dies (a row is claimed under the store's
#     write lock, with a lease);
#   - node A is killed with -9 while its request is at the receiver: node B
#     (started after A died) sends that event again once A's lease runs out
#     (at least once: the receiver deduplicates by event_id), and the events
#     issued meanwhile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

pg_start || die "postgres did not start"
D="$T/a"
SMILE_STORE=$PG_URL gw_init "$D" || die "init failed"
gw_conf_set "$D" webhook_allow_private "127.0.0.0/8"
gw_conf_set "$D" webhook_allow_http 1
gw_conf_set "$D" webhook_retry_base_ms 300
gw_conf_set "$D" webhook_retry_max_ms 1000
gw_conf_set "$D" webhook_timeout_ms 4000
gw_conf_set "$D" webhook_poll_ms 100
gw_conf_set "$D" log_level debug
mkdir -m 700 "$T/b"
cp -a "$D/keys" "$D/admin.key" "$D/gateway.conf" "$T/b/"
gw_conf_set "$D" node_id node-a
gw_conf_set "$T/b" node_id node-b
ADMIN=$(cat "$D/admin.key")

RX="$T/rx"
mkdir -p "$RX"
RP=$(free_port) || die "no port"
python3 "$(dirname "$0")/webhook_receiver.py" "$RP" "$RX" 2>"$T/receiver.err" &
at_exit "kill $!"
wait_port "$RP" 5 || die "receiver did not start"

gw_start "$D" || die "node A did not start"
A_URL=$GW_URL A_PID=$GW_PID A_LOG=$GW_LOG
gw_start "$T/b" || die "node B did not start"
B_URL=$GW_URL B_PID=$GW_PID B_LOG=$GW_LOG
on() { GW_URL=$1; }

on "$A_URL"
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
api_json POST /v1/webhooks "$KM" "{\"url\":\"http://127.0.0.1:$RP/hook\"}"
t_eq "registered on node A" 201 "$STATUS"
jq_get "$BODY" .secret >"$RX/hook.secret"
WH=$(jq_get "$BODY" .id)
ship='{"recipient":{"name":"张三明","phone":"13812345678","address":{"country":"CN","province":"湖北省","city":"武汉市","district":"江汉区","street":"建设大道568号","detail":"3栋"}},"sender":{"name":"王小二","phone":"027-85699449","address":{"country":"CN","province":"湖北省","city":"武汉市","street":"泛海","detail":"7栋"}},"weight_g":800}'

lines() { [ -f "$RX/hook.log" ] && wc -l <"$RX/hook.log" || echo 0; }
unique() { [ -f "$RX/hook.log" ] && jq -r 'select(.verified) | .event_id' "$RX/hook.log" | sort -u | wc -l || echo 0; }

# --- two nodes, one outbox ---------------------------------------------------
for i in $(seq 1 20); do
	on "$([ $((i % 2)) = 0 ] && echo "$A_URL" || echo "$B_URL")"
	api_json POST /v1/shipments "$KM" "$ship"
	[ "$STATUS" = 201 ] || die "issue $i: $STATUS"
done
all20() { [ "$(unique)" -ge 20 ]; }
wait_for 60 all20
sleep 1
t_eq "20 events issued on both nodes: each delivered" "20" "$(unique)"
t_eq "... exactly once (nobody died)" "20" "$(lines)"
t_eq "... every signature verifies" "0" "$(jq -r 'select(.verified | not)' "$RX/hook.log" | wc -l)"
echo "# deliveries by node A: $(grep -c 'event=webhook.delivered' "$A_LOG"), by node B: $(grep -c 'event=webhook.delivered' "$B_LOG")"

# --- node A dies mid-request -----------------------------------------------------
GW_PID=$B_PID gw_stop # B stops (cleanly) so that A claims the next row
echo "sleep 2" >"$RX/hook.mode"
on "$A_URL"
api_json POST /v1/shipments "$KM" "$ship"
WB=$(jq_get "$BODY" .waybill)
sent21() { [ "$(wc -l <"$RX/hook.arrivals")" -ge 21 ]; }
wait_for 30 sent21 || die "A did not send"
EID=$(tail -1 "$RX/hook.arrivals")
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
T0=$(date +%s%N)
echo "ok" >"$RX/hook.mode"
gw_start "$T/b" || die "node B did not restart"
B_URL=$GW_URL B_LOG=$GW_LOG
on "$B_URL"
api_json POST /v1/shipments "$KM" "$ship" # issued while A is dead
WB2=$(jq_get "$BODY" .waybill)
twice() { [ "$(grep -c "\"$EID\"" "$RX/hook.log")" -ge 2 ]; }
wait_for 60 twice
T1=$(date +%s%N)
t_eq "the event node A was sending when it died reached the receiver twice" "2" \
	"$(grep -c "\"$EID\"" "$RX/hook.log")"
t_eq "... node B sent it again, once A's lease ran out: exactly once after dedup" "1" \
	"$(jq -r "select(.event_id == \"$EID\" and .verified) | .event_id" "$RX/hook.log" | sort -u | wc -l)"
t_ok "... B logged the delivery" grep -q 'event=webhook.delivered' "$B_LOG"
echo "# taken over $(((T1 - T0) / 1000000)) ms after the kill (lease: webhook_timeout_ms + 5 s)"
wait_for 30 grep -q "\"$WB2\"" "$RX/hook.log"
t_eq "the event issued while A was dead was delivered by B" "1" \
	"$(jq -r "select(.waybill == \"$WB2\") | .event_id" "$RX/hook.log" | sort -u | wc -l)"
# the receiver logs a request before it answers, and the node records the
# answer (and releases the lease) after that: wait for the last one
all_recorded() {
	api GET "/v1/webhooks/$WH/deliveries?limit=1000" "$KM"
	[ "$(jq_get "$BODY" '[.deliveries[] | select(.state == "delivered")] | length')" = 22 ] &&
		[ "$(psql_smile "SELECT count(*) FROM webhook_outbox WHERE lease_until > 0")" = 0 ]
}
wait_for 30 all_recorded
api GET "/v1/webhooks/$WH/deliveries?limit=1000" "$KM"
t_eq "every delivery is delivered" "22 22" \
	"$(jq_get "$BODY" '.deliveries | length') $(jq_get "$BODY" '[.deliveries[] | select(.state == "delivered")] | length')"
t_eq "the store's outbox has no row left leased" "0" \
	"$(psql_smile "SELECT count(*) FROM webhook_outbox WHERE lease_until > 0")"
t_done
