#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Identities and doors into the gateway (docs/operations.md):
#   - device ids that are broker service users are refused at enrolment, and
#     broker-config never writes a user twice;
#   - broker-config run as root writes files the broker's own user can read,
#     and the generated mosquitto.conf starts as root, unmodified;
#   - serve refuses secrets and a data directory open to others, naming the
#     file and the chmod;
#   - init creates missing parent directories.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"
DT="$BIN/smile-devtool"

D="$T/data"
gw_init "$D" || die "init failed"
gw_start "$D" || die "gateway did not start"
ADMIN=$(cat "$D/admin.key")

# --- reserved broker users -----------------------------------------------------
"$DT" keygen --id courier1 --out "$T/c.key" >"$T/c.json" || die "keygen"
for id in smile-gateway smile-observer SMILE-Gateway smile-anything; do
	api_json POST /v1/devices "$ADMIN" "$(jq -c --arg id "$id" '. + {id: $id, role: "courier"}' "$T/c.json")"
	t_eq "enrolling '$id' is refused naming the field" "422 id" "$STATUS $(jq_get "$BODY" .error.field)"
done
t_match "... saying why" "$(jq_get "$BODY" .error.message)" 'reserved for a broker service account'
gw_conf_set "$D" mqtt_username gw-main
gw_stop
gw_start "$D" || die "gateway did not restart"
api_json POST /v1/devices "$ADMIN" "$(jq -c '. + {id: "gw-main", role: "courier"}' "$T/c.json")"
t_eq "the configured gateway MQTT user name is reserved too" "422 id" "$STATUS $(jq_get "$BODY" .error.field)"
gw_stop
jq -c '. + {id: "smile-gateway"}' "$T/c.json" >"$T/bad.json"
out=$("$GW" device add --data "$D" --role courier --in "$T/bad.json" 2>&1)
t_match "the CLI refuses it too, naming the id" "$out" "id: 'smile-gateway' is reserved"
t_eq "nothing was enrolled" "0" "$(sqlite3 "$D/store.db" "SELECT count(*) FROM devices")"

# A store enrolled before the check: broker-config refuses to write the
# service user twice, and says what to do.
"$GW" device add --data "$D" --role courier --in "$T/c.json" >/dev/null || die "enrol courier1"
sqlite3 "$D/store.db" "INSERT INTO devices SELECT 'gw-main', sign_pk, box_pk, role, zone, status,
  last_seq, last_digest, last_reply, created_ms, updated_ms, last_shipment_id, last_revealed
  FROM devices WHERE id = 'courier1'" || die "sqlite3"
out=$("$GW" broker-config --data "$D" --out "$T/brk0" 2>&1)
t_eq "broker-config refuses a device named like the gateway's user" "1" "$?"
t_match "... naming it and the fix" "$out" "device 'gw-main' has a broker service user's name; revoke it"
"$GW" device revoke --data "$D" --id gw-main >/dev/null
t_ok "once revoked, broker-config works" "$GW" broker-config --data "$D" --out "$T/brk0"
t_eq "no user is written twice" "" "$(cut -d: -f1 "$T/brk0/passwd" | sort | uniq -d)"
t_eq "... and each service user once" "gw-main smile-observer" \
	"$(cut -d: -f1 "$T/brk0/passwd" | grep -v courier1 | sort | tr '\n' ' ' | sed 's/ $//')"

# --- the broker started as root, from the generated file as it is -----------
if [ "$(id -u)" = 0 ] && getent passwd mosquitto >/dev/null; then
	PUB=$(mktemp -d /tmp/smile-brk.XXXXXX)
	chmod 755 "$PUB"
	at_exit "rm -rf $PUB"
	port=$(free_port)
	"$GW" broker-config --data "$D" --out "$PUB/broker" --listen "127.0.0.1:$port" >/dev/null ||
		die "broker-config"
	t_eq "as root, the files belong to the broker's user" "mosquitto mosquitto mosquitto 600" \
		"$(stat -c %U "$PUB/broker") $(stat -c %U "$PUB/broker/passwd") $(stat -c %U "$PUB/broker/acl") $(stat -c %a "$PUB/broker/passwd")"
	t_match "... which the config names" "$(cat "$PUB/broker/mosquitto.conf")" $'\nuser mosquitto\n'
	mosquitto -c "$PUB/broker/mosquitto.conf" >"$T/brk.log" 2>&1 &
	BPID=$!
	at_exit "kill $BPID 2>/dev/null"
	wait_port "$port" 5
	t_ok "mosquitto started as root runs the generated config" kill -0 "$BPID"
	t_ok "... and the gateway's user logs in with its password" \
		mosquitto_pub -h 127.0.0.1 -p "$port" -u gw-main -P "$(cat "$D/mqtt.password")" \
		-q 1 -t smile/v1/alerts -m test
	t_fails "... while a wrong password is refused" \
		mosquitto_pub -h 127.0.0.1 -p "$port" -u gw-main -P wrong -q 1 -t smile/v1/alerts -m test
	kill "$BPID"
else
	t_skip "broker as root" "needs root and the mosquitto user"
fi

# --- serve checks every secret's mode ---------------------------------------------
serve_err() { timeout 10 "$GW" serve --data "$D" --listen 127.0.0.1:0 2>&1 >/dev/null; }
chmod 644 "$D/admin.key"
out=$(serve_err)
t_match "serve refuses a readable admin.key, naming the chmod" "$out" "admin.key: mode 0644 .*run: chmod 600 $D/admin.key"
chmod 600 "$D/admin.key"
chmod 640 "$D/mqtt.password"
out=$(serve_err)
t_match "... and a readable mqtt.password" "$out" "mqtt.password: mode 0640 .*chmod 600"
chmod 600 "$D/mqtt.password"
chmod 604 "$D/mqtt-observer.password"
out=$(serve_err)
t_match "... and the observer's password" "$out" "mqtt-observer.password: mode 0604"
chmod 600 "$D/mqtt-observer.password"
chmod 755 "$D"
out=$(serve_err)
t_match "... and a data directory open to others" "$out" "mode 0755 .*run: chmod 700 $D"
chmod 700 "$D"
ln -sf /etc/hostname "$T/link"
mv "$D/admin.key" "$T/admin.key.saved"
ln -s "$T/link" "$D/admin.key"
out=$(serve_err)
t_match "... and a symlink in place of a secret" "$out" "admin.key: not a regular file \\(a symlink\\)"
rm "$D/admin.key"
mv "$T/admin.key.saved" "$D/admin.key"
gw_start "$D"
t_ok "with the modes right it serves" kill -0 "$GW_PID"

# --- init makes missing parents -----------------------------------------------
t_ok "init --data creates missing parent directories" "$GW" init --data "$T/a/b/c/data"
t_eq "... the data directory itself 0700" "700" "$(stat -c %a "$T/a/b/c/data")"
t_done
