#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two gateway nodes on one store and one broker (docs/operations.md,
# "Running several nodes"): each `smile-gateway serve` has its own HTTP port
# and MQTT client id, both share the scans through the MQTT v5 shared
# subscription $share/cluster/smile/v1/dev/+/scan.
#
#   (i)   many devices (smile-loadgen): every scan answered exactly once,
#         verified by the device core; both nodes took some
#   (ii)  the same scan delivered to both nodes at once: one tracking event,
#         the device gets the same reply bytes from each
#   (iii) a shipment issued on node A is viewed, tracked and erased on B
#   (iv)  the audit chain verifies after both wrote
#   (v)   one Idempotency-Key sent to A and B concurrently: stored once,
#         both answers name the same shipment
#   and the quota decided across nodes: a device with one reveal left sends
#   two scans that reach different nodes at once; one reveals, the other is
#   quota_exceeded.
#
# The store: SQLite (one data directory, two processes) by default;
# SMILE_CLUSTER_STORE=postgresql runs the same on a private PostgreSQL
# cluster (pg_start) when this build has that backend.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"
LG="$BIN/smile-loadgen"
STORE_KIND=${SMILE_CLUSTER_STORE:-sqlite}

gw_cluster_init "$STORE_KIND" || die "cluster setup failed"
D=$NODE_A
gw_conf_set "$NODE_A" reveal_quota 3
gw_conf_set "$NODE_B" reveal_quota 3
ADMIN=$(cat "$D/admin.key")

gw_cluster_start "$D" || die "node A did not start"
A_URL=$GW_URL A_PID=$GW_PID A_LOG=$GW_LOG
gw_cluster_start "$T/b" || die "node B did not start"
B_URL=$GW_URL B_PID=$GW_PID B_LOG=$GW_LOG
t_match "node A subscribes in the share group, under its own node id" \
	"$(grep -m1 'event=mqtt.connected' "$A_LOG")" "node=node-a share_group=cluster subscribe=0"
t_match "node B too, with its own" \
	"$(grep -m1 'event=mqtt.connected' "$B_LOG")" "node=node-b share_group=cluster subscribe=0"
on() { GW_URL=$1; } # on URL: the next api call goes to that node

# --- (iii) issued on A, viewed, tracked and erased on B ----------------------
on "$A_URL"
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
ship() { # detail -> JSON body
	jq -nc --arg d "$1" '{recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}}, weight_g: 800}'
}
api_json POST /v1/shipments "$KM" "$(ship "3栋2单元1502室")"
t_eq "node A issues a shipment (key made on A)" 201 "$STATUS"
WB=$(jq_get "$BODY" .waybill)
on "$B_URL"
api GET "/v1/shipments/$WB" "$KM"
t_eq "node B shows it, with A's API key" "200 $WB" "$STATUS $(jq_get "$BODY" .waybill)"
api GET "/v1/shipments/$WB/events" "$KM"
t_eq "node B tracks it" "200 created" "$STATUS $(jq_get "$BODY" '[.events[].event] | join(",")')"
api DELETE "/v1/shipments/$WB/personal" "$KM"
t_eq "node B erases it" 200 "$STATUS"
on "$A_URL"
api GET "/v1/shipments/$WB/events" "$KM"
t_eq "node A sees the erasure" "created,erased" "$(jq_get "$BODY" '[.events[].event] | join(",")')"

# --- (v) one Idempotency-Key on both nodes at once ---------------------------
body=$(ship "1号楼101室")
curls=()
for n in 1 2 3 4 5; do
	for u in "$A_URL" "$B_URL"; do
		curl -sS -o "$T/idem.$n.${u##*:}" -w '%{http_code}\n' -X POST "$u/v1/shipments" \
			-H "Authorization: Bearer $KM" -H 'Content-Type: application/json' \
			-H "Idempotency-Key: cluster-$n" --data-binary "$body" >"$T/idem.$n.${u##*:}.code" &
		curls+=($!)
	done
