#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The scan relay against a real mosquitto (configured by broker-config, with
# per-device passwords and ACL) and the real gateway. Devices are driven step
# by step with smile-devtool (the real device core) and mosquitto_pub/sub.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
gw_init "$D" || die "init failed"
gw_conf_set "$D" reveal_quota 5
gw_relay_setup "$D" || die "broker did not start"
gw_start "$D" || die "gateway did not start"
gw_wait_relay || die "gateway did not connect to the broker"
gw_pubkeys
ADMIN=$(cat "$D/admin.key")

# --- devices --------------------------------------------------------------
for d in courier1 courier2 hub1 courier3 sup1; do
	"$DT" keygen --id "$d" --out "$T/$d.key" >"$T/$d.json" || die "keygen $d"
done
gw_enrol courier "$T/courier1.json" || die "enrol courier1"
t_eq "admin enrols a courier" "201" "$STATUS"
t_eq "... active" "active" "$(jq_get "$BODY" .status)"
gw_enrol courier "$T/courier2.json" || die "enrol courier2"
gw_enrol hub "$T/hub1.json" || die "enrol hub1"
gw_enrol courier "$T/courier3.json" "CN/上海市" || die "enrol courier3"
gw_enrol supervisor "$T/sup1.json" || die "enrol sup1"
api_json POST /v1/devices "$ADMIN" "$(cat "$T/courier1.json" | jq -c '. + {role:"courier"}')"
t_eq "the same id cannot enrol twice" "409" "$STATUS"
api_json POST /v1/devices "$ADMIN" '{"id":"x","sign_pk":"AAAA","box_pk":"AAAA","role":"courier"}'
t_eq "a bad key is 422 naming the field" "422 sign_pk" "$STATUS $(jq_get "$BODY" .error.field)"
api_json POST /v1/devices "$ADMIN" "$(jq -c '. + {id:"x2", role:"pilot"}' "$T/courier1.json")"
t_eq "a bad role is 422 naming the field" "422 role" "$STATUS $(jq_get "$BODY" .error.field)"

# --- shipments ------------------------------------------------------------
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
issue() { # detail -> sets WB, TOKEN
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "order-7", weight_g: 800}')"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
}
issue "3栋2单元1502室"; WB1=$WB; TOK1=$TOKEN
issue "1号楼101室";   WB2=$WB; TOK2=$TOKEN
issue "5栋501室";     WB3=$WB; TOK3=$TOKEN

# Observer: the merchant's event stream and alerts.
OBS_PW=$(cat "$D/mqtt-observer.password")
obs_subs=$(mqtt_subs smile/v1/alerts)
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -u smile-observer -P "$OBS_PW" -q 1 -v \
	-t 'smile/v1/merchant/ziyun/events' -t 'smile/v1/alerts' >"$T/observer.log" 2>&1 &
at_exit "kill $!"
# it subscribes to alerts last: once that is logged, it hears every event
mqtt_subscribed smile/v1/alerts "$obs_subs" || die "the observer did not subscribe"

# scan DEVICE SEQ EVENT TOKEN [devtool args] -> $T/scan.bin, then send
scan() {
	local dev=$1 seq=$2 ev=$3 tok=$4
	shift 4
	"$DT" scan --key "$T/$dev.key" --seq "$seq" --event "$ev" --token "$tok" --out "$T/scan.bin" "$@" ||
		return 1
	gw_send "$dev" "$T/scan.bin"
}
field() { jq_get "$REPLY" "$1"; }

# --- reveal to the courier delivering it ------------------------------------
scan hub1 1 hub_in "$TOK1"
t_eq "hub: recorded, never contact" "recorded hub_role null" "$(field .status) $(field .reason) $(field .contact)"
scan courier1 1 out_for_delivery "$TOK1"
t_eq "courier's out_for_delivery scan: revealed" "revealed ok" "$(field .status) $(field .reason)"
t_eq "... the exact name" "张三明" "$(field .contact.name)"
t_eq "... the exact phone" "13812345678" "$(field .contact.phone)"
t_match "... the full address with the room" "$(field .contact.address)" '建设大道568号 3栋2单元1502室$'
t_eq "... the masked view" "138*******8" "$(field .masked.phone)"
cp "$T/scan.bin" "$T/c1-scan1.bin"; cp "$T/reply.bin" "$T/c1-reply1.bin"
out=$("$DT" open --key "$T/courier2.key" --gw-sign-pk "$GW_SIGN_PK" --gw-box-pk "$GW_BOX_PK" \
	--scan "$T/c1-scan1.bin" --reply "$T/c1-reply1.bin" 2>&1)
t_match "the contact opens only with that device's key" "$out" 'rejected'
t_nomatch "the reply on the wire holds no plaintext phone" "$(strings "$T/c1-reply1.bin")" '13812345678'

