#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-loadgen's own checks (TAP from `smile-loadgen selftest`: key
# derivation, arguments, token file, the scan path against docs/protocol.md's
# vectors, reply classification), then a short real run: 10 devices against a
# real broker and gateway, every reply verified, nothing lost or duplicated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
LG="$BIN/smile-loadgen"

"$LG" selftest >"$T/selftest.out" 2>&1
t_ok "smile-loadgen selftest passes ($(grep -c '^ok' "$T/selftest.out") checks)" test $? -eq 0
grep '^not ok' "$T/selftest.out" | sed 's/^/# /'

mqtt_start || die "mosquitto did not start"
D="$T/data"
gw_init "$D" || die "init failed"
sed -i -E "s|^mqtt_host *=.*|mqtt_host = 127.0.0.1|; s|^mqtt_port *=.*|mqtt_port = $MQTT_PORT|" "$D/gateway.conf"
gw_start "$D" || die "gateway did not start"
for i in $(seq 1 100); do grep -q 'event=mqtt.connected' "$GW_LOG" && break; sleep 0.1; done
ADMIN=$(cat "$D/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"lg"}'
KM=$(jq_get "$BODY" .key)
jq -nc '{shipments: [range(20) | {recipient: {name: "张三明", phone: "13812345678",
  address: {country: "CN", province: "湖北省", city: "武汉市", district: "江汉区",
  street: "建设大道568号", detail: "3栋2单元1502室"}}, sender: {name: "王小二",
  phone: "027-85699449", address: {country: "CN", province: "湖北省", city: "武汉市",
  district: "江汉区", street: "泛海国际SOHO城", detail: "7栋1201室"}},
  merchant_ref: "lg-\(.)", weight_g: 1200}]}' >"$T/batch.json"
api POST /v1/shipments/batch "$KM" -H 'Content-Type: application/json' --data-binary "@$T/batch.json"
jq_get "$BODY" '.results[].token' >"$T/tokens.txt"
"$LG" enrol --seed it --devices 10 --out "$T/enrol.jsonl"
n=0
while IFS= read -r line; do api_json POST /v1/devices "$ADMIN" "$line"; [ "$STATUS" = 201 ] && n=$((n + 1)); done <"$T/enrol.jsonl"
t_eq "the enrolment lines enrol 10 devices" 10 "$n"
api GET /v1/gateway "$ADMIN"
"$LG" run --port "$MQTT_PORT" --gateway-sign-pk "$(jq_get "$BODY" .sign_pk)" \
	--gateway-box-pk "$(jq_get "$BODY" .box_pk)" --seed it --devices 10 --connections 2 \
	--tokens "$T/tokens.txt" --duration 2 --rate 200 >"$T/run.out" 2>&1
t_eq "a 2 s run exits 0" 0 $?
r=$(grep '^result ' "$T/run.out")
t_match "every scan answered, revealed, verified: none bad, lost or duplicated" "$r" \
	' answered=([1-9][0-9]*) accepted=\1 revealed=\1 .* bad=0 lost=0 duplicated=0 stray=0 '
accepted=$(printf '%s\n' "$r" | tr ' ' '\n' | sed -n 's/^accepted=//p')
gw_stop
t_eq "one event per accepted scan" "$accepted" \
	"$(sqlite3 "$D/store.db" "SELECT count(*) FROM events WHERE device_id <> '';")"

# against a broker where nobody answers: every scan is lost, and it says so
mqtt_stop
mqtt_start || die "second mosquitto did not start"
"$LG" run --port "$MQTT_PORT" --gateway-sign-pk "$(jq_get "$BODY" .sign_pk)" \
	--gateway-box-pk "$(jq_get "$BODY" .box_pk)" --seed it --devices 4 --connections 1 \
	--tokens "$T/tokens.txt" --duration 1 --drain 1 >"$T/lost.out" 2>&1
t_eq "with no gateway the run exits 1" 1 $?
t_match "... reporting the 4 scans lost" "$(cat "$T/lost.out")" ' lost=4 '
t_done
