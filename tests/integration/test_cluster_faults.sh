#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults under load (issue 11, point 7): two gateway nodes on one PostgreSQL
# store and one broker (the share group), smile-loadgen's handhelds scanning
# through both (resending an unanswered scan unchanged, docs/protocol.md 8.3)
# while merchants issue shipments with an Idempotency-Key (retrying on the
# other node when one fails them, as a client behind a load balancer does).
#
#   (1) kill -9 node A mid-load: every scan is answered, verified, exactly
#       once; one tracking event per accepted scan, one counted reveal per
#       revealed one; every issuance is acknowledged and stored once. A comes
#       back (same node id), takes the scans the broker kept for it, and
#       applies none of them a second time.
#   (2) PostgreSQL stops mid-load and comes back: /healthz on both nodes
#       reports the outage while it lasts; scans answered `error` meanwhile
#       are resent and then applied once; nothing acknowledged is lost;
#       both nodes reconnect by themselves.
#   The audit chain verifies at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
LG="$BIN/smile-loadgen"
DEVICES=30

gw_cluster_init postgresql || die "cluster setup failed"
for n in "$NODE_A" "$NODE_B"; do
	gw_conf_set "$n" reveal_quota 1000000 # the handhelds reveal on every scan
	gw_conf_set "$n" http_per_ip_limit 0
done
gw_cluster_start "$NODE_A" || die "node A did not start"
A_URL=$GW_URL A_PID=$GW_PID
gw_cluster_start "$NODE_B" || die "node B did not start"
B_URL=$GW_URL B_PID=$GW_PID
GW_URL=$A_URL
ADMIN=$(cat "$NODE_A/admin.key")
api_json POST /v1/api-keys "$ADMIN" '{"role":"merchant","merchant":"ziyun"}'
KM=$(jq_get "$BODY" .key)
gw_pubkeys
gw_batch_tokens "$KM" 60 lg "$T/tokens.txt" || die "batch"
gw_loadgen_enrol fl "$DEVICES" || die "loadgen enrol"
echo "$A_URL $B_URL" >"$T/nodes"

# issuer TAG W N: issue N shipments, Idempotency-Key and merchant_ref
# TAG-W-I; each is tried on the nodes in turn (from $T/nodes) until one
# acknowledges it (201); "KEY WAYBILL" lines into $T/issued.TAG.W.
BODY_TEMPLATE=$(jq -nc '{recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
  province: "湖北省", city: "武汉市", district: "江汉区", street: "建设大道568号", detail: "3栋2单元1502室"}},
  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN", city: "武汉市",
  street: "中山大道1号"}}, merchant_ref: "@REF@", weight_g: 500}')