# exact retransmission: the same reply again, nothing recorded twice
gw_send courier1 "$T/c1-scan1.bin"
t_ok "an exact retransmission gets the same reply bytes" cmp -s "$T/reply.bin" "$T/c1-reply1.bin"

# --- refusals, each with its reason and no contact ------------------------
scan courier2 1 delivered "$TOK1"
t_eq "another courier cannot close it: not the holder" "denied not_holder null" "$(field .status) $(field .reason) $(field .contact)"
scan courier2 2 delivery_failed "$TOK1"
t_eq "a failed delivery by a courier that never took it: recorded, no contact" "recorded not_holder null" "$(field .status) $(field .reason) $(field .contact)"
scan courier2 3 pickup "$TOK1"
t_eq "another courier's pickup takes custody: recorded, pickup needs no contact" "recorded ok null" "$(field .status) $(field .reason) $(field .contact)"
scan courier2 4 delivery_failed "$TOK1"
t_eq "... so now its failed delivery reveals" "revealed ok" "$(field .status) $(field .reason)"
scan courier1 2 out_for_delivery "$TOK1"
t_eq "(courier1 takes it back)" "revealed" "$(field .status)"
# a data directory from before protocol.md 5.3 was followed stores the masked
# view with the recipient nested: the device still gets the page's shape
sqlite3 "$D/store.db" ".timeout 5000" "UPDATE shipments SET device_view = json_object('waybill', waybill,
	'recipient', json_object('name', 'old', 'phone', 'old', 'address', json_array('old')))
	WHERE waybill = '$WB2'"
scan courier3 1 out_for_delivery "$TOK2"
t_eq "a courier outside its zone" "recorded out_of_zone null" "$(field .status) $(field .reason) $(field .contact)"
scan courier1 5 out_for_delivery "$TOK2"
t_eq "(courier1 seq 5 revealed)" "revealed" "$(field .status)"
t_eq "an old stored view is sent in the page's shape" "张** 138*******8 湖北省 武汉市 江汉区 建设大道568号 ****" \
	"$(field '[.masked.name, .masked.phone, .masked.address]|join(" ")')"
t_eq "... and has no nested recipient" "null" "$(field .masked.recipient)"
scan courier1 4 out_for_delivery "$TOK2"
t_eq "a replayed (lower) sequence is denied" "denied replay null" "$(field .status) $(field .reason) $(field .contact)"
scan courier1 6 out_for_delivery "$TOK2" --time-ms $(( $(date +%s%3N) - 600000 ))
t_eq "a stale scan (10 min old) is denied" "denied stale" "$(field .status) $(field .reason)"
c=${TOK2:40:1}
[ "$c" = "A" ] && n=B || n=A
bad="${TOK2:0:40}$n${TOK2:41}"
scan courier1 7 out_for_delivery "$bad"
t_match "a tampered token is denied" "$(field .status) $(field .reason)" '^denied token_(tampered|malformed|truncated)$'
"$DT" scan --key "$T/courier1.key" --seq 8 --event out_for_delivery --token "$TOK2" --out "$T/sig.bin"
cp "$T/sig.bin" "$T/sig.orig"
size=$(stat -c %s "$T/sig.bin")
last=$(tail -c 1 "$T/sig.bin" | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $((last ^ 0xff)))" | dd of="$T/sig.bin" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
t_fails "(the signature's last byte really changed)" cmp -s "$T/sig.bin" "$T/sig.orig"
gw_send courier1 "$T/sig.bin"
t_eq "a bad signature is denied" "denied bad_signature" "$(field .status) $(field .reason)"

# unknown device: a broker login but no enrolment
"$DT" keygen --id ghost --out "$T/ghost.key" >/dev/null
mosquitto_passwd -b "$BROKER_DIR/passwd" ghost "$("$DT" password --key "$T/ghost.key" --gw-box-pk "$GW_BOX_PK")"
printf 'user ghost\ntopic write smile/v1/dev/ghost/scan\ntopic read smile/v1/dev/ghost/reply\n' >>"$BROKER_DIR/acl"
mqtt_reload
scan ghost 1 out_for_delivery "$TOK1"
t_eq "an unknown device is denied" "denied unknown_device" "$(field .status) $(field .reason)"

# erased shipment
api DELETE "/v1/shipments/$WB3/personal" "$KM"
scan courier1 9 out_for_delivery "$TOK3"
t_eq "an erased shipment reveals nothing" "recorded erased null" "$(field .status) $(field .reason) $(field .contact)"

# delivered shipment
scan courier1 10 delivered "$TOK1"
t_eq "the holder records the delivery (no contact: it needs none)" "recorded ok null" "$(field .status) $(field .reason) $(field .contact)"
scan sup1 1 out_for_delivery "$TOK1"
t_eq "a delivered shipment is closed" "denied delivered null" "$(field .status) $(field .reason) $(field .contact)"

