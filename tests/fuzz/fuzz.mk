# tests/fuzz/fuzz.mk — coverage-guided fuzzing (libFuzzer) of every parser that reads bytes from
# a client or a backend; included by the Makefile, whose variables it uses. docs/testing.md,
# "Fuzzing", says what each target covers and how to run one.
#
#   make fuzz                 install clang if missing, build build/fuzz/fuzz_<x> (clang,
#                             libFuzzer, ASan, UBSan), check that ASan sees pool overflows
#                             (pool_check), then run each target FUZZ_SECONDS with its corpus;
#                             fails when a target crashes (the input is in build/fuzz/artifacts/)
#   make fuzz FUZZ_TARGETS="s3_form lf_json" FUZZ_SECONDS=120
#   make fuzz-merge FUZZ_TARGETS=s3_form   minimize what a run found into tests/fuzz/corpus/<x>/
#
# `make unit` also replays tests/fuzz/regressions/<x>/ (every input that ever crashed a target)
# and tests/fuzz/corpus/<x>/ through build/fuzz-replay/fuzz_<x>: the same target built with the
# project's compiler and flags and linked with tests/fuzz/replay.c instead of libFuzzer, so that
# it needs no clang.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
# seconds one input may take before libFuzzer calls it a hang (a crash for `make fuzz`)
FUZZ_TIMEOUT ?= 10
# the largest input libFuzzer makes; larger corpus files (regression cases) are cut to it
FUZZ_MAX_LEN ?= 4096
FUZZ_ARGS ?=
FUZZ_NICE ?= nice
FUZZ_ALL := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_REPLAY_DIR := $(BUILD)/fuzz-replay

# Not apxs's CFLAGS (gcc's) nor its CPPFLAGS (_FORTIFY_SOURCE gets in ASan's way); -O1 keeps
# the stacks of reports readable. UBSan findings abort like ASan's, so libFuzzer keeps the input.
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_INCLUDES = $(APR_INCLUDES) $(MARIADB_CFLAGS) $(foreach m,$(MODULES) aws common,-Imodules/$(m)) \
                -Itests/fuzz
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -pthread $(call apxs_q,EXTRA_CPPFLAGS) $(WARN) \
              $(WERROR) $(FUZZ_SAN) $(FUZZ_INCLUDES)
FUZZ_LIBS = $(CURL_LIBS) $(KV_LIBS) $(OPENSSL_LIBS) $(ZLIB_LIBS) $(APR_LIBS)

# Every core file, instrumented, in one archive.
FUZZ_CORE_SRC := $(foreach m,$(MODULES),$(call core_src,$(m))) $(COMMON_SRC) $(AWS_SRC)
FUZZ_CORE_LIB := $(FUZZ_DIR)/lib/libcores.a
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_REPLAY_BIN := $(FUZZ_ALL:%=$(FUZZ_REPLAY_DIR)/fuzz_%)
FUZZ_POOL_CASES := palloc pcalloc pstrdup pstrcat psprintf pmemdup array cleared

.PHONY: fuzz fuzz-build fuzz-run fuzz-pool-check fuzz-merge fuzz-replay fuzz-replay-build \
        fuzz-format

fuzz-build: $(FUZZ_BIN) $(FUZZ_DIR)/pool_check

$(FUZZ_DIR)/obj/%.o: modules/%.c $(wildcard modules/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC (fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_CORE_LIB): $(patsubst modules/%.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_CORE_SRC))
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/pool_asan.o: tests/fuzz/pool_asan.c
	@mkdir -p $(dir $@)
	@echo "  CC (fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/pool_check: tests/fuzz/pool_check.c $(FUZZ_DIR)/pool_asan.o
	@echo "  CC (fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(APR_LIBS)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_DIR)/pool_asan.o $(FUZZ_CORE_LIB)
	@echo "  CC (fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/pool_asan.o \
	    $(FUZZ_CORE_LIB) $(FUZZ_LIBS)

