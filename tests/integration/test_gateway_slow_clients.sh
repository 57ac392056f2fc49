#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One client cannot lock everyone out: connections per client address are
# bounded (http_per_ip_limit), and a request whose headers or body trickle in
# is cut at an absolute deadline that new bytes do not extend
# (http_header_timeout_s, http_body_timeout_s), counted in /metrics and
# logged. Slow clients come from 127.0.0.1 and 127.0.0.3; the bystander
# checking /healthz from 127.0.0.2. Loopback only, about 15 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

SLOW="$(dirname "$0")/slowclient.py"
D="$T/data"
gw_init "$D" || die "init failed"
t_match "init writes the per-address limit with its default" "$(cat "$D/gateway.conf")" '^http_per_ip_limit = 128$'
t_match "... and the header deadline" "$(cat "$D/gateway.conf")" '^http_header_timeout_s = 10$'

# a per-address limit over half the total leaves no reserve: refused
gw_conf_set "$D" http_connection_limit 16
gw_conf_set "$D" http_per_ip_limit 9
out=$("$GW" serve --data "$D" --listen 127.0.0.1:0 2>&1)
t_match "a per-address limit over half the connection limit is refused, naming the key" "$out" 'http_per_ip_limit.*half of http_connection_limit'

# Small numbers so the test is quick: 16 connections in all, 4 per address,
# 2 s for headers and for a body (plus 1 s per 1000 bytes).
gw_conf_set "$D" http_per_ip_limit 4
gw_conf_set "$D" http_header_timeout_s 2
gw_conf_set "$D" http_body_timeout_s 2
gw_start "$D" || die "gateway did not start"
PORT=${GW_URL##*:}

cut_in_window() { jq -e '.cut_after_min >= 1.5 and .cut_after_max <= 4.5' >/dev/null <<<"$1"; }
healthz_from() { # source address -> status within 2 s
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface "$1" "$GW_URL/healthz"
}
t_eq "the bystander reaches /healthz from 127.0.0.2" "200" "$(healthz_from 127.0.0.2)"

# 20 slowloris connections from 127.0.0.1 (more than the 16 the gateway has
# in all), 4 from 127.0.0.3 trickling a body, one byte every second for 7 s.
python3 "$SLOW" --port "$PORT" --source 127.0.0.1 --mode headers --conns 20 \
	--interval 1 --duration 7 >"$T/headers.json" 2>"$T/headers.err" &
P1=$!
at_exit "kill $P1"
python3 "$SLOW" --port "$PORT" --source 127.0.0.3 --mode body --conns 4 \
	--interval 1 --duration 7 >"$T/body.json" 2>"$T/body.err" &
P2=$!
at_exit "kill $P2"
# a keep-alive client idle between its requests for longer than the header
# deadline: slow to send its next request is not slow sending one
python3 "$SLOW" --port "$PORT" --source 127.0.0.4 --mode idle --duration 4 >"$T/idle.json" 2>"$T/idle.err" &
P3=$!
at_exit "kill $P3"

sleep 0.7
codes=""
for i in 1 2 3; do
	codes="$codes $(healthz_from 127.0.0.2)"
	sleep 0.5
done
t_eq "while they trickle, /healthz answers the bystander within 2 s" " 200 200 200" "$codes"

wait "$P1"; wait "$P2"; wait "$P3"
H=$(cat "$T/headers.json"); B=$(cat "$T/body.json"); I=$(cat "$T/idle.json")
echo "# headers: $H"
echo "# body:    $B"
echo "# idle:    $I"
t_eq "one address gets 4 connections, the other 16 are refused at once" "4 16" "$(jq_get "$H" '"\(.opened - .refused) \(.refused)"')"
t_eq "every trickling header connection is cut" "4 0" "$(jq_get "$H" '"\(.cut) \(.alive)"')"
t_ok "... at the 2 s deadline, though bytes kept coming (cut after $(jq_get "$H" .cut_after_min)-$(jq_get "$H" .cut_after_max) s)" \
	cut_in_window "$H"
t_eq "every trickling body connection is cut" "4 0 0" "$(jq_get "$B" '"\(.cut) \(.alive) \(.refused)"')"
t_ok "... at the body deadline (cut after $(jq_get "$B" .cut_after_min)-$(jq_get "$B" .cut_after_max) s)" \
	cut_in_window "$B"
t_eq "an idle keep-alive connection is not cut: both its requests answered" "200 200" "$(jq_get "$I" '"\(.first) \(.second)"')"

api GET /metrics ""
cuts=$(printf '%s\n' "$BODY" | sed -n 's/^smile_http_slow_requests_cut_total \([0-9]*\)$/\1/p')
t_eq "/metrics counts the 8 cuts" "8" "$cuts"
log=$(cat "$GW_LOG")
t_match "each cut is a warning naming the peer and the phase (headers)" "$log" 'level=warn event=http.slow_request_cut peer=127\.0\.0\.1 phase=(request_line|headers) '
t_match "... (body)" "$log" 'level=warn event=http.slow_request_cut peer=127\.0\.0\.3 phase=body '
t_eq "... one line per cut" "8" "$(grep -c 'event=http.slow_request_cut ' "$GW_LOG")"
t_eq "the gateway still answers everyone afterwards" "200" "$(healthz_from 127.0.0.1)"
t_done
