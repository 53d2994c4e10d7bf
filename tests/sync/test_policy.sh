#!/usr/bin/env bash
# test_policy.sh: narrowing and widening a policy between live daemons.
#
# s shares ideas and claims with r. After `policy deny r idea`, ideas written at s stay
# there while claims still flow, and r's cursor moves past the denied ideas. After
# `policy allow r idea` again, those ideas reach r all the same: a widened policy makes
# earlier records flow. Nothing arrives twice.
# Run: bash tests/sync/test_policy.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

node_init s distributor
node_init r producer
pair r s
"$T" --home "$TMP/s" policy allow r idea >/dev/null || not_ok "allow idea"
"$T" --home "$TMP/s" policy allow r claim >/dev/null || not_ok "allow claim"
node_start s
node_start r

idea() { "$T" --home "$TMP/s" record create idea title="$1" text="t" </dev/null 2>/dev/null; }
claim() {
	"$T" --home "$TMP/s" record create claim product=DW-1 problem="$1" opened=2026-01-01 \
		</dev/null 2>/dev/null
}

I1=$(idea "shared 1")
I2=$(idea "shared 2")
if wait_ms 10000 has_recs r "$I1" "$I2"; then ok "allowed ideas reach r"; else not_ok "allowed ideas reach r"; fi

run --home "$TMP/s" policy deny r idea
check_rc 0 "policy deny r idea"
D1=$(idea "denied 1")
D2=$(idea "denied 2")
D3=$(idea "denied 3")
C1=$(claim "control after the deny")
if wait_ms 10000 has_rec r "$C1"; then ok "a claim still reaches r"; else not_ok "a claim still reaches r"; fi
C2=$(claim "second control")
if wait_ms 10000 has_rec r "$C2"; then ok "and a second one"; else not_ok "and a second one"; fi
for id in "$D1" "$D2" "$D3"; do
	if has_rec r "$id"; then not_ok "a denied idea stays at s"; else ok "a denied idea stays at s"; fi
done

run --home "$TMP/s" policy allow r idea
check_rc 0 "policy allow r idea again"
# all 5 ideas are queued again: s does not know which r holds (r stores each once)
check_out_has "5 records already here queued" "allow says it queued the kind's records again"
if wait_ms 10000 has_recs r "$D1" "$D2" "$D3"; then
	ok "the ideas written while denied reach r once allowed again (${WAITED_MS} ms)"
else
	not_ok "the ideas written while denied reach r once allowed again"
fi
check_eq "$(count r idea)" 5 "r holds the 5 ideas"
check_eq "$(count r claim)" 2 "r holds the 2 claims"
check_eq "$(ids r | uniq -d)" "" "no id twice at r"
run --home "$TMP/r" verify
check_rc 0 "r verifies"
run --home "$TMP/s" verify
check_rc 0 "s verifies (its queues included)"
node_term s
node_term r
finish
