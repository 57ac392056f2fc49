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
wait_for 30 grep -q 'event=mqtt.connected' "$GW_LOG" || die "gateway did not connect to the broker"
ADMIN=$(cat "$D/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"lg"}'
KM=$(jq_get "$BODY" .key)
GW_DATA=$D
gw_batch_tokens "$KM" 20 lg "$T/tokens.txt" || die "batch"
gw_loadgen_enrol it 10
t_ok "the enrolment lines enrol 10 devices" test $? -eq 0
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
