#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The foundation itself: the test runner reports failures and crashes and
# exits non-zero; make install honours DESTDIR and PREFIX; make deps is a
# no-op when everything is present.
. "$(dirname "$0")/lib.sh"
cd "$SMILE_ROOT"

# A fake build tree with a passing, a failing and a crashing "unit test".
fake="$T/fakebuild"
mkdir -p "$fake/tests/x"
printf '#!/bin/sh\necho "ok 1 - fine"\necho "ok 2 - fine too"\necho 1..2\n' >"$fake/tests/x/test_pass"
printf '#!/bin/sh\necho "ok 1 - fine"\necho "not ok 2 - broken"\necho 1..2\nexit 1\n' >"$fake/tests/x/test_fail"
printf '#!/bin/sh\necho "ok 1 - fine"\nkill -SEGV $$\n' >"$fake/tests/x/test_crash"
chmod +x "$fake"/tests/x/test_*

out=$(SMILE_BUILD="$fake" bash tests/run unit/x/test_pass)
t_ok "runner exits 0 when all pass" test $? -eq 0
t_eq "runner summary counts passes" "2 passed, 0 failed" "$(echo "$out" | tail -n 1)"

out=$(SMILE_BUILD="$fake" bash tests/run unit/x/test_fail)
rc=$?
t_ok "runner exits non-zero on a failing test" test $rc -ne 0
t_eq "runner summary counts the failure" "1 passed, 1 failed" "$(echo "$out" | tail -n 1)"

out=$(SMILE_BUILD="$fake" bash tests/run unit/x/test_crash)
rc=$?
t_ok "runner exits non-zero on a crash" test $rc -ne 0
t_eq "a crash counts as a failure" "1 passed, 1 failed" "$(echo "$out" | tail -n 1)"

out=$(SMILE_BUILD="$fake" bash tests/run no-such-test)
t_ok "runner fails when nothing ran" test $? -ne 0

# make install puts files only under DESTDIR/PREFIX.
stage="$T/stage"
make --no-print-directory -s BUILD="$SMILE_BUILD" SANITIZE="${SMILE_SANITIZE:-}" install DESTDIR="$stage" PREFIX=/usr >"$T/install.log" 2>&1
t_ok "make install succeeds" test $? -eq 0
t_eq "nothing installed outside DESTDIR/usr" "" "$(find "$stage" -mindepth 1 -maxdepth 1 ! -name usr)"
t_ok "headers installed" test -f "$stage/usr/include/smile/error.h"
t_ok "libraries installed" test -f "$stage/usr/lib/libsmile-common.a"
t_match "smile.pc names the prefix" "$(cat "$stage/usr/lib/pkgconfig/smile.pc" 2>/dev/null)" '^prefix=/usr$'
make --no-print-directory -s BUILD="$SMILE_BUILD" SANITIZE="${SMILE_SANITIZE:-}" uninstall DESTDIR="$stage" PREFIX=/usr >>"$T/install.log" 2>&1
t_eq "make uninstall removes every file" "" "$(find "$stage" -type f)"

# As anyone but root, a missing package is named with the exact command to run.
mkdir -p "$T/deps"
cp scripts/deps "$T/deps/deps"
printf 'bash   # present\nsmile-no-such-package   # missing\n' >"$T/deps/debian-packages.txt"
chmod -R a+rX "$T"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups bash "$T/deps/deps" 2>&1)
rc=$?
t_ok "make deps as non-root fails when a package is missing" test $rc -ne 0
t_match "... and prints the exact apt-get line" "$out" \
	'run as root:  apt-get install -y --no-install-recommends smile-no-such-package$'
t_match "make deps is quiet when all is present" "$(bash scripts/deps 2>&1)" '^deps: all [0-9]+ packages present$'
t_done
