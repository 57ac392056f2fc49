#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# POST /v1/shipments/batch honours Idempotency-Key under the rules of single
# issuance: a retry with the same key and body gets the first response and
# stores nothing more; the same key with another body is 422
# idempotency_key_reused; a malformed key is 400 and stores nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

D="$T/data"
gw_init "$D" || die "init failed"
gw_start "$D" || die "gateway did not start"
ADMIN=$(cat "$D/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KA=$(jq_get "$BODY" .key)
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"other"}'
KB=$(jq_get "$BODY" .key)

item() { # phone [ref]
	jq -nc --arg p "$1" --arg r "${2:-ref}" '{recipient: {name: "赵六", phone: $p,
	  address: {city: "武汉市", street: "建设大道568号", detail: "2-301"}},
	  sender: {name: "王小二", phone: "027-85699449", address: {city: "武汉市", street: "泛海国际"}},
	  merchant_ref: $r, weight_g: 500}'
}
batch() { jq -nc --argjson a "$(item "$1")" --argjson b "$(item 12)" --argjson c "$(item "$2")" '{shipments: [$a, $b, $c]}'; }
count() { api GET "/v1/labels" "$ADMIN"; printf '%s' "$BODY" | grep -c .; }

B1=$(batch 13700002222 13700003333)
n0=$(count)
api_json POST /v1/shipments/batch "$KA" "$B1" -H 'Idempotency-Key: batch-2026-11-29-a'
first=$BODY
t_eq "a batch with a key answers 200" "200" "$STATUS"
t_eq "... issuing the good items" "201 422 201" "$(jq_get "$BODY" '[.results[]|.status_code]|map(tostring)|join(" ")')"
t_eq "... two stored" "$((n0 + 2))" "$(count)"
api_json POST /v1/shipments/batch "$KA" "$B1" -H 'Idempotency-Key: batch-2026-11-29-a'
t_eq "the retry answers 200" "200" "$STATUS"
t_eq "... with the first response, byte for byte" "$first" "$BODY"
t_match "... marked as replayed" "$(cat "$T/headers")" 'Idempotent-Replayed: true'
t_eq "... and stores no second set" "$((n0 + 2))" "$(count)"

api_json POST /v1/shipments/batch "$KA" "$(batch 13700004444 13700005555)" -H 'Idempotency-Key: batch-2026-11-29-a'
t_eq "the same key with another body is 422" "422" "$STATUS"
t_eq "... idempotency_key_reused, naming the header" "idempotency_key_reused Idempotency-Key" "$(jq_get "$BODY" '"\(.error.code) \(.error.field)"')"
t_eq "... storing nothing" "$((n0 + 2))" "$(count)"

api_json POST /v1/shipments/batch "$KB" "$B1" -H 'Idempotency-Key: batch-2026-11-29-a'
t_eq "keys are scoped to the API key: another caller's same key issues" "200 2" "$STATUS $(jq_get "$BODY" .issued)"
n1=$(count)

api_json POST /v1/shipments "$KA" "$(item 13700006666)" -H 'Idempotency-Key: single-then-batch'
t_eq "a key used for one shipment ..." "201" "$STATUS"
api_json POST /v1/shipments/batch "$KA" "$B1" -H 'Idempotency-Key: single-then-batch'
t_eq "... is 422 on a batch" "422" "$STATUS"

for bad in 'has space' "$(head -c 129 /dev/zero | tr '\0' k)" 'tab	key' '中文'; do
	api_json POST /v1/shipments/batch "$KA" "$(batch 13700007777 13700008888)" -H "Idempotency-Key: $bad"
	t_eq "an invalid key (${#bad} characters) is 400 invalid_value naming the header" "400 invalid_value Idempotency-Key" "$STATUS $(jq_get "$BODY" '"\(.error.code) \(.error.field)"')"
done
api_json POST /v1/shipments/batch "$KA" "$(batch 13700007777 13700008888)" -H 'Idempotency-Key;'
t_eq "an empty key is 400" "400" "$STATUS"
t_eq "... and the invalid keys stored nothing" "$((n1 + 1))" "$(count)"

# two clients retrying at once: one set stored, the same answer for both
B2=$(batch 13700009999 13700001010)
for i in 1 2 3; do
	curl -sS -o "$T/par.$i" -w '%{http_code}' -H "Authorization: Bearer $KA" \
		-H 'Content-Type: application/json' -H 'Idempotency-Key: race-1' \
		--data-binary "$B2" "$GW_URL/v1/shipments/batch" >"$T/par.$i.code" &
done
for j in $(jobs -p); do [ "$j" = "$GW_PID" ] || wait "$j"; done
t_eq "three concurrent calls with one key all answer 200" "200 200 200" "$(cat "$T/par.1.code") $(cat "$T/par.2.code") $(cat "$T/par.3.code")"
t_ok "... with the same response" cmp -s "$T/par.1" "$T/par.2"
t_ok "... all three" cmp -s "$T/par.1" "$T/par.3"
t_eq "... and one set of shipments stored" "$((n1 + 1 + 2))" "$(count)"

t_nomatch "the log holds no phone number" "$(cat "$GW_LOG")" '1370000|85699449'
t_done
