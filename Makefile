# Top-level commands. The build itself is CMake (build/ release, build-asan/
# ASan+UBSan, build-fuzz/ libFuzzer with clang).
BUILD      ?= build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps check check-asan fuzz bench demo clean format install uninstall deb

all: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/check-deps || ./scripts/setup-deps

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

check: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERS_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && HERS_TEST_QUICK=1 ctest --output-on-failure -j $(JOBS)

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERS_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target $$(ls fuzz/fuzz_*.c | sed 's|fuzz/||; s|\.c$$||')
	./scripts/run-fuzz build-fuzz $${FUZZ_SECONDS:-20}

bench: all
	$(BUILD)/hers bench primitives
	$(BUILD)/hers bench search --params n4096 --n 262144 --d 64 --threads 1 --reps 5
	$(BUILD)/hers bench search --params s4096 --n 262144 --d 64 --threads 1 --reps 5

# The end-to-end demo (README's first command): installs Debian's
# dataset-fashion-mnist if missing, then runs `hers demo` (table on stdout,
# report in demo-out/report.html). DEMO_ARGS passes options, e.g.
# `make demo DEMO_ARGS="--probes 10000"`.
demo: all
	./scripts/setup-deps --demo
	$(BUILD)/hers demo $(DEMO_ARGS)

# Installation (docs/install.md): PREFIX (default /usr/local) and DESTDIR are
# honoured; uninstall removes what the last install listed in its manifest.
PREFIX ?= /usr/local
install: all
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

uninstall:
	DESTDIR="$(DESTDIR)" sh scripts/uninstall $(BUILD)/install_manifest.txt

# Debian packages (libhers0, libhers-dev, hers) of the committed tree into
# build-deb/, checked by lintian; scripts/test-deb installs and smoke-tests them.
deb: deps
	./scripts/setup-deps --deb
	./scripts/build-deb build-deb

clean:
	rm -rf build build-asan build-fuzz build-deb