# suspended, resumed, revoked
api POST /v1/devices/courier2/suspend "$ADMIN"
t_eq "admin suspends a device" "200 suspended" "$STATUS $(jq_get "$BODY" .status)"
scan courier2 5 out_for_delivery "$TOK2"
t_eq "a suspended device is denied" "denied suspended null" "$(field .status) $(field .reason) $(field .contact)"
api POST /v1/devices/courier2/resume "$ADMIN"
scan courier2 6 out_for_delivery "$TOK2"
t_eq "resumed, it is served again" "revealed" "$(field .status)"
api DELETE /v1/devices/courier2 "$ADMIN"
t_eq "admin revokes a device" "200 revoked" "$STATUS $(jq_get "$BODY" .status)"
scan courier2 7 out_for_delivery "$TOK2"
t_eq "a revoked device is denied" "denied revoked" "$(field .status) $(field .reason)"
api POST /v1/devices/courier2/resume "$ADMIN"
t_eq "revocation is final" "409" "$STATUS"
"$GW" broker-config --data "$D" --out "$BROKER_DIR" >/dev/null
mqtt_reload
t_fails "after broker-config a revoked device cannot log in" mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" \
	-u courier2 -P "$("$DT" password --key "$T/courier2.key" --gw-box-pk "$GW_BOX_PK")" \
	-t smile/v1/dev/courier2/scan -m x -q 1
t_fails "the ACL keeps a device off another device's topic" bash -c "mosquitto_sub -h 127.0.0.1 -p $MQTT_PORT \
	-u courier1 -P '$("$DT" password --key "$T/courier1.key" --gw-box-pk "$GW_BOX_PK")' \
	-t smile/v1/dev/hub1/reply -C 1 -W 2 | grep -q ."

# --- quota: 5 reveals per 24 h, the 6th suspends ----------------------------
issue "9-9"; T4=$TOKEN
got=""
for seq in 2 3 4 5 6; do scan sup1 $seq out_for_delivery "$T4"; got="$got $(field .status)"; done
t_eq "five reveals within quota" " revealed revealed revealed revealed revealed" "$got"
scan sup1 7 out_for_delivery "$T4"
t_eq "over quota: denied" "denied quota_exceeded null" "$(field .status) $(field .reason) $(field .contact)"
api GET /v1/devices "$ADMIN"
t_eq "... and the device is suspended" "suspended" "$(jq_get "$BODY" '.devices[]|select(.id=="sup1")|.status')"
# the observer logs the alert when the broker hands it over: wait for it
wait_for 30 grep -q '^smile/v1/alerts .*sup1' "$T/observer.log"
alert=$(grep '^smile/v1/alerts ' "$T/observer.log" | tail -n 1 | cut -d' ' -f2-)
t_eq "... and an alert is published, shaped as protocol.md 10.2" \
	"alert quota_exceeded sup1 supervisor suspended 5 5 86400 al_" \
	"$(jq_get "$alert" '[.type, .alert, .device_id, .device_role, .action, .detail.reveals, .detail.limit, .detail.window_s, .alert_id[0:3]]|join(" ")')"
t_eq "... with exactly the page's members" "action alert alert_id detail device_id device_role time time_ms type v" \
	"$(jq_get "$alert" 'keys|join(" ")')"

# a device that pipelines signed scans without waiting for replies cannot
# outrun its quota with reveals still waiting for their commit
"$DT" keygen --id burst1 --out "$T/burst1.key" >"$T/burst1.json"
gw_enrol supervisor "$T/burst1.json" || die "enrol burst1"
pw=$("$DT" password --key "$T/burst1.key" --gw-box-pk "$GW_BOX_PK")
# (a parcel each: scans of one parcel decided before the one ahead of them
# committed find it moved, and are answered busy - on a loaded machine
# that is most of them, and the quota is never reached)
for seq in $(seq 1 30); do
	issue "8-$seq"
	"$DT" scan --key "$T/burst1.key" --seq "$seq" --event out_for_delivery --token "$TOKEN" --out "$T/b$seq.bin"
done
# (in order on one connection, as a handheld sends them: parallel
# mosquitto_pub processes reach the broker in any order on a loaded machine,
# and scans out of sequence are refused as replays before any quota)
python3 "$SMILE_ROOT/tests/integration/mqtt_pipeline.py" 127.0.0.1 "$MQTT_PORT" burst1 "$pw" \
	smile/v1/dev/burst1/scan $(for seq in $(seq 1 30); do echo "$T/b$seq.bin"; done) ||
	die "the burst was not published"
