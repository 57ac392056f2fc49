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
