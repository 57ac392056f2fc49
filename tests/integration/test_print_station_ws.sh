#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-print's local WebSocket API (docs/print-station.md, "Local API")
# with real parts: mosquitto, a gateway, smile-print, zebra_sim.py, a
# WebSocket client written here (ws_client.py, stdlib only) and headless
# Chromium loading a page (ws_page.html) from an allowed origin.
#
# The jobs are taken from the gateway with GET /v1/print-jobs/{id}/message
# while the agent cannot reach the broker (its mqtt_port is a closed port),
# so a label that prints came through the WebSocket API and nothing else;
# then the agent is restarted with the broker, and its statuses reach the
# gateway (GET /v1/print-jobs/{id} says printed).
#
# Covered: a connection without an Origin, or from an unlisted one, is
# refused at the handshake; getPrinters; preview returns a PDF whose codes
# zbarimg reads (the waybill and the token), nothing printed; print ->
# printed on the simulator + notifications sent/printing/printed; the same
# job again -> duplicate, printed once; a forged job, another station's job,
# bad JSON, unknown cmd, bad base64 -> errors, connection survives, nothing
# printed; binary and oversize frames close the connection; Chromium prints
# a job from the page and the DOM shows "printed"; a page from an unlisted
# origin shows "refused"; screenshots at 1280x800 and 390x844; POST with
# "delivery": "local" answers with the message and publishes nothing; wss://
# with local_api_cert (and no plain ws:// there).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
. "$(dirname "$0")/printer.sh"

PRINT="$BIN/smile-print"
WSC="python3 $SMILE_ROOT/tests/integration/ws_client.py"
OUT="$SMILE_BUILD/test-out/print_station_ws"
mkdir -p "$OUT"
D="$T/gw"
gw_serve_relayed "$D" || die "gateway with broker did not start"

"$PRINT" --help >"$T/help.out"
t_match "--help mentions the local API" "$(cat "$T/help.out")" 'local_api_listen'

"$PRINT" keygen --id station-1 --out "$T/station.key" >"$T/station.json"
gw_enrol print_station "$T/station.json" || die "enrolment failed"
"$PRINT" keygen --id station-2 --out "$T/station2.key" >"$T/station2.json"
gw_enrol print_station "$T/station2.json" || die "enrolment failed"
zebra_start || die "zebra_sim.py did not start"

WSPORT=$(free_port) || die "no free port"
PAGEPORT=$(free_port) || die "no free port"
OTHERPORT=$(free_port) || die "no free port"
ORIGIN="http://127.0.0.1:$PAGEPORT"
NOPORT=$(free_port) || die "no free port" # nothing listens there
mkdir -p "$T/station"
write_conf() { # MQTT_PORT [extra lines]
	cat >"$T/station/smile-print.conf" <<EOF
key_file = ../station.key
state_dir = state
gateway_sign_pk = $GW_SIGN_PK
gateway_box_pk = $GW_BOX_PK
printer = socket://127.0.0.1:$ZEBRA_PORT
mqtt_host = 127.0.0.1
mqtt_port = $1
printer_retry_ms = 200
printer_job_s = 10
local_api_listen = ${LISTEN:-127.0.0.1}:$WSPORT
local_api_origins = https://wms.example, $ORIGIN
${2:-}
EOF
}

# --- configuration checks ----------------------------------------------------
LISTEN=0.0.0.0 write_conf "$NOPORT"
"$PRINT" run --config "$T/station/smile-print.conf" >"$T/remote.out" 2>&1
t_match "a non-loopback local_api_listen is refused at start" "$(cat "$T/remote.out")" \
	'not a loopback address'

PLOG="$T/station/agent.log"
agent_start() { # MQTT_PORT (and $EXTRA: more configuration lines)
	write_conf "$1" "${EXTRA:-}"
	"$PRINT" run --config "$T/station/smile-print.conf" 2>>"$PLOG" &
	AGENT_PID=$!
	at_exit "kill -9 $AGENT_PID 2>/dev/null"
	wait_port "$WSPORT" || { sed 's/^/#   /' "$PLOG"; return 1; }
}
agent_stop() { kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; }

