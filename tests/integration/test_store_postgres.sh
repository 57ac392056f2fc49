#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The PostgreSQL store backend (gateway/store_postgres.c) on a private
# cluster:
#   - the store conformance suite (tests/unit/gateway/test_store.c) passes
#     against it: SMILE_TEST_STORE_URL=$PG_URL, each test on its own
#     database "smile-PID-N", created by the writer's open (create = 1) and
#     dropped here afterwards; its TAP lines count as this test's;
#   - a gateway initialised and serving with SMILE_STORE=$PG_URL issues a
#     shipment over HTTP, the CLI (audit verify) reads the same database,
#     and gateway.conf records the store;
#   - no personal data is in plaintext in any file of the cluster;
#   - a database whose schema is newer than this build is refused with a
#     clear message, and a password in the URL never reaches the log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

pg_start wal_recycle=off || die "postgres did not start"
drop_test_dbs() {
	local db
	for db in $(psql_smile "SELECT datname FROM pg_database WHERE datname LIKE 'smile-%'"); do
		psql_smile "DROP DATABASE \"$db\"" >/dev/null
	done
}

# --- the conformance suite ------------------------------------------------------
SMILE_TEST_STORE_URL=$PG_URL CMOCKA_MESSAGE_OUTPUT=TAP "$SMILE_BUILD/tests/gateway/test_store" \
	>"$T/conformance.tap" 2>"$T/conformance.err"
rc=$?
# renumber its TAP lines into ours
while IFS= read -r line; do
	case "$line" in
	"ok "*) _t_report 0 "conformance: ${line#* - }" ;;
	"not ok "*) _t_report 1 "conformance: ${line#* - }"; sed -e 's/^/#   /' "$T/conformance.err" | tail -20 ;;
	esac
done <"$T/conformance.tap"
t_eq "the conformance suite exits 0" "0" "$rc"
t_match "... and ran on PostgreSQL (a database per test)" \
	"$(psql_smile "SELECT count(*) FROM pg_database WHERE datname LIKE 'smile-%'")" '^[1-9]'
drop_test_dbs
t_eq "its databases are dropped" "0" \
	"$(psql_smile "SELECT count(*) FROM pg_database WHERE datname LIKE 'smile-%'")"

# --- a gateway on PostgreSQL ------------------------------------------------------
export SMILE_STORE=$PG_URL
D="$T/data"; GW_DATA=$D
gw_init "$D" || die "init failed"
t_match "init records the store in gateway.conf" "$(grep '^store' "$D/gateway.conf")" \
	"= $PG_URL\$"
t_fails "... and creates no SQLite file" test -e "$D/store.db"
unset SMILE_STORE # from here on the config names it
gw_start "$D" || die "gateway did not start"
gw_merchant_key ziyun || die "merchant key"
NAME="欧阳菲菲"; PHONE="13987654321"; DETAIL="9栋808室"
# (the street is printed whole on the label, so it is no secret: not checked)
api_json POST /v1/shipments "$KM" "$(jq -nc --arg n "$NAME" --arg p "$PHONE" --arg d "$DETAIL" '{
  recipient: {name: $n, phone: $p, address: {country: "CN", province: "湖北省",
    city: "武汉市", district: "江岸区", street: "解放大道1277号", detail: $d}},
  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
  merchant_ref: "order-pg-1", weight_g: 500}')"
t_eq "a shipment is issued over HTTP" "201" "$STATUS"
WB=$(jq_get "$BODY" .waybill)
t_eq "... and stored in PostgreSQL" "1" "$(psql_smile "SELECT count(*) FROM shipments s
	JOIN personal p ON p.shipment_id = s.id WHERE s.waybill = '$WB'")"
