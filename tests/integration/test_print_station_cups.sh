#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-print with a CUPS queue (printer = cups:QUEUE): a private cupsd whose
# test backend writes each job to a file (tests/integration/printer.sh), a
# real broker and gateway. A PDF job is printed and its QR code and barcode
# decode (pdftoppm + zbarimg) to the shipment's token and waybill; the queue
# running out of labels with a job in it holds that job ("printing", the
# reason given) and the next one behind it, and both print once, in order,
# when the roll is changed. docs/print-station.md.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
. "$(dirname "$0")/label.sh"
. "$(dirname "$0")/printer.sh"

if ! command -v cupsd >/dev/null 2>&1 && [ ! -x /usr/sbin/cupsd ]; then
	t_skip "CUPS print station" "no cupsd (make deps installs cups)"
	t_done
	exit 0
fi
PRINT="$BIN/smile-print"
D="$T/gw"
gw_serve_relayed "$D" || die "gateway with broker did not start"
# a free port can be taken by someone else before cupsd binds it: once more
cups_start || { cups_stop; cups_start; } || die "cupsd did not start"
cups_queue labels || die "lpadmin failed: $(cat "$CUPS_DIR/log/lpadmin.labels")"
Q="$CUPS_DIR/out/labels"

"$PRINT" keygen --id station-c --out "$T/station.key" >"$T/station.json" || die "keygen"
gw_enrol print_station "$T/station.json" || die "enrolment failed"
mkdir -p "$T/station"
cat >"$T/station/smile-print.conf" <<EOF
key_file = ../station.key
state_dir = state
gateway_sign_pk = $GW_SIGN_PK
gateway_box_pk = $GW_BOX_PK
printer = cups:labels
mqtt_host = 127.0.0.1
mqtt_port = $MQTT_PORT
printer_retry_ms = 200
printer_job_s = 5
EOF
PLOG="$T/station/agent.log"
"$PRINT" run --config "$T/station/smile-print.conf" 2>>"$PLOG" &
AGENT_PID=$!
at_exit "kill -9 $AGENT_PID 2>/dev/null"
# (the job is published once now, again only every 30 s: the agent must be
# subscribed first; 5 s unchecked was short for a loaded sanitizer run)
wait_for 30 grep -q 'event=print.mqtt.connected' "$PLOG" || die "smile-print did not connect"

gw_merchant_key acme || die "merchant key"
issue() { # DETAIL -> WB, TOKEN
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "order-7", weight_g: 800}')"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
}
state() {
	api GET "/v1/print-jobs/$1" "$KM"
	echo "$(jq_get "$BODY" .state) $(jq_get "$BODY" .reason)"
}
wait_state() {
	local i
	for i in $(seq 1 $((${3:-30} * 10))); do
		[ "$(state "$1" | cut -d' ' -f1)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
jobs_out() { ls "$Q" 2>/dev/null | grep -c '^job-[0-9]*$'; }

issue "1号楼"; W1=$WB; T1=$TOKEN
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W1\"],\"station\":\"station-c\",\"format\":\"pdf\"}"
J1=$(jq_get "$BODY" '.jobs[0].id')
t_eq "a PDF job for a CUPS station: 201" "201 pdf" "$STATUS $(jq_get "$BODY" '.jobs[0].format')"
t_ok "printed through CUPS" wait_state "$J1" printed
t_eq "one CUPS job" 1 "$(jobs_out)"
pdftoppm -r 300 -png "$Q/$(ls "$Q" | grep '^job-' | head -n1)" "$T/p1"
t_eq "its QR code and barcode decode to the shipment's token and waybill" \
	"$(printf '%s\n%s\n' "$T1" "$W1" | LC_ALL=C sort)" "$(decode "$T/p1-1.png")"

# the roll runs out with the next job already in the queue
echo 0 >"$Q/paper"
issue "2号楼"; W2=$WB
issue "3号楼"; W3=$WB
api_json POST /v1/print-jobs "$KM" "{\"waybills\":[\"$W2\",\"$W3\"],\"station\":\"station-c\",\"format\":\"pdf\"}"
J2=$(jq_get "$BODY" '.jobs[0].id'); J3=$(jq_get "$BODY" '.jobs[1].id')
not_ready() { [ "$(state "$J2")" = "printing printer_not_ready" ]; }
wait_for 30 not_ready
t_eq "out of labels with the job in the queue: printing, not ready" "printing printer_not_ready" \
	"$(state "$J2")"
api GET "/v1/print-jobs/$J2" "$KM"
t_match "... in CUPS's words" "$(jq_get "$BODY" .reason_text)" 'media-empty'
t_eq "... the next waits behind it, nothing more printed" "sent 1" \
	"$(state "$J3" | cut -d' ' -f1) $(jobs_out)"
rm -f "$Q/paper"
cups_q cupsenable labels
t_ok "roll changed: both print" wait_state "$J3" printed 20
t_eq "... each once: 3 CUPS jobs in all" "printed 3" "$(state "$J2" | cut -d' ' -f1) $(jobs_out)"

kill -TERM "$AGENT_PID"; wait "$AGENT_PID"
t_eq "SIGTERM stops the agent cleanly" 0 "$?"
t_done
