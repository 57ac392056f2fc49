# SPDX-License-Identifier: Apache-2.0
# tests/integration/gateway.sh - helpers for tests that drive a real
# smile-gateway over HTTP. Source after lib.sh.
#
#   gw_init DIR            smile-gateway init (fails the test on error)
#   gw_start DIR           serve on a free loopback port; sets GW_URL, GW_PID,
#                          GW_LOG; stopped at exit
#   gw_stop                SIGTERM and wait (clean shutdown)
#   api METHOD PATH KEY [curl args...]
#                          sets STATUS, BODY (and HEADERS in $T/headers)
#   jq_get JSON FILTER     jq -r shortcut

GW="$BIN/smile-gateway"

# gw_conf_set DIR KEY VALUE: set a key in DIR/gateway.conf (keys may appear
# only once, so the line is replaced).
gw_conf_set() {
	sed -i -E "s|^$2 *=.*|$2 = $3|" "$1/gateway.conf"
	grep -qE "^$2 = " "$1/gateway.conf" || echo "$2 = $3" >>"$1/gateway.conf"
}

gw_init() {
	"$GW" init --data "$1" >"$T/init.out" 2>&1 || { cat "$T/init.out"; return 1; }
}

gw_start() {
	local dir=$1 port i
	GW_LOG="$T/gateway.$RANDOM.log"
	for i in 1 2 3 4 5; do
		port=$(free_port) || return 1
		"$GW" serve --data "$dir" --listen "127.0.0.1:$port" 2>>"$GW_LOG" &
		GW_PID=$!
		if wait_port "$port" 10 && kill -0 "$GW_PID" 2>/dev/null; then
			GW_URL="http://127.0.0.1:$port"
			at_exit "kill $GW_PID"
			export GW_URL GW_PID GW_LOG
			return 0
		fi
		kill "$GW_PID" 2>/dev/null
		wait "$GW_PID" 2>/dev/null
	done
	echo "# gateway did not start:" && sed -e 's/^/#   /' "$GW_LOG"
	return 1
}

gw_stop() {
	kill -TERM "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_RC=$?
}