api GET "/v1/shipments/$WB" "$KM"
t_eq "it reads back" "200 $WB" "$STATUS $(jq_get "$BODY" .waybill)"
# A deferred statement that fails (here: a trigger refusing the "created"
# event of one shipment) fails its whole group commit: nothing of it is
# stored, the client is told, and the next shipment goes through.
psql_smile "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF (SELECT merchant_ref FROM shipments WHERE id = NEW.shipment_id) = 'poison' THEN
    RAISE EXCEPTION 'refused by test';
  END IF;
  RETURN NEW;
END \$\$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
poison=$(jq -nc '{recipient: {name: "李四", phone: "13800001111", address: {country: "CN",
  province: "湖北省", city: "武汉市", district: "江岸区", street: "解放大道1号", detail: "1室"}},
  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
  merchant_ref: "poison", weight_g: 500}')
api_json POST /v1/shipments "$KM" "$poison"
t_match "a shipment whose deferred insert fails is refused" "$STATUS" '^5'
t_eq "... and nothing of it is stored" "0" \
	"$(psql_smile "SELECT count(*) FROM shipments WHERE merchant_ref = 'poison'")"
psql_smile "DROP TRIGGER refuse_poison ON events"
api_json POST /v1/shipments "$KM" "$(printf '%s' "$poison" | jq -c '.merchant_ref = "after"')"
t_eq "the next shipment is issued" "201" "$STATUS"
t_match "the CLI verifies the audit chain beside serve" "$("$GW" audit verify --data "$D")" \
	'^audit log verifies'
gw_stop
t_eq "the gateway stops cleanly" "0" "$GW_RC"

# --- no personal data in plaintext in the cluster's files ---------------------------
psql_smile "CHECKPOINT" >/dev/null
plain_in_pgdata() { # TEXT -> the files under PG_DATA holding its UTF-8 bytes
	python3 - "$PG_DATA" "$1" <<'PY'
import os, sys
needle = sys.argv[2].encode()
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        try:
            if needle in open(p, "rb").read():
                print(os.path.relpath(p, sys.argv[1]))
        except OSError:
            pass
PY
}
t_eq "the recipient's name is in no file under PG_DATA" "" "$(plain_in_pgdata "$NAME")"
t_eq "nor the phone number" "" "$(plain_in_pgdata "$PHONE")"
t_eq "nor the address detail" "" "$(plain_in_pgdata "$DETAIL")"
t_match "control: the (public) waybill is found the same way" "$(plain_in_pgdata "$WB")" 'base/'

# --- a newer schema is refused; the password stays out of logs ----------------------
schema=$(psql_smile "SELECT value FROM meta WHERE key = 'schema_version'")
psql_smile "UPDATE meta SET value = '99' WHERE key = 'schema_version'"
out=$("$GW" audit verify --data "$D" 2>&1)
t_fails "the CLI refuses a newer schema" "$GW" audit verify --data "$D"
t_match "... saying so" "$out" 'schema version 99 is newer than this gateway'
gw_start "$D" 2>/dev/null && t_fails "serve refuses it too" true || t_ok "serve refuses it too" true
psql_smile "UPDATE meta SET value = '$schema' WHERE key = 'schema_version'"
psql_smile "ALTER ROLE smile PASSWORD 'hunter2-secret'" >/dev/null
pw_url="postgresql://smile:hunter2-secret@127.0.0.1:$PG_PORT/nosuchdb"
out=$(SMILE_STORE=$pw_url "$GW" audit verify --data "$D" 2>&1)
t_match "a store that cannot be opened is named with its password masked" "$out" \
	'smile:redacted@127.0.0.1'
t_fails "... and the password is not shown" grep -q 'hunter2' <<<"$out"
out=$(SMILE_STORE="postgresql://smile@127.0.0.1:$PG_PORT/nosuchdb?sslpassword=ssl-secret&password=hunter2-secret" \
	"$GW" audit verify --data "$D" 2>&1)
t_match "every password parameter of the URL is masked" "$out" \
	'sslpassword=redacted&password=redacted'
t_fails "... none is shown" grep -qE 'hunter2|ssl-secret' <<<"$out"
t_done
