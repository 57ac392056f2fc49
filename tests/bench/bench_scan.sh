#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scan relay, end to end on one machine (issue 5, point 9; docs/bench.md):
# a private tuned mosquitto, the real gateway, and smile-loadgen simulating
# 200 couriers' handhelds over 4 MQTT connections, each device keeping one
# signed scan outstanding and checking every reply with the device core.
# Prints round trips/s, latency percentiles, replies by status, CPU per
# process, and checks that every accepted scan produced exactly one event in
# the store.
#
# Timing is reported, never judged; a correctness failure (a lost, bad or
# duplicated reply, or events != accepted scans) makes this script fail.
#
# Two runs: paced at SMILE_BENCH_RATE scans/s (3000, the target) for
# SMILE_BENCH_SECONDS (30), then unpaced for SMILE_BENCH_CAPACITY_SECONDS (10;
# 0 skips it) to show the most the relay does. Other knobs:
# SMILE_BENCH_DEVICES (200), SMILE_BENCH_CONNECTIONS (4), SMILE_BENCH_SHIPMENTS
# (2000), SMILE_BENCH_EVENT (out_for_delivery), SMILE_BENCH_SCAN_WORKERS
# (gateway default), SMILE_BENCH_RETRY_MS (0: devices never retransmit; N:
# a device resends its scan byte for byte after N ms without a reply, which
# exercises the gateway's exact-retransmission path).
#
# The broker here allows anonymous access and has no ACL: the load generator
# connects as a few anonymous clients that each publish for many devices, so
# this measures the relay, not per-device broker authentication. Scans are
# still signed per device and every reply is verified.
set -uo pipefail
. "$SMILE_ROOT/tests/integration/lib.sh"
. "$SMILE_ROOT/tests/integration/gateway.sh"
DURATION=${SMILE_BENCH_SECONDS:-30}
DEVICES=${SMILE_BENCH_DEVICES:-200}
CONNECTIONS=${SMILE_BENCH_CONNECTIONS:-4}
SHIPMENTS=${SMILE_BENCH_SHIPMENTS:-2000}
EVENT=${SMILE_BENCH_EVENT:-out_for_delivery}
RATE=${SMILE_BENCH_RATE:-3000}
CAPACITY=${SMILE_BENCH_CAPACITY_SECONDS:-10}
RETRY_MS=${SMILE_BENCH_RETRY_MS:-0}
LG="$BIN/smile-loadgen"

fail() { echo "scan relay: $*"; [ -n "${GW_LOG:-}" ] && [ -s "$GW_LOG" ] && tail -n 20 "$GW_LOG" | sed 's/^/#   /'; exit 1; }
for tool in "$GW" "$LG"; do [ -x "$tool" ] || fail "$tool not built"; done
command -v sqlite3 >/dev/null || fail "sqlite3 (the CLI) is needed: make deps"

# The load generator's own checks (keys, arguments, scans against the
# protocol's test vectors, reply classification) before trusting its figures.
"$LG" selftest >"$T/selftest.out" 2>&1 || { cat "$T/selftest.out"; fail "smile-loadgen selftest failed"; }

# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# --- broker and gateway ---------------------------------------------------
mqtt_start || fail "mosquitto did not start"

D="$T/data"
gw_init "$D" || fail "gateway init failed"
conf_set() { # KEY VALUE: replace the key's line in gateway.conf, or add it
	if grep -qE "^$1 *=" "$D/gateway.conf"; then
		sed -i -E "s|^$1 *=.*|$1 = $2|" "$D/gateway.conf"
	else
		echo "$1 = $2" >>"$D/gateway.conf"
	fi
}
if [ ! -s "$D/mqtt.password" ]; then
	(umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$D/mqtt.password")
fi
conf_set mqtt_host 127.0.0.1
conf_set mqtt_port "$MQTT_PORT"
conf_set mqtt_password_file mqtt.password
conf_set reveal_quota 1000000 # every scan of the run reveals: keep the quota out of the way
[ -n "${SMILE_BENCH_SCAN_WORKERS:-}" ] && conf_set scan_workers "$SMILE_BENCH_SCAN_WORKERS"

gw_start "$D" || fail "gateway did not start"
for i in $(seq 1 100); do
	grep -q 'event=mqtt.connected' "$GW_LOG" && break
	sleep 0.1
done
grep -q 'event=mqtt.connected' "$GW_LOG" || fail "the gateway did not connect to the broker"
ADMIN=$(cat "$D/admin.key")

# --- shipments: issued over HTTP in batches of up to 1000 -----------------
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"bench"}'
[ "$STATUS" = 201 ] || fail "merchant key: HTTP $STATUS"
KM=$(jq_get "$BODY" .key)
: >"$T/tokens.txt"
for ((off = 0; off < SHIPMENTS; off += 1000)); do
	n=$((SHIPMENTS - off < 1000 ? SHIPMENTS - off : 1000))
	jq -nc --argjson n "$n" --argjson off "$off" '{shipments: [range($n) | {
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号",
	    detail: "3栋2单元1502室"}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "泛海国际SOHO城",
	    detail: "7栋1201室"}},
	  merchant_ref: "bench-\(. + $off)", weight_g: 1200}]}' >"$T/batch.json"
	api POST /v1/shipments/batch "$KM" -H 'Content-Type: application/json' --data-binary "@$T/batch.json"
	[ "$STATUS" = 200 ] || fail "batch issue: HTTP $STATUS"
	jq_get "$BODY" '.results[] | select(.status_code == 201) | .token' >>"$T/tokens.txt"
