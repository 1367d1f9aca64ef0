# Tandem build. `make run` and `make test` are the two commands users need;
# both install missing Debian packages first (scripts/deps.sh).

CC      ?= gcc
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -Wformat=2 -pthread -Isrc -D_GNU_SOURCE
OPT     ?= -O2 -g
LDLIBS  := -levent_core -levent_pthreads -lcrypto -lxxhash -lpthread -lm
PQ_CFLAGS := -I/usr/include/postgresql
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

B   := build
BA  := build/asan

CORE   := $(wildcard src/core/*.c)
PROTO  := $(wildcard src/proto/*.c)
STORE  := $(wildcard src/store/*.c)
REPL   := $(wildcard src/repl/*.c)
SNAPSHOT := $(wildcard src/snapshot/*.c)
CLUSTER := $(wildcard src/cluster/*.c)
SERVER := $(wildcard src/server/*.c)
CTL    := $(wildcard src/ctl/*.c)
PROXY  := $(wildcard src/proxy/*.c)
LIBSRC := $(CORE) $(PROTO) $(STORE) $(REPL) $(SNAPSHOT)
# the frame codec alone (tandemctl reads and writes frames; it has no store)
FRAMES := src/repl/frame.c src/repl/crc32c.c

TANDEMD_SRC := $(LIBSRC) $(SERVER)
CTL_SRC := $(CTL) $(CLUSTER) $(SNAPSHOT) $(FRAMES) src/core/buf.c
CTL_LDLIBS := -lxxhash -lcrypto -lpq -lm
PROXY_SRC := $(CORE) $(PROTO) $(CLUSTER) $(PROXY)
PROXY_LDLIBS := -levent_core -lyaml -lcrypto -lxxhash -lpthread -lm

UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

PY      := /usr/bin/python3
PORT    ?= 11211
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-test deps-bench run test unit integration valgrind conformance fuzz fuzz-build bench bench-repl clean

all: deps $(B)/tandemd $(B)/tandemctl $(B)/tandem-proxy

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

# --- binaries ---------------------------------------------------------------

obj = $(patsubst src/%.c,$(1)/obj/%.o,$(2))

# V=1 shows the full compiler command lines.
Q := $(if $(V),,@)

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_BASE) $(OPT) $(if $(filter src/ctl/%,$<),$(PQ_CFLAGS)) -MMD -MP -c $< -o $@

$(BA)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC asan $<")
	$(Q)$(CC) $(CFLAGS_BASE) -O1 -g $(SAN) $(if $(filter src/ctl/%,$<),$(PQ_CFLAGS)) -MMD -MP -c $< -o $@

$(B)/tandemd: $(call obj,$(B),$(TANDEMD_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $^ $(LDLIBS)

$(BA)/tandemd: $(call obj,$(BA),$(TANDEMD_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_BASE) -O1 -g $(SAN) -o $@ $^ $(LDLIBS)

# tandemctl: plain blocking sockets, no libevent; xxhash for digests,
# OpenSSL for MD5 (ketama), libpq for backups to PostgreSQL.
$(B)/tandemctl: $(call obj,$(B),$(CTL_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $^ $(CTL_LDLIBS)

$(BA)/tandemctl: $(call obj,$(BA),$(CTL_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_BASE) -O1 -g $(SAN) -o $@ $^ $(CTL_LDLIBS)

# tandem-proxy: libevent, libyaml for twemproxy's pool files.
$(B)/tandem-proxy: $(call obj,$(B),$(PROXY_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $^ $(PROXY_LDLIBS)

$(BA)/tandem-proxy: $(call obj,$(BA),$(PROXY_SRC))
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS_BASE) -O1 -g $(SAN) -o $@ $^ $(PROXY_LDLIBS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# --- run ----------------------------------------------------------------------

# memcached refuses to run as root without -u; so does tandemd.
RUN_USER := $(if $(filter 0,$(shell id -u)),-u nobody,)

run: all
	$(B)/tandemd -l 127.0.0.1 -p $(PORT) $(RUN_USER) $(ARGS)

# --- tests --------------------------------------------------------------------

# tests/unit/test_<module>_*.c links core plus that module only, so one
# module's unit tests never wait for another module to build.
SERVER_LIB := $(filter-out src/server/main.c,$(SERVER))
CTL_LIB := $(filter-out src/ctl/main.c,$(CTL))
PROXY_LIB := $(filter-out src/proxy/main.c,$(PROXY))
unit_mod = $(word 2,$(subst _, ,$(1)))
unit_src = $(CORE) $(if $(filter proto,$(1)),$(PROTO)) $(if $(filter store,$(1)),$(STORE)) \
           $(if $(filter repl,$(1)),$(STORE) $(REPL)) \
           $(if $(filter snapshot,$(1)),$(STORE) $(REPL) $(SNAPSHOT)) \
           $(if $(filter cluster,$(1)),$(CLUSTER)) \
           $(if $(filter server,$(1)),$(PROTO) $(STORE) $(REPL) $(SNAPSHOT) $(SERVER_LIB)) \
           $(if $(filter ctl,$(1)),$(CTL_LIB) $(CLUSTER) $(SNAPSHOT) $(FRAMES)) \
           $(if $(filter proxy,$(1)),$(PROTO) $(CLUSTER) $(PROXY_LIB))
unit_libs = $(if $(filter ctl,$(1)),-lpq) $(if $(filter proxy,$(1)),-lyaml)

.SECONDEXPANSION:
$(BA)/tests/%: tests/unit/%.c $$(call obj,$(BA),$$(call unit_src,$$(call unit_mod,$$*)))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD test $@")
	$(Q)$(CC) $(CFLAGS_BASE) -O1 -g $(SAN) -Wno-missing-prototypes $(if $(filter ctl,$(call unit_mod,$*)),$(PQ_CFLAGS)) -o $@ $^ $(LDLIBS) $(call unit_libs,$(call unit_mod,$*)) -lcmocka

unit: deps deps-test $(addprefix $(BA)/tests/,$(UNIT_TESTS))
	@set -e; for t in $(UNIT_TESTS); do echo "== unit: $$t"; \
	  UBSAN_OPTIONS=print_stacktrace=1 $(BA)/tests/$$t; done

integration: deps deps-test $(BA)/tandemd $(B)/tandemd $(BA)/tandemctl $(BA)/tandem-proxy
	TANDEMD=$(CURDIR)/$(BA)/tandemd TANDEMCTL=$(CURDIR)/$(BA)/tandemctl \
	  TANDEM_PROXY=$(CURDIR)/$(BA)/tandem-proxy TANDEM_REQUIRE_ALL=1 \
	  $(PY) -m pytest -q -p no:cacheprovider tests/integration

# The release build under valgrind (memcheck, leaks included) through the
# parts of the suite that exercise every protocol path and the abuse cases.
VALGRIND := valgrind -q --error-markers=VALGRIND-ERROR-BEGIN,VALGRIND-ERROR-END \
            --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
VALGRIND_TESTS := tests/integration/test_text_storage.py tests/integration/test_meta.py \
                  tests/integration/test_binary_raw.py tests/integration/test_abuse.py

valgrind: deps deps-test $(B)/tandemd
	TANDEMD=$(CURDIR)/$(B)/tandemd TANDEMD_WRAP="$(VALGRIND)" TANDEM_REQUIRE_ALL=1 \
	  $(PY) -m pytest -q -p no:cacheprovider $(VALGRIND_TESTS)

conformance: deps deps-test $(BA)/tandemd
	$(PY) tests/conformance/memccapable.py $(CURDIR)/$(BA)/tandemd

test: all deps-test unit fuzz-smoke valgrind integration

# --- fuzzing (clang libFuzzer) -----------------------------------------------

FUZZ_CFLAGS := -std=gnu11 -g -O1 -Isrc -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
# The parsers depend on core/buf only (the replication frame codec also on
# its CRC, the proxy's reply parser on nothing); linking just those keeps
# the targets small.
FUZZ_SRC := src/core/buf.c $(PROTO) $(wildcard src/repl/frame.c src/repl/crc32c.c src/proxy/rsp.c)
# A target that needs more (a file reader, a config parser) names it in
# FUZZ_SRC_<target> and FUZZ_LIBS_<target>, linked into that target only.
FUZZ_SRC_fuzz_jsonl := src/ctl/jsonl.c src/ctl/b64.c
FUZZ_SRC_fuzz_snapshot := src/snapshot/reader.c
FUZZ_SRC_fuzz_proxy_conf := src/proxy/conf.c $(CLUSTER)
FUZZ_LIBS_fuzz_proxy_conf := -lyaml
$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRC) $$(FUZZ_SRC_$$*)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ -lcrypto $(FUZZ_LIBS_$*)

fuzz-build: deps deps-test $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do echo "== fuzz: $$t ($(FUZZ_SECONDS)s)"; \
	  mkdir -p $(B)/fuzz/corpus-$$t; \
	  $(B)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	    $(B)/fuzz/corpus-$$t tests/fuzz/seeds/$$t 2>&1 | tail -3; done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(CI_FUZZ_SECONDS),15)

# --- benchmarks (not part of `make test`) -----------------------------------

deps-bench:
	@scripts/deps.sh bench

bench: deps deps-bench $(B)/tandemd
	bench/run.sh

# what replication costs: throughput with a replica, lag, full and partial sync
bench-repl: deps deps-bench $(B)/tandemd
	TANDEMD=$(B)/tandemd bench/repl.sh

clean:
	rm -rf $(B)
