#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The recipient tracking page (docs/tracking.md) end to end on one gateway
# with its relay and broker: the coarse answer, the digit check against the
# hash stored at issue, the timeline with city-level places and the access
# log built from real scans (smile-devtool), the throttle per client address
# (curl --interface 127.0.0.N: the throttle keys the TCP peer) and per
# waybill, the audit entries, erasure, an unknown waybill that answers like
# a wrong one, the page's files and headers, and then the page itself in
# Chromium (tests/browser/tracking.js), screenshots into $SMILE_SHOTS_DIR
# (default $T/shots).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
gw_init "$D" || die "init failed"
gw_conf_set "$D" track_checks_per_waybill 5
gw_conf_set "$D" track_checks_per_address 8
gw_conf_set "$D" track_lookups_per_address 40
gw_conf_set "$D" track_trusted_proxies "127.0.0.20, 127.0.0.22"
# the page's files from a copy, so a symlink out of it can be planted
mkdir -p "$T/web"
cp -a "$SMILE_ROOT/gateway/web/track" "$T/web/"
ln -s /etc/passwd "$T/web/track/passwd.txt"
echo secret >"$T/outside.css"
ln -s "$T/outside.css" "$T/web/track/outside.css"
gw_conf_set "$D" web_root "$T/web"
gw_relay_setup "$D" || die "broker did not start"
gw_start "$D" || die "gateway did not start"
gw_wait_relay || die "gateway did not connect to the broker"
gw_pubkeys
ADMIN=$(cat "$D/admin.key")
DB="$D/store.db"
q() { sqlite3 "$DB" ".timeout 5000" "$1"; }

api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)

issue() { # detail -> WB, TOKEN (recipient phone ...5678)
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "张三明", phone: "+86 138-1234-5678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "order-7", weight_g: 800}')"
	[ "$STATUS" = 201 ] || die "issue: $STATUS $BODY"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
}
scan() {
	"$DT" scan --key "$T/$1.key" --seq "$2" --event "$3" --token "$4" --out "$T/scan.bin" || return 1
	gw_send "$1" "$T/scan.bin"
}
# track [curl args] PATH: the public API, no key
track() { local p=$1; shift; api GET "$p" "" "$@"; }
verify() { # WB DIGITS [curl args]
	local wb=$1 d=$2
	shift 2
	api_json POST "/v1/track/$wb/verify" "" "{\"phone_last4\":\"$d\"}" "$@"
}
# a well-formed waybill (check digits right) that was never issued
unknown_wb() {
	python3 -c '
import sys
s = sys.argv[1]
r = 0
for c in s + "00":
    r = (r * 100 + ord(c) - 55) % 97 if c.isalpha() else (r * 10 + int(c)) % 97
print("%s%02d" % (s, 98 - r))' "$1"
}
headers() { tr -d '\r' <"$T/headers"; }

# --- a parcel with a history: a hub, a courier out of its zone, the courier
for d in hub1 courier1 courier9; do
	"$DT" keygen --id "$d" --out "$T/$d.key" >"$T/$d.json" || die "keygen $d"
done
gw_enrol hub "$T/hub1.json" "CN/湖北省/武汉市" || die "enrol hub1"
gw_enrol courier "$T/courier1.json" "CN/湖北省/武汉市/江汉区" || die "enrol courier1"
gw_enrol courier "$T/courier9.json" "CN/上海市/上海市/浦东新区" || die "enrol courier9"
issue "3栋2单元1502室"
WB1=$WB TOK1=$TOKEN
scan hub1 1 hub_in "$TOK1"
scan courier9 1 out_for_delivery "$TOK1"
t_eq "a courier out of its zone is refused the contact" "out_of_zone" "$(jq_get "$REPLY" .reason)"
scan courier1 1 out_for_delivery "$TOK1"
t_eq "the courier of the zone gets it (a reveal)" "revealed" "$(jq_get "$REPLY" .status)"

# --- the coarse answer -------------------------------------------------------
track "/v1/track/$WB1"
t_eq "the waybill alone: 200" 200 "$STATUS"
t_eq "... the coarse status and two dates, nothing else" \
	'["first_seen","last_update","status","waybill"]' "$(jq_get "$BODY" 'keys | tojson')"
