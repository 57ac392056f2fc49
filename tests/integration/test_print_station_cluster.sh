#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Print jobs on two gateway nodes sharing one store and one broker
# (docs/operations.md "Running several nodes", docs/print-station.md): the
# node that takes the POST publishes the job; the station's reports reach
# one node through the shared subscription $share/cluster/.../jobstatus
# (each applied once); the job's state is in the store, so the other node
# answers GET; "printed once" holds across nodes (a second print on the
# other node is refused); and with the publishing node gone, the other
# takes and prints new jobs, and learns they printed even though the broker
# keeps giving the dead node its share of the reports (the station resends).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
. "$(dirname "$0")/printer.sh"
PRINT="$BIN/smile-print"

mqtt_start || die "mosquitto did not start"
D="$T/a"
gw_init "$D" || die "init failed"
gw_conf_set "$D" store "sqlite:$D/store.db"
gw_conf_set "$D" mqtt_host 127.0.0.1
gw_conf_set "$D" mqtt_port "$MQTT_PORT"
gw_conf_set "$D" mqtt_share_group cluster
mkdir -m 700 "$T/b"
cp -a "$D/keys" "$D/admin.key" "$D/mqtt.password" "$D/gateway.conf" "$T/b/"
gw_conf_set "$D" node_id node-a
gw_conf_set "$T/b" node_id node-b
ADMIN=$(cat "$D/admin.key")
gw_start "$D" || die "node A did not start"
A_URL=$GW_URL A_PID=$GW_PID A_LOG=$GW_LOG
gw_start "$T/b" || die "node B did not start"
B_URL=$GW_URL B_PID=$GW_PID B_LOG=$GW_LOG
# both nodes connected before anything is published (node B's publication
# is checked below); 5 s unchecked was short for two sanitizer gateways
both_connected() { grep -q 'event=mqtt.connected' "$A_LOG" && grep -q 'event=mqtt.connected' "$B_LOG"; }
wait_for 30 both_connected || die "the nodes did not connect to the broker"
on() { GW_URL=$1; } # the next api call goes to that node

# the station, enrolled on A
on "$A_URL"
"$PRINT" keygen --id station-1 --out "$T/station.key" >"$T/station.json" || die "keygen"
api_json POST /v1/devices "$ADMIN" "$(jq -c '. + {role: "print_station"}' "$T/station.json")"
[ "$STATUS" = 201 ] || die "enrolment: $STATUS $BODY"
api GET /v1/gateway "$ADMIN"
zebra_start || die "zebra_sim.py did not start"
mkdir -p "$T/station"
cat >"$T/station/smile-print.conf" <<EOF
key_file = ../station.key
state_dir = state
gateway_sign_pk = $(jq_get "$BODY" .sign_pk)
gateway_box_pk = $(jq_get "$BODY" .box_pk)
printer = socket://127.0.0.1:$ZEBRA_PORT
mqtt_host = 127.0.0.1
mqtt_port = $MQTT_PORT
printer_retry_ms = 200
status_resend_s = 1
EOF
"$PRINT" run --config "$T/station/smile-print.conf" 2>"$T/station/agent.log" &
at_exit "kill -9 $! 2>/dev/null"
wait_for 30 grep -q 'event=print.mqtt.connected' "$T/station/agent.log" ||
	die "smile-print did not connect"

api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
issue() {
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{recipient: {name: "张三明",
	  phone: "13812345678", address: {country: "CN", province: "湖北省", city: "武汉市",
	  district: "江汉区", street: "建设大道568号", detail: $d}}, sender: {name: "王小二",
	  phone: "027-85699449", address: {country: "CN", province: "湖北省", city: "武汉市",
	  street: "泛海国际SOHO城"}}, weight_g: 800}')"
	WB=$(jq_get "$BODY" .waybill)
}
issue "1号楼"; W1=$WB
issue "2号楼"; W2=$WB
# wait_printed URL JOB
wait_printed() {
	local i
	on "$1"
	for i in $(seq 1 300); do
		api GET "/v1/print-jobs/$2" "$KM"
		[ "$(jq_get "$BODY" .state)" = printed ] && return 0
		sleep 0.1
	done
	return 1
}

on "$B_URL"
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W1\"],\"station\":\"station-1\"}"
J1=$(jq_get "$BODY" '.jobs[0].id')
t_eq "node B takes the POST" 201 "$STATUS"
t_eq "... and publishes the job itself" 1 "$(grep -c "event=print.queued job=$J1 .*published=1" "$B_LOG")"
t_ok "node A answers GET: printed" wait_printed "$A_URL" "$J1"
t_eq "the printed report was applied once, by one node" 1 \
	"$(cat "$A_LOG" "$B_LOG" | grep -c "event=print.status job=$J1 .*state=printed")"
t_eq "one label at the printer" 1 "$(grep -l -- "$W1" "$ZEBRA_DIR"/label-*.zpl | wc -l)"
on "$A_URL"
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W1\"],\"station\":\"station-1\"}"
t_eq "a second print on the other node is refused too" 409 "$STATUS"

kill -TERM "$B_PID"; wait "$B_PID" 2>/dev/null
on "$A_URL"
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W2\"],\"station\":\"station-1\"}"
J2=$(jq_get "$BODY" '.jobs[0].id')
t_ok "with node B gone, node A takes and prints a new job" wait_printed "$A_URL" "$J2"
t_eq "... once" 1 "$(grep -l -- "$W2" "$ZEBRA_DIR"/label-*.zpl | wc -l)"
"$GW" audit verify --data "$D" >/dev/null 2>&1
t_eq "the audit chain verifies" 0 "$?"
t_done
