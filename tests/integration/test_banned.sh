#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# common/banned.h, force-included into every compile: a banned call fails the
# build with an error naming the function, under the flags the Makefile
# really uses (C11 for most of the tree, C99 -pedantic for the device core);
# the safe replacements compile cleanly, even with -Werror.
. "$(dirname "$0")/lib.sh"
cd "$SMILE_ROOT"

cc11=$(make --no-print-directory -s print-cc-c11) || die "make print-cc-c11 failed"
cc99=$(make --no-print-directory -s print-cc-c99) || die "make print-cc-c99 failed"
t_match "the C11 compile force-includes banned.h" "$cc11" ' -include common/banned\.h '
t_match "the C99 (device core) compile force-includes banned.h" "$cc99" ' -include common/banned\.h '

# compile NAME STD BODY: compile a function with BODY under the project's
# flags for STD (c11 or c99) and -Werror; output in $T/NAME.log.
compile() {
	local name=$1 std=$2 body=$3 cmd
	cmd=$cc11
	[ "$std" = c99 ] && cmd=$cc99
	printf '#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <time.h>\n%s\n' \
		"int f(char *d, size_t n, const char *s); int f(char *d, size_t n, const char *s) { $body }" \
		>"$T/$name.c"
	# shellcheck disable=SC2086
	$cmd -Werror -c "$T/$name.c" -o "$T/$name.o" >"$T/$name.log" 2>&1
}

for std in c11 c99; do
	compile "strcpy_$std" "$std" '(void)n; strcpy(d, s); return 0;'
	rc=$?
	t_ok "$std: strcpy fails the build" test $rc -ne 0
	t_match "$std: ... with an error naming strcpy" "$(cat "$T/strcpy_$std.log")" \
		'sorry_strcpy_is_a_banned_function'
	t_ok "$std: snprintf compiles cleanly" \
		compile "snprintf_$std" "$std" 'return snprintf(d, n, "%s", s);'
	[ -s "$T/snprintf_$std.log" ] && sed 's/^/# /' "$T/snprintf_$std.log"
done

# Every other banned function is caught too, each named in its error.
for call in 'strcat(d, s)' 'strncpy(d, s, n)' 'strncat(d, s, n)' 'sprintf(d, "%s", s)' \
	'strtok(d, s)' 'atoi(s)' 'atol(s)' 'atoll(s)' 'atof(s) > 0' \
	'gmtime(NULL) != NULL' 'localtime(NULL) != NULL' 'ctime(NULL) != NULL' \
	'asctime(NULL) != NULL' 'mktemp(d) != NULL' 'tmpnam(d) != NULL'; do
	fn=${call%%(*}
	compile "ban_$fn" c11 "(void)n; (void)s; (void)d; return (int)($call);"
	t_match "$fn is banned by name" "$(cat "$T/ban_$fn.log")" "sorry_${fn}_is_a_banned_function"
done
# The reentrant forms stay allowed.
t_ok "gmtime_r and strtok_r compile cleanly" compile reentrant c11 \
	'struct tm tm; time_t t = 0; char *save; (void)n; (void)s; return gmtime_r(&t, &tm) != NULL && strtok_r(d, ",", &save) != NULL;'
[ -s "$T/reentrant.log" ] && sed 's/^/# /' "$T/reentrant.log"
t_done
