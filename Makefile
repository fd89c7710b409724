# lampfarm — build, install, test, run.
#
# The modules are compiled with the compiler and flags that apxs reports for the installed httpd
# (so they match the server they load into), into build/. Each module folder holds one
# mod_<x>.c (plus optional mod_<x>_*.c glue) and pure core files; the core files of a folder go
# into build/lib/lib<x>.a, shared code into build/lib/liblfcommon.a, and the archives are linked
# into the module, the unit tests and the CLI tools alike.

APXS ?= $(shell command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null || echo apxs)
BUILD := build
PYTHON ?= /usr/bin/python3
PYTEST ?= $(PYTHON) -m pytest
PYTEST_ARGS ?=
# The integration tests run in this many processes (pytest-xdist), each test file whole in one
# of them: most of a test's time is spent waiting (timeouts, intervals, servers starting), not on
# the CPU. 1, or no pytest-xdist on the machine: one process.
PYTEST_JOBS ?= 2
PYTEST_PARALLEL = $(if $(filter-out 0 1,$(PYTEST_JOBS)),$(shell $(PYTHON) -c 'import xdist' \
                  2>/dev/null && echo --numprocesses=$(PYTEST_JOBS) --dist=loadfile))

# Everything below that needs apxs is computed lazily (=), so `make deps` works before apxs exists.
apxs_q = $(shell $(APXS) -q $(1) 2>/dev/null)
CC = $(call apxs_q,CC)
APR_INCLUDES = $(shell apr-1-config --includes 2>/dev/null) $(shell apu-1-config --includes 2>/dev/null)
HTTPD_INCLUDES = -I$(call apxs_q,INCLUDEDIR) $(APR_INCLUDES)
APR_LIBS = $(shell apu-1-config --link-ld --libs 2>/dev/null) $(shell apr-1-config --link-ld --libs 2>/dev/null)
CURL_LIBS = $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
LIBEXECDIR = $(call apxs_q,LIBEXECDIR)
SYSCONFDIR = $(call apxs_q,SYSCONFDIR)

WARN := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wformat-security \
        -Wwrite-strings -Wpointer-arith -Wvla
WERROR ?=
BASE_CFLAGS = $(call apxs_q,CFLAGS) $(call apxs_q,CPPFLAGS) $(call apxs_q,EXTRA_CPPFLAGS) \
              -fPIC -fvisibility=default $(WARN) $(WERROR) -Imodules/common -Imodules/aws
# Core files see APR and the common headers only: an httpd include in a core file fails to build.
CORE_CFLAGS = $(BASE_CFLAGS) $(APR_INCLUDES) $(MARIADB_CFLAGS)
GLUE_CFLAGS = $(BASE_CFLAGS) $(HTTPD_INCLUDES)

