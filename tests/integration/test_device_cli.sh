#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `smile-gateway device ...` on a data directory: enrol from the JSON a
# handheld prints, list, suspend, resume, revoke (final), with clear errors;
# every change lands in the audit log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
gw_init "$D" || die "init failed"
"$DT" keygen --id van-9 --out "$T/van.key" >"$T/van.json" || die "keygen"

out=$("$GW" device add --data "$D" --role courier --zone 'CN/湖北省' --in "$T/van.json")
t_eq "device add enrols from the enrolment JSON" "van-9 courier active CN/湖北省" \
	"$(jq_get "$out" '"\(.id) \(.role) \(.status) \(.zone)"')"
out=$("$GW" device add --data "$D" --role courier <"$T/van.json" 2>&1)
t_match "the same id twice is refused, naming the field" "$out" '^smile-gateway: device add: id: .*enrolled'
out=$("$GW" device add --data "$D" --in "$T/van.json" 2>&1)
t_match "--role is required" "$out" 'role is required'
out=$("$GW" device add --data "$D" --role pilot --in "$T/van.json" 2>&1)
t_match "a bad role is named" "$out" 'role: courier, hub, supervisor or print_station'
printf '{"id":"x","sign_pk":"nope"' >"$T/bad.json"
out=$("$GW" device add --data "$D" --role hub --in "$T/bad.json" 2>&1)
t_match "broken JSON is refused" "$out" 'not valid JSON'

t_eq "device list shows it" "van-9" "$("$GW" device list --data "$D" | jq -r .id)"
t_match "suspend" "$("$GW" device suspend --data "$D" --id van-9)" 'van-9 is suspended'
t_match "resume" "$("$GW" device resume --data "$D" --id van-9)" 'van-9 is active'
t_match "revoke" "$("$GW" device revoke --data "$D" --id van-9)" 'van-9 is revoked'
t_fails "a revoked device stays revoked" "$GW" device resume --data "$D" --id van-9
out=$("$GW" device suspend --data "$D" --id ghost 2>&1)
t_match "an unknown id is named" "$out" "no device 'ghost'"
t_eq "every change is audited (enrol, suspend, resume, revoke)" "4" \
	"$(sqlite3 "$D/store.db" "SELECT count(*) FROM audit WHERE subject = 'van-9'")"
t_match "and the chain verifies" "$("$GW" audit verify --data "$D")" '^audit log verifies: 4 entries'
t_done
