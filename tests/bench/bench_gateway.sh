#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issuance over HTTP: keep-alive, 8 concurrent clients (wrk), durable group
# commits (WAL, synchronous=FULL). Prints shipments/s and latency percentiles.
set -uo pipefail
. "$SMILE_ROOT/tests/integration/lib.sh"
. "$SMILE_ROOT/tests/integration/gateway.sh"
DURATION=${SMILE_BENCH_SECONDS:-15}

D="$T/data"
gw_init "$D" || { echo "init failed"; exit 1; }
SMILE_LOG_LEVEL=warn gw_start "$D" || { echo "gateway did not start"; exit 1; }
ADMIN=$(cat "$D/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"bench"}'
K=$(jq_get "$BODY" .key)

gw_wrk_issue_script "$K" bench "$T/post.lua"
wrk -t2 -c8 -d"${DURATION}s" --latency -s "$T/post.lua" "$GW_URL/v1/shipments" >"$T/wrk.out" 2>&1
rps=$(awk '/Requests\/sec/ {print $2}' "$T/wrk.out")
p50=$(awk '$1 == "50%" {print $2}' "$T/wrk.out")
p99=$(awk '$1 == "99%" {print $2}' "$T/wrk.out")
non2xx=$(awk '/Non-2xx/ {print $5}' "$T/wrk.out")
issued=$(curl -s "$GW_URL/metrics" | awk '/^smile_shipments_issued_total/ {print $2}')
echo "issuance: ${rps} shipments/s over ${DURATION}s, 8 keep-alive clients, p50 ${p50}, p99 ${p99}"
echo "issuance: ${issued} shipments issued (durable), non-2xx responses: ${non2xx:-0}"
echo "issuance: target >= 3000 shipments/s, p99 <= 20ms"
gw_stop
