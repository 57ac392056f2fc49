#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-gateway issuance API against the real daemon: init, keys and roles,
# issuing, reading, printing (decoded with zbarimg), idempotency, every
# bad-input case with its status and nothing stored, batch, erasure, restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

D="$T/data"
gw_init "$D" || die "init failed"

# --- init ---------------------------------------------------------------
t_eq "data dir is 0700" "700" "$(stat -c %a "$D")"
t_eq "admin.key is 0600" "600" "$(stat -c %a "$D/admin.key")"
t_eq "vault key is 0600" "600" "$(stat -c %a "$D/keys/vault.key")"
t_match "config lists every default, commented" "$(cat "$D/gateway.conf")" '^retention_after_delivery_days = 30$'
t_fails "init refuses an initialised directory" "$GW" init --data "$D"

chmod 0644 "$D/keys/vault.key"
out=$("$GW" serve --data "$D" --listen 127.0.0.1:0 2>&1)
t_match "serve refuses a key readable by others, naming it" "$out" 'keys/vault.key'
chmod 0600 "$D/keys/vault.key"

gw_start "$D" || die "gateway did not start"
ADMIN=$(cat "$D/admin.key")

api GET /healthz ""
t_eq "healthz answers" "200" "$STATUS"

# --- keys and roles -----------------------------------------------------
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
t_eq "admin creates a merchant key" "201" "$STATUS"
KA=$(jq_get "$BODY" .key)
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"other-shop"}'
KB=$(jq_get "$BODY" .key)
api_json POST /v1/api-keys "$ADMIN" '{"role":"warehouse","merchants":["ziyun"]}'
t_eq "admin creates a warehouse key" "201" "$STATUS"
KW=$(jq_get "$BODY" .key)
KW_ID=$(jq_get "$BODY" .id)
api_json POST /v1/api-keys "$KA" '{"role":"admin"}'
t_eq "a merchant cannot create keys" "403" "$STATUS"
api_json POST /v1/api-keys "$ADMIN" '{"role":"warehouse"}'
t_eq "warehouse key without merchants is refused" "422" "$STATUS"
t_eq "... naming the field" "merchants" "$(jq_get "$BODY" .error.field)"

shipment() { # name phone detail [extra jq assignments]
	jq -nc --arg n "$1" --arg p "$2" --arg d "$3" '{
	  recipient: {name: $n, phone: $p, address: {country: "CN", province: "湖北省",
	    city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "泛海国际SOHO城",
	    detail: "7栋1201室"}},
	  merchant_ref: "order-1001", service: "STANDARD", weight_g: 1200, parcels: 1}' |
	jq -c "${4:-.}"
}

count_labels() { api GET "/v1/labels" "$ADMIN"; printf '%s' "$BODY" | grep -c . ; }

# --- issue ----------------------------------------------------------------
api_json POST /v1/shipments "$KA" "$(shipment 张三明 13812345678 '3栋2单元1502室')"
t_eq "merchant issues a shipment" "201" "$STATUS"
WB=$(jq_get "$BODY" .waybill)
TOKEN=$(jq_get "$BODY" .token)
t_match "waybill has prefix, date and check digits" "$WB" '^SW[0-9]{15}$'
t_match "token is SW1: + base45" "$TOKEN" '^SW1:[0-9A-Z $%*+./:-]+$'
t_eq "masked recipient name" "张**" "$(jq_get "$BODY" .label.recipient.name)"
t_eq "masked phone shows at most 5 digits" "138*******8" "$(jq_get "$BODY" .label.recipient.phone)"
t_match "address keeps street, hides unit/room" "$(jq_get "$BODY" '.label.recipient.address|join("|")')" '^湖北省 武汉市 江汉区\|建设大道568号 \*\*\*\*$'
t_nomatch "response never carries the full phone" "$BODY" '13812345678'
t_nomatch "response never carries the room" "$BODY" '1502室'
t_match "Location header points at the shipment" "$(cat "$T/headers")" "Location: /v1/shipments/$WB"

