# Thin wrapper over CMake + Ninja. `make demo` runs the main job, `make test` every test.
BUILD   ?= build
ASAN    ?= build-asan
TSAN    ?= build-tsan
JOBS    ?= $(shell nproc)

.PHONY: all deps build asan tsan demo test test-release test-asan test-tsan bench bench-report fuzz clean install

all: build

deps:
	@scripts/deps.sh base

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJAVM_SANITIZE=ON -DJAVM_SWITCH_DISPATCH=ON \
	  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)

# ThreadSanitizer build of the multi-threaded tests only (the threading contract of javm.h).
tsan: deps
	@cmake -S . -B $(TSAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJAVM_TSAN=ON \
	  -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target test_threads test_jit_threads test_stop

demo: build
	@scripts/deps.sh guest
	@scripts/demo.sh $(BUILD)/javm

test-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: asan
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

test-tsan: tsan
	@cd $(TSAN) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R '^test_((jit_)?threads|stop)(_jit)?$$'

# Every test, on the optimised build and on the sanitizer builds.
test: test-release test-asan test-tsan

# Installs the command, libraries, headers, pkg-config file, CMake package, man pages, guest
# SDK and Python binding under PREFIX (cmake/install.cmake lists what goes where).
PREFIX  ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	@for b in $(BUILD)/bench_*; do echo "== $$b"; $$b; done

# Runs every benchmark and writes docs/bench/ (README.md, SVG charts, raw outputs): the
# machine, date, commit and method with each figure (scripts/bench-report.py).
bench-report: build
	@scripts/deps.sh bench
	@python3 scripts/bench-report.py $(BUILD) docs/bench

# Every libFuzzer target (fuzz/fuzz_*.c) for FUZZ_SECONDS each (clang-19); fails on any
# finding (crash, sanitizer report, leak, timeout, out of memory).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
fuzz:
	@scripts/deps.sh fuzz
	@fuzz/build.sh $(FUZZ_TARGETS)
	@fuzz/gen_corpus.sh
	@for t in $(FUZZ_TARGETS); do fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; done

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) fuzz/out