api() {
	local method=$1 path=$2 key=$3
	shift 3
	local auth=()
	[ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
	BODY=$(curl -sS -X "$method" "${auth[@]}" -D "$T/headers" -o - -w '\n%{http_code}' \
		"$@" "$GW_URL$path")
	STATUS=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}

# api_json METHOD PATH KEY JSON-BODY [more curl args]
api_json() {
	local method=$1 path=$2 key=$3 body=$4
	shift 4
	api "$method" "$path" "$key" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

jq_get() { printf '%s' "$1" | jq -r "$2"; }

# ---------------------------------------------------------------- relay

# gw_relay_setup DIR: after gw_init and before gw_start. Points the gateway
# at a private broker configured by `smile-gateway broker-config` (passwords,
# per-device ACL) and starts that broker. Sets MQTT_PORT, BROKER_DIR.
gw_relay_setup() {
	local dir=$1
	local port tries
	BROKER_DIR="$T/broker"
	GW_DATA=$dir
	gw_conf_set "$dir" mqtt_host 127.0.0.1
	# a free port can be taken by another process before the broker binds
	# it (tests running side by side): try another
	for tries in 1 2 3 4 5; do
		port=$(free_port) || return 1
		gw_conf_set "$dir" mqtt_port "$port"
		"$GW" broker-config --data "$dir" --out "$BROKER_DIR" >/dev/null || return 1
		mqtt_start_conf "$BROKER_DIR/mosquitto.conf" "$port" 2>"$T/broker-start.err" && break
		[ "$tries" = 5 ] && { cat "$T/broker-start.err" >&2; return 1; }
	done
	export BROKER_DIR GW_DATA
}

# gw_wait_relay: until the gateway logs that it is connected to the broker
# (up to 20 s: a loaded CI machine).
gw_wait_relay() {
	local i
	for i in $(seq 1 400); do
		grep -q 'event=mqtt.connected' "$GW_LOG" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# gw_enrol ROLE ENROLMENT_JSON_FILE [ZONE]: enrol a device through the API,
# then refresh the broker's passwords and ACL so it can log in.
gw_enrol() {
	local role=$1 file=$2 zone=${3:-}
	local body
	body=$(jq -c --arg r "$role" --arg z "$zone" '. + {role: $r} + (if $z == "" then {} else {zone: $z} end)' "$file")
	api_json POST /v1/devices "$(cat "$GW_DATA/admin.key")" "$body"
	[ "$STATUS" = "201" ] || { echo "# enrol failed: $STATUS $BODY"; return 1; }
	"$GW" broker-config --data "$GW_DATA" --out "$BROKER_DIR" >/dev/null || return 1
	mqtt_reload
}

# gw_pubkeys: sets GW_SIGN_PK and GW_BOX_PK from GET /v1/gateway.
gw_pubkeys() {
	api GET /v1/gateway "$(cat "$GW_DATA/admin.key")"
	GW_SIGN_PK=$(jq_get "$BODY" .sign_pk)
	GW_BOX_PK=$(jq_get "$BODY" .box_pk)
	export GW_SIGN_PK GW_BOX_PK
}

# gw_serve_relayed DIR: a fresh data directory DIR served by a gateway
# connected to its private broker (gw_init, gw_relay_setup, gw_start,
# gw_wait_relay, gw_pubkeys); returns 1 naming the step that failed.
gw_serve_relayed() {
	local dir=$1
	gw_init "$dir" || { echo "# init failed"; return 1; }
	gw_relay_setup "$dir" || { echo "# broker did not start"; return 1; }
	gw_start "$dir" || { echo "# gateway did not start"; return 1; }
	gw_wait_relay || { echo "# gateway did not connect to the broker"; return 1; }
	gw_pubkeys
}

# gw_merchant_key MERCHANT: a new merchant API key for MERCHANT -> KM.
gw_merchant_key() {
	api_json POST /v1/api-keys "$(cat "$GW_DATA/admin.key")" \
		"$(jq -nc --arg m "$1" '{role: "merchant", merchant: $m}')"
	KM=$(jq_get "$BODY" .key)
	[ -n "$KM" ] && [ "$KM" != null ] || { echo "# merchant key: $STATUS $BODY"; return 1; }
}

# gw_send DEVICE SCANFILE: publish the scan as DEVICE (key $T/DEVICE.key)
# and wait up to 20 s for its reply -> $T/reply.bin, opened by smile-devtool
# -> REPLY (JSON; "" when no reply came or it did not open).
gw_send() {
	local dev=$1 scan=$2 pw sub subs
	pw=$("$BIN/smile-devtool" password --key "$T/$dev.key" --gw-box-pk "$GW_BOX_PK")
	rm -f "$T/reply.bin"
	subs=$(mqtt_subs "smile/v1/dev/$dev/reply")
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -u "$dev" -P "$pw" -q 1 -N -C 1 -W 20 \
		-t "smile/v1/dev/$dev/reply" >"$T/reply.bin" 2>"$T/sub.err" &
	sub=$!
	mqtt_subscribed "smile/v1/dev/$dev/reply" "$subs"
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -u "$dev" -P "$pw" -q 1 \
		-t "smile/v1/dev/$dev/scan" -f "$scan" 2>>"$T/sub.err"
	wait $sub
	REPLY=$("$BIN/smile-devtool" open --key "$T/$dev.key" --gw-sign-pk "$GW_SIGN_PK" \
		--gw-box-pk "$GW_BOX_PK" --scan "$scan" --reply "$T/reply.bin" 2>"$T/open.err")
}

# ---------------------------------------------------------------- clusters

# gw_cluster_init KIND: two node data directories, $T/a and $T/b, on one
# store (KIND sqlite: $T/a/store.db; postgresql: a private cluster started by
# pg_start) and the broker started by mqtt_start, sharing the scans through
# the share group "cluster" (docs/operations.md, "Running several nodes").
# Same keys and configuration, node ids node-a and node-b. Sets NODE_A,
# NODE_B, GW_DATA (= NODE_A), and count_sql SQL (one number from the store).
# SMILE_PG_SETTINGS: extra server settings for pg_start (space-separated).
gw_cluster_init() {
	local kind=$1
	NODE_A="$T/a" NODE_B="$T/b" GW_DATA="$T/a"
	mqtt_start || { echo "# mosquitto did not start"; return 1; }
	if [ "$kind" = postgresql ]; then
		# shellcheck disable=SC2086 # SMILE_PG_SETTINGS: words, each a setting
		pg_start ${SMILE_PG_SETTINGS:-} || { echo "# postgres did not start"; return 1; }
		SMILE_STORE=$PG_URL gw_init "$NODE_A" || return 1 # init records it in gateway.conf
		count_sql() { psql_smile "$1"; }
	else
		gw_init "$NODE_A" || return 1
		gw_conf_set "$NODE_A" store "sqlite:$NODE_A/store.db"
		count_sql() { sqlite3 "$NODE_A/store.db" ".timeout 5000" "$1"; }
	fi
	gw_conf_set "$NODE_A" mqtt_host 127.0.0.1
	gw_conf_set "$NODE_A" mqtt_port "$MQTT_PORT"
	gw_conf_set "$NODE_A" mqtt_share_group cluster
	mkdir -m 700 "$NODE_B"
	cp -a "$NODE_A/keys" "$NODE_A/admin.key" "$NODE_A/mqtt.password" "$NODE_A/gateway.conf" "$NODE_B/"
	gw_conf_set "$NODE_A" node_id node-a
	gw_conf_set "$NODE_B" node_id node-b
	export NODE_A NODE_B GW_DATA
}

# gw_cluster_start DIR: gw_start, then wait until the node is on the broker
# (its log says mqtt.connected).
gw_cluster_start() {
	gw_start "$1" || return 1
	gw_wait_relay
}

# gw_batch_tokens KEY N REF_PREFIX OUT: N shipments in one batch with the
# merchant key KEY (merchant_ref REF_PREFIX-0 ...); their tokens, one a
# line, into OUT (smile-loadgen --tokens).
gw_batch_tokens() {
	local key=$1 n=$2 ref=$3 out=$4
	jq -nc --argjson n "$n" --arg ref "$ref" '{shipments: [range($n) | {recipient: {name: "张三明",
	  phone: "13812345678", address: {country: "CN", province: "湖北省", city: "武汉市",
	  district: "江汉区", street: "建设大道568号", detail: "3栋2单元1502室"}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", province: "湖北省",
	  city: "武汉市", district: "江汉区", street: "泛海国际SOHO城", detail: "7栋1201室"}},
	  merchant_ref: "\($ref)-\(.)", weight_g: 1200}]}' >"$T/batch.json"
	api POST /v1/shipments/batch "$key" -H 'Content-Type: application/json' --data-binary "@$T/batch.json"
	[ "$STATUS" = 200 ] ||
		{ echo "# batch failed: $STATUS"; return 1; }
	jq_get "$BODY" '.results[].token' >"$out"
	[ "$(grep -c . "$out")" = "$n" ]
}