api GET "/v1/shipments/$WB" "$KA"
t_eq "merchant reads its masked view" "200" "$STATUS"
t_eq "view says personal data is held" "held" "$(jq_get "$BODY" .personal_data)"
api GET "/v1/shipments/$WB" "$KB"
t_eq "another merchant gets 404" "404" "$STATUS"
api GET "/v1/shipments/$WB/label?format=png" "$KB"
t_eq "another merchant cannot print it" "404" "$STATUS"
api GET "/v1/shipments/$WB/events" "$KA"
t_eq "events list the creation" "created" "$(jq_get "$BODY" '.events[0].event')"

# --- print ------------------------------------------------------------------
for fmt in png pdf zpl; do
	curl -sS -H "Authorization: Bearer $KW" -o "$T/label.$fmt" -w '%{http_code}' \
		"$GW_URL/v1/shipments/$WB/label?format=$fmt&dpi=203&size=100x150" >"$T/code"
	t_eq "warehouse prints $fmt" "200" "$(cat "$T/code")"
done
t_eq "PNG is a PNG" "PNG" "$(head -c 4 "$T/label.png" | tail -c 3)"
codes=$(zbarimg --raw -q "$T/label.png" 2>/dev/null | sort)
t_ok "zbarimg reads the token from the PNG" grep -qxF -- "$TOKEN" <<<"$codes"
t_match "zbarimg reads the waybill from the PNG" "$codes" "^$WB\$"
pdftoppm -r 203 -png -singlefile "$T/label.pdf" "$T/pdfpage" 2>/dev/null
t_ok "zbarimg reads the token from the PDF" grep -qxF -- "$TOKEN" <<<"$(zbarimg --raw -q "$T/pdfpage.png" 2>/dev/null)"
t_match "ZPL has the waybill in a native ^BC" "$(cat "$T/label.zpl")" '\^BC'
api GET "/v1/shipments/$WB/label?format=gif" "$KA"
t_eq "unknown label format is 400" "400" "$STATUS"
t_eq "... naming the parameter" "format" "$(jq_get "$BODY" .error.field)"
api GET "/v1/shipments/$WB/label?dpi=600" "$KA"
t_eq "unsupported dpi is 400" "400" "$STATUS"

# --- idempotency ----------------------------------------------------------
body=$(shipment 李四 13900001111 '1号楼101室' '.merchant_ref="idem-1"')
api_json POST /v1/shipments "$KA" "$body" -H 'Idempotency-Key: retry-abc'
first=$BODY
t_eq "idempotent request issues" "201" "$STATUS"
api_json POST /v1/shipments "$KA" "$body" -H 'Idempotency-Key: retry-abc'
t_eq "the retry returns the first response" "$first" "$BODY"
t_match "... marked as replayed" "$(cat "$T/headers")" 'Idempotent-Replayed: true'
api_json POST /v1/shipments "$KA" "$(shipment 李四 13900001112 '1号楼101室')" -H 'Idempotency-Key: retry-abc'
t_eq "same key, different body is 422" "422" "$STATUS"

