#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Signed webhooks (docs/webhooks.md) end to end: a real gateway with its
# relay and broker, real scans from smile-devtool, and a receiver
# (webhook_receiver.py) that verifies every Smile-Signature and records every
# request. Endpoints: one that answers 200, one that fails twice first, one
# that hangs, one that answers 410, one filtered to "delivered". Then a
# gateway killed with -9 while deliveries are owed, redelivery, pause,
# delete, merchant scoping, the address rule (at registration and at
# connection time) and no personal data in any body.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
RX="$T/rx"
mkdir -p "$RX"
gw_init "$D" || die "init failed"
gw_conf_set "$D" webhook_allow_private "127.0.0.0/8,::1/128"
gw_conf_set "$D" webhook_allow_http 1
gw_conf_set "$D" webhook_retry_base_ms 300
gw_conf_set "$D" webhook_retry_max_ms 1000
gw_conf_set "$D" webhook_connect_timeout_ms 1000
gw_conf_set "$D" webhook_timeout_ms 1500
gw_conf_set "$D" webhook_poll_ms 100
gw_conf_set "$D" webhook_retry_for_s 60
gw_relay_setup "$D" || die "broker did not start"
gw_start "$D" || die "gateway did not start"
gw_wait_relay || die "gateway did not connect to the broker"
gw_pubkeys
ADMIN=$(cat "$D/admin.key")

RP=$(free_port) || die "no port"
python3 "$(dirname "$0")/webhook_receiver.py" "$RP" "$RX" 2>"$T/receiver.err" &
at_exit "kill $!"
wait_port "$RP" 5 || die "receiver did not start"
RURL="http://127.0.0.1:$RP"

api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"other"}'
KO=$(jq_get "$BODY" .key)

# register NAME [EVENTS-JSON] -> WH_NAME, secret into the receiver's file
register() {
	local name=$1 events=${2:-'"*"'}
	api_json POST /v1/webhooks "$KM" "{\"url\":\"$RURL/$name\",\"events\":$events}"
	[ "$STATUS" = 201 ] || die "register $name: $STATUS $BODY"
	jq_get "$BODY" .secret >"$RX/$name.secret"
	printf -v "WH_$name" '%s' "$(jq_get "$BODY" .id)"
}
echo "fail 2" >"$RX/flaky.mode"
echo "hang" >"$RX/hang.mode"
echo "gone" >"$RX/gone.mode"
register good
t_match "the secret is shown at creation" "$(cat "$RX/good.secret")" '^whsec_[A-Za-z0-9_-]{43}$'
t_eq "... and an endpoint id" "wh_" "${WH_good:0:3}"
register flaky
register hang
register gone
register deliv '["delivered"]'
api GET "/v1/webhooks/$WH_good" "$KM"
t_eq "the secret is never shown again" "200 null" "$STATUS $(jq_get "$BODY" .secret)"
t_nomatch "... not in the listing either" "$(api GET /v1/webhooks "$KM"; echo "$BODY")" 'whsec_'
api GET /v1/webhooks "$KM"
t_eq "the merchant lists its 5 endpoints" "5" "$(jq_get "$BODY" '.webhooks | length')"
t_eq "... the filter as given" '["delivered"]' "$(jq_get "$BODY" "[.webhooks[] | select(.id == \"$WH_deliv\") | .events[]] | tojson")"

# --- events: issue, scan ----------------------------------------------------
for d in hub1 courier1; do
	"$DT" keygen --id "$d" --out "$T/$d.key" >"$T/$d.json" || die "keygen $d"
done
gw_enrol hub "$T/hub1.json" || die "enrol hub1"
gw_enrol courier "$T/courier1.json" || die "enrol courier1"
issue() { # detail -> WB, TOKEN
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "order-7", weight_g: 800}')"
	[ "$STATUS" = 201 ] || die "issue: $STATUS $BODY"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
}
scan() {
	"$DT" scan --key "$T/$1.key" --seq "$2" --event "$3" --token "$4" --out "$T/scan.bin" || return 1
	gw_send "$1" "$T/scan.bin"
}
T0=$(date +%s%N)
issue "3栋2单元1502室"; WB1=$WB; TOK1=$TOKEN
issue "1号楼101室"; WB2=$WB
scan hub1 1 hub_in "$TOK1"
scan courier1 1 out_for_delivery "$TOK1"
t_eq "the courier got the contact (a revealing scan)" "revealed" "$(jq_get "$REPLY" .status)"
scan courier1 2 delivered "$TOK1"

