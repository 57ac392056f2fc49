#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scale-out, side by side (issue 11, point 8; docs/bench.md, docs/operations.md
# "How throughput scales"): the same issuance and scan loads on
#
#   sqlite:1      one node on SQLite (the embedded default)
#   postgresql:1  one node on a private PostgreSQL 15 (fsync and
#                 synchronous_commit on: durable, as SQLite's FULL sync)
#   postgresql:2  two nodes on that PostgreSQL, one broker, scans shared by
#                 the MQTT v5 share group
#
# Issuance: wrk, 8 keep-alive clients in all (split over the nodes), single
# POST /v1/shipments, SMILE_BENCH_ISSUE_SECONDS (10). Scans: smile-loadgen,
# SMILE_BENCH_DEVICES (200) devices, paced at SMILE_BENCH_CLUSTER_RATE
# (2000/s) for SMILE_BENCH_SCAN_SECONDS (15), then unpaced for
# SMILE_BENCH_CAPACITY_SECONDS (8; 0 skips). SMILE_BENCH_CONFIGS picks the
# rows ("sqlite:1 postgresql:1 postgresql:2"). Everything - broker,
# database, nodes, load generators - shares this machine's cores.
#
# Timing is reported, never judged. A correctness failure fails the script:
# a lost, bad or duplicated reply, events != accepted scans, or an
# acknowledged shipment missing from the store.
set -uo pipefail

if [ "${1:-}" != --one ]; then # the table: one child per configuration
	rows=()
	rc=0
	for cfg in ${SMILE_BENCH_CONFIGS:-sqlite:1 postgresql:1 postgresql:2}; do
		out=$(bash "$0" --one "${cfg%%:*}" "${cfg##*:}" 2>&1)
		r=$?
		printf '%s\n' "$out" | grep -v '^row ' | sed "s/^/[$cfg] /"
		[ "$r" -eq 0 ] || { echo "cluster bench: $cfg failed"; rc=1; }
		rows+=("$(printf '%s\n' "$out" | sed -n 's/^row //p')")
	done
	echo "cluster bench: $(nproc) cores shared by broker, database, nodes and load generators"
	printf '%-14s | %-26s | %-30s | %s\n' "store:nodes" "issuance/s (p50, p99)" \
		"scans paced: rt/s (p50, p99)" "scans unpaced rt/s"
	for r in "${rows[@]}"; do
		[ -n "$r" ] || continue
		set -- $r
		printf '%-14s | %-26s | %-30s | %s\n' "$1" "$2 ($3, $4)" "$5 ($6 ms, $7 ms)" "$8"
	done
	echo "cluster bench: targets: postgresql:1 >= 2000 scans/s with p99 <= 50 ms and" \
		">= 2000 shipments/s durable; postgresql:2 at least as fast as postgresql:1"
	exit $rc
fi

. "$SMILE_ROOT/tests/integration/lib.sh"
. "$SMILE_ROOT/tests/integration/gateway.sh"
KIND=$2 NODES=$3
ISSUE_SECONDS=${SMILE_BENCH_ISSUE_SECONDS:-10}
SCAN_SECONDS=${SMILE_BENCH_SCAN_SECONDS:-15}
RATE=${SMILE_BENCH_CLUSTER_RATE:-2000}
CAPACITY=${SMILE_BENCH_CAPACITY_SECONDS:-8}
DEVICES=${SMILE_BENCH_DEVICES:-200}
LG="$BIN/smile-loadgen"
fail() { echo "FAILED: $*"; exit 1; }

# SMILE_BENCH_PGSTAT=1: which statements the PostgreSQL time goes to, per
# scan run (pg_stat_statements, from Debian's postgresql-15).
if [ "${SMILE_BENCH_PGSTAT:-0}" = 1 ] && [ "$KIND" = postgresql ]; then
	export SMILE_PG_SETTINGS="shared_preload_libraries=pg_stat_statements pg_stat_statements.track=all"
fi
pgstat_on() { [ -n "${SMILE_PG_SETTINGS:-}" ]; }
gw_cluster_init "$KIND" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "set-up"; }
! pgstat_on || psql_smile "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null || fail "pg_stat_statements"
for n in "$NODE_A" "$NODE_B"; do
	gw_conf_set "$n" reveal_quota 1000000 # every scan reveals: keep the quota out of the way
	if [ "$NODES" = 1 ]; then             # one node: the plain configuration
		sed -i -E '/^(mqtt_share_group|node_id) *=/d' "$n/gateway.conf"
	fi
