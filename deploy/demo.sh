#!/usr/bin/env bash
# deploy/demo.sh: the main command. Sets up and builds trestle, creates a demo node for
# a distributor, imports the distributor's claims export (deploy/sample/claims.csv),
# records an idea heard from a user firm, and shows what the node holds.
# Re-running it starts the demo node afresh (the old one is moved aside, not deleted).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
	./deploy/install-deps.sh
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
trestle() { ./build/release/tools/trestle --home demo/nordic-dish "$@"; }

step() { if [ -t 1 ]; then printf '\n\033[1m$ trestle %s\033[0m\n' "$*"; else printf '\n$ trestle %s\n' "$*"; fi; }

step init --name "Nordic Dish Service AB" --role distributor
if [ -e demo/nordic-dish/node.key ]; then
	trestle init --force --name "Nordic Dish Service AB" --role distributor
else
	trestle init --name "Nordic Dish Service AB" --role distributor
fi

step import deploy/sample/claims.csv --kind claim --map "Claim No=external_id" --map "Serial No=serial"
trestle import deploy/sample/claims.csv --kind claim \
	--map "Claim No=external_id" --map "Serial No=serial"

step record create idea title=... --onward-hops 1 --onward-to producer --private submitter,account
trestle record create idea title="Pump wear warning" product=DW-200 category=reliability \
	text="Warn before the drain pump fails: Cafe Nord lost a lunch service twice." \
	submitter="Karin at Cafe Nord" account="Cafe Nord" \
	--onward-hops 1 --onward-to producer --private submitter,account >/dev/null

step record list
trestle record list
step record search "drain pump" --kind claim
trestle record search "drain pump" --kind claim
step verify
trestle verify
step id
trestle id
printf '\nThe demo node lives in demo/nordic-dish; try for example:\n'
printf '  ./build/release/tools/trestle --home demo/nordic-dish record list --product DW-300 --json\n'