issuer() {
	local tag=$1 w=$2 n=$3 i k try code urls out="$T/issued.$1.$2" resp="$T/resp.$1.$2"
	: >"$out"
	for i in $(seq 1 "$n"); do
		k="$tag-$w-$i"
		for try in $(seq 0 199); do
			read -r -a urls <"$T/nodes"
			code=$(curl -s -m 5 -o "$resp" -w '%{http_code}' -X POST \
				"${urls[$(((i + try) % ${#urls[@]}))]}/v1/shipments" \
				-H "Authorization: Bearer $KM" -H 'Content-Type: application/json' \
				-H "Idempotency-Key: $k" --data-binary "${BODY_TEMPLATE/@REF@/$k}")
			if [ "$code" = 201 ]; then
				echo "$k $(jq -r .waybill "$resp")" >>"$out"
				break
			fi
			sleep 0.1
		done
	done
}
issuers_start() { # TAG N: three issuers of N shipments each
	ISSUERS=()
	for w in 1 2 3; do
		issuer "$1" "$w" "$2" &
		ISSUERS+=($!)
	done
}
# issued_check TAG N: every key acknowledged, each stored exactly once, under
# the waybill the client was given
issued_check() {
	local tag=$1 n=$2 acked stored distinct match
	wait "${ISSUERS[@]}"
	acked=$(cat "$T/issued.$tag".* | wc -l)
	t_eq "[$tag] all $((3 * n)) issuances acknowledged" $((3 * n)) "$acked"
	stored=$(count_sql "SELECT count(*) FROM shipments WHERE merchant_ref LIKE '$tag-%'")
	distinct=$(count_sql "SELECT count(DISTINCT merchant_ref) FROM shipments WHERE merchant_ref LIKE '$tag-%'")
	t_eq "[$tag] ... each stored once: $((3 * n)) shipments, $((3 * n)) keys" "$((3 * n)) $((3 * n))" \
		"$stored $distinct"
	cat "$T/issued.$tag".* | sort >"$T/acked.$tag"
	count_sql "SELECT merchant_ref || ' ' || waybill FROM shipments WHERE merchant_ref LIKE '$tag-%' ORDER BY 1" |
		LC_ALL=C sort >"$T/stored.$tag"
	LC_ALL=C sort -o "$T/acked.$tag" "$T/acked.$tag"
	match=$(comm -3 "$T/acked.$tag" "$T/stored.$tag" | wc -l)
	t_eq "[$tag] ... under the waybill each client was given" 0 "$match"
}
loadgen_start() { # TAG DURATION DRAIN
	"$LG" run --port "$MQTT_PORT" --gateway-sign-pk "$GW_SIGN_PK" --gateway-box-pk "$GW_BOX_PK" \
		--seed fl --devices "$DEVICES" --connections 2 --event out_for_delivery \
		--tokens "$T/tokens.txt" --rate 300 --retry-ms 300 --duration "$2" --drain "$3" \
		>"$T/run.$1.out" 2>&1 &
	LOADGEN=$!
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
lg_events() { count_sql "SELECT count(*) FROM events WHERE device_id LIKE 'lg-%'"; }
lg_reveals() { count_sql "SELECT COALESCE(sum(n), 0) FROM reveal_counts WHERE device_id LIKE 'lg-%'"; }
lg_reveals_audited() {
	count_sql "SELECT count(*) FROM audit WHERE kind = 'reveal' AND actor LIKE 'lg-%' AND detail <> 'resend'"
}
# loadgen_check TAG EVENTS0 REVEALS0 AUDITED0: the run's every scan answered
# once and applied once
loadgen_check() {
	local tag=$1 r accepted revealed
	wait "$LOADGEN"
	t_eq "[$tag] smile-loadgen exits 0" 0 $?
	r=$(grep '^result ' "$T/run.$tag.out")
	echo "# [$tag] $r"
	t_match "[$tag] every scan answered once, verified: none bad, lost, duplicated or given up" "$r" \
		' answered=([1-9][0-9]*) accepted=\1 .* error=0 bad=0 lost=0 duplicated=0 stray=0 '
	accepted=$(field "$r" accepted) revealed=$(field "$r" revealed)
	t_eq "[$tag] one tracking event per accepted scan" "$accepted" $(($(lg_events) - $2))
	t_eq "[$tag] one counted reveal per revealed scan" "$revealed" $(($(lg_reveals) - $3))
	t_eq "[$tag] one audited reveal per revealed scan (resends apart)" "$revealed" \
		$(($(lg_reveals_audited) - $4))
	RUN_RESULT=$r
}
health() { curl -s -m 2 -o /dev/null -w '%{http_code}' "$1/healthz"; }

# --- (1) kill -9 a node under load ------------------------------------------
e0=$(lg_events) r0=$(lg_reveals) a0=$(lg_reveals_audited)
loadgen_start kill 8 10
issuers_start kill 40
sleep 3
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
echo "# node A killed at 3 s"
loadgen_check kill "$e0" "$r0" "$a0"
t_match "[kill] ... some scans were resent (node A's share waited in its session)" \
	"$(field "$RUN_RESULT" retransmits)" '^[1-9]'
issued_check kill 40
t_eq "node B answers /healthz throughout" 200 "$(health "$B_URL")"

# A comes back under its node id: the broker hands it the scans it kept in
# A's session; each was answered by B meanwhile, so none is applied again.
e1=$(lg_events) r1=$(lg_reveals)
scans_of() { curl -s "$1/metrics" | awk '$1 == "smile_scans_total" {print $2}'; }
gw_cluster_start "$NODE_A" || die "node A did not restart"
A_URL=$GW_URL A_PID=$GW_PID A_LOG=$GW_LOG
prev=-1
for i in $(seq 1 40); do # until A has taken its backlog
	n=$(scans_of "$A_URL")
	[ "$n" = "$prev" ] && [ "$i" -gt 4 ] && break
	prev=$n
	sleep 0.25
done
echo "# node A, back, took $n queued scans"
t_eq "node A back: the queued scans add no event and no reveal" "$e1 $r1" "$(lg_events) $(lg_reveals)"
echo "$A_URL $B_URL" >"$T/nodes"

# --- (2) PostgreSQL restart under load --------------------------------------
e0=$(lg_events) r0=$(lg_reveals) a0=$(lg_reveals_audited)
loadgen_start pg 8 15
issuers_start pg 30
sleep 2
pg_stop_now
t_eq "PostgreSQL down: /healthz on both nodes reports it" "503 503" \
	"$(health "$A_URL") $(health "$B_URL")"
sleep 2
t_eq "... while it lasts" "503 503" "$(health "$A_URL") $(health "$B_URL")"
pg_restart || die "postgres did not come back"
for i in $(seq 1 50); do
	[ "$(health "$A_URL") $(health "$B_URL")" = "200 200" ] && break
	sleep 0.2
done
t_eq "PostgreSQL back: both nodes healthy again, not restarted" "200 200 alive" \
	"$(health "$A_URL") $(health "$B_URL") $(kill -0 "$A_PID" "$B_PID" && echo alive)"
loadgen_check pg "$e0" "$r0" "$a0"
t_match "[pg] ... scans answered error during the outage were resent" \
	"$(field "$RUN_RESULT" error_retried)" '^[1-9]'
issued_check pg 30

kill -TERM "$A_PID" "$B_PID"
wait "$A_PID" "$B_PID" 2>/dev/null
"$GW" audit verify --data "$NODE_A" >"$T/verify.out" 2>&1
t_eq "audit verify passes after the faults" 0 $?
t_done
