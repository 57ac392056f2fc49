# SPDX-License-Identifier: Apache-2.0
# tests/integration/bridge.sh - helpers for smile-bridge tests against the
# real gateway and a real mosquitto. Source after lib.sh and gateway.sh.
#
#   br_gateway               init + broker (broker-config) + gateway + merchant
#                            key (KM); sets D, ADMIN
#   br_device ID ROLE        keygen + enrol + configure: $T/ID.key, $T/ID.conf,
#                            $T/ID.state (fast retries for tests)
#   br_issue DETAIL          issue a shipment: sets WB, TOKEN
#   br_start ID [ARGS...]    smile-bridge run with stdin from a FIFO (fd 7 writes
#                            to it); output $T/ID.out, log $T/ID.err; sets BPID
#   br_scan CODE             write one code line to the running bridge
#   wait_lines FILE N [S]    until FILE has N lines (default 15 s)
#   wait_match FILE REGEX [S]
#   count_events WB EVENT    how many EVENT entries the gateway lists for WB

BR="$BIN/smile-bridge"

br_gateway() {
	D="$T/data"
	gw_init "$D" || return 1
	gw_relay_setup "$D" || return 1
	gw_start "$D" || return 1
	gw_wait_relay || return 1
	ADMIN=$(cat "$D/admin.key")
	api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
	KM=$(jq_get "$BODY" .key)
	export D ADMIN KM
}

br_device() {
	local id=$1 role=$2
	"$BR" keygen --id "$id" --out "$T/$id.key" >"$T/$id.json" || return 1
	gw_enrol "$role" "$T/$id.json" || return 1
	curl -sf -H "Authorization: Bearer $ADMIN" "$GW_URL/v1/gateway" >"$T/gateway.json" || return 1
	"$BR" configure --gateway "$T/gateway.json" --key "$T/$id.key" --state "$T/$id.state" \
		--out "$T/$id.conf" || return 1
	sed -i -e 's/^retry_initial_ms = .*/retry_initial_ms = 300/' \
		-e 's/^retry_max_ms = .*/retry_max_ms = 2000/' \
		-e 's/^reconnect_max_s = .*/reconnect_max_s = 1/' "$T/$id.conf"
}

br_issue() {
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg d "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: $d}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	    city: "武汉市", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "bridge-test", weight_g: 800}')"
	WB=$(jq_get "$BODY" .waybill)
	TOKEN=$(jq_get "$BODY" .token)
	[ -n "$WB" ] && [ "$WB" != null ]
}

br_start() {
	local id=$1 before i
	shift
	before=$(grep -c 'event=bridge.start' "$T/$id.err" 2>/dev/null)
	rm -f "$T/$id.in"
	mkfifo "$T/$id.in"
	"$BR" run --config "$T/$id.conf" "$@" <"$T/$id.in" >>"$T/$id.out" 2>>"$T/$id.err" &
	BPID=$!
	at_exit "kill -9 $BPID"
	exec 7>"$T/$id.in"
	for ((i = 0; i < 600; i++)); do # 30 s: a sanitizer build, a loaded machine
		[ "$(grep -c 'event=bridge.start' "$T/$id.err" 2>/dev/null)" -gt "${before:-0}" ] && return 0
		kill -0 "$BPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

br_scan() { printf '%s\n' "$1" >&7; }

wait_lines() {
	local file=$1 n=$2 limit=${3:-15} i
	for ((i = 0; i < limit * 20; i++)); do
		[ "$(wc -l <"$file" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

wait_match() {
	local file=$1 re=$2 limit=${3:-15} i
	for ((i = 0; i < limit * 20; i++)); do
		grep -qE -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

count_events() {
	api GET "/v1/shipments/$1/events" "$KM"
	jq_get "$BODY" "[.events[] | select(.event == \"$2\")] | length"
}
