#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# smile-bridge against the real gateway and a real mosquitto (configured by
# broker-config): keygen, enrolment and configure; `run` with standard input
# reveals for a courier; mode barcodes; the `scan` command's exit codes;
# contact details only on standard output, never in logs or the state dir.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
. "$(dirname "$0")/bridge.sh"

br_gateway || die "gateway with relay did not start"

# --- keygen, enrolment, configure -------------------------------------------
"$BR" keygen --id courier-01 --out "$T/courier-01.key" >"$T/enrol.json" 2>"$T/keygen.err"
t_eq "keygen writes the key file 0600" "600" "$(stat -c %a "$T/courier-01.key")"
t_match "keygen prints the enrolment JSON" "$(cat "$T/enrol.json")" \
	'^\{"id":"courier-01","sign_pk":"[A-Za-z0-9+/]{43}=","box_pk":"[A-Za-z0-9+/]{43}="\}$'
t_fails "keygen never overwrites a key" "$BR" keygen --id courier-01 --out "$T/courier-01.key"
t_ok "--help on every command" bash -c "'$BR' --help && '$BR' keygen --help && '$BR' configure --help && '$BR' run --help && '$BR' scan --help >/dev/null"
gw_enrol courier "$T/enrol.json" || die "enrol courier-01"
t_eq "the gateway takes the enrolment JSON as-is (role added)" "201" "$STATUS"
curl -sf -H "Authorization: Bearer $ADMIN" "$GW_URL/v1/gateway" >"$T/gateway.json"
"$BR" configure --gateway "$T/gateway.json" --key "$T/courier-01.key" --state "$T/courier-01.state" \
	--out "$T/courier-01.conf"
t_eq "configure writes a config with the broker" "mqtt_port = $MQTT_PORT" \
	"$(grep '^mqtt_port' "$T/courier-01.conf")"
sed -i -e 's/^retry_initial_ms = .*/retry_initial_ms = 300/' "$T/courier-01.conf"
chmod 0644 "$T/courier-01.key"
out=$(printf '' | "$BR" run --config "$T/courier-01.conf" --event pickup 2>&1)
t_match "run refuses a key others may read, saying how to fix it" "$out" 'chmod 600'
chmod 0600 "$T/courier-01.key"
br_device hub-01 hub || die "hub-01"
br_device courier-02 courier || die "courier-02"

br_issue "3栋2单元1502室" || die "issue"; WB1=$WB; TOK1=$TOKEN
br_issue "1号楼101室" || die "issue"; WB2=$WB; TOK2=$TOKEN
br_issue "5栋501室" || die "issue"; WB3=$WB; TOK3=$TOKEN

# --- run, standard input ----------------------------------------------------
printf '%s\n' "$TOK1" | timeout 30 "$BR" run --config "$T/courier-01.conf" \
	--event out_for_delivery >"$T/run1.out" 2>"$T/run1.err"
t_eq "run exits 0 at end of input once every scan is answered" "0" "$?"
t_eq "one line per reply" "1" "$(jq -c 'select(.status)' "$T/run1.out" | wc -l)"
t_eq "every line is a JSON object" "$(wc -l <"$T/run1.out")" "$(jq -c . "$T/run1.out" | wc -l)"
line=$(jq -c 'select(.status)' "$T/run1.out")
t_eq "stdin scan reveals for the courier" "revealed" "$(jq_get "$line" .status)"
t_eq "... for that waybill, with its seq" "$WB1 1" "$(jq_get "$line" '"\(.waybill) \(.seq)"')"
t_eq "... the event it recorded" "out_for_delivery" "$(jq_get "$line" .event)"
t_eq "... the contact's phone in full" "13812345678" "$(jq_get "$line" .contact.phone)"
t_eq "... and name" "张三明" "$(jq_get "$line" .contact.name)"
t_match "... and the masked view" "$(jq_get "$line" .masked)" '138\*+8'
t_eq "the gateway recorded it once" "1" "$(count_events "$WB1" out_for_delivery)"

