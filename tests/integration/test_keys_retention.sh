#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key rotation end to end (labels printed before a rotation keep working
# until their key is retired) and the retention job (personal data past its
# period is crypto-shredded; the masked record and tracking stay).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
gw_serve_relayed "$D" || die "no gateway"
ADMIN=$(cat "$D/admin.key")
gw_merchant_key shop || die "no merchant key"
issue() {
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "李四", phone: "13900001111", address: {country: "CN",
	    province: "湖北省", city: "武汉市", street: "解放大道1号", detail: $d}},
	  sender: {name: "王五", phone: "13700002222", address: {country: "CN",
	    province: "湖北省", city: "武汉市", street: "中山大道9号", detail: "1-1"}},
	  weight_g: 300}')"
}
"$DT" keygen --id van-1 --out "$T/van-1.key" >"$T/van-1.json"
gw_enrol courier "$T/van-1.json" || die "enrol"
seq=0
scan() { # token -> REPLY
	seq=$((seq + 1))
	"$DT" scan --key "$T/van-1.key" --seq $seq --event out_for_delivery --token "$1" --out "$T/s.bin"
	gw_send van-1 "$T/s.bin"
}

issue "A-1"; WB_A=$(jq_get "$BODY" .waybill); TOK_A=$(jq_get "$BODY" .token)

# --- rotation --------------------------------------------------------------
gw_stop
out=$("$GW" keys rotate --data "$D")
t_match "keys rotate makes a new key current" "$out" '^token key 2 is now current$'
t_eq "the new key file is 0600" "600" "$(stat -c %a "$D/keys/token-002.key")"
gw_start "$D" || die "restart"
gw_wait_relay || die "relay"
issue "B-2"; TOK_B=$(jq_get "$BODY" .token)
t_ok "a new label's token differs in its key id" test "${TOK_A:0:6}" != "${TOK_B:0:6}"
scan "$TOK_A"
t_eq "a label printed before the rotation still opens" "revealed" "$(jq_get "$REPLY" .status)"
scan "$TOK_B"
t_eq "a label printed after it opens" "revealed" "$(jq_get "$REPLY" .status)"
t_fails "the current key cannot be retired" "$GW" keys retire --data "$D" --kid 2
gw_stop
t_match "retiring the old key" "$("$GW" keys retire --data "$D" --kid 1)" 'token key 1 retired'
t_fails "its file is gone" test -e "$D/keys/token-001.key"
gw_start "$D" || die "restart"
gw_wait_relay || die "relay"
scan "$TOK_A"
t_eq "a label of a retired key no longer opens" "denied token_unknown_key" \
	"$(jq_get "$REPLY" '"\(.status) \(.reason)"')"

# --- retention -------------------------------------------------------------
issue "C-3"; WB_C=$(jq_get "$BODY" .waybill)
gw_stop
out=$("$GW" retention --data "$D")
t_eq "nothing is due yet" "erased personal data of 0 shipment(s)" "$out"
# age shipment A past retention_after_issue_days (180)
sqlite3 "$D/store.db" "UPDATE shipments SET created_ms = created_ms - 181*86400000 WHERE waybill = '$WB_A'"
out=$("$GW" retention --data "$D")
t_eq "the retention job erases what is due" "erased personal data of 1 shipment(s)" "$out"
gw_start "$D" || die "restart"
api GET "/v1/shipments/$WB_A" "$KM"
t_eq "... its personal data is gone, the masked record stays" "200 erased" "$STATUS $(jq_get "$BODY" .personal_data)"
api GET "/v1/shipments/$WB_C" "$KM"
t_eq "... a recent shipment is untouched" "held" "$(jq_get "$BODY" .personal_data)"
api GET "/v1/shipments/$WB_A/events" "$KM"
t_eq "... and the erasure is in its history, by retention" "erased retention" \
	"$(jq_get "$BODY" '.events[-1] | "\(.event) \(.source)"')"
gw_stop
t_match "the audit chain holds the erasure" "$("$GW" audit verify --data "$D")" 'verifies'
t_done