# Each case must end in the ASan report it provokes (pool_asan.c says why).
fuzz-pool-check: $(FUZZ_DIR)/pool_check
	@for c in $(FUZZ_POOL_CASES); do \
	  want=heap-buffer-overflow; [ $$c = cleared ] && want=heap-use-after-free; \
	  if $(FUZZ_DIR)/pool_check $$c > $(FUZZ_DIR)/pool_check.$$c.log 2>&1 \
	     || ! grep -q "ERROR: AddressSanitizer: $$want" $(FUZZ_DIR)/pool_check.$$c.log; then \
	    echo "fuzz: ASan does not see a bad access to pool memory ($$c):"; \
	    tail -n 5 $(FUZZ_DIR)/pool_check.$$c.log; exit 1; \
	  fi; \
	done; echo "  fuzz: ASan sees pool overflows ($(FUZZ_POOL_CASES))"

# One target at a time (the machine is shared); new inputs go to build/fuzz/corpus/<x>/, so the
# committed corpus only grows through fuzz-merge.
fuzz-run: fuzz-build fuzz-pool-check
	@failed=""; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts/$$t $(FUZZ_DIR)/logs; \
	  dict=""; [ -f tests/fuzz/dict/$$t.dict ] && dict="-dict=tests/fuzz/dict/$$t.dict"; \
	  dirs=""; for d in tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t; do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  log=$(FUZZ_DIR)/logs/$$t.log; touch $(FUZZ_DIR)/logs/$$t.start; \
	  if $(FUZZ_NICE) $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	       -timeout=$(FUZZ_TIMEOUT) -max_len=$(FUZZ_MAX_LEN) \
	       -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ $$dict \
	       $(FUZZ_ARGS) $(FUZZ_DIR)/corpus/$$t $$dirs > $$log 2>&1; then \
	    echo "  fuzz_$$t: $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' $$log | tail -n 1)," \
	         "$$(grep -o 'cov: [0-9]*' $$log | tail -n 1)"; \
	  else \
	    echo "  fuzz_$$t: FAILED, see $$log"; \
	    find $(FUZZ_DIR)/artifacts/$$t -type f -newer $(FUZZ_DIR)/logs/$$t.start \
	      | sed 's/^/    input: /'; \
	    grep -m 3 -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY' $$log | sed 's/^/    /' \
	      || tail -n 3 $$log | sed 's/^/    /'; \
	    failed="$$failed $$t"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed"; exit 1; fi; echo "fuzz: no crash"

# Minimize the committed corpus together with what runs found (-merge keeps the inputs that add
# coverage, smallest first). Check the size it reports before committing: a few hundred KB in all.
fuzz-merge: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_DIR)/merge/$$t && mkdir -p $(FUZZ_DIR)/merge/$$t tests/fuzz/corpus/$$t \
	    $(FUZZ_DIR)/corpus/$$t && \
	  $(FUZZ_NICE) $(FUZZ_DIR)/fuzz_$$t -merge=1 $(FUZZ_DIR)/merge/$$t tests/fuzz/corpus/$$t \
	    $(FUZZ_DIR)/corpus/$$t > $(FUZZ_DIR)/merge/$$t.log 2>&1 || exit 1; \
	  rm -f tests/fuzz/corpus/$$t/* && cp $(FUZZ_DIR)/merge/$$t/* tests/fuzz/corpus/$$t/ && \
	  echo "  fuzz_$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) inputs," \
	       "$$(du -sk --apparent-size tests/fuzz/corpus/$$t | cut -f1) KB"; \
	done

# --- the replay builds, run by `make unit` ------------------------------------------------------
$(FUZZ_REPLAY_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h \
                           $(ALL_CORE_LIBS)
	@mkdir -p $(dir $@)
	@echo "  CC (replay) $<"
	@$(CC) $(CORE_CFLAGS) $(FUZZ_INCLUDES) -o $@ $< tests/fuzz/replay.c $(ALL_CORE_LIBS) \
	    $(FUZZ_LIBS)

fuzz-replay-build: $(FUZZ_REPLAY_BIN)

fuzz-replay: fuzz-replay-build
	@fail=0; for t in $(FUZZ_ALL); do \
	  echo "== $(FUZZ_REPLAY_DIR)/fuzz_$$t"; \
	  dirs=""; for d in tests/fuzz/regressions/$$t tests/fuzz/corpus/$$t; do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  $(FUZZ_REPLAY_DIR)/fuzz_$$t $$dirs || fail=1; \
	done; exit $$fail


fuzz-format:
	clang-format -i $(wildcard tests/fuzz/*.c tests/fuzz/*.h)
format: fuzz-format