# --- jobs, taken from the gateway before the station ever connects ---------
gw_merchant_key acme || die "merchant key"
issue() {
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "order-7", weight_g: 800}')"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
}
job_for() { # WB STATION -> JOB, MSG (base64)
	api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$1\"],\"station\":\"$2\"}"
	JOB=$(jq_get "$BODY" '.jobs[0].id')
	api GET "/v1/print-jobs/$JOB/message" "$KM"
	MSG=$(jq_get "$BODY" .message)
}
issue "1号楼101室"; W1=$WB; T1=$TOKEN
job_for "$W1" station-1; J1=$JOB; M1=$MSG
t_eq "GET /v1/print-jobs/{id}/message: 200, the job's station and waybill" \
	"200 station-1 $W1" "$STATUS $(jq_get "$BODY" .station) $(jq_get "$BODY" .waybill)"
t_nomatch "... and the message carries no contact detail in the clear" \
	"$(printf '%s' "$M1" | base64 -d | tr -c '[:print:]' .)" '13812345678'
KACME=$KM
gw_merchant_key other || die "merchant key"
api GET "/v1/print-jobs/$J1/message" "$KM"
t_eq "... another merchant's job is not found" 404 "$STATUS"
KM=$KACME
issue "2号楼"; W2=$WB
job_for "$W2" station-1; J2=$JOB; M2=$MSG
issue "3号楼"; W3=$WB
job_for "$W3" station-2; M3=$MSG # addressed to another station
issue "4号楼"; W4=$WB
job_for "$W4" station-1; M4=$MSG
issue "5号楼"; W5=$WB
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W5\"],\"station\":\"station-1\",\"delivery\":\"local\"}"
M5=$(jq_get "$BODY" '.jobs[0].message')
J5=$(jq_get "$BODY" '.jobs[0].id')
api GET "/v1/print-jobs/$J5/message" "$KM"
t_eq "POST with \"delivery\": \"local\": the response carries the message (GET's)" \
	"$(jq_get "$BODY" .message)" "$M5"
t_match "... and the gateway did not publish it" "$(cat "$T"/gateway.*.log | grep "job=$J5")" \
	'published=0 delivery=local'
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W5\"],\"station\":\"station-1\",\"delivery\":\"carrier-pigeon\"}"
t_eq "... any other delivery: 422" 422 "$STATUS"
[ -n "$M1" ] && [ -n "$M2" ] && [ -n "$M3" ] && [ -n "$M4" ] && [ -n "$M5" ] ||
	die "job messages missing"

# --- the agent, without the broker ------------------------------------------
agent_start "$NOPORT" || die "smile-print did not listen on the local API"
ws() { $WSC --port "$WSPORT" "$@"; }

# origins
t_eq "no Origin: refused at the handshake (403)" "HANDSHAKE 403" "$(ws --timeout 3 | head -1)"
r=$(ws --origin "http://evil.example" --timeout 3 | head -1)
t_eq "an unlisted Origin: refused at the handshake (403)" "HANDSHAKE 403" "$r"
r=$(ws --origin "http://127.0.0.1:$PAGEPORT.evil" --timeout 3 | head -1)
t_eq "... an Origin that only starts like a listed one too" "HANDSHAKE 403" "$r"
r=$(ws --origin "HTTPS://WMS.EXAMPLE" --timeout 3 | head -1)
t_eq "... and one that differs only in case (exact match)" "HANDSHAKE 403" "$r"
r=$(ws --origin "https://wms.example" --timeout 3 | head -1)
t_eq "a listed Origin connects" "HANDSHAKE 101" "$r"

# getPrinters
r=$(ws --origin "$ORIGIN" --until '"id":1' text:'{"id":1,"cmd":"getPrinters"}')
t_eq "getPrinters: the station's printer, ready" "true socket://127.0.0.1:$ZEBRA_PORT ready" \
	"$(grep '"id":1' <<<"$r" | jq -r '"\(.ok) \(.printers[0].uri) \(.printers[0].status)"')"

