# tern — top-level, non-recursive build.
#
#   make            build everything into build/ (programs in build/bin)
#   make check      install missing Debian packages, build, run unit + end-to-end
#                   tests and each fuzzer briefly, then the same again under
#                   ASan+UBSan (build-asan/)
#   make fuzz       run each libFuzzer target for FUZZ_TIME seconds (default 600)
#   make run        install dependencies, build, create ./demo if missing, start it
#   make install    install binaries, man pages and default configs (PREFIX, DESTDIR)
#   make etc        regenerate etc/ (the documented default configs) from the schemas
#   make bench      benchmarks against Postfix and Dovecot (docs/PERFORMANCE.md);
#                   BENCH_ARGS="--quick" or "imap pop3" etc. passes arguments
#
# Each program folder has a module.mk declaring its program (see tools/program.mk).
# Sanitizer build: make BUILD=build-asan SAN=1

BUILD  ?= build
SAN    ?= 0
PREFIX ?= /usr/local
SBINDIR    = $(PREFIX)/sbin
LIBEXECDIR = $(PREFIX)/lib/tern
MANDIR     = $(PREFIX)/share/man

# Leaks inside third-party libraries (not ours) are listed in tests/lsan.supp.
export LSAN_OPTIONS = suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS = print_stacktrace=1:halt_on_error=1
# Leak checks on. Full unwinding through uninstrumented libraries (so a
# suppression can match) only where a suppressed leak can happen: tern-deliverd
# asks for it itself (deliverd/main.c), the unit tests here.
export ASAN_OPTIONS = detect_leaks=1

ifeq ($(SAN),1)
CC      = clang
OPT     = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN   = -fsanitize=address,undefined
else
CC      ?= gcc
OPT     = -O2 -g -D_FORTIFY_SOURCE=2
LDSAN   =
endif

WARN    = -Wall -Wextra -Werror -Wformat=2 -Wno-unused-parameter
# libpq's headers live in their own directory (the PostgreSQL directory backend).
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
CFLAGS  = -std=gnu17 -D_GNU_SOURCE $(OPT) $(WARN) -fstack-protector-strong -fPIE -MMD -MP -I. $(PQ_CFLAGS) \
          -DTERN_LIBEXECDIR='"$(LIBEXECDIR)"'
LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDSAN)
LDLIBS  = -lopendmarc -lspf2 -lopendkim -lunbound -levent_openssl -levent -lssl -lcrypto -ldb -lcrypt -lresolv -lseccomp

PROGS :=
UNIT_TESTS :=
# libFuzzer targets (module.mk files add to FUZZ_TARGETS); clang + ASan/UBSan.
FUZZ_TARGETS :=
FUZZ_CC     = clang
FUZZ_CFLAGS = -std=gnu17 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -Wall -Wextra -Werror -Wno-unused-parameter
FUZZ_SMOKE_TIME ?= 10
FUZZ_SMOKE_SEED ?= 1
FUZZ_TIME ?= 600

all: build-all

# --- common library -------------------------------------------------------
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
COMMON_LIB  := $(BUILD)/lib/libcommon.a

$(COMMON_LIB): $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

include tools/program.mk
include $(wildcard */module.mk)

# --- unit tests: tests/unit/test_<module>_<name>.c links lib<module>.a ---
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPER_OBJS := $(BUILD)/obj/tests/unit/check.o $(BUILD)/obj/tests/unit/testdns.o \
                    $(BUILD)/obj/tests/unit/testkeys.o

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(UNIT_HELPER_OBJS) $(ALL_MODULE_LIBS) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJS) $(ALL_MODULE_LIBS) $(ALL_MODULE_LIBS) $(COMMON_LIB) $(LDLIBS) $(EXTRA_LDLIBS)

# A test library, never installed: preloaded into a test instance's daemons,
# it makes a role attempt what its sandbox must refuse (tests/sandbox_probe.c).
SANDBOX_PROBE := $(BUILD)/tests/sandbox_probe.so
$(SANDBOX_PROBE): tests/sandbox_probe.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu17 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -Wno-unused-parameter -fPIC -shared -o $@ $<

build-all: $(PROGRAM_BINS) $(UNIT_BINS) $(SANDBOX_PROBE)

unit: build-all
	@ASAN_OPTIONS=fast_unwind_on_malloc=0:$$ASAN_OPTIONS tools/run-unit $(BUILD)

e2e: build-all
	@TERN_BIN=$(CURDIR)/$(BUILD)/bin tools/run-e2e

# Each use installs only its own Debian packages (tools/deps.sh): `make run`
# never puts the test and benchmark peers (Postfix, Dovecot) on the machine.
deps: deps-check
deps-run:
	@tools/deps.sh run
deps-check:
	@tools/deps.sh check
deps-bench:
	@tools/deps.sh bench

# fuzz-smoke: each fuzzer briefly (make check); fuzz: each for FUZZ_TIME seconds.
fuzz-smoke: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do FUZZ_SEED=$(FUZZ_SMOKE_SEED) tools/run-fuzz $$t $(FUZZ_SMOKE_TIME) || exit 1; done

fuzz: $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do tools/run-fuzz $$t $(FUZZ_TIME) || exit 1; done

# check: the one test command (README, .ci/run).
check: deps-check
	$(MAKE) build-all
	$(MAKE) unit e2e
	$(MAKE) fuzz-smoke
	@echo "bench: smoke test (bench/run --quick; figures are not judged)"
	bench/run --quick --bindir $(CURDIR)/$(BUILD)/bin --results $(CURDIR)/$(BUILD)/bench-quick.jsonl
	$(MAKE) BUILD=build-asan SAN=1 build-all
	$(MAKE) BUILD=build-asan SAN=1 unit e2e
	@echo "make check: all passed"

run: deps-run build-all
	@tools/run-demo $(CURDIR)/$(BUILD)/bin

# etc/: the default configuration of every program, from its schema (commit the
# result; tests/e2e/test_tooling.py fails when etc/ and the programs differ).
etc: build-all
	tools/gen-etc $(BUILD)/bin etc

install: build-all
	tools/install.sh "$(DESTDIR)" "$(SBINDIR)" "$(LIBEXECDIR)" "$(MANDIR)" "$(BUILD)/bin"

bench: deps-bench build-all
	bench/run $(BENCH_ARGS)

clean:
	rm -rf build build-asan

.PHONY: all build-all unit e2e etc deps deps-run deps-check deps-bench check run install bench clean fuzz fuzz-smoke
.DELETE_ON_ERROR:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