done
URLS=() PIDS=()
for n in "$NODE_A" "$NODE_B"; do
	[ "${#URLS[@]}" -lt "$NODES" ] || break
	gw_cluster_start "$n" || fail "node $n did not start"
	URLS+=("$GW_URL") PIDS+=("$GW_PID")
done
GW_URL=${URLS[0]}
ADMIN=$(cat "$NODE_A/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"bench"}'
[ "$STATUS" = 201 ] || fail "merchant key: HTTP $STATUS"
KM=$(jq_get "$BODY" .key)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tick=$(getconf CLK_TCK)
cpu_of() { # PIDS... -> ticks, summed
	local p s=0
	for p in "$@"; do s=$((s + $(cpu_ticks "$p"))); done
	echo "$s"
}
db_pids() { # the PostgreSQL server's processes (none on SQLite: it is in the nodes)
	local pm
	[ "$KIND" = postgresql ] || return 0
	pm=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
	echo "$pm" $(pgrep -P "$pm")
}
secs() { awk -v a="$1" -v b="$2" -v t="$tick" 'BEGIN { printf "%.1f", (b - a) / t }'; }
wal_lsn() { [ "$KIND" = postgresql ] && psql_smile "SELECT pg_current_wal_lsn()"; }
wal_per() { # LSN0 LSN1 N -> "WAL N bytes per item" on PostgreSQL
	[ "$KIND" = postgresql ] || return 0
	echo "; WAL $(psql_smile "SELECT round(pg_wal_lsn_diff('$2', '$1') / GREATEST($3, 1))") bytes each"
}

# --- issuance ----------------------------------------------------------------
gw_wrk_issue_script "$KM" bench-wrk "$T/post.lua"
g0=$(cpu_of "${PIDS[@]}") d0=$(cpu_of $(db_pids)) w0=$(wal_lsn)
WRKS=()
for i in "${!URLS[@]}"; do
	wrk -t$((2 / NODES)) -c$((8 / NODES)) -d"${ISSUE_SECONDS}s" --latency -s "$T/post.lua" \
		"${URLS[$i]}/v1/shipments" >"$T/wrk.$i.out" 2>&1 &
	WRKS+=($!)
done
wait "${WRKS[@]}"
g1=$(cpu_of "${PIDS[@]}") d1=$(cpu_of $(db_pids)) w1=$(wal_lsn)
to_ms() { # wrk's "1.10ms" / "850.00us" / "1.20s" -> ms
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/) n *= 1000;
		printf "%.2f", n }'
}
rps=0 p50=0 p99=0 done2xx=0 non2xx=0
for i in "${!URLS[@]}"; do
	f="$T/wrk.$i.out"
	r=$(awk '/Requests\/sec/ {print $2}' "$f")
	[ -n "$r" ] || { cat "$f"; fail "wrk printed no rate"; }
	rps=$(awk -v a="$rps" -v b="$r" 'BEGIN { printf "%.0f", a + b }')
	a=$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")
	b=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
	p50=$(awk -v a="$p50" -v b="$a" 'BEGIN { print (b > a ? b : a) }')
	p99=$(awk -v a="$p99" -v b="$b" 'BEGIN { print (b > a ? b : a) }')
	req=$(awk '/requests in/ {print $1}' "$f")
	bad=$(awk '/Non-2xx/ {print $5}' "$f")
	done2xx=$((done2xx + req - ${bad:-0}))
	non2xx=$((non2xx + ${bad:-0}))
done
stored=$(count_sql "SELECT count(*) FROM shipments WHERE merchant_ref = 'bench-wrk'")
echo "issuance: $rps shipments/s over ${ISSUE_SECONDS}s, 8 keep-alive clients over $NODES node(s);" \
	"p50 $p50 ms, p99 $p99 ms (worst node); non-2xx $non2xx"
echo "issuance: $done2xx acknowledged, $stored stored; CPU seconds: nodes $(secs "$g0" "$g1")," \
	"PostgreSQL $(secs "$d0" "$d1") (of $(nproc) cores x ${ISSUE_SECONDS}s)$(wal_per "$w0" "$w1" "$stored")"