done
wait "${curls[@]}"
same=0 codes=""
for n in 1 2 3 4 5; do
	a=$(jq -r .waybill "$T/idem.$n.${A_URL##*:}") b=$(jq -r .waybill "$T/idem.$n.${B_URL##*:}")
	[ -n "$a" ] && [ "$a" != null ] && [ "$a" = "$b" ] && same=$((same + 1))
	codes="$codes $(cat "$T/idem.$n.${A_URL##*:}.code") $(cat "$T/idem.$n.${B_URL##*:}.code")"
done
t_eq "5 keys, each sent to A and B at once: both answers name one shipment" 5 "$same"
t_nomatch "... no 5xx" "$codes" ' 5[0-9][0-9]'
t_eq "... 5 shipments stored, not 10 (1 before)" 6 "$(count_sql "SELECT count(*) FROM shipments;")"

# --- devices ----------------------------------------------------------------
on "$A_URL"
GW_DATA=$D gw_pubkeys
PW_ARGS=()
scan() { # DEVICE SEQ EVENT TOKEN OUT [devtool args]
	"$DT" scan --key "$T/$1.key" --seq "$2" --event "$3" --token "$4" --out "$5" "${@:6}" ||
		die "devtool scan"
}
opened() { # DEVICE SCAN REPLYFILE -> JSON line
	"$DT" open --key "$T/$1.key" --gw-sign-pk "$GW_SIGN_PK" --gw-box-pk "$GW_BOX_PK" \
		--scan "$2" --reply "$3" 2>/dev/null
}
for d in c1 c2; do
	"$DT" keygen --id "$d" --out "$T/$d.key" >"$T/$d.json" || die "keygen"
	api_json POST /v1/devices "$ADMIN" "$(jq -c '. + {role: "courier"}' "$T/$d.json")"
	[ "$STATUS" = 201 ] || die "enrol $d: $STATUS"
done
issue_tok() {
	api_json POST /v1/shipments "$KM" "$(ship "$1")"
	TOK=$(jq_get "$BODY" .token) SWB=$(jq_get "$BODY" .waybill)
}
nodes_stop() { kill -STOP "$A_PID" "$B_PID"; }
nodes_cont() { kill -CONT "$A_PID" "$B_PID"; }

# --- (ii) the same scan to both nodes at once -------------------------------
issue_tok "5栋501室"
scan c1 1 pickup "$TOK" "$T/s1.bin"
subs=$(mqtt_subs smile/v1/dev/c1/reply)
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -C 2 -W 20 -F '%x' \
	-t smile/v1/dev/c1/reply >"$T/replies.hex" 2>/dev/null &
sub=$!
mqtt_subscribed smile/v1/dev/c1/reply "$subs"
# Both nodes paused: the share group gives the first copy to one and the
# second to the other (round robin); resumed together, they race.
nodes_stop
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t smile/v1/dev/c1/scan -f "$T/s1.bin"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t smile/v1/dev/c1/scan -f "$T/s1.bin"
sleep 0.3
nodes_cont
wait $sub
t_eq "the device gets two replies" 2 "$(grep -c . "$T/replies.hex")"
t_eq "... byte for byte the same" 1 "$(sort -u "$T/replies.hex" | grep -c .)"
head -1 "$T/replies.hex" | xxd -r -p >"$T/r1.bin"
t_match "... a recorded pickup" "$(opened c1 "$T/s1.bin" "$T/r1.bin")" '"status":"recorded","reason":"ok"'
t_eq "one tracking event for the two deliveries" 1 \
	"$(count_sql "SELECT count(*) FROM events WHERE waybill = '$SWB' AND event = 'pickup';")"

# --- the quota across nodes -------------------------------------------------
# c2 has reveal_quota 3: two reveals spent, then two scans at once (a
# harvester with the device's keys does not wait for replies), one per
# node, both decided before either commits: decided as if one after the
# other. Which commits first is the race's: if seq 4 does, seq 3 is a
# replay (7.3); if seq 3 does, seq 4 finds the quota reached.
issue_tok "6栋601室"
QTOK=$TOK
for s in 1 2; do
	scan c2 "$s" out_for_delivery "$QTOK" "$T/q$s.bin"
	subs=$(mqtt_subs smile/v1/dev/c2/reply)
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -N -C 1 -W 20 -t smile/v1/dev/c2/reply \
		>"$T/qr$s.bin" 2>/dev/null &
	sub=$!
	mqtt_subscribed smile/v1/dev/c2/reply "$subs"
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t smile/v1/dev/c2/scan -f "$T/q$s.bin"
	wait $sub
done
t_match "two reveals spent" "$(opened c2 "$T/q2.bin" "$T/qr2.bin")" '"status":"revealed"'
scan c2 3 out_for_delivery "$QTOK" "$T/q3.bin"
scan c2 4 delivery_failed "$QTOK" "$T/q4.bin"
subs=$(mqtt_subs smile/v1/dev/c2/reply)
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -C 2 -W 20 -F '%x' \
	-t smile/v1/dev/c2/reply >"$T/qreplies.hex" 2>/dev/null &
sub=$!
mqtt_subscribed smile/v1/dev/c2/reply "$subs"
nodes_stop
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t smile/v1/dev/c2/scan -f "$T/q3.bin"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t smile/v1/dev/c2/scan -f "$T/q4.bin"
sleep 0.3
nodes_cont
wait $sub
outcomes=""
while IFS= read -r hex; do
	printf '%s' "$hex" | xxd -r -p >"$T/qx.bin"
	for s in 3 4; do
		o=$(opened c2 "$T/q$s.bin" "$T/qx.bin") && outcomes="$outcomes $(jq -r '.status + "/" + .reason' <<<"$o")"
	done
done <"$T/qreplies.hex"
outcomes=$(tr ' ' '\n' <<<"$outcomes" | grep . | sort | tr '\n' ' ' | sed 's/ $//')
echo "# the two last scans: $outcomes"
t_match "the last reveal goes to one scan, the other is denied (quota or replay)" \
	"$outcomes" '^denied/(quota_exceeded|replay) revealed/ok$'
t_eq "... three reveals audited, not four" 3 \
	"$(count_sql "SELECT count(*) FROM audit WHERE kind = 'reveal' AND actor = 'c2';")"
on "$B_URL"
api GET /v1/devices "$ADMIN"
want=active
[[ "$outcomes" == *quota_exceeded* ]] && want=suspended
t_eq "... and c2 is $want, on either node" "$want" \
	"$(jq_get "$BODY" '.devices[] | select(.id == "c2") | .status')"

# --- (i) many devices, both nodes -------------------------------------------
on "$A_URL"
gw_batch_tokens "$KM" 40 lg "$T/tokens.txt" || die "batch"
gw_loadgen_enrol cl 40 || die "loadgen enrol"
scans_of() { curl -s "$1/metrics" | awk '$1 == "smile_scans_total" {print $2}'; }
a0=$(scans_of "$A_URL") b0=$(scans_of "$B_URL")
"$LG" run --port "$MQTT_PORT" --gateway-sign-pk "$GW_SIGN_PK" --gateway-box-pk "$GW_BOX_PK" \
	--seed cl --devices 40 --connections 2 --event pickup --tokens "$T/tokens.txt" \
	--duration 3 >"$T/run.out" 2>&1
t_eq "smile-loadgen, 40 devices for 3 s against two nodes, exits 0" 0 $?
r=$(grep '^result ' "$T/run.out")
echo "# $r"
t_match "every scan answered once, verified: none bad, lost or duplicated" "$r" \
	' answered=([1-9][0-9]*) accepted=\1 .* bad=0 lost=0 duplicated=0 stray=0 '
accepted=$(printf '%s\n' "$r" | tr ' ' '\n' | sed -n 's/^accepted=//p')
a1=$(scans_of "$A_URL") b1=$(scans_of "$B_URL")
echo "# node A took $((a1 - a0)) scans, node B $((b1 - b0))"
t_ok "both nodes took scans" test $((a1 - a0)) -gt 0 -a $((b1 - b0)) -gt 0
t_eq "... together exactly the scans sent" "$accepted" $((a1 - a0 + b1 - b0))
t_eq "one event per accepted scan" "$accepted" \
	"$(count_sql "SELECT count(*) FROM events WHERE device_id LIKE 'lg-%';")"
t_eq "MQTT client ids: one session per node" "2" \
	"$(grep -oE 'smile-gateway-node-[ab]' "$MQTT_DIR/mosquitto.log" | sort -u | wc -l)"

# --- (iv) the audit chain after both wrote -----------------------------------
kill -TERM "$A_PID" "$B_PID"
wait "$A_PID" "$B_PID" 2>/dev/null
"$GW" audit verify --data "$D" >"$T/verify.out" 2>&1
t_eq "audit verify passes after both nodes wrote" 0 $?
t_match "... over every entry" "$(cat "$T/verify.out")" '[0-9]+'
t_done