# unique NAME: distinct verified event ids received; lines NAME: requests
unique() { [ -f "$RX/$1.log" ] && jq -r 'select(.verified) | .event_id' "$RX/$1.log" | sort -u | wc -l || echo 0; }
lines() { [ -f "$RX/$1.log" ] && wc -l <"$RX/$1.log" || echo 0; }
has() { [ "$(unique "$1")" -ge "$2" ]; }
wait_for 30 has good 5
T1=$(date +%s%N)
t_eq "the good endpoint got all 5 events (2 issued, 3 scans)" "5" "$(unique good)"
t_eq "... each once" "5" "$(lines good)"
t_eq "... every signature verifies (HMAC, timestamp within 5 min)" "0" \
	"$(jq -r 'select(.verified | not)' "$RX/good.log" | wc -l)"
t_eq "... Smile-Event-Id is the body's event_id" "0" \
	"$(jq -r 'select(.header_event_id != .event_id)' "$RX/good.log" | wc -l)"
t_eq "... in order per waybill" "created hub_in out_for_delivery delivered" \
	"$(jq -r "select(.waybill == \"$WB1\") | .event" "$RX/good.log" | tr '\n' ' ' | sed 's/ $//')"
t_eq "... the merchant event object, nothing more" \
	'["device_role","event","event_id","merchant_ref","recorded_ms","source","time","time_ms","type","v","waybill"]' \
	"$(jq -c "select(.event == \"out_for_delivery\") | .body | fromjson | keys" "$RX/good.log")"
echo "# good endpoint: all 5 received $(((T1 - T0) / 1000000)) ms after the first issue (scans included), beside a hanging one"
api GET "/v1/webhooks/$WH_hang/deliveries" "$KM"
t_ok "while the hanging endpoint still owes most of them" \
	test "$(jq_get "$BODY" '[.deliveries[] | select(.state == "pending")] | length')" -ge 3

wait_for 45 has flaky 5
t_eq "the endpoint failing twice first got all 5 too" "5" "$(unique flaky)"
t_eq "... after 2 refused requests" "7" "$(lines flaky)"
t_eq "... every one signed" "0" "$(jq -r 'select(.verified | not)' "$RX/flaky.log" | wc -l)"
# the receiver logs a request before it answers, and the gateway records the
# answer after that: wait for the last one to be recorded
flaky_recorded() {
	api GET "/v1/webhooks/$WH_flaky/deliveries" "$KM"
	[ "$(jq_get "$BODY" '[.deliveries[] | select(.state == "delivered")] | length')" = 5 ]
}
wait_for 30 flaky_recorded
api GET "/v1/webhooks/$WH_flaky/deliveries" "$KM"
t_eq "its deliveries show the attempts: 7 for 5 events, each ending in 200" "7 200" \
	"$(jq_get "$BODY" '"\([.deliveries[].attempts] | add) \([.deliveries[].last_status] | unique | join(","))"')"
t_eq "... the first one retried after a 500" "true" "$(jq_get "$BODY" '.deliveries[0].attempts >= 2')"
t_eq "... all delivered" "5" "$(jq_get "$BODY" '[.deliveries[] | select(.state == "delivered")] | length')"

wait_for 30 has deliv 1
t_eq "the filtered endpoint got the delivered event only" "delivered" \
	"$(jq -r .event "$RX/deliv.log" | tr '\n' ' ' | sed 's/ $//')"