# --- bad input: clear errors, nothing stored ------------------------------
before=$(count_labels)
api_json POST /v1/shipments "" "$(shipment 张三 13812345678 x)"
t_eq "no key is 401" "401" "$STATUS"
api_json POST /v1/shipments "smk_bogus" "$(shipment 张三 13812345678 x)"
t_eq "unknown key is 401" "401" "$STATUS"
api POST /v1/shipments "$KA" -H 'Content-Type: text/plain' --data-binary 'hello'
t_eq "wrong content type is 415" "415" "$STATUS"
api_json POST /v1/shipments "$KA" '{"recipient": '
t_eq "malformed JSON is 400" "400" "$STATUS"
t_eq "... code invalid_json" "invalid_json" "$(jq_get "$BODY" .error.code)"
api_json POST /v1/shipments "$KA" '{"recipient":{"name":"x","phone":"13812345678\q"}}'
t_eq "a JSON syntax error is 400" "400" "$STATUS"
t_nomatch "... and never quotes the input near the error" "$BODY" '13812345678'
api_json POST /v1/shipments "$KA" '{"recipient":{"name":ZhangSanFeng'
t_nomatch "... not even a bare word" "$BODY" 'ZhangSanFeng'
printf '{"recipient":{"name":"\xff\xfe"}}' >"$T/bad-utf8.json"
api POST /v1/shipments "$KA" -H 'Content-Type: application/json' --data-binary "@$T/bad-utf8.json"
t_eq "invalid UTF-8 is 400" "400" "$STATUS"
t_eq "... code invalid_utf8" "invalid_utf8" "$(jq_get "$BODY" .error.code)"
api_json POST /v1/shipments "$KA" "$(shipment 张三 13812345678 x 'del(.recipient.phone)')"
t_eq "missing field is 422" "422" "$STATUS"
t_eq "... naming recipient.phone" "recipient.phone" "$(jq_get "$BODY" .error.field)"
api_json POST /v1/shipments "$KA" "$(shipment 张三 13812345678 x '.weight_g="heavy"')"
t_eq "wrong type is 422 naming weight_g" "422 weight_g" "$STATUS $(jq_get "$BODY" .error.field)"
api_json POST /v1/shipments "$KA" "$(shipment 张三 '13-81' x)"
t_eq "a 4-digit phone is 422 naming recipient.phone" "422 recipient.phone" "$STATUS $(jq_get "$BODY" .error.field)"
t_nomatch "... and the message does not echo it" "$BODY" '13-81'
long=$(head -c 300 /dev/zero | tr '\0' 'x')
api_json POST /v1/shipments "$KA" "$(shipment "$long" 13812345678 x)"
t_eq "over-long name is 422 naming recipient.name" "422 recipient.name" "$STATUS $(jq_get "$BODY" .error.field)"
api_json POST /v1/shipments "$KA" "$(shipment 张三 13812345678 x '.note="call 13812345678"')"
t_eq "a phone number in the note is refused" "422 note" "$STATUS $(jq_get "$BODY" .error.field)"
api_json POST /v1/shipments "$KA" "$(shipment 张三 13812345678 x '.merchant="other-shop"')"
t_eq "a merchant cannot issue for another merchant" "403" "$STATUS"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
api POST /v1/shipments "$KA" -H 'Content-Type: application/json' --data-binary "@$T/big.json"
t_eq "body over 64 KiB is 413" "413" "$STATUS"
api POST /v1/shipments "$KA" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.json"
t_eq "chunked body over 64 KiB is 413" "413" "$STATUS"
api GET /v1/nothing "$KA"
t_eq "unknown route is 404" "404" "$STATUS"
api PUT /v1/shipments "$KA"
t_eq "wrong method is 405" "405" "$STATUS"
t_match "... with Allow" "$(cat "$T/headers")" 'Allow: POST'
t_eq "none of the bad requests stored anything" "$before" "$(count_labels)"

# --- batch --------------------------------------------------------------------
batch=$(jq -nc --argjson a "$(shipment 赵六 13700002222 '2-301')" \
	--argjson b "$(shipment 钱七 12 x)" --argjson c "$(shipment 'Anna Kowalska' '+48 601 234 567' 'm. 4')" \
	'{shipments: [$a, $b, $c]}')
api_json POST /v1/shipments/batch "$KA" "$batch"
t_eq "batch answers 200" "200" "$STATUS"
t_eq "batch: per-item results in order" "201 422 201" "$(jq_get "$BODY" '[.results[]|.status_code]|map(tostring)|join(" ")')"
t_eq "batch: the bad item names its field" "recipient.phone" "$(jq_get "$BODY" '.results[1].error.field')"
t_eq "batch: counts" "2 1" "$(jq_get "$BODY" '"\(.issued) \(.failed)"')"
t_eq "batch: Latin name masked" "A** K**" "$(jq_get "$BODY" '.results[2].label.recipient.name')"

