#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What `make install` gives another program: the public contract and nothing
# else. Every defined global of an installed library starts with `smile_`;
# the gateway's and the bridge's libraries and headers stay in the tree; each
# public header compiles alone; and a program using the label library and the
# device core builds against the installed files through smile.pc and runs.
# Uses the already built tree ($SMILE_BUILD, as tests/run passes it).
. "$(dirname "$0")/lib.sh"
cd "$SMILE_ROOT"

stage="$T/stage"
make --no-print-directory -s BUILD="$SMILE_BUILD" SANITIZE="${SMILE_SANITIZE:-}" \
	install DESTDIR="$stage" PREFIX=/usr >"$T/install.log" 2>&1 ||
	{ sed 's/^/# /' "$T/install.log"; die "make install failed"; }
lib="$stage/usr/lib"
inc="$stage/usr/include"

# ---- symbols: the public prefix rule
for name in common device label; do
	a="$lib/libsmile-$name.a"
	if [ ! -f "$a" ]; then
		t_ok "libsmile-$name.a is installed" false
		continue
	fi
	# nm -g --defined-only: "ADDRESS TYPE NAME" for each defined global
	# (T, D, B, R, W, V...), "FILE.o:" headers and blank lines otherwise.
	leaks=$(nm -g --defined-only "$a" | awk 'NF == 3 && $3 !~ /^smile_/ { print $3 }')
	t_eq "libsmile-$name.a exports only smile_* names" "" "$(echo $leaks)"
	t_ok "libsmile-$name.a still exports its API" \
		test "$(nm -g --defined-only "$a" | awk 'NF == 3' | wc -l)" -gt 0
done
# The label library's own cross-file helpers (label/label_internal.h) are
# resolved inside the archive and are no longer visible from outside.
t_eq "label_* internals are local in the installed label library" "" \
	"$(nm -g "$lib/libsmile-label.a" 2>/dev/null | awk 'NF == 3 && $3 ~ /^label_/')"

# ---- nothing internal installed
t_eq "no gateway or bridge library installed" "" \
	"$(ls "$lib" | grep -E 'libsmile-(gateway|bridge)')"
