#!/usr/bin/env bash
# test_claims.sh: a claim's states (proto/lifecycle.c) and its lines: a decided claim
# follows from its lines; illegal moves refused with what is allowed; nothing written.
set -u
. "$(dirname "$0")/lib.sh"

D=$TMP/distributor
new_node "$D" --name "Nordic Dish" --role distributor
mk() { "$T" --home "$D" record create "$@" | tail -1; }
st() { run --home "$D" record create status --ref "$1" state="$2"; }

C=$(mk claim product=DW-200 serial=SN-7 problem="Drain pump hums" opened=2026-02-01 \
	installed=2025-06-01 failed=2026-01-30 problem_code=P12 customer="Cafe Nord")
check_match "$C" '^[0-9a-f]{64}$' "a claim with install and failure dates and a problem code"
run --home "$D" record create claim product=DW-200 problem=x opened=2026-02-01 installed=2026-13-01
check_rc 1 "a malformed install date is refused"
check_err_has "installed" "and the message names the field"

st "$C" approved
check_rc 1 "a draft claim is not approved"
check_err_has "from draft it may go to submitted or note" "the refusal says what is allowed"
st "$C" submitted
check_rc 0 "draft -> submitted"
st "$C" under_review
check_rc 0 "submitted -> under_review"
st "$C" information_requested
check_rc 0 "under_review -> information_requested"
st "$C" under_review
check_rc 0 "and back to under_review"

L1=$(mk claim_line --ref "$C" part="drain pump" quantity=1 amount=12000)
L2=$(mk claim_line --ref "$C" part="labour" labour=90 amount=8000)
check_match "$L2" '^[0-9a-f]{64}$' "claim lines: parts and labour with amounts"
run --home "$D" record create claim_line --ref "$C" part="gasket" amount=-5
check_rc 1 "a negative amount is refused"
run --home "$D" record create claim_line --ref "$L1" part="x" amount=1
check_rc 1 "a line refers to a claim, not to a line"

N=$(count "$D")
st "$C" approved
check_rc 1 "a claim with undecided lines is not decided"
check_err_has "2 of the claim's 2 lines are undecided" "and says how many"
st "$L1" approved
check_rc 0 "a line approved"
st "$L2" rejected
check_rc 0 "a line rejected"
st "$L2" approved
check_rc 1 "a rejected line is not approved but by reopened"
st "$C" approved
check_rc 1 "one approved and one rejected line do not make an approved claim"
check_err_has "make it partly_approved, not approved" "the message says what the lines make it"
check_eq "$(count "$D")" $((N + 2)) "only the two line decisions were written"
st "$C" partly_approved
check_rc 0 "the claim is partly approved, as its lines say"
st "$C" closed
check_rc 0 "partly approved -> closed"
st "$C" approved
check_rc 1 "a closed claim is not approved"
check_err_has "a claim that is closed cannot become approved" "and the message says so"
st "$C" reopened
check_rc 0 "a closed claim can be reopened"
run --home "$D" verify
check_rc 0 "verify is clean"

finish
