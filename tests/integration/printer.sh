# SPDX-License-Identifier: Apache-2.0
# tests/integration/printer.sh - printers for the printing tests: a private
# CUPS server with test queues, and the Zebra stand-in (zebra_sim.py).
# Source after lib.sh (and label.sh).
#
# cups_start           a cupsd of its own in $T/cups, on a free loopback port,
#                      no system-wide state: its own cupsd.conf and
#                      cups-files.conf (every directory under $T/cups, no
#                      printcap, no browsing, no web interface, anyone may
#                      administer it), and its own ServerBin whose only
#                      backend is "smiletest"; exports CUPS_SERVER so libcups
#                      (smile-label, lpadmin, cupsdisable...) talks to it.
#                      Stopped at exit. Sets CUPS_PORT, CUPS_DIR, CUPS_PID.
# cups_queue NAME      a raw queue whose device, smiletest:$CUPS_DIR/out/NAME,
#                      writes each job to $CUPS_DIR/out/NAME/job-ID. If
#                      out/NAME/paper holds a number, that many jobs print;
#                      the next one finds the roll empty: the backend reports
#                      media-empty-error and stops the queue, as a CUPS
#                      driver does on a real paper-out (and clears it again
#                      with the next job it prints, once the queue is
#                      enabled and the roll refilled).
# zebra_start [--silent|--blackhole]
#                      a zebra_sim.py on a free port; sets ZEBRA_PORT,
#                      ZEBRA_DIR (labels as label-NNNN.zpl, state in state),
#                      ZEBRA_PID. Stopped at exit.
# zebra_set KEY=VALUE...  change the printer's state (paper_out, head_open,
#                      paused, buffer_full: 0/1; paper: labels left, -1 endless)
#
# CUPS 2.4's own file: device (FileDevice Yes) does not do here: a raw queue
# with a file: device completes every job without writing the file (no
# filter or backend runs for it), so the queue's device is a test backend.

ZEBRA_SIM="$SMILE_ROOT/tests/integration/zebra_sim.py"

cups_start() {
	local d
	CUPS_DIR="$T/cups"
	mkdir -p "$CUPS_DIR"/{spool,tmp,cache,state,log,out,bin/backend} || return 1
	CUPS_PORT=$(free_port) || return 1
	# the rest of ServerBin is the system's (filters, daemons), read-only
	for d in filter daemon notifier cgi-bin monitor driver; do
		[ -e "/usr/lib/cups/$d" ] && ln -s "/usr/lib/cups/$d" "$CUPS_DIR/bin/$d"
	done
	cat >"$CUPS_DIR/bin/backend/smiletest" <<'SH'
#!/bin/sh
# smiletest:DIR - write the job to DIR/job-ID (see tests/integration/printer.sh)
[ $# -eq 0 ] && { echo 'direct smiletest "Smile test" "Smile test backend"'; exit 0; }
dir=${DEVICE_URI#smiletest:}
if [ -f "$dir/paper" ]; then
	left=$(cat "$dir/paper")
	if [ "$left" -le 0 ]; then
		echo "STATE: +media-empty-error" >&2
		echo "ERROR: out of labels" >&2
		exit 4 # CUPS_BACKEND_STOP: the queue stops, the job stays pending
	fi
	echo $((left - 1)) >"$dir/paper"
fi
if [ -n "$6" ]; then cat "$6"; else cat; fi >"$dir/job-$1.tmp" && mv "$dir/job-$1.tmp" "$dir/job-$1"
# printed: the roll is there again (a driver clears the reason it set)
echo "STATE: -media-empty-error" >&2
SH
	# run as root only if not group/world accessible (cupsd's rule)
	chmod 0700 "$CUPS_DIR/bin/backend/smiletest"
	local user group
	if [ "$(id -u)" -eq 0 ]; then user=lp group=lp; else user=$(id -un) group=$(id -gn); fi
	cat >"$CUPS_DIR/cupsd.conf" <<EOF2
Listen 127.0.0.1:$CUPS_PORT
LogLevel info
Browsing No
BrowseLocalProtocols none
DefaultAuthType None
WebInterface No
JobRetryLimit 0
PreserveJobHistory Yes
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
    Allow all
  </Limit>
</Policy>
EOF2
	cat >"$CUPS_DIR/cups-files.conf" <<EOF2
ServerRoot $CUPS_DIR
ServerBin $CUPS_DIR/bin
RequestRoot $CUPS_DIR/spool
TempDir $CUPS_DIR/tmp
CacheDir $CUPS_DIR/cache
StateDir $CUPS_DIR/state
ErrorLog $CUPS_DIR/log/error_log
AccessLog $CUPS_DIR/log/access_log
PageLog $CUPS_DIR/log/page_log
Printcap $CUPS_DIR/printcap
User $user
Group $group
SystemGroup root
EOF2
	/usr/sbin/cupsd -f -c "$CUPS_DIR/cupsd.conf" -s "$CUPS_DIR/cups-files.conf" \
		>"$CUPS_DIR/log/stdout" 2>&1 &
	CUPS_PID=$!
	at_exit "cups_stop"
	export CUPS_SERVER="127.0.0.1:$CUPS_PORT"
	if ! wait_port "$CUPS_PORT" 10 || ! kill -0 "$CUPS_PID" 2>/dev/null; then
		sed 's/^/# /' "$CUPS_DIR/log/stdout" "$CUPS_DIR/log/error_log" 2>/dev/null | tail -n 20
		return 1
	fi
}

cups_stop() {
	[ -n "${CUPS_PID:-}" ] || return 0
	kill "$CUPS_PID" 2>/dev/null
	wait "$CUPS_PID" 2>/dev/null
	CUPS_PID=
}

cups_queue() {
	mkdir -p "$CUPS_DIR/out/$1" && chmod 0755 "$CUPS_DIR/out/$1"
	lpadmin -p "$1" -E -v "smiletest:$CUPS_DIR/out/$1" >"$CUPS_DIR/log/lpadmin.$1" 2>&1
}

# cups_q CMD ARGS...: a CUPS client command, without its D-Bus noise
cups_q() { "$@" >/dev/null 2>&1; }

_zebra_n=0
zebra_start() {
	_zebra_n=$((_zebra_n + 1))
	ZEBRA_DIR="$T/zebra-$_zebra_n"
	mkdir -p "$ZEBRA_DIR"
	python3 "$ZEBRA_SIM" --dir "$ZEBRA_DIR" "$@" \
		>"$ZEBRA_DIR/log" 2>&1 &
	ZEBRA_PID=$!
	at_exit "kill $ZEBRA_PID"
	local i
	for ((i = 0; i < 100; i++)); do
		if [ -e "$ZEBRA_DIR/ready" ]; then
			ZEBRA_PORT=$(cat "$ZEBRA_DIR/ready")
			return 0
		fi
		kill -0 "$ZEBRA_PID" 2>/dev/null || break
		sleep 0.05
	done
	sed 's/^/# /' "$ZEBRA_DIR/log"
	return 1
}

zebra_set() {
	local kv k v f="$ZEBRA_DIR/state"
	cp "$f" "$f.new"
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=}
		sed -i "s/^$k=.*/$k=$v/" "$f.new"
	done
	mv "$f.new" "$f"
}

# zebra_labels: how many labels the simulator has printed
zebra_labels() { ls "$ZEBRA_DIR" | grep -c '^label-.*\.zpl$'; }
