#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The gateway reaches its broker over TLS when mqtt_cafile is set: it
# connects to a broker whose certificate that CA signed, refuses one signed by
# another CA, and a courier's scan goes through end to end over TLS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

# certificates: a CA, a broker certificate for 127.0.0.1, and a stranger CA
(
	cd "$T" || exit 1
	E='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
	openssl req -x509 $E -keyout ca.key -out ca.pem -days 2 -subj /CN=smile-test-ca &&
		openssl req -x509 $E -keyout other.key -out other.pem -days 2 -subj /CN=other-ca &&
		openssl req $E -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
		printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
		openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
			-out srv.pem -days 2 -extfile ext
) >"$T/openssl.log" 2>&1 || die "openssl could not make certificates"
chmod 644 "$T"/*.pem "$T"/*.key

D="$T/data"
gw_init "$D" || die "init failed"
port=$(free_port)
gw_conf_set "$D" mqtt_host 127.0.0.1
gw_conf_set "$D" mqtt_port "$port"
gw_conf_set "$D" mqtt_cafile "$T/ca.pem"
"$GW" broker-config --data "$D" --out "$T/broker" >/dev/null || die "broker-config"
# the same generated config, its listener switched to TLS
sed -i "s|^listener .*|listener $port 127.0.0.1\ncafile $T/ca.pem\ncertfile $T/srv.pem\nkeyfile $T/srv.key|" \
	"$T/broker/mosquitto.conf"
mqtt_start_conf "$T/broker/mosquitto.conf" "$port" || die "TLS broker did not start"
BROKER_DIR="$T/broker"
GW_DATA=$D

gw_start "$D" || die "gateway did not start"
t_ok "the gateway connects to the broker over TLS" gw_wait_relay
gw_pubkeys
api GET /v1/gateway "$(cat "$D/admin.key")"
t_eq "GET /v1/gateway says TLS" "true" "$(jq_get "$BODY" .mqtt.tls)"

# a courier over TLS too
"$DT" keygen --id tls-van --out "$T/van.key" >"$T/van.json"
gw_enrol courier "$T/van.json" || die "enrol"
api_json POST /v1/api-keys "$(cat "$D/admin.key")" '{"role":"merchant","merchant":"m"}'
KM=$(jq_get "$BODY" .key)
api_json POST /v1/shipments "$KM" '{"recipient":{"name":"赵六","phone":"13600001234","address":{"city":"武汉市","street":"江汉路1号","detail":"9-9"}},"sender":{"name":"钱七","phone":"13600005678","address":{"city":"武汉市","street":"江汉路2号"}},"weight_g":100}'
TOKEN=$(jq_get "$BODY" .token)
pw=$("$DT" password --key "$T/van.key" --gw-box-pk "$GW_BOX_PK")
"$DT" scan --key "$T/van.key" --seq 1 --event out_for_delivery --token "$TOKEN" --out "$T/s.bin"
subs=$(mqtt_subs smile/v1/dev/tls-van/reply)
mosquitto_sub -h 127.0.0.1 -p "$port" --cafile "$T/ca.pem" -u tls-van -P "$pw" -q 1 -N -C 1 -W 8 \
	-t smile/v1/dev/tls-van/reply >"$T/r.bin" &
sub=$!
mqtt_subscribed smile/v1/dev/tls-van/reply "$subs"
mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$T/ca.pem" -u tls-van -P "$pw" -q 1 \
	-t smile/v1/dev/tls-van/scan -f "$T/s.bin"
wait $sub
reply=$("$DT" open --key "$T/van.key" --gw-sign-pk "$GW_SIGN_PK" --gw-box-pk "$GW_BOX_PK" \
	--scan "$T/s.bin" --reply "$T/r.bin")
t_eq "a scan round trip over TLS reveals to the courier" "revealed 13600001234" \
	"$(jq_get "$reply" '"\(.status) \(.contact.phone)"')"
gw_stop

# a CA that did not sign the broker: no connection
gw_conf_set "$D" mqtt_cafile "$T/other.pem"
gw_start "$D" || die "gateway did not restart"
sleep 3
t_fails "with the wrong CA the gateway never connects" grep -q 'event=mqtt.connected' "$GW_LOG"
gw_stop
gw_conf_set "$D" mqtt_cafile "$T/missing.pem"
out=$(timeout 10 "$GW" serve --data "$D" --listen 127.0.0.1:0 2>&1)
t_match "a missing CA file stops serve, naming the key" "$out" 'mqtt_cafile'
t_done