t_eq "... out for delivery" "out_for_delivery" "$(jq_get "$BODY" .status)"
t_match "... dates only" "$(jq_get "$BODY" '.first_seen + " " + .last_update')" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{4}-[0-9]{2}-[0-9]{2}$'
t_nomatch "... no place, no name, nothing masked" "$(jq_get "$BODY" 'del(.waybill) | tojson')" \
	'武汉|湖北|张|\*|138|5678|hub1|courier'
t_match "... Cache-Control: no-store" "$(headers)" $'\nCache-Control: no-store'
track "/v1/track/SW12345"
t_eq "a string that is not a waybill: 422 naming the waybill" "422 waybill" \
	"$STATUS $(jq_get "$BODY" .error.field)"

# --- the digit check ---------------------------------------------------------
verify "$WB1" 0000 --interface 127.0.0.2
t_eq "wrong digits: 403 not_matched" "403 not_matched" "$STATUS $(jq_get "$BODY" .error.code)"
WRONG_BODY=$BODY
verify "$WB1" 123 --interface 127.0.0.2
t_eq "three digits: 422 naming phone_last4" "422 phone_last4" "$STATUS $(jq_get "$BODY" .error.field)"
api_json POST "/v1/track/$WB1/verify" "" '{"phone_last4":"5678","name":"x"}' --interface 127.0.0.2
t_eq "another member: 422 invalid_value" "422 invalid_value" "$STATUS $(jq_get "$BODY" .error.code)"
api_json POST "/v1/track/$WB1/verify" "" '{"phone_last4":5678}' --interface 127.0.0.2
t_eq "digits as a number: 422 wrong_type" "422 wrong_type phone_last4" \
	"$STATUS $(jq_get "$BODY" '"\(.error.code) \(.error.field)"')"
api_json POST "/v1/track/$WB1/verify" "" '{}' --interface 127.0.0.2
t_eq "no digits: 422 missing_field" "422 missing_field" "$STATUS $(jq_get "$BODY" .error.code)"
api POST "/v1/track/$WB1/verify" "" --data-binary '{"phone_last4":"5678"}' --interface 127.0.0.2
t_eq "not sent as JSON: 415" 415 "$STATUS"
t_eq "... none of these was counted as a check" "1" \
	"$(q "SELECT n FROM track_throttle WHERE key = 'waybill:$WB1'")"
verify "$WB1" 5678 --interface 127.0.0.2
t_eq "the right digits: 200" 200 "$STATUS"
FULL=$BODY
t_eq "... the coarse answer, the timeline and the access log" \
	'["access","first_seen","last_update","status","timeline","waybill"]' "$(jq_get "$FULL" 'keys | tojson')"
t_eq "... the timeline: every event" "created hub_in out_for_delivery out_for_delivery" \
	"$(jq_get "$FULL" '[.timeline[].event] | join(" ")')"
t_eq "... city-level places from the scanning devices' zones (no country, no district)" \
	'null|湖北省 武汉市|上海市|湖北省 武汉市' "$(jq_get "$FULL" '[.timeline[].place | tostring] | join("|")')"
t_nomatch "... no device id, no name, no phone, no street anywhere" "$FULL" \
	'hub1|courier1|courier9|张三明|13812345678|\+86|建设大道|江汉区|浦东|1502室'
t_eq "... the reveal: when, for which event, to which role" "reveal courier out_for_delivery false" \
	"$(jq_get "$FULL" '.access[] | select(.kind == "reveal") | "\(.kind) \(.role) \(.event) \(.resend)"')"
t_eq "... the refused attempts, with their reasons" \
	"refusal hub hub_in hub_role|refusal courier out_for_delivery out_of_zone" \
	"$(jq_get "$FULL" '[.access[] | select(.kind == "refusal") | "\(.kind) \(.role) \(.event) \(.reason)"] | join("|")')"
t_eq "... and the wrong answer on this page" "1" \
	"$(jq_get "$FULL" '[.access[] | select(.kind == "wrong_digits")] | length')"
t_eq "... every entry has a time" "0" "$(jq_get "$FULL" '[.access[] | select(.time_ms == null or .time == null)] | length')"

# --- audit -------------------------------------------------------------------
t_eq "the wrong answer is audited: track.wrong_digits, subject the waybill, no digits" \
	"track.wrong_digits|$WB1|public|wrong" \
	"$(q "SELECT kind, subject, actor, detail FROM audit WHERE kind = 'track.wrong_digits'")"
