#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The recipient tracking page on two gateway nodes sharing one PostgreSQL
# store (pg_start, docs/tracking.md): the digits hash written at issue on one
# node answers on the other; the throttle counts in the store, so checks
# spread over both nodes hit one limit; erasure clears the hash; and a
# gateway with no web_root configured serves the page from the source tree
# it was built from.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

pg_start || die "postgres did not start"
D="$T/a"
SMILE_STORE=$PG_URL gw_init "$D" || die "init failed"
gw_conf_set "$D" track_checks_per_waybill 4
mkdir -m 700 "$T/b"
cp -a "$D/keys" "$D/admin.key" "$D/gateway.conf" "$T/b/"
gw_conf_set "$D" node_id node-a
gw_conf_set "$T/b" node_id node-b
ADMIN=$(cat "$D/admin.key")

gw_start "$D" || die "node A did not start"
A_URL=$GW_URL
gw_start "$T/b" || die "node B did not start"
B_URL=$GW_URL
on() { GW_URL=$1; }

on "$A_URL"
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
ship='{"recipient":{"name":"张三明","phone":"13812345678","address":{"country":"CN","province":"湖北省","city":"武汉市","district":"江汉区","street":"建设大道568号","detail":"3栋"}},"sender":{"name":"王小二","phone":"027-85699449","address":{"country":"CN","province":"湖北省","city":"武汉市","street":"泛海","detail":"7栋"}},"weight_g":800}'
issue() {
	api_json POST /v1/shipments "$KM" "$ship"
	[ "$STATUS" = 201 ] || die "issue: $STATUS"
	WB=$(jq_get "$BODY" .waybill)
}
verify() { api_json POST "/v1/track/$1/verify" "" "{\"phone_last4\":\"$2\"}"; }

issue
WB1=$WB
t_eq "the hash is stored at issue (32 bytes)" "32" \
	"$(psql_smile "SELECT length(track_hash) FROM shipments WHERE waybill = '$WB1'")"
on "$B_URL"
api GET "/v1/track/$WB1" ""
t_eq "node B: the coarse status of a shipment issued on node A" "200 issued" "$STATUS $(jq_get "$BODY" .status)"
verify "$WB1" 5678
t_eq "node B: the right digits" "200 1" "$STATUS $(jq_get "$BODY" '.timeline | length')"

# --- one limit across both nodes (4 checks per waybill) ---------------------
issue
WB2=$WB
on "$A_URL"; verify "$WB2" 0000
on "$B_URL"; verify "$WB2" 0001
on "$A_URL"; verify "$WB2" 0002
t_eq "three wrong answers, on both nodes: answered" 403 "$STATUS"
on "$B_URL"; verify "$WB2" 5678
t_eq "the 4th check, on node B: right" 200 "$STATUS"
on "$A_URL"; verify "$WB2" 5678
t_eq "the 5th, on node A: throttled by what node B counted too" 429 "$STATUS"
t_eq "... one row per key in the store" "5" \
	"$(psql_smile "SELECT n FROM track_throttle WHERE key = 'waybill:$WB2'")"
t_eq "the wrong answers are audited, whichever node took them" "3" \
	"$(psql_smile "SELECT count(*) FROM audit WHERE kind = 'track.wrong_digits' AND subject = '$WB2'")"
t_ok "... and the audit chain, written by both nodes, verifies" "$BIN/smile-gateway" audit verify --data "$D"
on "$B_URL"
api GET "/v1/track/$WB2" ""
t_eq "the coarse status is not throttled by digit checks" 200 "$STATUS"

# --- erasure -----------------------------------------------------------------
issue
WB3=$WB
api DELETE "/v1/shipments/$WB3/personal" "$KM"
t_eq "erased" 200 "$STATUS"
t_eq "erasure clears the hash" "t" \
	"$(psql_smile "SELECT track_hash IS NULL FROM shipments WHERE waybill = '$WB3'")"
on "$A_URL"
verify "$WB3" 5678
t_eq "... the right digits are then not matched" "403 not_matched" "$STATUS $(jq_get "$BODY" .error.code)"

# --- the page, from the source tree (no web_root configured) -------------------
code=$(curl -sS -o "$T/page" -w '%{http_code} %{content_type}' "$A_URL/t/")
t_eq "no web_root: /t/ serves the page the gateway was built with" "200 text/html; charset=utf-8" "$code"
t_eq "... the very file" "" "$(cmp "$T/page" "$SMILE_ROOT/gateway/web/track/index.html" 2>&1)"

t_done
