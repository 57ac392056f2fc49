#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crypto-shredding on a PostgreSQL store (docs/vault.md, "PostgreSQL"): with
# a real gateway on a private cluster (wal_recycle = off) and a real
# mosquitto, after an erasure and the backend's scrub (VACUUM FULL of the
# tables holding sealed data and stored replies, CHECKPOINT, pg_switch_wal,
# CHECKPOINT) the wrapped data key, the ciphertext and the withdrawn
# revealing reply of the erased shipment are found in no file under the
# cluster's data directory (heap, WAL, anything). Controls: the same search
# finds the bytes of a shipment that was not erased, and finds the erased
# ones before the scrub ran (so the test can fail). A second erasure inside
# scrub_interval waits for the next pass (batched, shown in /metrics).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

pg_start wal_recycle=off || die "postgres did not start"
q() { psql_smile "$1"; }
# a short interval, so the batched second pass comes within the test
export SMILE_STORE="$PG_URL?scrub_interval=8"

D="$T/data"
gw_serve_relayed "$D" || die "gateway did not start"
t_ok "the gateway serves on PostgreSQL" grep -q 'event=store.pg_open' "$GW_LOG"
t_fails "... and does not warn about wal_recycle" grep -q 'store.pg_wal_recycle_on' "$GW_LOG"
gw_merchant_key ziyun || die "merchant key"
ADMIN=$(cat "$D/admin.key")
"$DT" keygen --id courier1 --out "$T/courier1.key" >"$T/courier1.json" || die "keygen"
gw_enrol courier "$T/courier1.json" || die "enrol courier1"

