#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The merchant web console (docs/console.md) in headless Chromium against a
# real gateway with its relay and broker: tests/browser/console.js signs in,
# searches, filters, watches scans from an enrolled hub arrive live (it runs
# scan.sh written here while the page is open), downloads the labels and
# decodes the PNG with zbarimg, issues from the form, uploads a CSV batch,
# erases behind the confirmation, switches language, signs out and checks
# the API refuses the cookie; no console errors or CSP violations, no
# horizontal scrolling at 390 px. Screenshots of every page at 1280 and
# 390 px go to $SMILE_SHOTS_DIR (default build/test-out/console).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

command -v node >/dev/null || die "node is missing (make deps)"
[ -x "${SMILE_CHROMIUM:-/usr/bin/chromium}" ] || die "chromium is missing (make deps)"
[ -d "$SMILE_ROOT/tests/browser/node_modules/puppeteer-core" ] || die "puppeteer-core is missing (make deps)"
OUT=${SMILE_SHOTS_DIR:-$SMILE_BUILD/test-out/console}
mkdir -p "$OUT"

gw_serve_relayed "$T/gw" || die "gateway with broker did not start"
gw_merchant_key ziyun || die "merchant key"
KEEP_KM=$KM
gw_merchant_key ziyun || die "merchant key" # a second key, revoked while its page is open
KM2=$KM
KM2_ID=$(jq_get "$BODY" .id)
gw_merchant_key ziyun || die "merchant key" # a third, whose streams fill the node
KM3=$KM
KM=$KEEP_KM

# the console's static files and security headers, before the browser
r=$(curl -sS -D - -o "$T/index.html" "$GW_URL/console/")
t_match "GET /console/: the console's page" "$(cat "$T/index.html")" '<script src="console.js"'
t_match "... with a Content-Security-Policy without inline script" "$r" \
	"[Cc]ontent-[Ss]ecurity-[Pp]olicy: .*script-src 'self'"
t_nomatch "... no unsafe-inline anywhere in it" "$(grep -i '^content-security-policy' <<<"$r")" 'unsafe-inline'
t_match "... framing refused" "$r" "[Xx]-[Ff]rame-[Oo]ptions: DENY|frame-ancestors 'none'"

# a shipment to find, after 30 others (it is the newest, on the first page),
# and a hub that scans it
gw_batch_tokens "$KM" 30 shop "$T/tokens" || die "batch" # 31 shipments: two pages of 25
PHONE=13812345678
api_json POST /v1/shipments "$KM" "$(jq -nc --arg p "$PHONE" '{
  recipient: {name: "张三明", phone: $p, address: {country: "CN",
    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: "3栋2单元1502室"}},
  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
  merchant_ref: "order-7001", weight_g: 1200, note: "易碎品，请轻拿轻放"}')"
[ "$STATUS" = 201 ] || die "issue: $STATUS $BODY"
WB=$(jq_get "$BODY" .waybill)
TOKEN=$(jq_get "$BODY" .token)
"$DT" keygen --id hub1 --out "$T/hub1.key" >"$T/hub1.json" || die "keygen"
gw_enrol hub "$T/hub1.json" || die "enrol hub1"
PW=$("$DT" password --key "$T/hub1.key" --gw-box-pk "$GW_BOX_PK")

# scan.sh EVENT SEQ: the hub scans the shipment (what console.js runs)
cat >"$T/scan.sh" <<SH
#!/usr/bin/env bash
set -e
"$DT" scan --key "$T/hub1.key" --seq "\$2" --event "\$1" --token '$TOKEN' --out "$T/scan-\$2.bin"
mosquitto_pub -h 127.0.0.1 -p $MQTT_PORT -u hub1 -P '$PW' -q 1 -t smile/v1/dev/hub1/scan -f "$T/scan-\$2.bin"
SH

cd "$SMILE_ROOT" || die "no repository root"
GW_URL=$GW_URL KM=$KM KM2=$KM2 KM3=$KM3 STREAMS_PER_KEY=4 REVOKE_CMD="curl -sf -X DELETE -H 'Authorization: Bearer $(cat "$GW_DATA/admin.key")' $GW_URL/v1/api-keys/$KM2_ID" WB=$WB REF=order-7001 PHONE=$PHONE SCAN_CMD="bash $T/scan.sh" \
	OUT="$OUT" DL="$T/downloads" timeout 300 node tests/browser/console.js >"$T/node.tap" 2>"$T/node.err"
rc=$?
# its TAP lines are this test's, numbered on from here
while IFS= read -r line; do
	case $line in
	"ok "*) _t_report 0 "console: ${line#ok * - }" ;;
	"not ok "*) _t_report 1 "console: ${line#not ok * - }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$T/node.tap"
[ -s "$T/node.err" ] && sed 's/^/# node: /' "$T/node.err" | head -40
t_eq "the browser test ran to its end" 0 "$rc"

t_nomatch "the gateway's log has no contact detail" "$(cat "$T"/gateway.*.log)" "$PHONE|张三明|13900001111"
t_done