t_eq "... no client address or digits in any audit entry" "0" \
	"$(q "SELECT count(*) FROM audit WHERE kind LIKE 'track%' AND (actor || detail || subject) LIKE '%127.0.0%' OR detail LIKE '%0000%'")"
t_ok "the audit chain still verifies" "$BIN/smile-gateway" audit verify --data "$D"

# --- an unknown waybill answers like a wrong one --------------------------------
WBX=$(unknown_wb "SW2601010000001")
track "/v1/track/$WBX"
t_eq "an unknown waybill: 200, the same shape" '200 ["first_seen","last_update","status","waybill"]' \
	"$STATUS $(jq_get "$BODY" 'keys | tojson')"
t_eq "... status unknown, no dates" "unknown null null" "$(jq_get "$BODY" '"\(.status) \(.first_seen) \(.last_update)"')"
verify "$WBX" 5678 --interface 127.0.0.2
t_eq "... any digits: the very answer of a wrong guess for a real waybill" "403 $WRONG_BODY" "$STATUS $BODY"
t_eq "... counted and audited the same way" "1" \
	"$(q "SELECT count(*) FROM audit WHERE kind = 'track.wrong_digits' AND subject = '$WBX'")"
hdr_shape() { headers | sed 1d | cut -d: -f1 | grep -v '^Date$' | sort | tr '\n' ' '; }
verify "$WB1" 0001 --interface 127.0.0.9
H1=$(hdr_shape)
verify "$WBX" 0001 --interface 127.0.0.9
t_eq "... the same headers too" "$H1" "$(hdr_shape)"

# --- throttle per waybill, from several addresses ---------------------------
issue "5栋"
WB2=$WB
for a in 3 3 4 4; do
	verify "$WB2" 1111 --interface "127.0.0.$a"
done
t_eq "4 wrong answers from two addresses: still answered" 403 "$STATUS"
verify "$WB2" 5678 --interface 127.0.0.5
t_eq "the 5th check of the waybill (limit 5) passes: right digits" 200 "$STATUS"
verify "$WB2" 5678 --interface 127.0.0.6
t_eq "the 6th, from a fresh address, even right: 429" 429 "$STATUS"
t_match "... with Retry-After" "$(headers)" $'\nRetry-After: [0-9]+'
t_eq "... saying nothing of the waybill" "rate_limited" "$(jq_get "$BODY" .error.code)"
WBY=$(unknown_wb "SW2601010000002")
for a in 3 3 4 4 5; do
	verify "$WBY" 1111 --interface "127.0.0.$a"
done
verify "$WBY" 5678 --interface 127.0.0.6
t_eq "an unknown waybill is throttled at the same count" 429 "$STATUS"

# --- throttle per client address --------------------------------------------
for i in $(seq 1 8); do
	verify "$(unknown_wb "SW260102000000$i")" 1234 --interface 127.0.0.7
done
t_eq "8 checks from one address (limit 8), each for another waybill: answered" 403 "$STATUS"
verify "$WB1" 5678 --interface 127.0.0.7
t_eq "the 9th from that address, even right: 429" 429 "$STATUS"
verify "$WB1" 5678 --interface 127.0.0.8
t_eq "... another address still gets its answer" 200 "$STATUS"
for i in $(seq 1 40); do track "/v1/track/$WB1" --interface 127.0.0.10; done
t_eq "40 coarse lookups from one address (limit 40): answered" 200 "$STATUS"
track "/v1/track/$WB1" --interface 127.0.0.10
t_eq "the 41st: 429" 429 "$STATUS"
t_eq "the throttle is in the store (shared by every node)" "1" \
	"$(q "SELECT count(*) FROM track_throttle WHERE key = 'lookup:127.0.0.10' AND n = 41")"

# --- behind a proxy ---------------------------------------------------------
track "/v1/track/$WB1" --interface 127.0.0.20 -H "X-Forwarded-For: 203.0.113.7"
track "/v1/track/$WB1" --interface 127.0.0.22 -H "X-Forwarded-For: 10.1.1.1, 203.0.113.8"
track "/v1/track/$WB1" --interface 127.0.0.20 -H "X-Forwarded-For: 198.51.100.1" \
	-H "X-Forwarded-For: 203.0.113.9"
