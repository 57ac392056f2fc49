#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The relay reaches a broker that was down when the gateway started, within a
# few seconds of the broker coming up: it retries from 0.5 s, doubling to a
# cap of 8 s (libmosquitto's own backoff waited up to half a minute), and
# again after a broker restart. Real mosquitto, real gateway, real device
# core (smile-devtool).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
gw_serve_relayed "$D" || die "no gateway"
"$DT" keygen --id van-1 --out "$T/van-1.key" >"$T/van-1.json" || die "keygen"
gw_enrol courier "$T/van-1.json" || die "enrol"
api_json POST /v1/api-keys "$(cat "$D/admin.key")" '{"role":"merchant","merchant":"m1"}'
KM=$(jq_get "$BODY" .key)
api_json POST /v1/shipments "$KM" '{"recipient":{"name":"张三","phone":"13812345678",
  "address":{"country":"CN","province":"湖北省","city":"武汉市","street":"建设大道568号","detail":"1室"}},
  "sender":{"name":"王二","phone":"02785699449","address":{"city":"武汉市","street":"泛海路1号"}},
  "weight_g":100}'
TOKEN=$(jq_get "$BODY" .token)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || die "no shipment: $BODY"
gw_stop
PW=$("$DT" password --key "$T/van-1.key" --gw-box-pk "$GW_BOX_PK")

# scan SEQ: one scan, its reply opened -> REPLY ("" when none within 20 s)
scan() {
	"$DT" scan --key "$T/van-1.key" --seq "$1" --event out_for_delivery --token "$TOKEN" \
		--out "$T/scan.bin" || return 1
	rm -f "$T/reply.bin"
	local subs
	subs=$(mqtt_subs smile/v1/dev/van-1/reply)
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -u van-1 -P "$PW" -q 1 -N -C 1 -W 20 \
		-t smile/v1/dev/van-1/reply >"$T/reply.bin" 2>/dev/null &
	local sub=$!
	mqtt_subscribed smile/v1/dev/van-1/reply "$subs"
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -u van-1 -P "$PW" -q 1 \
		-t smile/v1/dev/van-1/scan -f "$T/scan.bin" 2>/dev/null
	wait $sub
	REPLY=$("$DT" open --key "$T/van-1.key" --gw-sign-pk "$GW_SIGN_PK" --gw-box-pk "$GW_BOX_PK" \
		--scan "$T/scan.bin" --reply "$T/reply.bin" 2>/dev/null)
}
# connected_within SECONDS: until the gateway logs its Nth connection
connected_within() {
	local want=$1 limit=$2 i
	for ((i = 0; i < limit * 10; i++)); do
		[ "$(grep -c 'event=mqtt.connected' "$GW_LOG")" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- the broker is down when the gateway starts -------------------------------
mqtt_stop
gw_start "$D" || die "gateway did not start without its broker"
t_ok "the gateway serves HTTP while its broker is down" \
	curl -fsS -o /dev/null "$GW_URL/healthz"
# The retries come 0.5, 1.5, 3.5 and 7.5 s after the first failure, then
# 8 s apart: the broker must be back before the 7.5 s one for "within 4 s"
# to hold. Counted from the first failure (not from gw_start), 4 s leaves a
# loaded machine 3.5 s to restart the broker; a fixed 6 s from gw_start left
# less than 1.5 s for the gateway's start and the broker's together.
failed() { grep -q 'event=mqtt.connect_failed' "$GW_LOG"; }
wait_for 20 failed
sleep 4 # long enough for a backoff that grows to seconds
t_match "... and keeps trying" "$(cat "$GW_LOG")" 'event=mqtt.connect_failed'
mqtt_restart || die "broker did not start"
start=$(date +%s%N)
connected_within 1 4
t_ok "the relay connects within 4 s of the broker coming up" test $? -eq 0
echo "# connected after $(( ($(date +%s%N) - start) / 1000000 )) ms"
scan 1
t_eq "... and scans work" "revealed" "$(jq_get "${REPLY:-{\}}" .status)"

# --- and again after a broker restart -------------------------------------
mqtt_stop
# the same 0.5, 1.5, 3.5, 7.5 s retries, from the gateway seeing the broker go
lost() { grep -q 'event=mqtt.disconnected' "$GW_LOG"; }
wait_for 20 lost
sleep 4
mqtt_restart || die "broker did not restart"
connected_within 2 4
t_ok "after a broker restart it is back within 4 s" test $? -eq 0
scan 2
t_eq "... and scans work" "revealed" "$(jq_get "${REPLY:-{\}}" .status)"
gw_stop
t_eq "it stops cleanly" "0" "$GW_RC"
t_done
