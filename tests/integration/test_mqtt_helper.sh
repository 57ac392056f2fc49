#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The integration helper itself: a private broker starts on a free loopback
# port with our tuned settings, carries a QoS 1 message, restarts on the same
# port, and is gone after the test exits.
. "$(dirname "$0")/lib.sh"

mqtt_start || die "mosquitto did not start"
t_match "broker config enables TCP_NODELAY" "$(cat "$MQTT_DIR/mosquitto.conf")" '^set_tcp_nodelay true$'
t_ok "broker listens on loopback port $MQTT_PORT" wait_port "$MQTT_PORT" 1

subs=$(mqtt_subs 'smile/test/#')
mosquitto_sub -p "$MQTT_PORT" -h 127.0.0.1 -q 1 -t 'smile/test/#' -C 1 -W 5 >"$T/got" &
sub=$!
mqtt_subscribed 'smile/test/#' "$subs"
mosquitto_pub -p "$MQTT_PORT" -h 127.0.0.1 -q 1 -t smile/test/x -m hello-smile
wait $sub
t_eq "QoS 1 message round trip" "hello-smile" "$(cat "$T/got")"

mqtt_stop
t_fails "stopped broker refuses connections" wait_port "$MQTT_PORT" 1
t_ok "restarted broker listens on the same port" mqtt_restart

# A second, independent test file must never see this broker: the helper's
# EXIT trap kills it. Check that from a subshell that starts and exits.
port=$(bash -c '. "$SMILE_ROOT/tests/integration/lib.sh"; mqtt_start >/dev/null && echo $MQTT_PORT')
t_match "nested helper started its own broker" "$port" '^[0-9]+$'
t_fails "that broker stopped when its test exited" wait_port "$port" 1

t_done
