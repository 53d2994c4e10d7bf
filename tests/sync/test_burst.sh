#!/usr/bin/env bash
# test_burst.sh: an honest partner that writes fast is not cut off.
#
# Every record written at s makes s send r a NOTIFY; hundreds a second once counted as
# a flood at r, which cut s off for a minute, and nothing made r pull again after. Here
# eight writers at s write 1,200 claims as fast as the CLI goes; every one must reach
# r, soon, with no partner ignored.
# Run: bash tests/sync/test_burst.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

node_init s distributor
node_init r producer
pair r s claim
node_start s
node_start r
wait_until 10 is_connected r s || not_ok "r connects to s"

writer() {
	local j
	for j in $(seq 1 150); do
		"$T" --home "$TMP/s" record create claim product=DW-1 problem="writer $1 #$j" \
			opened=2026-01-01 >/dev/null 2>&1 </dev/null
	done
}
START=$SECONDS
pids=()
for w in 1 2 3 4 5 6 7 8; do
	writer "$w" &
	pids+=($!)
done
wait "${pids[@]}"
note "1200 records written at s in $((SECONDS - START)) s"
holds() { [ "$(count "$1" "$2")" = "$3" ]; }
check_eq "$(count s claim)" 1200 "s holds the 1200 claims"
if wait_ms 15000 holds r claim 1200; then
	ok "all 1200 reach r (${WAITED_MS} ms after the last write)"
else
	not_ok "all 1200 reach r within 15 s (it holds $(count r claim))"
	note "$(tail -n 5 "$TMP/r.log")"
fi
if grep -q "ignoring it" "$TMP/r.log" "$TMP/s.log"; then
	not_ok "no partner was cut off"
	note "$(grep "ignoring it" "$TMP/r.log" "$TMP/s.log")"
else
	ok "no partner was cut off"
fi
if grep -q "throttled" "$TMP/r.log" "$TMP/s.log"; then
	not_ok "no partner was throttled"
else
	ok "no partner was throttled"
fi
run --home "$TMP/r" verify
check_rc 0 "r verifies"
node_term s
node_term r
finish