t_eq "the 410 endpoint was asked once" "1" "$(lines gone)"
api GET "/v1/webhooks/$WH_gone" "$KM"
t_eq "... and is disabled" "disabled" "$(jq_get "$BODY" .status)"
api GET "/v1/webhooks/$WH_gone/deliveries" "$KM"
t_eq "... its first delivery dead-lettered as gone" "dead gone 410" \
	"$(jq_get "$BODY" '.deliveries[0] | "\(.state) \(.last_error) \(.last_status)"')"

hang_cut() { api GET "/v1/webhooks/$WH_hang/deliveries" "$KM"; [[ $BODY == *'"timeout"'* ]]; }
wait_for 30 hang_cut
api GET "/v1/webhooks/$WH_hang/deliveries" "$KM"
t_eq "the hanging endpoint is cut at the timeout, to be retried" "pending timeout" \
	"$(jq_get "$BODY" '.deliveries[0] | "\(.state) \(.last_error)"')"
t_ok "... not before it (1.5 s)" grep -qE 'event=webhook.failed .*error=timeout .*ms=(1[5-9][0-9]{2}|[2-9][0-9]{3}|[0-9]{5,})([^0-9]|$)' "$GW_LOG"

# --- no personal data --------------------------------------------------------
cat "$RX"/*.log >"$T/all-bodies"
t_ok "bodies were captured" test -s "$T/all-bodies"
for pii in 张三明 13812345678 建设大道 1502室 王小二 85699449 泛海; do
	t_fails "no body carries '$pii'" grep -q "$pii" "$T/all-bodies"
done

# --- test event --------------------------------------------------------------
api POST "/v1/webhooks/$WH_good/test" "$KM"
t_eq "a test event is sent and answered" "200 true 200" \
	"$STATUS $(jq_get "$BODY" .delivered) $(jq_get "$BODY" .status)"
t_eq "... signed, received as type test" "true" \
	"$(jq -r "select(.event_id == \"$(jq_get "$BODY" .event_id)\") | .verified" "$RX/good.log")"

# --- Node verifies the same way (docs/webhooks.md) -------------------------
if command -v node >/dev/null; then
	jq -r 'select(.event == "delivered") | .body' "$RX/good.log" | head -c -1 >"$T/body.json"
	SECRET=$(cat "$RX/good.secret")
	TS=$(date +%s)
	SIG=$(python3 -c 'import hmac,hashlib,sys; b=open(sys.argv[3],"rb").read(); print("t=%s,v1=%s"%(sys.argv[2],hmac.new(sys.argv[1].encode(),sys.argv[2].encode()+b"."+b,hashlib.sha256).hexdigest()))' "$SECRET" "$TS" "$T/body.json")
	t_eq "Node's verifier from docs/webhooks.md accepts a signature" "ok" \
		"$(SECRET="$SECRET" SIG="$SIG" node -e "$(sed -n '/^\/\/ verify.js/,/^\/\/ end/p' "$(dirname "$0")/../../docs/webhooks.md")
process.stdout.write(verify(process.env.SECRET, process.env.SIG, require('fs').readFileSync('$T/body.json')) ? 'ok' : 'bad')")"
	t_eq "... and refuses a changed body" "bad" \
		"$(SECRET="$SECRET" SIG="$SIG" node -e "$(sed -n '/^\/\/ verify.js/,/^\/\/ end/p' "$(dirname "$0")/../../docs/webhooks.md")
process.stdout.write(verify(process.env.SECRET, process.env.SIG, Buffer.from('{}')) ? 'ok' : 'bad')")"
else
	t_skip "Node's verifier" "node is not installed"
	t_skip "... and refuses a changed body" "node is not installed"
fi

# --- a gateway killed with -9 while deliveries are owed ----------------------
echo "status 503" >"$RX/good.mode"
issue "5栋501室"; WB3=$WB
wait_for 30 grep -q "\"$WB3\"" "$RX/good.log"
t_eq "the endpoint refuses the new event for now" "503" \
	"$(jq -r "select(.waybill == \"$WB3\") | .answered" "$RX/good.log" | head -1)"
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
echo "ok" >"$RX/good.mode"
gw_start "$D" || die "gateway did not restart"
wait_for 45 grep -q "\"$WB3\".*\"answered\": 200" "$RX/good.log"
t_eq "after the restart the owed event is delivered" "1" \
	"$(jq -r "select(.waybill == \"$WB3\" and .answered == 200) | .event_id" "$RX/good.log" | sort -u | wc -l)"
t_eq "... the good endpoint now holds 6 distinct events" "6" \
	"$(jq -r 'select(.type == "event" and .verified) | .event_id' "$RX/good.log" | sort -u | wc -l)"
wait_for 45 has flaky 6
t_eq "... the flaky one too, each exactly once after dedup" "6" "$(unique flaky)"

# --- redeliver ---------------------------------------------------------------
api GET "/v1/webhooks/$WH_good/deliveries?limit=1" "$KM"
DID=$(jq_get "$BODY" '.deliveries[0].id')
EID=$(jq_get "$BODY" '.deliveries[0].event_id')
t_ok "the listing pages (X-Next-After)" grep -qi '^X-Next-After: ' "$T/headers"
n0=$(grep -c "\"$EID\"" "$RX/good.log")
api POST "/v1/webhooks/$WH_good/deliveries/$DID/redeliver" "$KM"
t_eq "redeliver is accepted" "202 pending" "$STATUS $(jq_get "$BODY" .state)"
seen() { [ "$(grep -c "\"$EID\"" "$RX/good.log")" -gt "$n0" ]; }
wait_for 30 seen
t_eq "... the same event comes again, with the same event_id" "$((n0 + 1))" "$(grep -c "\"$EID\"" "$RX/good.log")"
t_eq "... and identical bytes" "1" "$(jq -r "select(.event_id == \"$EID\") | .body" "$RX/good.log" | sort -u | wc -l)"
api POST "/v1/webhooks/$WH_good/deliveries/999999/redeliver" "$KM"
t_eq "redelivering an unknown delivery is 404" "404 delivery" "$STATUS $(jq_get "$BODY" .error.field)"

# --- pause, resume, delete -----------------------------------------------------
api POST "/v1/webhooks/$WH_good/pause" "$KM"
t_eq "pause" "200 paused" "$STATUS $(jq_get "$BODY" .status)"
n0=$(lines good)
issue "9栋"; WB4=$WB
wait_for 30 grep -q "\"$WB4\"" "$RX/flaky.log"
sleep 0.5
t_eq "a paused endpoint gets nothing (while the others do)" "$n0" "$(lines good)"
api GET "/v1/webhooks/$WH_good/deliveries?limit=1000" "$KM"
t_eq "... nothing is queued for it" "0" "$(jq_get "$BODY" "[.deliveries[] | select(.waybill == \"$WB4\")] | length")"
api POST "/v1/webhooks/$WH_good/resume" "$KM"
t_eq "resume" "200 active" "$STATUS $(jq_get "$BODY" .status)"
api DELETE "/v1/webhooks/$WH_flaky" "$KM"
t_eq "delete" "200 true" "$STATUS $(jq_get "$BODY" .deleted)"
api GET "/v1/webhooks/$WH_flaky" "$KM"
t_eq "... then it is gone" "404" "$STATUS"
api GET "/v1/webhooks/$WH_flaky/deliveries" "$KM"
t_eq "... with its deliveries" "404" "$STATUS"

# --- merchants see their own -----------------------------------------------------
api GET /v1/webhooks "$KO"
t_eq "another merchant lists none of them" "200 0" "$STATUS $(jq_get "$BODY" '.webhooks | length')"
for p in "GET /v1/webhooks/$WH_good" "GET /v1/webhooks/$WH_good/deliveries" \
	"POST /v1/webhooks/$WH_good/test" "POST /v1/webhooks/$WH_good/pause" \
	"DELETE /v1/webhooks/$WH_good" "POST /v1/webhooks/$WH_good/deliveries/$DID/redeliver"; do
	api ${p% *} "${p#* }" "$KO"
	t_eq "another merchant: $p is 404" "404" "$STATUS"
done
api_json POST /v1/webhooks "$KO" "{\"url\":\"$RURL/x\",\"merchant\":\"ziyun\"}"
t_eq "... and cannot register for it" "403" "$STATUS"
api GET /v1/webhooks "$ADMIN"
t_eq "admin sees every endpoint" "4" "$(jq_get "$BODY" '.webhooks | length')"
api_json POST /v1/webhooks "$ADMIN" "{\"url\":\"$RURL/x\"}"
t_eq "admin must name the merchant" "422 merchant" "$STATUS $(jq_get "$BODY" .error.field)"

# --- the address rule ------------------------------------------------------------
for u in http://10.0.0.1/x http://169.254.169.254/latest/meta-data http://192.168.1.1/ \
	"http://[::ffff:169.254.169.254]/" http://0.0.0.0:$RP/x http://100.64.0.1/; do
	api_json POST /v1/webhooks "$KM" "{\"url\":\"$u\"}"
	t_eq "refused: $u" "422 url" "$STATUS $(jq_get "$BODY" .error.field)"
done
api_json POST /v1/webhooks "$KM" '{"url":"ftp://127.0.0.1/x"}'
t_eq "only http(s)" "422 url" "$STATUS $(jq_get "$BODY" .error.field)"
api_json POST /v1/webhooks "$KM" "{\"url\":\"$RURL/x\",\"events\":[\"teleported\"]}"
t_eq "an unknown event name is refused" "422 events" "$STATUS $(jq_get "$BODY" .error.field)"

api GET /metrics ""
t_match "deliveries are counted in /metrics" "$BODY" 'smile_webhook_deliveries_total [1-9]'

# With webhook_allow_private off, loopback is refused at registration and,
# for an endpoint registered before, at connection time.
# (stopped while a request to the hanging endpoint is in flight: recorded as
# interrupted and due again at once, rather than left to its lease)
n0=$(wc -l <"$RX/hang.arrivals")
hang_arrived() { [ "$(wc -l <"$RX/hang.arrivals")" -gt "$n0" ]; }
wait_for 30 hang_arrived
OLD_LOG=$GW_LOG
gw_stop
t_ok "a clean stop releases the request in flight" \
	grep -q "event=webhook.interrupted webhook=$WH_hang .*store=success" "$OLD_LOG"
gw_conf_set "$D" webhook_allow_private false
gw_start "$D" || die "gateway did not restart"
api_json POST /v1/webhooks "$KM" "{\"url\":\"$RURL/x\"}"
t_eq "allow_private off: a loopback URL is refused" "422 url" "$STATUS $(jq_get "$BODY" .error.field)"
t_match "... saying why" "$(jq_get "$BODY" .error.message)" 'loopback'
n0=$(lines good)
issue "11栋"
wait_for 30 grep -q 'event=webhook.failed .*error=address_refused' "$GW_LOG"
t_ok "... and an existing loopback endpoint is not connected to" \
	grep -q 'event=webhook.failed .*error=address_refused' "$GW_LOG"
t_eq "... nothing reached it" "$n0" "$(lines good)"
api POST "/v1/webhooks/$WH_good/test" "$KM"
t_eq "... not even a test event" "false address_refused" \
	"$(jq_get "$BODY" .delivered) $(jq_get "$BODY" .error)"

t_ok "the gateway logged no URL" sh -c "! grep -q '127.0.0.1:$RP' '$GW_LOG'"
t_fails "... and no secret" grep -q 'whsec_' "$GW_LOG"
api GET /metrics ""
t_match "refused attempts are counted in /metrics" "$BODY" 'smile_webhook_failed_attempts_total [1-9]'
t_done