# modes: the default from the config, switched by a mode barcode
printf '%s\n' "SMILE:MODE:DELIVERED" "$TOK1" "SMILE:MODE:NOPE" | timeout 30 "$BR" run \
	--config "$T/courier-01.conf" >"$T/run2.out" 2>"$T/run2.err"
t_eq "a mode barcode gives a mode notice" "delivered" \
	"$(jq -r 'select(.notice == "mode") | .event' "$T/run2.out")"
t_eq "the next scan uses the new mode" "delivered recorded" \
	"$(jq -r 'select(.status) | "\(.event) \(.status)"' "$T/run2.out")"
t_eq "an unknown mode is refused" "unknown_mode" \
	"$(jq -r 'select(.notice == "refused") | .reason' "$T/run2.out")"
t_eq "the parcel is delivered" "1" "$(count_events "$WB1" delivered)"

# hub: recorded, never contact details
printf '%s\n' "$TOK2" | timeout 30 "$BR" run --config "$T/hub-01.conf" --event hub_in \
	>"$T/hub.out" 2>"$T/hub.err"
line=$(jq -c 'select(.status)' "$T/hub.out")
t_eq "a hub scan is recorded, reason hub_role" "recorded hub_role" "$(jq_get "$line" '"\(.status) \(.reason)"')"
t_eq "... with no contact at all" "false" "$(jq_get "$line" 'has("contact")')"

# --- scan: one scan, exit code by status ---------------------------------------
# (--timeout 30: the default 10 s covers the sanitizer bridge's connection
# and the gateway's answer; a loaded machine may need more, and an answered
# scan returns at once)
"$BR" scan "$TOK3" --event out_for_delivery --config "$T/courier-02.conf" --timeout 30 >"$T/scan.out" 2>"$T/scan.err"
t_eq "scan: revealed exits 0" "0" "$?"
t_eq "... one reply line" "revealed" "$(jq -r .status "$T/scan.out")"
"$BR" scan "$TOK2" --event hub_out --config "$T/hub-01.conf" --timeout 30 >"$T/scan.out" 2>>"$T/scan.err"
t_eq "scan: recorded exits 1" "1" "$?"
"$BR" scan "$TOK2" --event delivered --config "$T/courier-02.conf" --timeout 30 >"$T/scan.out" 2>>"$T/scan.err"
t_eq "scan: denied exits 2" "2 not_holder" "$? $(jq -r .reason "$T/scan.out")"
"$BR" scan "SW1:NOT-A-TOKEN" --event pickup --config "$T/courier-02.conf" --timeout 30 >"$T/scan.out" 2>>"$T/scan.err"
rc=$?
t_match "scan: a forged token is refused by the gateway" "$rc $(jq -r .reason "$T/scan.out")" '^[23] token_'
"$BR" scan "$TOK3" --event pickup --config /nonexistent.conf >/dev/null 2>"$T/scan.err"
t_eq "scan: a local error exits 3" "3" "$?"
sed -e "s/^mqtt_port = .*/mqtt_port = $(free_port)/" "$T/courier-02.conf" >"$T/dead.conf"
"$BR" scan "$TOK3" --event pickup --config "$T/dead.conf" --timeout 2 >"$T/scan.out" 2>"$T/scan.err"
t_eq "scan: no reply within --timeout exits 4" "4" "$?"
t_match "... saying why" "$(cat "$T/scan.err")" 'no reply within 2 s'

# --- privacy ---------------------------------------------------------------------
leaks=$(grep -l -a -r -e 13812345678 -e '张三明' -e '1502室' "$T"/*.err "$T"/*.state 2>/dev/null | wc -l)
t_eq "no phone, name or room in any bridge log or state file" "0" "$leaks"
t_ok "the state dir holds the counter and the (empty) queue" test -s "$T/courier-01.state/seq" -a -d "$T/courier-01.state/queue"
t_eq "... and nothing is left queued" "0" "$(ls "$T/courier-01.state/queue" | wc -l)"
t_done
