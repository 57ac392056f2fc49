#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PostgreSQL store survives a database restart (issue 11, point 7, the
# part that needs one node): while PostgreSQL is down /healthz answers 503
# and issuance fails cleanly; once it is back the gateway reconnects by
# itself (no restart of the gateway), issues again, and every shipment
# acknowledged before the outage is still there; the audit chain verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

pg_start || die "postgres did not start"
D="$T/data"; GW_DATA=$D
SMILE_STORE=$PG_URL gw_init "$D" || die "init failed"
gw_start "$D" || die "gateway did not start"
gw_merchant_key ziyun || die "merchant key"

ship() { # REF: issue one shipment -> STATUS, BODY
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg r "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号",
	    detail: "3栋2单元1502室"}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN",
	    city: "武汉市", street: "中山大道1号"}}, merchant_ref: $r, weight_g: 500}')"
}
health() { curl -s -o /dev/null -w '%{http_code}' "$GW_URL/healthz"; }

before=()
for i in 1 2 3; do
	ship "before-$i"
	[ "$STATUS" = 201 ] && before+=("$(jq_get "$BODY" .waybill)")
done
t_eq "three shipments issued before the outage" 3 "${#before[@]}"
t_eq "healthz before the outage" 200 "$(health)"

pg_stop_now
t_eq "healthz reports the outage" 503 "$(health)"
ship "during"
t_match "issuance during the outage fails with a server error, not a crash" "$STATUS" '^5'
t_ok "the gateway is still running" kill -0 "$GW_PID"

pg_restart || die "postgres did not come back"
code=
for i in $(seq 1 50); do
	code=$(health)
	[ "$code" = 200 ] && break
	sleep 0.2
done
t_eq "healthz recovers without restarting the gateway" 200 "$code"
# the writer learns of the dead connection from its first statement: that
# transaction fails (nothing acknowledged), the next one reconnects
ok=
for i in 1 2 3 4 5; do
	ship "after-$i"
	[ "$STATUS" = 201 ] && { ok=1; break; }
	sleep 0.2
done
t_eq "issuance works again after the restart" 1 "${ok:-0}"
t_match "the reconnection is logged" "$(cat "$GW_LOG")" 'event=store.pg_reconnected .*conn=writer'
found=0
for wb in "${before[@]}"; do
	api GET "/v1/shipments/$wb" "$KM"
	[ "$STATUS" = 200 ] && found=$((found + 1))
done
t_eq "every shipment acknowledged before the outage is still there" 3 "$found"
t_eq "the refused one was not stored" 0 \
	"$(psql_smile "SELECT count(*) FROM shipments WHERE merchant_ref = 'during'")"
gw_stop
out=$("$GW" audit verify --data "$D" 2>&1)
t_ok "the audit chain verifies after the outage" test $? -eq 0

# docs/operations.md, "Backups": pg_dump, restore into an empty database,
# audit verify before serving
"$PG_BIN/pg_dump" -Fc -f "$T/smile.dump" "$PG_URL"
t_ok "pg_dump takes a backup" test $? -eq 0 -a -s "$T/smile.dump"
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U smile restored &&
	"$PG_BIN/pg_restore" --no-owner -d "${PG_URL%/smile}/restored" "$T/smile.dump"
t_ok "pg_restore into an empty database" test $? -eq 0
SMILE_STORE="${PG_URL%/smile}/restored" "$GW" audit verify --data "$D" >"$T/verify.restored" 2>&1
t_ok "the restored store's audit chain verifies" test $? -eq 0
t_eq "... and holds every shipment" "$(psql_smile "SELECT count(*) FROM shipments")" \
	"$("$PG_BIN/psql" -X -At "${PG_URL%/smile}/restored" -c "SELECT count(*) FROM shipments")"
t_done
