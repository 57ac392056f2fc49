#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Privacy check: after issuing 1,000 shipments with known names, phone
# numbers and unit/room details, none of those strings appears anywhere in
# the data directory (database, WAL, config, keys), in the gateway's log, or
# in any response; only masked forms do.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

D="$T/data"
gw_init "$D" || die "init failed"
SMILE_LOG_LEVEL=debug gw_start "$D" || die "gateway did not start"
ADMIN=$(cat "$D/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"privacy-shop"}'
K=$(jq_get "$BODY" .key)

# 1,000 distinct people: names, mobiles, landlines, rooms.
surnames=(张 王 李 赵 刘 陈 杨 黄 欧阳 司马)
given=(伟 芳 娜 敏 静 丽 强 磊 军 洋)
: >"$T/secrets"
: >"$T/people.tsv"
for i in $(seq 0 999); do
	name="${surnames[$((i % 10))]}${given[$(((i / 10) % 10))]}${given[$(((i / 100) % 10))]}明"
	phone=$(printf '139%08d' $((i * 7919 + 1234567)))
	land=$(printf '027-8%07d' $((i * 31 + 5000000)))
	room="$((i % 97 + 1))栋$((i % 13 + 1))单元$((i + 1000))室"
	printf '%s\n%s\n%s\n%s\n' "$name" "$phone" "${land#027-}" "$room" >>"$T/secrets"
	printf '%s\t%s\t%s\t%s\n' "$name" "$phone" "$land" "$room" >>"$T/people.tsv"
done
jq -cR 'split("\t") as [$n, $p, $l, $r] | {
  recipient: {name: $n, phone: $p, address: {country: "CN", province: "广东省",
    city: "深圳市", district: "南山区", street: "科技园路1号", detail: $r}},
  sender: {name: ($n + "寄"), phone: $l, address: {country: "CN", province: "广东省",
    city: "深圳市", district: "福田区", street: "深南大道100号", detail: $r}},
  weight_g: 500}' "$T/people.tsv" >"$T/shipments.jsonl"
t_eq "1,000 distinct secrets x 4" "4000" "$(sort -u "$T/secrets" | wc -l)"

# 500 one by one, 500 in one batch
head -n 500 "$T/shipments.jsonl" | while read -r s; do
	curl -sS -H "Authorization: Bearer $K" -H 'Content-Type: application/json' \
		--data-binary "$s" "$GW_URL/v1/shipments"
	echo
done >"$T/responses"
tail -n 500 "$T/shipments.jsonl" | jq -sc '{shipments: .}' >"$T/batch.json"
curl -sS -H "Authorization: Bearer $K" -H 'Content-Type: application/json' \
	--data-binary "@$T/batch.json" "$GW_URL/v1/shipments/batch" >>"$T/responses"
t_eq "500 single issues answered 201" "500" "$(head -n 500 "$T/responses" | jq -r .waybill | grep -c '^SW')"
t_eq "the batch issued 500" "500" "$(tail -n 1 "$T/responses" | jq .issued)"

# Read every shipment back and export the labels.
head -n 500 "$T/responses" | jq -r .waybill | head -n 50 | while read -r wb; do
	curl -sS -H "Authorization: Bearer $K" "$GW_URL/v1/shipments/$wb"; echo
	curl -sS -H "Authorization: Bearer $K" "$GW_URL/v1/shipments/$wb/events"; echo
done >>"$T/responses"
curl -sS -H "Authorization: Bearer $K" "$GW_URL/v1/labels?limit=10000" >>"$T/responses"
t_eq "export has all 1,000 records" "1000" "$(tail -n 1000 "$T/responses" | jq -r .waybill | grep -c '^SW')"

gw_stop # checkpoint: whatever is durable is on disk now
found_disk=$(grep -r -a -o -F -f "$T/secrets" "$D" | head -n 5)
t_eq "no name, phone or room in the data directory (db, WAL, config, keys)" "" "$found_disk"
found_log=$(grep -a -o -F -f "$T/secrets" "$GW_LOG" | head -n 5)
t_eq "none in the gateway log (debug level)" "" "$found_log"
found_resp=$(grep -a -o -F -f "$T/secrets" "$T/responses" | head -n 5)
t_eq "none in any response" "" "$found_resp"
t_match "responses carry the masked forms" "$(head -n 1 "$T/responses")" '"phone":"139\*+[0-9]"'
# sanity: the check itself can find a secret when one is there
printf '%s\n' "$(head -n 1 "$T/secrets")" >"$D/canary"
t_ok "the scan would find a leak" grep -r -q -a -F -f "$T/secrets" "$D"
t_done
