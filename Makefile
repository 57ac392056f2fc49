# Smile - top-level Makefile (GNU make). See docs/HACKING.md.
#
# Sources are found by directory, so adding a module is adding a .c file:
#   common/*.c               -> $(BUILD)/lib/libsmile-common.a
#   label/*.c  (not main.c)  -> $(BUILD)/lib/libsmile-label.a,   label/main.c -> smile-label
#   gateway/*.c (not main.c) -> $(BUILD)/lib/libsmile-gateway.a, gateway/main.c -> smile-gateway
#   firmware-bridge/core/*.c -> $(BUILD)/lib/libsmile-device.a  (C99, -pedantic, no heap)
#   firmware-bridge/*.c      -> $(BUILD)/lib/libsmile-bridge.a,  firmware-bridge/main.c -> smile-bridge
#   print-station/*.c        -> $(BUILD)/lib/libsmile-print.a,   print-station/main.c -> smile-print
#   tests/unit/PART/test_*.c -> $(BUILD)/tests/PART/test_*       (cmocka; PART = common,
#                               device, label, gateway, bridge, print: links only that part's libs)
#   tests/bench/*.c          -> $(BUILD)/bench/*
#   tools/*.c                -> $(BUILD)/bin/smile-*             (helper programs)

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=
VERSION    := 0.1.0

CC       ?= cc
CFLAGS   ?= -O2 -g
LDFLAGS  ?=
PKG_CONFIG ?= pkg-config

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build/sanitize
endif

WARN := -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla \
        -Wwrite-strings -Wshadow
ifneq ($(WERROR),)
WARN += -Werror
endif

# Every library we link that ships a .pc file; zint ships none on Debian 12.
PKGS := cairo pangocairo pangoft2 fontconfig libqrencode libsodium libmosquitto sqlite3 libpq libcurl \
        libmicrohttpd jansson libpng zlib
TEST_PKGS := cmocka
# libcups (the label library's CUPS printer back end): Debian 12 ships no
# cups.pc, so cups-config answers when pkg-config cannot.
CUPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags cups 2>/dev/null || cups-config --cflags 2>/dev/null)
CUPS_LIBS   = $(shell $(PKG_CONFIG) --libs cups 2>/dev/null || cups-config --libs 2>/dev/null)

# Evaluated lazily: `make deps` must work before these packages exist.
# libwebsockets: smile-print's local WebSocket API (print-station/localapi.c);
# only smile-print links it.
LWS_CFLAGS = $(shell $(PKG_CONFIG) --cflags libwebsockets 2>/dev/null)
LWS_LIBS   = $(shell $(PKG_CONFIG) --libs libwebsockets 2>/dev/null)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(CUPS_CFLAGS) $(LWS_CFLAGS)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(CUPS_LIBS) -lzint -lpthread -lm
TEST_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

SAN_FLAGS :=
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# Every C compile force-includes common/banned.h: a call to strcpy, sprintf,
# atoi & co. fails the build with an error naming the function.
BANNED_H := common/banned.h
# SMILE_DEBUG turns SMILE_ASSERT (common/smile_assert.h) on: the sanitizer
# builds (CI, fuzz) check invariants; a release build compiles them out.
DEBUG_DEFS := $(if $(SANITIZE),-DSMILE_DEBUG)
CPPFLAGS_ALL = -Iinclude -D_GNU_SOURCE $(DEBUG_DEFS) -include $(BANNED_H) $(CPPFLAGS)
CFLAGS_C11   = -std=c11 $(WARN) $(CFLAGS) $(SAN_FLAGS) -MMD -MP
# The device core must build as strict C99 for handheld toolchains.
CFLAGS_C99   = -std=c99 -pedantic $(WARN) $(CFLAGS) $(SAN_FLAGS) -MMD -MP