# gw_loadgen_enrol SEED N [ROLE]: enrol smile-loadgen's N devices (seed
# SEED) through the API with the admin key; returns 1 unless all were.
gw_loadgen_enrol() {
	local seed=$1 n=$2 role=${3:-courier} line ok=0
	"$BIN/smile-loadgen" enrol --seed "$seed" --devices "$n" --role "$role" --out "$T/enrol.$seed.jsonl" ||
		return 1
	while IFS= read -r line; do
		api_json POST /v1/devices "$(cat "$GW_DATA/admin.key")" "$line"
		[ "$STATUS" = 201 ] && ok=$((ok + 1))
	done <"$T/enrol.$seed.jsonl"
	[ "$ok" = "$n" ]
}

# gw_wrk_issue_script KEY REF OUT: a wrk Lua script that POSTs one shipment
# (merchant_ref REF) to /v1/shipments with the merchant key KEY (benchmarks).
gw_wrk_issue_script() {
	local body
	body=$(jq -nc --arg ref "$2" '{recipient: {name: "张三明", phone: "13812345678",
	  address: {country: "CN", province: "湖北省", city: "武汉市", district: "江汉区",
	  street: "建设大道568号", detail: "3栋2单元1502室"}}, sender: {name: "Anna Kowalska",
	  phone: "+48 601 234 567", address: {country: "PL", city: "Kraków",
	  street: "ul. Floriańska 12", detail: "m. 4"}}, merchant_ref: $ref, weight_g: 1200}')
	cat >"$3" <<LUA
wrk.method = "POST"
wrk.body = [[$body]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
LUA
}
