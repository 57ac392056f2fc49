#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Strict HTTP: what a proxy and the gateway could read two ways is refused
# with 400 and a JSON error naming what was wrong, never the input itself.
#   - the path is checked before libmicrohttpd decodes it: %00, %2F, dot
#     segments, control characters;
#   - the body's framing: two Content-Length headers, Content-Length with
#     Transfer-Encoding, an encoding other than chunked (the connection is
#     closed after the 400, so nothing after it is read as a request);
#   - every documented query parameter, for range and calendar validity, and
#     given once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

RAW="$(dirname "$0")/rawhttp.py"
D="$T/data"
gw_init "$D" || die "init failed"
gw_start "$D" || die "gateway did not start"
PORT=${GW_URL##*:}
ADMIN=$(cat "$D/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KA=$(jq_get "$BODY" .key)
ship='{"recipient":{"name":"张三明","phone":"13812345678","address":{"city":"武汉市","street":"建设大道568号","detail":"3栋1502室"}},"sender":{"name":"王小二","phone":"027-85699449","address":{"city":"武汉市","street":"泛海国际"}},"weight_g":1200}'
api_json POST /v1/shipments "$KA" "$ship"
[ "$STATUS" = 201 ] || die "issue failed: $STATUS $BODY"
WB=$(jq_get "$BODY" .waybill)
count_labels() { api GET "/v1/labels" "$ADMIN"; printf '%s' "$BODY" | grep -c .; }
before=$(count_labels)

# expect_400 DESC FIELD MESSAGE-REGEX: after api/raw, STATUS and BODY
expect_400() {
	t_eq "$1: 400" "400" "$STATUS"
	t_eq "... naming $2" "$2" "$(jq_get "$BODY" '.error.field // "-"')"
	t_match "... saying what was wrong" "$(jq_get "$BODY" .error.message)" "$3"
}

# --- the path, before decoding -----------------------------------------------
api GET "/v1/shipments/$WB" "$KA"
t_eq "the plain path serves the shipment" "200" "$STATUS"
api GET "/v1/shipments/$WB%00junk" "$KA" --path-as-is
expect_400 "an encoded NUL in the path (used to serve the shipment)" path '%00'
t_nomatch "... without echoing the path" "$BODY" "junk|$WB"
api GET "/v1%2Fshipments/$WB" "$KA" --path-as-is
expect_400 "an encoded slash in the path" path '%2F'
api GET "/v1/shipments/%2e%2e/$WB" "$KA" --path-as-is
expect_400 "an encoded dot-dot segment" path "'\.\.'"
api GET "/v1/shipments/../shipments/$WB" "$KA" --path-as-is
expect_400 "a raw dot-dot segment" path "'\.\.'"
api GET "/v1/shipments/$WB%0a" "$KA" --path-as-is
expect_400 "an encoded control character" path 'control'
api GET "/v1/shipments/$WB%zz" "$KA" --path-as-is
expect_400 "a malformed escape" path 'malformed'
api GET "/v1/labels?limit=5%00junk" "$KA"
expect_400 "an encoded NUL in the query (used to read as limit=5)" query '%00'

# --- the body's framing --------------------------------------------------------
raw() { # name, then the request bytes as printf format (%s gets the key)
	local f="$T/req.$1"
	shift
	printf "$@" >"$f"
	R=$(python3 "$RAW" "$PORT" "$f" 3)
	STATUS=$(jq_get "$R" .status)
	BODY=$(jq_get "$R" .body)
}
HDR='Host: gw\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n'
raw two-lengths "POST /v1/shipments HTTP/1.1\r\n${HDR}Content-Length: 2\r\nContent-Length: 300\r\n\r\n{}" "$KA"
expect_400 "two Content-Length headers" Content-Length 'more than once'
t_eq "... and the connection is closed after the answer" "true true 1" "$(jq_get "$R" '"\(.closed) \(.connection_close) \(.responses)"')"
raw length-chunked "POST /v1/shipments HTTP/1.1\r\n${HDR}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" "$KA"
expect_400 "Content-Length with Transfer-Encoding: chunked" Content-Length 'together'
t_eq "... and the connection is closed" "true" "$(jq_get "$R" .closed)"
raw gzip "POST /v1/shipments HTTP/1.1\r\n${HDR}Transfer-Encoding: gzip\r\n\r\n" "$KA"
expect_400 "a Transfer-Encoding other than chunked (used to wait for the client to close)" Transfer-Encoding 'chunked'
raw two-encodings "POST /v1/shipments HTTP/1.1\r\n${HDR}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" "$KA"
expect_400 "two Transfer-Encoding headers" Transfer-Encoding 'more than once'
# a smuggling attempt: the second request hides in what one reading calls a body
inner="GET /v1/shipments/$WB HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer $KA\r\n\r\n"
raw smuggle "POST /v1/shipments HTTP/1.1\r\n${HDR}Content-Length: 0\r\nContent-Length: ${#inner}\r\n\r\n${inner}" "$KA"
t_eq "a request hidden behind two lengths gets one 400 and is never answered" "400 1" "$STATUS $(jq_get "$R" .responses)"
raw chunked-ok "POST /v1/shipments HTTP/1.1\r\n${HDR}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n" "$KA"
t_eq "a well-framed chunked body is still read (422: the object is empty)" "422" "$STATUS"
t_eq "none of the refused requests stored anything" "$before" "$(count_labels)"

# --- query parameters: range, calendar, once ------------------------------------
q() { api GET "$1" "$KA"; }
q "/v1/labels?after=18446744073709551616"
expect_400 "after past 2^64 (used to wrap)" after 'X-Next-After'
q "/v1/labels?after=9223372036854775808"
expect_400 "after past 2^63-1" after 'X-Next-After'
q "/v1/labels?after=-1"
expect_400 "a negative after" after 'X-Next-After'
q "/v1/labels?after=9223372036854775807"
t_eq "the largest after is fine" "200" "$STATUS"
q "/v1/labels?since=2026-02-30"
expect_400 "since on 30 February (used to mean 2 March)" since 'real date'
q "/v1/labels?since=2025-02-29"
expect_400 "since on 29 February of a common year" since 'real date'
q "/v1/labels?since=2026-13-01"
expect_400 "since in month 13" since 'real date'
q "/v1/labels?since=2026-11-29T24:00:00Z"
expect_400 "since at 24:00:00" since 'real date'
q "/v1/labels?since=2026-1-5"
expect_400 "since without two-digit month and day" since 'real date'
q "/v1/labels?since=99999999999999999"
expect_400 "since in milliseconds past year 9999" since 'milliseconds'
q "/v1/labels?since="
expect_400 "an empty since" since 'real date'
for ok in 2024-02-29 2026-11-29T23:59:59Z 1700000000000 1969-12-31; do
	q "/v1/labels?since=$ok"
	t_eq "since=$ok is fine" "200" "$STATUS"
done
for bad in 0 10001 +5 %205 5x 00000000000000000000000000000000000000000001; do
	q "/v1/labels?limit=$bad"
	expect_400 "limit=$bad" limit '1-10000'
done
q "/v1/labels?limit=10000"
t_eq "limit=10000 is fine" "200" "$STATUS"
q "/v1/labels?limit=5&limit=6"
expect_400 "a parameter given twice" limit 'more than once'
q "/v1/labels?since"
expect_400 "a parameter without a value" since 'needs a value'
q "/v1/labels?unknown=1&x"
t_eq "parameters the API does not know are ignored" "200" "$STATUS"
l() { curl -s -o "$T/label.out" -w '%{http_code}' -H "Authorization: Bearer $KA" "$GW_URL/v1/shipments/$WB/label?$1"; }
t_eq "dpi=4294967499 is 400 (used to wrap to 203)" "400" "$(l dpi=4294967499)"
t_eq "dpi=+203 is 400" "400" "$(l dpi=+203)"
t_eq "dpi=300 is fine" "200" "$(l dpi=300)"
t_eq "parcel=01 is fine" "200" "$(l parcel=01)"
t_eq "parcel=100 is 400" "400" "$(l parcel=100)"
t_eq "parcel=-1 is 400" "400" "$(l parcel=-1)"
t_eq "format given twice is 400" "400" "$(l 'format=png&format=zpl')"

t_nomatch "the log holds no phone number" "$(cat "$GW_LOG")" '13812345678|85699449'
t_done