issue() {
	api_json POST /v1/shipments "$KM" "{
	  \"recipient\": {\"name\": \"张三明\", \"phone\": \"13812345678\", \"address\": {\"country\": \"CN\",
	    \"province\": \"湖北省\", \"city\": \"武汉市\", \"district\": \"江汉区\", \"street\": \"建设大道568号\",
	    \"detail\": \"3栋2单元1502室\"}},
	  \"sender\": {\"name\": \"王小二\", \"phone\": \"027-85699449\", \"address\": {\"country\": \"CN\",
	    \"province\": \"湖北省\", \"city\": \"武汉市\", \"street\": \"泛海国际SOHO城\", \"detail\": \"7栋1201室\"}},
	  \"merchant_ref\": \"order-$1\", \"weight_g\": 800}"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
}
# hex of a shipment's sealed bytes: its wrapped key, and its ciphertext
wk_hex() { q "SELECT encode(p.wrapped_key, 'hex') FROM personal p JOIN shipments s
	ON s.id = p.shipment_id WHERE s.waybill = '$1'"; }
ct_hex() { q "SELECT encode(substr(p.ciphertext, 1, 48), 'hex') FROM personal p JOIN shipments s
	ON s.id = p.shipment_id WHERE s.waybill = '$1'"; }
# files under the data directory holding the bytes (read as the cluster's
# owner may be needed: we run as root or as that owner)
found_in() { # HEX -> prints the files that contain it
	[ ${#1} -ge 32 ] || { echo "(no bytes to look for)"; return 1; }
	python3 - "$PG_DATA" "$1" <<'PY'
import os, sys
needle = bytes.fromhex(sys.argv[2])
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        try:
            with open(p, "rb") as fh:
                if needle in fh.read():
                    print(os.path.relpath(p, sys.argv[1]))
        except OSError:
            pass
PY
}
metric_pending() { api GET /metrics "$ADMIN"; printf '%s' "$BODY" | sed -n 's/^smile_store_wal_scrub_pending //p'; }
wait_scrubbed() {
	local i
	for i in $(seq 1 200); do
		[ "$(metric_pending)" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# --- three shipments: A is erased (with a revealing reply), C is kept --------
issue a; WBA=$WB; TOKA=$TOKEN
issue b; WBB=$WB
issue c; WBC=$WB
"$DT" scan --key "$T/courier1.key" --seq 1 --event out_for_delivery --token "$TOKA" \
	--out "$T/scan1.bin" || die "scan"
gw_send courier1 "$T/scan1.bin"
t_eq "the courier is shown A's contact details" "revealed 张三明" \
	"$(jq_get "$REPLY" .status) $(jq_get "$REPLY" .contact.name)"
WKA=$(wk_hex "$WBA"); CTA=$(ct_hex "$WBA"); WKB=$(wk_hex "$WBB"); WKC=$(wk_hex "$WBC")
REPLYA=$(q "SELECT encode(substr(last_reply, length(last_reply) - 63), 'hex') FROM devices
	WHERE id = 'courier1'")
t_eq "A's wrapped key is 77 bytes" "154" "${#WKA}"
t_eq "the stored reply reveals A" "1" "$(q "SELECT last_revealed FROM devices WHERE id = 'courier1'")"

# autovacuum's ANALYZE samples column values into pg_statistic, which VACUUM
# FULL of the table never reaches: run it now, as it would run by itself
q "ANALYZE personal" >/dev/null
q "ANALYZE devices" >/dev/null
t_eq "control: ANALYZE sampled the tables" "1" \
	"$(q "SELECT count(*) FROM pg_stats WHERE tablename = 'personal' AND attname = 'shipment_id'")"
t_eq "... but no sealed column (statistics target 0)" "0" \
	"$(q "SELECT count(*) FROM pg_stats WHERE (tablename = 'personal' AND attname IN
	   ('wrapped_key', 'ciphertext')) OR (tablename = 'devices' AND attname IN
	   ('last_reply', 'last_digest'))")"

# controls: flushed to disk, every sealed copy is findable by this search
q "CHECKPOINT" >/dev/null
t_match "control: A's wrapped key is on disk before erasure" "$(found_in "$WKA")" 'base/'
t_match "control: A's stored reply is on disk before erasure" "$(found_in "$REPLYA")" 'base/'
t_match "control: A's wrapped key is in the WAL before erasure" "$(found_in "$WKA")" 'pg_wal/'

# --- erase A: the first pass runs at once; B right after waits for the next --
api DELETE "/v1/shipments/$WBA/personal" "$KM"
t_eq "A is erased" "200" "$STATUS"
t_ok "the scrub completes (smile_store_wal_scrub_pending back to 0)" wait_scrubbed
api DELETE "/v1/shipments/$WBB/personal" "$KM"
t_eq "B is erased right after" "200" "$STATUS"
t_eq "B's scrub waits for scrub_interval (pending in /metrics)" "1" "$(metric_pending)"
t_eq "A's row is gone, the reply withdrawn" "0|1" \
	"$(q "SELECT (SELECT count(*) FROM personal p JOIN shipments s ON s.id = p.shipment_id
	   WHERE s.waybill = '$WBA'), (SELECT count(*) FROM devices WHERE last_reply IS NULL)")"
t_eq "A's wrapped key is in no file under PG_DATA" "" "$(found_in "$WKA")"
t_eq "A's ciphertext is in no file under PG_DATA" "" "$(found_in "$CTA")"
t_eq "A's withdrawn reply is in no file under PG_DATA" "" "$(found_in "$REPLYA")"
t_match "control: C's wrapped key (not erased) is still found" "$(found_in "$WKC")" 'base/'
q "CHECKPOINT" >/dev/null
t_match "meanwhile B's erased key is still on disk (the search can see it)" \
	"$(found_in "$WKB")" '.'
t_eq "the scrub B owes is recorded in the store" "1" \
	"$(q "SELECT count(*) FROM meta WHERE key = 'scrub_owed'")"
# the node dies before paying it: its restart (or any node) pays it
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
gw_start "$D" || die "gateway did not restart"
b_gone() { q "CHECKPOINT" >/dev/null; [ -z "$(found_in "$WKB")" ]; }
wait_for 60 b_gone
t_eq "kill -9 before B's pass: the restarted node pays it, B's key is in no file" "" \
	"$(found_in "$WKB")"
t_ok "... having found it owed in the store" grep -q 'event=store.pg_scrub_owed' "$GW_LOG"
t_eq "... and the debt is cleared" "0" "$(q "SELECT count(*) FROM meta WHERE key = 'scrub_owed'")"
t_match "control: C's wrapped key is still found" "$(found_in "$WKC")" 'base/'

# --- what the rest of the gateway sees ----------------------------------------
api GET "/v1/shipments/$WBC" "$KM"
t_eq "C is still served" "200" "$STATUS"
gw_stop
t_match "the audit chain verifies" "$("$GW" audit verify --data "$D")" '^audit log verifies'
t_match "vault check opens every held row" "$("$GW" vault check --data "$D" 2>&1)" '1'
t_done