track "/v1/track/$WB1" --interface 127.0.0.21 -H "X-Forwarded-For: 203.0.113.10"
track "/v1/track/$WB1" --interface 127.0.0.20 -H "X-Forwarded-For: 2001:db8:1:2:3:4:5:6"
t_eq "from a trusted proxy the client is the last X-Forwarded-For address (IPv6 by its /64); from anyone else, the peer" \
	"lookup:127.0.0.21 lookup:2001:db8:1:2::/64 lookup:203.0.113.7 lookup:203.0.113.8 lookup:203.0.113.9" \
	"$(q "SELECT key FROM track_throttle WHERE key IN ('lookup:203.0.113.7', 'lookup:203.0.113.8',
	  'lookup:203.0.113.9', 'lookup:127.0.0.21', 'lookup:2001:db8:1:2::/64', 'lookup:10.1.1.1',
	  'lookup:198.51.100.1', 'lookup:203.0.113.10', 'lookup:127.0.0.20') ORDER BY key" | tr '\n' ' ' | sed 's/ $//')"

# --- erasure -----------------------------------------------------------------
issue "9栋"
WB3=$WB
t_eq "a fresh shipment holds its digits hash" "32" "$(q "SELECT length(track_hash) FROM shipments WHERE waybill = '$WB3'")"
api DELETE "/v1/shipments/$WB3/personal" "$KM"
t_eq "erased" 200 "$STATUS"
t_eq "erasure clears the hash" "1" "$(q "SELECT track_hash IS NULL FROM shipments WHERE waybill = '$WB3'")"
track "/v1/track/$WB3" --interface 127.0.0.11
t_eq "an erased shipment still shows its coarse status" "200 issued" "$STATUS $(jq_get "$BODY" .status)"
verify "$WB3" 5678 --interface 127.0.0.11
t_eq "... but the right digits answer as wrong ones" "403 $WRONG_BODY" "$STATUS $BODY"
t_eq "... audited with why" "erased" \
	"$(q "SELECT detail FROM audit WHERE kind = 'track.wrong_digits' AND subject = '$WB3'")"

# --- the page's files ----------------------------------------------------------
page() { BODY=$(curl -sS -D "$T/headers" -o "$T/page" -w '%{http_code} %{content_type}' "$GW_URL$1"); }
page /t/
t_eq "/t/ is the page" "200 text/html; charset=utf-8" "$BODY"
t_match "... Content-Security-Policy: own files only, no inline script, no framing" "$(headers)" \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';.*frame-ancestors 'none'"
t_match "... X-Frame-Options: DENY" "$(headers)" $'\nX-Frame-Options: DENY'
t_match "... Referrer-Policy: no-referrer" "$(headers)" $'\nReferrer-Policy: no-referrer'
t_match "... Cross-Origin-Opener-Policy: same-origin" "$(headers)" $'\nCross-Origin-Opener-Policy: same-origin'
t_match "... X-Content-Type-Options: nosniff" "$(headers)" $'\nX-Content-Type-Options: nosniff'
t_nomatch "... no inline script" "$(cat "$T/page")" '<script>|<script [^>]*>[^<]'
page /t/track.js
t_eq "its script" "200 text/javascript; charset=utf-8" "$BODY"
page /t/track.css
t_eq "its style sheet" "200 text/css; charset=utf-8" "$BODY"
page /t
t_eq "/t is the page too" "200 text/html; charset=utf-8" "$BODY"
for bad in /t/missing.js /t/.hidden.css /t/index.html.bak /t/passwd.txt /t/outside.css; do
	page "$bad"
	t_eq "$bad: 404" "404" "${BODY%% *}"
done
for bad in /t/..%2fgateway.conf /t/%2e%2e /t/%2e%2e/%2e%2e/gateway.conf; do
	page "$bad"
	t_eq "$bad: refused before routing (400)" "400" "${BODY%% *}"
done
t_nomatch "... a symlink out of the directory serves nothing" "$(cat "$T/page")" 'secret|root:'