[ "$stored" -ge "$done2xx" ] || fail "acknowledged shipments missing: $done2xx acknowledged, $stored stored"

# --- scans --------------------------------------------------------------------
: >"$T/tokens.txt"
for b in 0 1; do
	gw_batch_tokens "$KM" 1000 "scan$b" "$T/tokens.$b" || fail "batch"
	cat "$T/tokens.$b" >>"$T/tokens.txt"
done
gw_loadgen_enrol smile-bench "$DEVICES" || fail "enrolment"
gw_pubkeys
scans_of() { curl -s "$1/metrics" | awk '$1 == "smile_scans_total" {print $2}'; }
accepted_all=0
# scan_run TAG SECONDS RATE -> prints, sets R_rate R_p50 R_p99
scan_run() {
	local tag=$1 secs=$2 rate=$3 i before=() split="" r c0 c1 d0 d1 m0 m1 w0 w1 out="$T/scan.$RANDOM.out"
	for i in "${!URLS[@]}"; do before+=("$(scans_of "${URLS[$i]}")"); done
	! pgstat_on || psql_smile "SELECT pg_stat_statements_reset()" >/dev/null
	c0=$(cpu_of "${PIDS[@]}") d0=$(cpu_of $(db_pids)) m0=$(cpu_ticks "$MQTT_PID") w0=$(wal_lsn)
	"$LG" run --port "$MQTT_PORT" --gateway-sign-pk "$GW_SIGN_PK" --gateway-box-pk "$GW_BOX_PK" \
		--seed smile-bench --devices "$DEVICES" --connections 4 --tokens "$T/tokens.txt" \
		--event out_for_delivery --duration "$secs" --rate "$rate" >"$out" 2>&1 ||
		{ tail -5 "$out"; fail "$tag: lost, bad or duplicated replies"; }
	c1=$(cpu_of "${PIDS[@]}") d1=$(cpu_of $(db_pids)) m1=$(cpu_ticks "$MQTT_PID") w1=$(wal_lsn)
	r=$(grep '^result ' "$out")
	get() { printf '%s\n' "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	for i in "${!URLS[@]}"; do split="$split $(($(scans_of "${URLS[$i]}") - before[i]))"; done
	echo "scans, $tag: $(get rate) round trips/s over $(get seconds)s; p50 $(get p50_ms) ms," \
		"p90 $(get p90_ms) ms, p99 $(get p99_ms) ms, max $(get max_ms) ms; per node:$split"
	echo "scans, $tag: CPU seconds: nodes $(secs "$c0" "$c1"), PostgreSQL $(secs "$d0" "$d1")," \
		"broker $(secs "$m0" "$m1"), load generator $(get cpu_s) (of $(nproc) cores x ${secs}s)$(wal_per "$w0" "$w1" "$(get answered)")"
	echo "scans, $tag: revealed $(get revealed), error $(get error), bad $(get bad), lost $(get lost)," \
		"duplicated $(get duplicated)"
	accepted_all=$((accepted_all + $(get accepted)))
	if pgstat_on; then # per answered scan: calls, ms of PostgreSQL time
		psql_smile "SELECT round(calls::numeric / GREATEST($(get answered), 1), 2) || ' calls, ' ||
			round((total_exec_time / GREATEST($(get answered), 1))::numeric, 3) || ' ms: ' ||
			regexp_replace(left(query, 110), '\s+', ' ', 'g')
			FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 25" |
			sed "s|^|scans, $tag: per scan: |"
	fi
	R_rate=$(get rate) R_p50=$(get p50_ms) R_p99=$(get p99_ms)
}
scan_run "paced ${RATE}/s" "$SCAN_SECONDS" "$RATE"
P_rate=$R_rate P_p50=$R_p50 P_p99=$R_p99
C_rate=-
if [ "$CAPACITY" -gt 0 ]; then
	scan_run unpaced "$CAPACITY" 0
	C_rate=$R_rate
fi
events=$(count_sql "SELECT count(*) FROM events WHERE device_id LIKE 'lg-%'")
echo "scans: events in the store $events, accepted replies $accepted_all"
[ "$events" = "$accepted_all" ] || fail "events ($events) != accepted scans ($accepted_all)"
echo "row $KIND:$NODES $rps $p50 $p99 $P_rate $P_p50 $P_p99 $C_rate"
exit 0