# ---------------------------------------------------------------- sources
COMMON_SRC  := $(wildcard common/*.c)
LABEL_SRC   := $(filter-out label/main.c,$(wildcard label/*.c))
GATEWAY_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c))
DEVICE_SRC  := $(wildcard firmware-bridge/core/*.c)
BRIDGE_SRC  := $(filter-out firmware-bridge/main.c,$(wildcard firmware-bridge/*.c))
PRINT_SRC   := $(filter-out print-station/main.c,$(wildcard print-station/*.c))
UNIT_SRC    := $(wildcard tests/unit/*/test_*.c)
BENCH_SRC   := $(wildcard tests/bench/*.c)
TOOL_SRC    := $(wildcard tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_COMMON  := $(BUILD)/lib/libsmile-common.a
LIB_LABEL   := $(BUILD)/lib/libsmile-label.a
LIB_GATEWAY := $(BUILD)/lib/libsmile-gateway.a
LIB_DEVICE  := $(BUILD)/lib/libsmile-device.a
LIB_BRIDGE  := $(BUILD)/lib/libsmile-bridge.a
LIB_PRINT   := $(BUILD)/lib/libsmile-print.a
# What each part links, dependants first. A part's tests link only these, so
# a half-written module in one part never breaks another part's build.
LIBS_common  := $(LIB_COMMON)
LIBS_device  := $(LIB_DEVICE)
LIBS_label   := $(LIB_LABEL) $(LIB_COMMON)
LIBS_gateway := $(LIB_GATEWAY) $(LIB_LABEL) $(LIB_DEVICE) $(LIB_COMMON)
LIBS_bridge  := $(LIB_BRIDGE) $(LIB_DEVICE) $(LIB_COMMON)
# smile-print: its spool and config, the bridge's key file and state
# directory, the label library and its printers, the device core's codec.
LIBS_print   := $(LIB_PRINT) $(LIB_BRIDGE) $(LIB_LABEL) $(LIB_DEVICE) $(LIB_COMMON)
ALL_LIBS     := $(LIB_GATEWAY) $(LIB_BRIDGE) $(LIB_PRINT) $(LIB_LABEL) $(LIB_DEVICE) $(LIB_COMMON)

BINS := $(strip $(if $(wildcard label/main.c),$(BUILD)/bin/smile-label) \
        $(if $(wildcard gateway/main.c),$(BUILD)/bin/smile-gateway) \
        $(if $(wildcard firmware-bridge/main.c),$(BUILD)/bin/smile-bridge) \
        $(if $(wildcard print-station/main.c),$(BUILD)/bin/smile-print) \
        $(patsubst tools/%.c,$(BUILD)/bin/smile-%,$(TOOL_SRC)))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
unit_bins_of = $(filter $(BUILD)/tests/$(1)/%,$(UNIT_BINS))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

# `make V=1` shows full command lines.
ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

# Objects are never intermediate: keep them so relinks stay cheap.
.SECONDARY:

.PHONY: all test check test-common test-device test-label test-gateway test-bridge test-print bench demo demo-cluster deps install uninstall clean FORCE print-cc-c11 print-cc-c99 test-build core-size fuzz fuzz-smoke fuzz-bins
.DEFAULT_GOAL := all

all: $(ALL_LIBS) $(BINS) core-size

# ---------------------------------------------------------------- compile
$(BUILD)/obj/firmware-bridge/core/%.o: firmware-bridge/core/%.c
	@mkdir -p $(@D)
	$(call msg,CC99,$<)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_C99) $(shell $(PKG_CONFIG) --cflags libsodium 2>/dev/null) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itests $(CFLAGS_C11) $(PKG_CFLAGS) $(TEST_CFLAGS) -c $< -o $@

# The gateway's web pages are served from the source tree when it runs from
# its build tree (static.c, static_root; installed: $(DATADIR)/smile/web).
$(BUILD)/obj/gateway/static.o: CPPFLAGS_ALL += -DSMILE_WEB_SRC_DIR='"$(CURDIR)/gateway/web"'

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_C11) $(PKG_CFLAGS) -c $< -o $@


# An empty library is still a valid archive, so parts can appear one by one.
define make_lib
$(1): $(call obj,$(2))
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(call msg,AR,$$@)
	$$(Q)$$(AR) rcs $$@ $$^ $$(if $$^,,$(BUILD)/obj/empty.o)
endef
$(BUILD)/obj/empty.o:
	@mkdir -p $(@D)
	$(Q)printf 'typedef int smile_empty_unit;\n' | $(CC) -x c -c - -o $@
$(eval $(call make_lib,$(LIB_COMMON),$(COMMON_SRC)))
$(eval $(call make_lib,$(LIB_LABEL),$(LABEL_SRC)))
$(eval $(call make_lib,$(LIB_GATEWAY),$(GATEWAY_SRC)))
$(eval $(call make_lib,$(LIB_DEVICE),$(DEVICE_SRC)))
$(eval $(call make_lib,$(LIB_BRIDGE),$(BRIDGE_SRC)))
$(eval $(call make_lib,$(LIB_PRINT),$(PRINT_SRC)))
$(ALL_LIBS): | $(BUILD)/obj/empty.o

comma := ,
LINK = $(CC) $(CFLAGS) $(SAN_FLAGS) $(LDFLAGS)

$(BUILD)/bin/smile-label: $(call obj,label/main.c) $(LIBS_label)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(LINK) $< $(LIBS_label) $(PKG_LIBS) -o $@
$(BUILD)/bin/smile-gateway: $(call obj,gateway/main.c) $(LIBS_gateway)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(LINK) $< $(LIBS_gateway) $(PKG_LIBS) -o $@
$(BUILD)/bin/smile-bridge: $(call obj,firmware-bridge/main.c) $(LIBS_bridge)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(LINK) $< $(LIBS_bridge) $(PKG_LIBS) -o $@
$(BUILD)/bin/smile-print: $(call obj,print-station/main.c) $(LIBS_print)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(LINK) $< $(LIBS_print) $(LWS_LIBS) $(PKG_LIBS) -o $@
$(BUILD)/bin/smile-%: $(BUILD)/obj/tools/%.o $(LIBS_gateway) $(LIB_BRIDGE)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(LINK) $< $(LIB_BRIDGE) $(LIBS_gateway) $(PKG_LIBS) -o $@

define unit_part
$(BUILD)/tests/$(1)/%: $(BUILD)/obj/tests/unit/$(1)/%.o $$(LIBS_$(1))
	@mkdir -p $$(@D)
	$$(call msg,LINK,$$@)
	$$(Q)$$(LINK) $$< $$(LIBS_$(1)) $$(PKG_LIBS) $$(TEST_LIBS) -o $$@
# `make test-PART` builds and runs one part's unit tests.
test-$(1): $$(call unit_bins_of,$(1))
	@SMILE_BUILD=$$(BUILD) bash tests/run unit/$(1)/
endef
$(foreach p,common device label gateway bridge print,$(eval $(call unit_part,$(p))))
# test_relay_start fails the Nth allocation, thread or client on demand and
# matches every init with its destroy (tests/unit/gateway/test_relay_start.c).
$(BUILD)/tests/gateway/test_relay_start: TEST_LIBS += $(addprefix -Wl$(comma)--wrap=,malloc calloc \
	pthread_create pthread_mutex_init pthread_mutex_destroy pthread_cond_init \
	pthread_cond_destroy mosquitto_lib_init mosquitto_lib_cleanup mosquitto_new)
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBS_gateway)
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(LINK) $< $(LIBS_gateway) $(PKG_LIBS) -o $@

# The device core's footprint matters on handhelds: print it on every build.
core-size: $(LIB_DEVICE)
	@if [ -n "$(DEVICE_SRC)" ]; then \
	  size -t $(call obj,$(DEVICE_SRC)) | awk 'END { printf "device core object code: text=%s data=%s bss=%s bytes\n", $$1, $$2, $$3 }'; \
	fi

# ---------------------------------------------------------------- tests
# The compile commands every C11 / C99 source gets, for tests that check the
# build's own habits (tests/integration/test_banned.sh).
print-cc-c11:
	@echo $(CC) $(CPPFLAGS_ALL) $(CFLAGS_C11) $(PKG_CFLAGS)
print-cc-c99:
	@echo $(CC) $(CPPFLAGS_ALL) $(CFLAGS_C99)

test-build: all $(UNIT_BINS) $(BENCH_BINS)

# `make test` is the one command CI runs; it installs what it needs first.
test check: deps
	@$(MAKE) --no-print-directory test-build
	@SMILE_BUILD=$(BUILD) SMILE_SANITIZE=$(SANITIZE) bash tests/run

bench: deps
	@$(MAKE) --no-print-directory test-build
	@SMILE_BUILD=$(BUILD) bash tests/bench/run

demo: deps
	@$(MAKE) --no-print-directory all
	@SMILE_BUILD=$(BUILD) bash scripts/demo

# Two gateway nodes, one store, one broker, HAProxy in front (docs/operations.md).
demo-cluster: deps
	@$(MAKE) --no-print-directory all
	@SMILE_BUILD=$(BUILD) bash scripts/demo-cluster

deps:
	@bash scripts/deps

# ---------------------------------------------------------------- fuzz
# libFuzzer targets, one per parser of outside input: tests/fuzz/fuzz_*.c ->
# build/fuzz/fuzz_*, against the libraries rebuilt by clang in build/fuzz/.
# Each also links tests/fuzz/sanitizer_defaults.c, which embeds
# tests/lsan.supp, so a target run plainly (no LSAN_OPTIONS) still ignores
# system libraries' one-time caches. `make fuzz-smoke` runs every target from
# its seeds (tests/fuzz/corpus/TARGET/, dictionary tests/fuzz/TARGET.dict) for
# FUZZ_SECONDS each, FUZZ_JOBS at a time (tests/fuzz/run). docs/HACKING.md.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := fuzzer-no-link,address,undefined
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))

fuzz:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { \
	  echo "fuzz: '$(FUZZ_CC)' not found: the fuzz targets need clang and its libFuzzer" \
	    "runtime; 'make deps' installs them (Debian: clang libclang-rt-dev)" >&2; exit 1; }
	@mkdir -p $(FUZZ_BUILD)
	@printf '%s\n' 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);' \
	  'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' | \
	  $(FUZZ_CC) -x c -fsanitize=fuzzer,address,undefined - -o $(FUZZ_BUILD)/.probe 2>/dev/null || { \
	  echo "fuzz: '$(FUZZ_CC)' cannot link a libFuzzer target (-fsanitize=fuzzer): it takes" \
	    "clang and its runtimes; 'make deps' installs them (Debian: clang libclang-rt-dev)" >&2; exit 1; }
	@rm -f $(FUZZ_BUILD)/.probe
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) SANITIZE=$(FUZZ_SAN) BUILD=$(FUZZ_BUILD) fuzz-bins

# Build and run every target from its seeds; fails on a crash, a leak, a
# timeout or a target without seeds. `make fuzz-smoke FUZZ_SECONDS=10`.
fuzz-smoke: deps
	@$(MAKE) --no-print-directory fuzz
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	  bash tests/fuzz/run $(notdir $(FUZZ_BINS))

# These rules exist only in the sub-make above (clang, BUILD=build/fuzz), so a
# plain `make` never builds a fuzz object with the wrong compiler.
ifeq ($(BUILD),$(FUZZ_BUILD))
fuzz-bins: $(FUZZ_BINS)

# tests/lsan.supp as C string literals, one per suppression.
$(FUZZ_BUILD)/gen/lsan_supp.inc: tests/lsan.supp
	@mkdir -p $(@D)
	$(Q)sed -e '/^[[:space:]]*#/d' -e 's/[[:space:]]*$$//' -e '/^$$/d' \
	  -e 's/[\\"]/\\&/g' -e 's/.*/"&\\n"/' $< > $@
$(FUZZ_BUILD)/obj/tests/fuzz/sanitizer_defaults.o: $(FUZZ_BUILD)/gen/lsan_supp.inc

$(FUZZ_BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CPPFLAGS_ALL) -I$(FUZZ_BUILD)/gen $(CFLAGS_C11) $(PKG_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o \
		$(FUZZ_BUILD)/obj/tests/fuzz/sanitizer_defaults.o $(LIB_BRIDGE) $(LIBS_gateway)
	$(call msg,FUZZ,$@)
	$(Q)$(LINK) -fsanitize=fuzzer $(filter %.o,$^) $(LIB_BRIDGE) $(LIBS_gateway) $(PKG_LIBS) -o $@
endif

# ---------------------------------------------------------------- install
# `make install` installs the public contract and nothing else: the binaries,
# include/smile/*.h, and the three libraries other programs link against:
# label (libsmile-label), the device core and its protocol (libsmile-device),
# and common (errors, buffers, log, conffile, unicode; libsmile-common).
# libsmile-gateway and libsmile-bridge are the insides of smile-gateway and
# smile-bridge, with no stable interface: they are built, tested and linked
# here, never installed.
#
# Symbol rule: an installed library exports only names that start with
# `smile_`. Each installed archive is one partial link (`ld -r`) of the
# library's objects, in which calls between its files are already resolved,
# followed by `objcopy --wildcard --keep-global-symbol='smile_*'`, which makes
# every other global local to that one object. So a module's internal
# cross-file helpers (label/label_internal.h's label_*) keep their short names
# in the source and never clash with a user's symbols. This was chosen over
# renaming them with an internal prefix (churn in every file that calls them)
# and over -fvisibility=hidden plus an export macro on every public
# declaration (an attribute in the C99 -pedantic device core's headers, and a
# public function that forgets the macro would silently vanish): here the
# prefix is the contract, and tests/integration/test_install.sh checks it
# with nm on the installed archives. The in-tree archives in $(BUILD)/lib are
# untouched, so tests and binaries still link the full internal ones.
LD      ?= ld
OBJCOPY ?= objcopy
PUBLIC_LIBS   := $(LIB_LABEL) $(LIB_DEVICE) $(LIB_COMMON)
INSTALL_LIBS  := $(patsubst $(BUILD)/lib/%,$(BUILD)/install/%,$(PUBLIC_LIBS))
# What the public libraries call (nm -u): the gateway's and the bridge's
# dependencies (mosquitto, SQLite, libmicrohttpd) are not the public libraries'.
PUBLIC_PKGS   := cairo pangocairo libqrencode libsodium jansson zlib

$(BUILD)/install/%.a: $(BUILD)/lib/%.a Makefile
	@mkdir -p $(@D)
	@rm -f $@ $(@:.a=.o)
	$(call msg,EXPORT,$@)
	$(Q)$(LD) -r -o $(@:.a=.o) --whole-archive $<
	$(Q)$(OBJCOPY) --wildcard --keep-global-symbol='smile_*' $(@:.a=.o)
	$(Q)$(AR) rcs $@ $(@:.a=.o)
	@rm -f $(@:.a=.o)

# Regenerated on every install: it records PREFIX, which may differ each time.
# Paths under PREFIX are written as $${prefix}/..., so the file stays right
# after a DESTDIR staging is moved (pkg-config --define-variable=prefix=...).
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
$(BUILD)/smile.pc: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(call pc_rel,$(LIBDIR))' \
	  'includedir=$(call pc_rel,$(INCLUDEDIR))' '' \
	  'Name: smile' 'Description: Smile privacy-preserving waybill libraries' \
	  'Version: $(VERSION)' \
	  'Requires.private: $(PUBLIC_PKGS)' \
	  'Libs: -L$${libdir} -lsmile-label -lsmile-device -lsmile-common' \
	  'Libs.private: $(strip $(CUPS_LIBS)) -lzint -lpthread -lm' \
	  'Cflags: -I$${includedir}' > $@
FORCE:

install: all $(INSTALL_LIBS) $(BUILD)/smile.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/smile \
	  $(DESTDIR)$(DATADIR)/smile
	$(if $(BINS),install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/)
	install -m 0644 $(INSTALL_LIBS) $(DESTDIR)$(LIBDIR)/
	install -m 0644 include/smile/*.h $(DESTDIR)$(INCLUDEDIR)/smile/
	install -m 0644 $(BUILD)/smile.pc $(DESTDIR)$(LIBDIR)/pkgconfig/smile.pc
	$(if $(wildcard conf/*),install -m 0644 $(wildcard conf/*) $(DESTDIR)$(DATADIR)/smile/)
	for d in $$(cd gateway/web && find . -type d); do \
	  install -d $(DESTDIR)$(DATADIR)/smile/web/$$d; done
	for f in $$(cd gateway/web && find . -type f); do \
	  install -m 0644 gateway/web/$$f $(DESTDIR)$(DATADIR)/smile/web/$$f; done

# The gateway and bridge libraries too: earlier versions installed them.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(BINS)))
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,$(notdir $(ALL_LIBS)))
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/smile.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/smile $(DESTDIR)$(DATADIR)/smile

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