zebra_set paper_out=1
sleep 0.2
r=$(ws --origin "$ORIGIN" --until '"id":1' text:'{"id":1,"cmd":"getPrinters"}')
t_eq "getPrinters asks the printer now: paper out -> not_ready, in its words" "not_ready paper out" \
	"$(grep '"id":1' <<<"$r" | jq -r '"\(.printers[0].status) \(.printers[0].reasons)"')"
zebra_set paper_out=0
sleep 0.2

# preview
printf '{"id":7,"cmd":"preview","job":"%s"}' "$M1" >"$T/preview.json"
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
t0=$(date +%s%N)
ws --origin "$ORIGIN" --until '"id":7' --timeout 20 file:"$T/preview.json" >"$T/preview.out"
echo "# preview: $(ms "$t0") ms (with the client's start), reply $(grep '"id":7' "$T/preview.out" | wc -c) bytes"
grep '"id":7' "$T/preview.out" | jq -r .pdf | base64 -d >"$T/preview.pdf"
t_match "preview: a PDF" "$(head -c 5 "$T/preview.pdf")" '^%PDF-'
pdftoppm -r 200 -png -f 1 -l 1 "$T/preview.pdf" "$T/preview" >/dev/null 2>&1
codes=$(zbarimg -q --raw "$T"/preview-*1.png 2>/dev/null)
t_ok "... whose barcodes read the waybill" grep -qxF -- "$W1" <<<"$codes"
t_ok "... and the token" grep -qxF -- "$T1" <<<"$codes"
t_nomatch "... and no contact detail in the page text" "$(pdftotext "$T/preview.pdf" - 2>/dev/null)" '13812345678'
sleep 0.5
t_eq "... nothing printed, nothing spooled" "0 0" \
	"$(ls "$ZEBRA_DIR"/label-*.zpl 2>/dev/null | wc -l) $(ls "$T/station/state/spool" 2>/dev/null | wc -l)"

# print
printf '{"id":2,"cmd":"print","job":"%s"}' "$M1" >"$T/print1.json"
t0=$(date +%s%N)
ws --origin "$ORIGIN" --until '"state":"printed"' --timeout 20 file:"$T/print1.json" >"$T/print1.out"
echo "# print -> the printed notification: $(ms "$t0") ms (with the client's start)"
t_eq "print: accepted, not a duplicate" "true $J1 $W1 false" \
	"$(grep '"id":2' "$T/print1.out" | jq -r '"\(.ok) \(.job_id) \(.waybill) \(.duplicate)"')"
t_eq "... notifications sent, printing, printed" "sent printing printed" \
	"$(grep '"event":"job"' "$T/print1.out" | jq -r "select(.job_id==\"$J1\") | .state" | tr '\n' ' ' | sed 's/ $//')"
t_eq "... the printer has the label" 1 "$(grep -l -- "$W1" "$ZEBRA_DIR"/label-*.zpl 2>/dev/null | wc -l)"
t_match "... it came through the local API (the broker is out of reach)" \
	"$(grep "event=print.job_received job=$J1" "$PLOG")" 'via=local'

# the same job again, over a fresh connection and in fragments
ws --origin "$ORIGIN" --until '"id":3' frag:"$(sed 's/"id":2/"id":3/' "$T/print1.json")" >"$T/print2.out"
t_eq "the same job again: a duplicate, already done" "true true done" \
	"$(grep '"id":3' "$T/print2.out" | jq -r '"\(.ok) \(.duplicate) \(.spool)"')"
sleep 1
t_eq "... printed once" 1 "$(grep -l -- "$W1" "$ZEBRA_DIR"/label-*.zpl 2>/dev/null | wc -l)"