internal=""
for h in gateway/*.h firmware-bridge/*.h firmware-bridge/core/*.h label/*.h common/*.h; do
	[ -e "$inc/smile/$(basename "$h")" ] && internal="$internal $(basename "$h")"
done
t_eq "no internal header installed" "" "$internal"
t_eq "installed headers are exactly include/smile/*.h" \
	"$(cd include/smile && ls *.h)" "$(cd "$inc/smile" && ls)"
t_match "smile.pc links only the public libraries" \
	"$(grep '^Libs:' "$lib/pkgconfig/smile.pc")" \
	'^Libs: -L\$\{libdir\} -lsmile-label -lsmile-device -lsmile-common$'

# ---- each public header compiles alone, from the install only
export PKG_CONFIG_PATH="$lib/pkgconfig"
pc() { pkg-config --define-variable=prefix="$stage/usr" "$@" smile; }
pc_cflags=$(pc --cflags) || die "pkg-config --cflags smile failed"
t_match "smile.pc points into the install" "$pc_cflags" "-I$inc( |$)"
bad=""
for h in "$inc"/smile/*.h; do
	printf '#include <smile/%s>\n' "$(basename "$h")" >"$T/one.c"
	cc -std=c11 -Wall -Wextra -Werror $pc_cflags -c "$T/one.c" -o "$T/one.o" \
		>"$T/one.log" 2>&1 || { bad="$bad $(basename "$h")"; sed 's/^/# /' "$T/one.log"; }
done
t_eq "every installed header compiles alone with -std=c11 -Wall -Werror" "" "$bad"
bad=""
for h in "$inc"/smile/*.h; do
	grep -q '^#include "' "$h" || continue
	for dep in $(sed -n 's/^#include "\(.*\)"/\1/p' "$h"); do
		[ -f "$inc/$dep" ] || bad="$bad $(basename "$h")->$dep"
	done
done
t_eq "installed headers include only installed headers" "" "$bad"

# ---- a program against the installed libraries, through smile.pc
cat >"$T/prog.c" <<'EOF'
#include <stdio.h>
#include <string.h>

#include <smile/base45.h>
#include <smile/buf.h>
#include <smile/device.h>
#include <smile/label.h>

int main(int argc, char **argv)
{
	struct smile_error e = {0};
	struct smile_device_keys k;
	char json[SMILE_DEVICE_ENROLMENT_MAX], b45[64];
	uint8_t back[32];
	size_t n = 0;
	struct smile_label_record *rec = NULL;
	struct smile_label_renderer *r = NULL;
	struct smile_buf out;
	static char line[SMILE_LABEL_RECORD_MAX + 2];
	FILE *f;

	if (argc != 2 || (f = fopen(argv[1], "r")) == NULL || !fgets(line, sizeof(line), f))
		return 10;
	fclose(f);
	/* device core: keys, enrolment JSON, Base45 */
	if (smile_device_keygen("dev-1", &k, &e) != SMILE_OK ||
	    smile_device_enrolment_json(&k, json, sizeof(json), NULL) != SMILE_OK ||
	    strstr(json, "\"id\":\"dev-1\"") == NULL)
		return 11;
	smile_device_keys_wipe(&k);
	if (smile_base45_encode((const uint8_t *)"hello", 5, b45, sizeof(b45), NULL) != SMILE_OK ||
	    smile_base45_decode(b45, strlen(b45), back, sizeof(back), &n) != SMILE_OK ||
	    n != 5 || memcmp(back, "hello", 5) != 0)
		return 12;
	/* label library: parse a record and render a PNG */
	if (smile_label_record_parse(line, strcspn(line, "\n"), &rec, &e) != SMILE_OK)
		return 13;
	if (smile_label_renderer_new(SMILE_LABEL_PNG, 203, SMILE_LABEL_100X150, &r, &e) != SMILE_OK)
		return 14;
	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	if (smile_label_render(r, rec, &out, &e) != SMILE_OK || out.len < 8 ||
	    memcmp(out.data, "\x89PNG", 4) != 0)
		return 15;
	printf("label %s: %zu bytes of PNG; %s\n", smile_label_record_waybill(rec), out.len,
	       smile_errname(SMILE_ERR_TOKEN_TAMPERED));
	smile_buf_release(&out);
	smile_label_renderer_free(r);
	smile_label_record_free(rec);
	return 0;
}
EOF
# An installed library built with sanitizers needs their runtimes at link time.
# (grep -c reads all of nm's output: grep -q would end the pipe early, and
# under pipefail nm's SIGPIPE would read as "not found".)
undef=$(nm -u "$lib"/libsmile-*.a 2>/dev/null)
san=""
[ "$(grep -c ' __asan_' <<<"$undef")" -gt 0 ] && san="$san,address"
[ "$(grep -c ' __ubsan_' <<<"$undef")" -gt 0 ] && san="$san,undefined"
san=${san#,}
pc_libs=$(pc --libs --static) || die "pkg-config --libs smile failed"
t_ok "a program links against the installed libraries via smile.pc" \
	cc -std=c11 -Wall -Werror $pc_cflags "$T/prog.c" -o "$T/prog" \
	${san:+-fsanitize=$san} $pc_libs
# A sanitizer build's program still needs the suppressions for system
# libraries' one-time caches (fontconfig), as CI's .ci/run gives every test.
out=$(LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SMILE_ROOT/tests/lsan.supp:print_suppressions=0} \
	"$T/prog" tests/data/label/records.jsonl 2>&1)
rc=$?
t_eq "... and runs (device core keys + Base45, label parse + PNG)" 0 "$rc"
t_match "... and prints what it made" "$out" '^label SW[0-9]+: [0-9]+ bytes of PNG; token_tampered$'

# ---- the web pages (the tracking page, the merchant console): installed
# beside the binary, served from there
web="$stage/usr/share/smile/web"
t_eq "the web pages' files are installed (tracking page and console)" \
	"$(cd gateway/web && find . -type f | sort)" \
	"$(cd "$web" 2>/dev/null && find . -type f | sort)"
if [ -x "$stage/usr/bin/smile-gateway" ]; then
	. "$(dirname "$0")/gateway.sh"
	GW="$stage/usr/bin/smile-gateway"
	echo "<!-- installed copy -->" >>"$web/track/index.html"
	echo "<!-- installed console -->" >>"$web/console/index.html"
	gw_init "$T/gw" || die "installed smile-gateway init failed"
	gw_start "$T/gw" || die "installed smile-gateway did not start"
	t_match "an installed gateway with no web_root serves the installed page" \
		"$(curl -sS "$GW_URL/t/")" 'installed copy'
	t_match "... and the installed console" "$(curl -sS "$GW_URL/console/")" 'installed console'
	gw_stop
fi
t_done
