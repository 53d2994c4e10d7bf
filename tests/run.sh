#!/usr/bin/env bash
# tests/run.sh: set up and run every test, as CI does (the README's test command).
#  1. installs the build and test dependencies (deploy/install-deps.sh);
#  2. a release build (gcc) and its ctest run: unit tests and CLI end-to-end tests;
#  3. a sanitizer build (clang, AddressSanitizer + UndefinedBehaviorSanitizer) and its
#     ctest run, which also runs the record decoder's fuzz target for 20 seconds.
# Build trees go to build/release and build/asan. Exit status 0 only if all passed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
	./deploy/install-deps.sh
fi
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build (gcc)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build/release -j"$jobs"
(cd build/release && ctest --output-on-failure -j"$jobs")

echo "== sanitizer build (clang, ASan+UBSan, fuzz)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DTR_SANITIZE=ON \
	-DTR_FUZZ=ON >/dev/null
cmake --build build/asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/asan && ctest --output-on-failure -j"$jobs")