burst1_status() {
	api GET /v1/devices "$ADMIN"
	jq_get "$BODY" '.devices[]|select(.id=="burst1")|.status'
}
burst1_suspended() { [ "$(burst1_status)" = suspended ]; }
wait_for 30 burst1_suspended
t_eq "a pipelining device is suspended at its quota" "suspended" "$(burst1_status)"

# --- tracking ----------------------------------------------------------------
api GET "/v1/shipments/$WB1/events" "$KM"
t_eq "scans become tracking events" "created hub_in out_for_delivery delivery_failed pickup delivery_failed out_for_delivery delivered" "$(jq_get "$BODY" '[.events[].event]|join(" ")')"
t_eq "... with the role, never the device id (protocol.md 10.1)" "courier null" \
	"$(jq_get "$BODY" '.events[2] | "\(.device_role) \(.device)"')"
t_nomatch "... no device id anywhere in the listing" "$BODY" 'courier1|courier2|hub1|sup1'
t_eq "... each the page's event object" "v type event_id waybill merchant_ref event source time time_ms recorded_ms device_role" \
	"$(jq_get "$BODY" '.events[2]|keys_unsorted|join(" ")')"
t_eq "... a gateway event has a source and no role" "api null" "$(jq_get "$BODY" '.events[0] | "\(.source) \(.device_role)"')"
ev=$(grep "^smile/v1/merchant/ziyun/events .*\"waybill\":\"$WB1\".*\"event\":\"hub_in\"" "$T/observer.log" | head -n 1 | cut -d' ' -f2-)
t_eq "the merchant stream carries the same object as the listing (same event_id)" \
	"$(jq_get "$BODY" '.events[1]|tojson')" "$(jq_get "$ev" 'tojson')"
t_ok "... event ids are distinct" test "$(jq_get "$BODY" '[.events[].event_id]|unique|length')" = "$(jq_get "$BODY" '.events|length')"
t_eq "... time_ms is the scan's time, recorded_ms the gateway's" "true" \
	"$(jq_get "$ev" '(.time_ms|type) == "number" and .recorded_ms >= .time_ms and (.time|endswith("Z"))')"
t_nomatch "... and no personal data" "$(cat "$T/observer.log")" '张三明|13812345678|1502室'
t_nomatch "... and no device id in a merchant event" "$(grep '^smile/v1/merchant/' "$T/observer.log")" 'courier1|courier2|hub1|sup1'

# --- broker restart mid-stream -------------------------------------------
mqtt_stop
sleep 1
mqtt_restart || die "broker did not restart"
for i in $(seq 1 100); do [ "$(grep -c 'event=mqtt.connected' "$GW_LOG")" -ge 2 ] && break; sleep 0.1; done
issue "7-7"; T5=$TOKEN
scan courier1 11 out_for_delivery "$T5"
t_eq "after a broker restart the gateway serves scans again" "revealed" "$(field .status)"

# --- shutdown with scans in flight -------------------------------------------
# (a scan's reply is published from its commit callback: stopping must wait
# for those before the MQTT client goes; ASan catches it if not)
"$DT" keygen --id burst2 --out "$T/burst2.key" >"$T/burst2.json"
gw_enrol courier "$T/burst2.json" || die "enrol burst2"
pw=$("$DT" password --key "$T/burst2.key" --gw-box-pk "$GW_BOX_PK")
pubs=()
for seq in $(seq 1 30); do
	"$DT" scan --key "$T/burst2.key" --seq "$seq" --event pickup --token "$T5" --out "$T/c$seq.bin"
done
for seq in $(seq 1 30); do
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -u burst2 -P "$pw" -q 1 \
		-t smile/v1/dev/burst2/scan -f "$T/c$seq.bin" &
	pubs+=($!)
done
wait "${pubs[@]}"

# --- audit ------------------------------------------------------------------
gw_stop
t_eq "SIGTERM with scans in flight exits cleanly" "0" "$GW_RC"
out=$("$GW" audit verify --data "$D")
t_match "the audit chain verifies" "$out" '^audit log verifies: [0-9]+ entries$'
t_match "... and prints its head as an anchor" "$out" '^head: [0-9a-f]{64}$'
n=$(printf '%s' "$out" | head -n 1 | grep -o '[0-9]\+')
t_ok "reveals, refusals, device changes and erasures are audited" test "$n" -ge 20
sqlite3 "$D/store.db" "UPDATE audit SET detail = 'ok' WHERE seq = 5"
out=$("$GW" audit verify --data "$D" 2>&1)
t_match "an edited entry breaks it, named" "$out" 'BROKEN at entry 5'
reveals=$(sqlite3 "$D/store.db" "SELECT count(*) FROM audit WHERE kind = 'reveal' AND actor = 'burst1'")
t_ok "... and never got more than 5 reveals ($reveals)" test "$reveals" -le 5
t_nomatch "the gateway log holds no personal data" "$(cat "$GW_LOG")" '张三明|13812345678|1502室'
t_done