# --- export for offline printing ----------------------------------------
api GET "/v1/labels?since=2000-01-01" "$KW"
t_eq "warehouse exports label records" "200" "$STATUS"
t_ok "export is JSON Lines of ziyun's records only" test "$(printf '%s\n' "$BODY" | jq -r .merchant | sort -u)" == "ziyun"
printf '%s\n' "$BODY" >"$T/export.jsonl"
api GET "/v1/labels?since=yesterday" "$KW"
t_eq "bad since is 400" "400" "$STATUS"

# --- erase ----------------------------------------------------------------
api DELETE "/v1/shipments/$WB/personal" "$KW"
t_eq "a warehouse cannot erase" "403" "$STATUS"
api DELETE "/v1/shipments/$WB/personal" "$KA"
t_eq "merchant erases personal data" "200 erased" "$STATUS $(jq_get "$BODY" .personal_data)"
api DELETE "/v1/shipments/$WB/personal" "$KA"
t_eq "erasing again says so" "true" "$(jq_get "$BODY" .already_erased)"
api GET "/v1/shipments/$WB" "$KA"
t_eq "the masked record stays, marked erased" "200 erased" "$STATUS $(jq_get "$BODY" .personal_data)"
api GET "/v1/shipments/$WB/events" "$KA"
t_eq "the tracking history keeps the erasure" "created erased" "$(jq_get "$BODY" '[.events[].event]|join(" ")')"

# --- revoke, metrics, restart --------------------------------------------
api DELETE "/v1/api-keys/$KW_ID" "$ADMIN"
t_eq "admin revokes the warehouse key" "204" "$STATUS"
api GET "/v1/shipments/$WB" "$KW"
t_eq "a revoked key is refused" "401" "$STATUS"
api GET /metrics ""
t_match "metrics count issued shipments" "$BODY" '^smile_shipments_issued_total [1-9]'
t_match "metrics have latency histograms" "$BODY" 'smile_http_request_duration_seconds_bucket\{route="shipment_create"'

gw_stop
t_eq "SIGTERM stops the gateway cleanly" "0" "$GW_RC"
t_match "shutdown is logged" "$(cat "$GW_LOG")" 'event=gateway.stopped'
gw_start "$D" || die "gateway did not restart"
api GET "/v1/shipments/$WB" "$KA"
t_eq "restart keeps shipments" "200" "$STATUS"
api_json POST /v1/shipments "$KA" "$(shipment 孙八 13600003333 '9-9')"
t_eq "issuing continues after restart" "201" "$STATUS"
t_ok "waybill numbers stay unique" test "$(jq_get "$BODY" .waybill)" != "$WB"

# --- rate limit per API key -------------------------------------------------
gw_stop
gw_conf_set "$D" rate_limit 2
gw_conf_set "$D" rate_burst 3
gw_start "$D" || die "gateway did not restart"
codes=""
for i in 1 2 3 4 5 6; do api GET "/v1/shipments/$WB" "$KA"; codes="$codes $STATUS"; done
t_match "a key over its rate gets 429" "$codes" '^( 200){3}.* 429'
t_match "... with Retry-After" "$(cat "$T/headers")" 'Retry-After: [0-9]+'
api GET "/v1/shipments/$WB" "$ADMIN"
t_eq "... while other keys go on" "200" "$STATUS"

t_nomatch "the log holds no phone number" "$(cat "$T"/gateway.*.log)" '13812345678|13900001111|85699449'
t_nomatch "the log holds no name" "$(cat "$T"/gateway.*.log)" '张三明|Kowalska'
t_done