# refusals: each answered, the connection survives (getPrinters after them)
forged=$(printf '%s' "$M2" | base64 -d | python3 -c '
import sys; b = bytearray(sys.stdin.buffer.read()); b[-70] ^= 1; sys.stdout.buffer.write(b)' | base64 -w0)
ws --origin "$ORIGIN" --until '"id":16' \
	text:'{"id":10,"cmd":"print","job":"'"$forged"'"}' \
	text:'{"id":11,"cmd":"print","job":"'"$M3"'"}' \
	text:'{"id":12,"cmd":"fly"}' \
	text:'{"id":13,"cmd":"print","job":"***"}' \
	text:'{"id":14,' \
	text:'[1,2]' \
	text:'{"id":15,"cmd":"preview","job":"'"$M3"'"}' \
	text:'{"id":16,"cmd":"getPrinters"}' >"$T/bad.out"
code() { grep "\"id\":$1[,}]" "$T/bad.out" | jq -r '"\(.ok) \(.error.code)"'; }
t_eq "a forged job (one bit of the signed part): refused" "false bad_signature" "$(code 10)"
t_eq "another station's job: refused (denied)" "false denied" "$(code 11)"
t_match "... saying why" "$(grep '"id":11' "$T/bad.out")" 'addressed to another station'
t_eq "an unknown cmd: unknown_command" "false unknown_command" "$(code 12)"
t_eq "a job that is not base64: bad_request" "false bad_request" "$(code 13)"
t_eq "bad JSON and a non-object: bad_json, twice" 2 "$(grep -c '"code":"bad_json"' "$T/bad.out")"
t_eq "a preview of another station's job: refused" "false denied" "$(code 15)"
t_eq "... and the connection survived all of them" "true" \
	"$(grep '"id":16' "$T/bad.out" | jq -r .ok)"
t_nomatch "... nothing about them was printed" "$(cat "$ZEBRA_DIR"/label-*.zpl)" "$W2|$W3"
t_eq "... nor spooled" 1 "$(ls "$T/station/state/spool" | wc -l)"

# protocol violations close the connection
r=$(ws --origin "$ORIGIN" --until x binary:00ff)
t_match "a binary frame closes the connection (1003)" "$r" 'CLOSE 1003'
r=$(ws --origin "$ORIGIN" --until x big:70000)
t_match "a message over 64 KiB closes the connection (1009)" "$r" 'CLOSE 1009'
r=$(ws --origin "$ORIGIN" --until '"id":1' text:'{"id":1,"cmd":"getPrinters"}')
t_match "... and the agent still serves the next one" "$r" '"ok":true'

# --- headless Chromium --------------------------------------------------------
mkdir -p "$T/page"
cp "$SMILE_ROOT/tests/integration/ws_page.html" "$SMILE_ROOT/tests/integration/ws_page.js" "$T/page/"
python3 "$SMILE_ROOT/tests/integration/page_server.py" "$PAGEPORT" "$T/page" &
at_exit "kill $! 2>/dev/null"
python3 "$SMILE_ROOT/tests/integration/page_server.py" "$OTHERPORT" "$T/page" &
at_exit "kill $! 2>/dev/null"
wait_port "$PAGEPORT" && wait_port "$OTHERPORT" || die "http.server did not start"
chrome() { # URL [extra flags]: the DOM after the page ran
	local url=$1
	shift
	timeout 60 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$T/chrome-profile" --virtual-time-budget=8000 "$@" "$url" 2>>"$T/chrome.log"
}
FRAG="port=$WSPORT&hold=/hold&job=$(jq -rn --arg m "$M2" '$m|@uri')"
chrome "http://127.0.0.1:$PAGEPORT/ws_page.html#$FRAG" --dump-dom >"$T/dom.html"
t_match "Chromium: the page printed the job (the DOM shows printed)" \
	"$(grep -o 'data-state="[a-z-]*"' "$T/dom.html")" 'data-state="printed"'
t_match "... and listed the notifications" "$(cat "$T/dom.html")" "event $J2 printing.*event $J2 printed"
t_eq "... the printer has its label, once" 1 "$(grep -l -- "$W2" "$ZEBRA_DIR"/label-*.zpl 2>/dev/null | wc -l)"
chrome "http://127.0.0.1:$PAGEPORT/ws_page.html#$FRAG" --dump-dom >"$T/dom2.html"
t_match "the page again: a duplicate, shown as already printed" \
	"$(grep -o 'data-state="[a-z-]*"' "$T/dom2.html")" 'data-state="already-printed"'
t_eq "... still printed once" 1 "$(grep -l -- "$W2" "$ZEBRA_DIR"/label-*.zpl 2>/dev/null | wc -l)"
# a fresh job for each screenshot, so they show a label printing to the end
for s in "1280,800 $M4" "390,844 $M5"; do
	size=${s% *}
	chrome "http://127.0.0.1:$PAGEPORT/ws_page.html#port=$WSPORT&hold=/hold&job=$(jq -rn \
		--arg m "${s#* }" '$m|@uri')" --window-size=$size --screenshot="$OUT/page-${size/,/x}.png" >/dev/null
done
t_ok "screenshots at 1280x800 and 390x844 in $OUT" \
	test -s "$OUT/page-1280x800.png" -a -s "$OUT/page-390x844.png"
t_eq "... their two labels printed, once each" "1 1" \
	"$(grep -l -- "$W4" "$ZEBRA_DIR"/label-*.zpl | wc -l) $(grep -l -- "$W5" "$ZEBRA_DIR"/label-*.zpl | wc -l)"
chrome "http://127.0.0.1:$OTHERPORT/ws_page.html#$FRAG" --dump-dom >"$T/dom-other.html"
t_match "a page from an unlisted origin cannot connect (the DOM shows refused)" \
	"$(grep -o 'id="status"[^<]*' "$T/dom-other.html")" 'refused'

# --- the statuses reach the gateway once the broker is there -----------------
agent_stop
agent_start "$MQTT_PORT" || die "smile-print did not restart"
wait_state() { # JOB STATE
	local _
	for _ in $(seq 1 300); do
		api GET "/v1/print-jobs/$1" "$KM"
		[ "$(jq_get "$BODY" .state)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
t_ok "GET /v1/print-jobs/{id}: the job printed through the page is printed" wait_state "$J1" printed
t_ok "... and the one Chromium printed" wait_state "$J2" printed
sleep 1
t_eq "the broker's redelivery of the queued jobs printed nothing again" "1 1" \
	"$(grep -l -- "$W1" "$ZEBRA_DIR"/label-*.zpl | wc -l) $(grep -l -- "$W2" "$ZEBRA_DIR"/label-*.zpl | wc -l)"
# both doors at once: published over MQTT and handed in by a page
issue "6号楼"; W6=$WB
job_for "$W6" station-1
printf '{"id":4,"cmd":"print","job":"%s"}' "$MSG" >"$T/print6.json"
ws --origin "$ORIGIN" --until '"id":4' file:"$T/print6.json" >"$T/print6.out"
t_eq "a job that came over MQTT and from a page: the page's copy is accepted" "true" \
	"$(grep '"id":4' "$T/print6.out" | jq -r .ok)"
t_ok "... and it prints" wait_state "$JOB" printed
sleep 0.5
t_eq "... once" 1 "$(grep -l -- "$W6" "$ZEBRA_DIR"/label-*.zpl | wc -l)"
t_nomatch "the agent's log has no contact detail" "$(cat "$PLOG")" '13812345678|张三明'
agent_stop

# --- wss:// with a local certificate -----------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-keyout "$T/station/local.key" -out "$T/station/local.crt" >/dev/null 2>&1 ||
	die "openssl could not make a certificate"
EXTRA="local_api_cert = local.crt
local_api_key = local.key"
agent_start "$MQTT_PORT" || die "smile-print did not start with wss://"
r=$(ws --origin "$ORIGIN" --tls-ca "$T/station/local.crt" --until '"id":1' text:'{"id":1,"cmd":"getPrinters"}')
t_match "wss:// with local_api_cert: the handshake and getPrinters over TLS" "$r" '"ok":true'
r=$(ws --origin "$ORIGIN" --timeout 3 | head -1)
t_nomatch "... and no plain ws:// on that port" "$r" 'HANDSHAKE 101'
agent_stop
t_done