# --- in Chromium ----------------------------------------------------------------
issue "11栋"
WB4=$WB
issue "12栋"
WB5=$WB
scan hub1 2 hub_in "$TOKEN"
scan courier1 2 out_for_delivery "$TOKEN"
t_eq "the browser's parcel has a reveal too" "revealed" "$(jq_get "$REPLY" .status)"
SHOTS=${SMILE_SHOTS_DIR:-$T/shots}
if [ -x /usr/bin/chromium ] && [ -d "$SMILE_ROOT/tests/browser/node_modules/puppeteer-core" ]; then
	(cd "$SMILE_ROOT" && node tests/browser/tracking.js "$GW_URL" "$WB5" "$WB4" 5678 "$SHOTS") \
		>"$T/browser.tap" 2>"$T/browser.err"
	brc=$?
	t_tap "$T/browser.tap"
	t_eq "the browser test ran to its end" 0 "$brc"
	[ "$brc" = 0 ] || sed 's/^/# /' "$T/browser.err"
	echo "# screenshots in $SHOTS"
else
	# make test installs both (make deps): missing, the browser test fails
	t_fails "the browser test: Chromium or puppeteer-core missing (make deps)" true
fi

t_nomatch "the page's files are found: no warning" "$(cat "$GW_LOG")" 'track.page_missing'

# --- a total per waybill: the hourly limit is a rate, the total a cap ---------
# (review finding: 10 an hour would let a patient guesser through 10,000
# candidates in weeks). Windows of 1 s stand in for the hour.
gw_stop
gw_conf_set "$D" track_window_s 1
gw_conf_set "$D" track_checks_per_waybill 2
gw_conf_set "$D" track_checks_per_waybill_total 5
gw_conf_set "$D" track_total_window_s 3600
gw_start "$D" || die "gateway did not restart"
issue "11栋"
WBT=$WB
for round in 1 2; do
	verify "$WBT" 1111 --interface 127.0.0.40
	verify "$WBT" 2222 --interface 127.0.0.41
	sleep 1.2 # the hourly window ends; the total's does not
done
t_eq "4 wrong answers over two short windows: still answered" 403 "$STATUS"
verify "$WBT" 5678 --interface 127.0.0.42
t_eq "the 5th check in all (total 5): the right digits pass" 200 "$STATUS"
sleep 1.2
verify "$WBT" 5678 --interface 127.0.0.43
t_eq "the 6th, in a fresh short window, from a fresh address, even right: 429" 429 "$STATUS"
t_match "... Retry-After the total's window" "$(headers)" $'\nRetry-After: 3600'
t_eq "the total's row outlives the short windows' pruning" "6 3600000" \
	"$(q "SELECT n || ' ' || window_ms FROM track_throttle WHERE key = 'waybill-total:$WBT'")"
gw_stop
gw_conf_set "$D" track_window_s 3600
gw_conf_set "$D" track_checks_per_waybill 5
gw_start "$D" || die "gateway did not restart"

# --- a store from before schema 9 ----------------------------------------------
# The store as schema 8 left it (no hash column, no counters, no index),
# holding WB1; the gateway migrates it when it starts again.
gw_stop
q "ALTER TABLE shipments DROP COLUMN track_hash; DROP TABLE track_throttle;
   DROP INDEX audit_subject; UPDATE meta SET value = '8' WHERE key = 'schema_version'"
t_eq "the store is back at schema 8" "8" "$(q "SELECT value FROM meta WHERE key = 'schema_version'")"
gw_start "$D" || die "gateway did not start on the old store"
t_eq "... migrated to 9 at start" "9" "$(q "SELECT value FROM meta WHERE key = 'schema_version'")"
verify "$WB1" 5678 --interface 127.0.0.30
t_eq "a shipment issued before the migration: the right digits answer as wrong ones" \
	"403 $WRONG_BODY" "$STATUS $BODY"
track "/v1/track/$WB1" --interface 127.0.0.30
t_eq "... its coarse status still answers" "200 out_for_delivery" "$STATUS $(jq_get "$BODY" .status)"
issue "13栋"
verify "$WB" 5678 --interface 127.0.0.30
t_eq "a shipment issued after it: the right digits" 200 "$STATUS"

# --- no page where web_root points -------------------------------------------------
gw_stop
gw_conf_set "$D" web_root "$T/nowhere"
gw_start "$D" || die "gateway did not start"
t_match "web_root without the page: a warning at start" "$(cat "$GW_LOG")" 'event=track.page_missing key=web_root'
page /t/
t_eq "... and /t/ is 404" 404 "${BODY%% *}"

gw_stop
t_done