# Modules: every folder modules/<x>/ that holds its mod_<x>.c.
MODULES := $(foreach d,$(wildcard modules/*/),$(if $(wildcard $(d)mod_$(notdir $(d:/=)).c),$(notdir $(d:/=))))
SOS := $(MODULES:%=$(BUILD)/mod_%.so)

OPENSSL_LIBS = $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)

# Extra libraries per module (core archives are added automatically), and the modules that link
# the AWS core.
LIBS_health = $(CURL_LIBS)
LIBS_s3 = $(CURL_LIBS) $(OPENSSL_LIBS) $(ZLIB_LIBS)
# MariaDB Connector/C, the client of mysql:// session stores (modules/session_kv/skv_mysql.c)
MARIADB_CFLAGS = $(shell pkg-config --cflags libmariadb 2>/dev/null || echo -I/usr/include/mariadb)
MARIADB_LIBS = $(shell pkg-config --libs libmariadb 2>/dev/null || echo -lmariadb)
KV_LIBS = -lmemcached -lhiredis $(MARIADB_LIBS)
LIBS_session_kv = $(KV_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS)
ZLIB_LIBS = $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
LIBS_cloudwatch = $(CURL_LIBS) $(OPENSSL_LIBS) $(ZLIB_LIBS)
AWS_MODULES := s3 cloudwatch session_kv health

COMMON_SRC := $(filter-out modules/common/mod_%,$(wildcard modules/common/*.c))
COMMON_LIB := $(BUILD)/lib/liblfcommon.a
# Glue every module shares (the lifecycle kit): compiled against httpd, linked into each .so
# with the libraries it initialises.
COMMON_GLUE = $(call obj,$(wildcard modules/common/mod_*.c))
COMMON_GLUE_LIBS = $(CURL_LIBS)
# The AWS core (SigV4, credentials, transport): linked into the modules that talk to AWS, the
# CLI tools and the unit tests.
AWS_SRC := $(wildcard modules/aws/*.c)
AWS_LIB := $(BUILD)/lib/liblfaws.a
AWS_LIBS = $(CURL_LIBS) $(OPENSSL_LIBS) $(APR_LIBS)

# CLI tools: tools/<name>.c -> build/bin/<name>, linked with the AWS and common cores, and with
# what TOOL_LIBS_<name> adds (a module's core archive, then its libraries).
TOOLS := $(patsubst tools/%.c,$(BUILD)/bin/%,$(wildcard tools/*.c))
TOOL_LIBS_lampfarm-once = $(call core_lib,session_kv) $(KV_LIBS)

core_src = $(filter-out modules/$(1)/mod_%,$(wildcard modules/$(1)/*.c))
glue_src = $(wildcard modules/$(1)/mod_*.c)
core_lib = $(BUILD)/lib/lib$(1).a
obj = $(patsubst modules/%.c,$(BUILD)/obj/%.o,$(1))

# Benchmark helpers: tests/bench/<name>.c -> build/tests/bench/<name>, linked with the common core.
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(wildcard tests/bench/*.c))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ALL_CORE_LIBS = $(foreach m,$(MODULES),$(call core_lib,$(m))) $(if $(AWS_SRC),$(AWS_LIB)) $(COMMON_LIB)

.PHONY: all deps install test unit unit-build integration check run stop bench bench-build format \
        clean conformance fuzz
.DELETE_ON_ERROR:

all: $(SOS) $(TOOLS)

deps:
	@scripts/install-deps.sh

# --- compile -----------------------------------------------------------------------------------
$(BUILD)/obj/%.o: modules/%.c $(wildcard modules/*/*.h)
	@mkdir -p $(dir $@)
	@case "$(notdir $<)" in \
	  mod_*) echo "  CC (glue) $<"; $(CC) $(GLUE_CFLAGS) -c -o $@ $< ;; \
	  *)     echo "  CC (core) $<"; $(CC) $(CORE_CFLAGS) -c -o $@ $< ;; \
	esac

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(AWS_LIB): $(call obj,$(AWS_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/lampfarm-once: $(call core_lib,session_kv) $(wildcard modules/session_kv/*.h)

$(BUILD)/bin/%: tools/%.c $(AWS_LIB) $(COMMON_LIB) $(wildcard modules/aws/*.h modules/common/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC (tool) $<"
	@$(CC) $(CORE_CFLAGS) -Imodules/aws -Imodules/session_kv -o $@ $< $(TOOL_LIBS_$*) $(AWS_LIB) \
	    $(COMMON_LIB) $(AWS_LIBS)

define module_rules
$(call core_lib,$(1)): $(call obj,$(call core_src,$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@ && ar rcs $$@ $$^

# Export only <x>_module: APR loads modules RTLD_GLOBAL and several modules carry the same core.
$(BUILD)/mod_$(1).map:
	@mkdir -p $$(dir $$@)
	@printf '{ global: $(1)_module; local: *; };\n' > $$@

$(BUILD)/mod_$(1).so: $(call obj,$(call glue_src,$(1))) $(COMMON_GLUE) $(call core_lib,$(1)) $(if $(filter $(1),$(AWS_MODULES)),$(AWS_LIB)) $(COMMON_LIB) $(BUILD)/mod_$(1).map
	@echo "  LD $$@"
	@$$(CC) -shared -o $$@ $(call obj,$(call glue_src,$(1))) $(COMMON_GLUE) $(call core_lib,$(1)) \
	    $(if $(filter $(1),$(AWS_MODULES)),$(AWS_LIB)) $(COMMON_LIB) \
	    $$(LIBS_$(1)) $$(COMMON_GLUE_LIBS) -Wl,--version-script=$(BUILD)/mod_$(1).map
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

# --- unit tests (cmocka) -----------------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(ALL_CORE_LIBS) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC (test) $<"
	@$(CC) $(CORE_CFLAGS) -Wno-missing-prototypes $(foreach m,$(MODULES) aws,-Imodules/$(m)) -o $@ $< \
	    $(ALL_CORE_LIBS) $(CURL_LIBS) $(KV_LIBS) $(OPENSSL_LIBS) $(ZLIB_LIBS) $(APR_LIBS) -lcmocka

unit-build: $(UNIT_BIN)

# The PHP session handler's own tests (php-cli) run with the C unit tests.
unit: unit-build
	@fail=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || fail=1; done; \
	echo "== tests/php/handler_test.php"; php tests/php/handler_test.php || fail=1; exit $$fail

# --- integration tests (pytest, real servers on 127.0.0.1) --------------------------------------
integration: all
	$(PYTEST) tests/integration $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory integration

# --- SigV4 conformance: the official AWS test vectors through build/bin/lampfarm-sigv4 ----------
VECTORS ?= ../shared/vectors/sigv4
conformance: $(BUILD)/bin/lampfarm-sigv4
	/usr/bin/python3 tests/conformance/sigv4.py --cli $(BUILD)/bin/lampfarm-sigv4 $(VECTORS)

# --- checks: warnings as errors, layering, log ids, format --------------------------------------
# Every shell script of scripts/ (with or without .sh; not the directories) and tests/bench/, and
# the libraries they source.
SHELL_SCRIPTS := $(sort $(wildcard scripts/*.sh scripts/lib/*.sh tests/bench/*.sh) \
    $(filter-out %.sh $(patsubst %/.,%,$(wildcard scripts/*/.)),$(wildcard scripts/*)))

check:
	@$(MAKE) --no-print-directory -B all unit-build bench-build WERROR=-Werror
	@scripts/check-source.sh
	@shellcheck -x $(SHELL_SCRIPTS)
	@echo "check: clean"

format:
	clang-format -i $(wildcard modules/*/*.c modules/*/*.h tests/unit/*.c tests/unit/*.h \
	    tests/bench/*.c)

# --- install -----------------------------------------------------------------------------------
# LAYOUT=debian (mods-available/<x>.load + .conf, for a2enmod) or rhel (conf.modules.d + conf.d);
# detected from apxs when unset. DESTDIR is respected.
LAYOUT ?= $(if $(findstring httpd,$(SYSCONFDIR)),rhel,debian)
# the PHP session handler (php/) goes to $(DATADIR)/lampfarm/php/, the SQL of mysql:// session
# stores to $(DATADIR)/lampfarm/sql/, lampfarm-once to $(BINDIR)
DATADIR ?= /usr/share
BINDIR ?= /usr/bin

install: all
	@for m in $(MODULES); do \
	  install -d $(DESTDIR)$(LIBEXECDIR) && \
	  $(APXS) -i -S LIBEXECDIR=$(DESTDIR)$(LIBEXECDIR) -n $$m $(BUILD)/mod_$$m.so || exit 1; \
	  scripts/install-conf.sh "$(LAYOUT)" "$(DESTDIR)" "$(SYSCONFDIR)" "$(LIBEXECDIR)" $$m || exit 1; \
	done
	@install -D -m 0644 php/LampfarmSessionHandler.php \
	  $(DESTDIR)$(DATADIR)/lampfarm/php/LampfarmSessionHandler.php
	@install -D -m 0644 modules/session_kv/sql/session_kv.mysql.sql \
	  $(DESTDIR)$(DATADIR)/lampfarm/sql/session_kv.mysql.sql
	@install -D -m 0755 $(BUILD)/bin/lampfarm-once $(DESTDIR)$(BINDIR)/lampfarm-once

# --- local farm and benchmarks ------------------------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/farm.sh start

stop:
	@scripts/farm.sh stop

$(BUILD)/tests/bench/%: tests/bench/%.c $(COMMON_LIB) $(wildcard modules/common/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC (bench) $<"
	@$(CC) $(CORE_CFLAGS) -o $@ $< $(COMMON_LIB) $(OPENSSL_LIBS) $(APR_LIBS)

bench-build: $(BENCH_BIN)

bench: all bench-build
	@tests/bench/health.sh
	@tests/bench/s3.sh
	@tests/bench/session.sh
	@tests/bench/cloudwatch.sh

clean:
	rm -rf $(BUILD)

# --- fuzzing (libFuzzer) and the replay of its findings in `make unit` ---------------------------
# The rules are in tests/fuzz/fuzz.mk (its header says how to run one target, longer, or merge).
include tests/fuzz/fuzz.mk

# Builds every target with clang (ASan, UBSan, libFuzzer; installs clang if missing) and runs
# each for FUZZ_SECONDS; fails when one crashes.
fuzz:
	@scripts/install-deps.sh --build-only --fuzz
	@$(MAKE) --no-print-directory fuzz-run

# `make unit` replays every input that ever crashed a target (tests/fuzz/regressions) and the
# corpus, built with the project's compiler: no clang needed.
unit-build: fuzz-replay-build
unit: fuzz-replay
