#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One port, one gateway: a second gateway (another data directory) started on
# the port of a running one must fail with a clear error naming the address
# and port, not share the port and silently take half the requests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

gw_init "$T/a" || die "init a failed"
gw_init "$T/b" || die "init b failed"
gw_start "$T/a" || die "gateway a did not start"
ADDR=${GW_URL#http://}

"$GW" serve --data "$T/b" --listen "$ADDR" >"$T/b.out" 2>&1 &
PB=$!
at_exit "kill $PB"
# (20 s: a sanitizer build starting, failing and leak-checking at exit on a
# loaded machine; one that keeps running is still caught below)
for i in $(seq 1 200); do kill -0 "$PB" 2>/dev/null || break; sleep 0.1; done
# while the second one runs (it should not), the port's requests are shared
KEY_A=$(cat "$T/a/admin.key")
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $KEY_A" "$GW_URL/v1/gateway"
done >"$T/codes"
if kill -0 "$PB" 2>/dev/null; then
	kill "$PB"; wait "$PB"; rc=running
else
	wait "$PB"; rc=$?
fi
out=$(cat "$T/b.out")
t_eq "a second gateway on a busy port exits 1 at once" "1" "$rc"
t_match "... saying the address and port are in use" "$out" "listen: $ADDR is already in use"
t_nomatch "... having never said it listens" "$out" 'event=http.listening'
t_eq "the first gateway answers all 20 requests (none reach the other, whose keys differ)" "20" "$(grep -c '^200$' "$T/codes")"

# a restart on the same port right after a stop still works (SO_REUSEADDR)
curl -s -o /dev/null "$GW_URL/healthz"
gw_stop
t_eq "the first gateway stops cleanly" "0" "$GW_RC"
"$GW" serve --data "$T/b" --listen "$ADDR" 2>>"$T/b.log" &
PB2=$!
at_exit "kill $PB2"
wait_port "${ADDR##*:}" 10
t_eq "another gateway can take the port once it is free" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$GW_URL/healthz")"
kill -TERM "$PB2"; wait "$PB2"
t_done
