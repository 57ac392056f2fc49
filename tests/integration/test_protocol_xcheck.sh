#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# docs/protocol.md is precise enough to implement from: an independent Python
# implementation written from the page alone (Debian's python3-cryptography
# and a socket, no Smile code) rebuilds every test vector it prints, byte for
# byte, and then, as the vector device, talks to the real gateway through the
# real broker: it logs in with the password of 9.1, and checks the replies
# (7.1, including unreadable scans), the masked view and contact bytes (5.3),
# the merchant event and HTTP listing (10.1) and the quota alert (10.2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
XC="$SMILE_ROOT/tests/integration/xcheck_protocol.py"

out=$(/usr/bin/python3 "$XC" 2>&1)
t_ok "an implementation from the spec alone reproduces every vector" test $? -eq 0
t_match "... all of them" "$out" 'vectors: [0-9]+ checks, all match'
# and the check can fail: a vector changed in a copy of the page is caught
mkdir -p "$T/docs" "$T/tests/integration"
cp "$XC" "$T/tests/integration/"
# the last long hex run on the page is an output (the replies come last)
hex=$(grep -oE '[0-9a-f]{64,}' "$SMILE_ROOT/docs/protocol.md" | tail -n 1)
case ${hex:10:1} in 0) c=1 ;; *) c=0 ;; esac
flip="${hex:0:10}$c${hex:11}"
sed "s/$hex/$flip/" "$SMILE_ROOT/docs/protocol.md" >"$T/docs/protocol.md"
t_fails "a wrong vector in the page is reported" /usr/bin/python3 "$T/tests/integration/xcheck_protocol.py"
# ... and so is a wrong broker password vector
sed "s/^    MQTT password    C/    MQTT password    D/" "$SMILE_ROOT/docs/protocol.md" >"$T/docs/protocol.md"
t_fails "a wrong password vector in the page is reported" /usr/bin/python3 "$T/tests/integration/xcheck_protocol.py"

# --- live: the vector device against a real gateway and broker ---------------
QUOTA=3
D="$T/data"
gw_init "$D" || die "init failed"
gw_conf_set "$D" reveal_quota $QUOTA
gw_relay_setup "$D" || die "broker did not start"
gw_start "$D" || die "gateway did not start"
gw_wait_relay || die "gateway did not connect to the broker"
gw_pubkeys
/usr/bin/python3 "$XC" enrolment >"$T/courier-01.json" || die "enrolment JSON"
gw_enrol courier "$T/courier-01.json" || die "enrol the vector device"
api_json POST /v1/api-keys "$(cat "$D/admin.key")" '{"role":"merchant","merchant":"xcheck"}'
MERCHANT_KEY=$(jq_get "$BODY" .key)
GW_URL=$GW_URL MERCHANT_KEY=$MERCHANT_KEY MQTT_PORT=$MQTT_PORT GW_SIGN_PK=$GW_SIGN_PK \
	GW_BOX_PK=$GW_BOX_PK OBSERVER_PW=$(cat "$D/mqtt-observer.password") QUOTA=$QUOTA \
	timeout 120 /usr/bin/python3 "$XC" live >"$T/live.out" 2>&1
rc=$?
n=0
while IFS= read -r line; do
	case "$line" in
	PASS\ *) t_ok "live: ${line#PASS }" true; n=$((n + 1)) ;;
	FAIL\ *) t_ok "live: ${line#FAIL }" false; n=$((n + 1)) ;;
	esac
done <"$T/live.out"
t_ok "the live cross-check ran to its end ($n checks, exit $rc)" grep -qE '^[0-9]+ passed, 0 failed$' "$T/live.out" ||
	sed -e 's/^/# /' "$T/live.out" | tail -n 20
t_nomatch "the gateway log holds no personal data" "$(cat "$GW_LOG")" '张三明|13812345678|1203'
t_done
