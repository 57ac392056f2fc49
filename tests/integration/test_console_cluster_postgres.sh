#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The console's server side on two nodes over one PostgreSQL store
# (docs/console.md): a session made on node A works on node B (and signing
# out on B ends it on A), and a live event stream on node B sees a scan that
# node A decided - B runs without the relay, so only A can decide it and
# only the store can carry it to B.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

gw_cluster_init postgresql || die "cluster setup failed"
gw_conf_set "$NODE_B" mqtt_host ""
gw_conf_set "$NODE_A" log_level debug # scan.decided
gw_conf_set "$NODE_B" log_level debug
ADMIN=$(cat "$NODE_A/admin.key")

gw_cluster_start "$NODE_A" || die "node A did not start"
A_URL=$GW_URL A_LOG=$GW_LOG
gw_start "$NODE_B" || die "node B did not start"
B_URL=$GW_URL B_LOG=$GW_LOG
t_match "node B runs without the relay" "$(grep -m1 'event=http.listening' "$B_LOG")" 'relay=0'
GW_URL=$A_URL
gw_pubkeys

api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)

# sign in on A
curl -sS -c "$T/jar" -o "$T/signin.json" -H 'Content-Type: application/json' \
	--data-binary "$(jq -nc --arg k "$KM" '{api_key: $k}')" "$A_URL/console/api/session"
CSRF=$(jq -r .csrf_token "$T/signin.json")
t_match "node A signs in" "$CSRF" '^[A-Za-z0-9_-]{43}$'
t_eq "the session is a row in PostgreSQL" "1" "$(psql_smile 'SELECT count(*) FROM console_sessions')"

# use on B
code() { curl -sS -o "$T/out" -w '%{http_code}' "$@"; }
t_eq "node B answers A's session" "200" "$(code -b "$T/jar" "$B_URL/console/api/session")"
t_eq "... with the same CSRF token" "$CSRF" "$(jq -r .csrf_token "$T/out")"
t_eq "node B issues with A's session and token" "201" \
	"$(code -b "$T/jar" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
		--data-binary "$(jq -nc '{recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: "3栋2单元1502室"}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}}, merchant_ref: "c-1", weight_g: 800}')" \
		"$B_URL/v1/shipments")"
WB=$(jq -r .waybill "$T/out")
TOK=$(jq -r .token "$T/out")
t_eq "node B refuses it without the token" "403" \
	"$(code -b "$T/jar" -X POST -H 'Content-Type: application/json' --data-binary '{}' "$B_URL/v1/shipments")"

# a stream on B, a scan decided on A
"$DT" keygen --id hub1 --out "$T/hub1.key" >"$T/hub1.json" || die "keygen"
api_json POST /v1/devices "$ADMIN" "$(jq -c '. + {role: "hub"}' "$T/hub1.json")"
[ "$STATUS" = 201 ] || die "enrol: $STATUS $BODY"
curl -sN -b "$T/jar" "$B_URL/v1/events/stream" >"$T/sse" 2>/dev/null &
SSE=$!
at_exit "kill $SSE 2>/dev/null"
wait_for 15 grep -q 'retry:' "$T/sse" || die "stream on B did not open"
"$DT" scan --key "$T/hub1.key" --seq 1 --event hub_in --token "$TOK" --out "$T/s1.bin" || die "scan"
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -t smile/v1/dev/hub1/scan -f "$T/s1.bin"
got_scan() { grep -q '"event":"hub_in"' "$T/sse"; }
wait_for 15 got_scan
t_ok "node B's stream sees the scan" got_scan
t_ok "... which node A decided" grep -q 'event=scan.decided' "$A_LOG"
t_fails "... and node B did not (no relay)" grep -q 'event=scan\.' "$B_LOG"
t_eq "... the shipment's waybill" "$WB" "$(grep '^data: ' "$T/sse" | grep hub_in | head -1 | sed 's/^data: //' | jq -r .waybill)"

# sign out on B: gone on A
t_eq "a search that is not UTF-8 is 400 on PostgreSQL too (not a store error)" "400" \
	"$(code -b "$T/jar" "$B_URL/v1/shipments?q=%FF%FE")"
t_eq "sign-out on B" "200" "$(code -b "$T/jar" -X DELETE -H "X-CSRF-Token: $CSRF" "$B_URL/console/api/session")"
t_eq "node A refuses the old cookie at once" "401" "$(code -b "$T/jar" "$A_URL/v1/shipments")"
t_eq "... no row left" "0" "$(psql_smile 'SELECT count(*) FROM console_sessions')"
t_done