done
issued=$(grep -c . "$T/tokens.txt")
[ "$issued" -eq "$SHIPMENTS" ] || fail "issued $issued of $SHIPMENTS shipments"

# --- devices: keys derived from a seed, enrolled over HTTP ----------------
"$LG" enrol --seed smile-bench --devices "$DEVICES" --role courier --out "$T/enrol.jsonl" ||
	fail "smile-loadgen enrol failed"
enrolled=0
while IFS= read -r line; do
	api_json POST /v1/devices "$ADMIN" "$line"
	[ "$STATUS" = 201 ] && enrolled=$((enrolled + 1))
done <"$T/enrol.jsonl"
[ "$enrolled" -eq "$DEVICES" ] || fail "enrolled $enrolled of $DEVICES devices (last: HTTP $STATUS $BODY)"

api GET /v1/gateway "$ADMIN"
[ "$STATUS" = 200 ] || fail "GET /v1/gateway: HTTP $STATUS"
SIGN_PK=$(jq_get "$BODY" .sign_pk)
BOX_PK=$(jq_get "$BODY" .box_pk)

# --- the runs ---------------------------------------------------------------
# 1. paced at the target rate for DURATION: does the relay sustain it, at what
#    latency? 2. unpaced (closed loop) for CAPACITY seconds: the most it does;
#    its latency is devices / rate by Little's law, not a target.
echo "scan relay: $DEVICES devices over $CONNECTIONS connections, event $EVENT," \
	"$issued shipments, $(nproc) cores shared by broker, gateway and load generator"
tick=$(getconf CLK_TCK)
cpu() { awk -v a="$1" -v b="$2" -v t="$tick" 'BEGIN { printf "%.1f", (b - a) / t }'; }
accepted_all=0
lg_failed=
# loadgen TAG NAME SECONDS RATE: one run; prints its figures, adds to accepted_all
loadgen() {
	local tag=$1 name=$2 secs=$3 rate=$4 b0 b1 g0 g1 rc result
	b0=$(cpu_ticks "$MQTT_PID")
	g0=$(cpu_ticks "$GW_PID")
	"$LG" run --host 127.0.0.1 --port "$MQTT_PORT" --gateway-sign-pk "$SIGN_PK" \
		--gateway-box-pk "$BOX_PK" --seed smile-bench --devices "$DEVICES" \
		--connections "$CONNECTIONS" --tokens "$T/tokens.txt" --event "$EVENT" \
		--duration "$secs" --rate "$rate" --retry-ms "$RETRY_MS" --progress >"$T/$tag.out" 2>"$T/$tag.err"
	rc=$?
	b1=$(cpu_ticks "$MQTT_PID")
	g1=$(cpu_ticks "$GW_PID")
	sed -e 's/^/  /' "$T/$tag.out" "$T/$tag.err"
	result=$(grep '^result ' "$T/$tag.out")
	[ -n "$result" ] || fail "$name: the load generator printed no result (exit $rc)"
	get() { printf '%s\n' "$result" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	echo "scan relay, $name: $(get rate) round trips/s over $(get seconds)s;" \
		"latency p50 $(get p50_ms) ms, p90 $(get p90_ms) ms, p99 $(get p99_ms) ms, max $(get max_ms) ms"
	echo "scan relay, $name: replies revealed $(get revealed), recorded $(get recorded)," \
		"denied $(get denied), error $(get error); bad $(get bad), lost $(get lost)," \
		"duplicated $(get duplicated), stray $(get stray), retransmissions $(get retransmits)"
	echo "scan relay, $name: CPU seconds: broker $(cpu "$b0" "$b1"), gateway $(cpu "$g0" "$g1")," \
		"load generator $(get cpu_s) (of $(nproc) cores x ${secs}s)"
	accepted_all=$((accepted_all + $(get accepted)))
	[ "$rc" -eq 0 ] || lg_failed="$lg_failed $name"
}
if [ "$RATE" -gt 0 ]; then
	loadgen paced "paced at ${RATE}/s" "$DURATION" "$RATE"
else
	loadgen unpaced "unpaced" "$DURATION" 0
fi
[ "$CAPACITY" -gt 0 ] && loadgen capacity "unpaced capacity" "$CAPACITY" 0

# --- count check: every accepted scan is exactly one event ----------------
gw_stop
events=$(sqlite3 "$D/store.db" "SELECT count(*) FROM events WHERE device_id <> '';" 2>&1)
shipments_scanned=$(sqlite3 "$D/store.db" \
	"SELECT count(DISTINCT shipment_id) FROM events WHERE device_id <> '';" 2>&1)
echo "scan relay: events in the store $events (on $shipments_scanned shipments)," \
	"accepted replies $accepted_all:" \
	"$([ "$events" = "$accepted_all" ] && echo "one event per accepted scan" || echo "MISMATCH")"
echo "scan relay: target (paced run) >= 3000 round trips/s, p99 <= 25 ms;" \
	"zero lost, zero duplicated events"

[ -z "$lg_failed" ] || fail "lost, bad or duplicated replies in:$lg_failed"
[ "$events" = "$accepted_all" ] || fail "events ($events) != accepted scans ($accepted_all)"
exit 0
