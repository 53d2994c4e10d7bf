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

# the claim verbs: new, list with states, show with history, status
C2=$("$T" --home "$D" claim new product=DW-300 problem="Heater relay fails" opened=2026-03-02 | tail -1)
check_match "$C2" '^[0-9a-f]{64}$' "claim new prints the new claim's id"
run --home "$D" claim status "$C2" submitted --message "sent to the producer"
check_rc 0 "claim status: draft -> submitted"
check_out_has "draft -> submitted" "it says from where to where"
run --home "$D" claim list --state submitted --json
check_eq "$(py 'import json,sys; print([r["id"] for r in json.loads(sys.argv[1])])' "$OUT")" "['$C2']" \
	"claim list --state filters by the state now"
run --home "$D" claim show "${C2:0:10}"
check_out_has "state    submitted" "claim show: the state now"
check_out_has "sent to the producer" "and the history with the message"
run --home "$D" claim status "$L1" reopened
check_rc 0 "a decided line can be reopened through the claim verbs"
run --home "$D" claim status "$C2" planned
check_rc 1 "an idea's state is no claim's"
check_err_has 'not a state of a claim' "and says so"
run --home "$D" claim frob
check_rc 2 "an unknown claim subcommand is a usage error"

# test requests: decisions are the producer's
R=$("$T" --home "$D" test new product=DW-9 title="Prototype trial" text="4 weeks" | tail -1)
run --home "$D" test status "$R" candidates_proposed
check_rc 1 "a distributor does not decide on a test request"
check_err_has "the producer's" "and is told whose it is"
P=$TMP/producer
new_node "$P" --name "Acme" --role producer
R2=$("$T" --home "$P" test new product=DW-9 title="Prototype trial" text="4 weeks" slots=3 | tail -1)
for s in candidates_proposed in_trial reported closed; do
	run --home "$P" test status "$R2" "$s"
	check_rc 0 "test request -> $s"
done
run --home "$P" test status "$R2" in_trial
check_rc 1 "a closed test request does not go back"
run --home "$P" test list --json
check_eq "$(py 'import json,sys; print(json.loads(sys.argv[1])[0]["state"])' "$OUT")" closed \
	"test list shows it closed"

# a distributor nominates a user firm (by its node key) for a trial: the report counts it
NOMINEE=$("$T" --home "$P" id --json | py 'import json,sys; print(json.load(sys.stdin)["id"])')
R3=$("$T" --home "$D" test new product=DW-9 title="Second trial" text="2 weeks" | tail -1)
run --home "$D" record create test_response --ref "$R3" answer=nominate nominee="$NOMINEE"
check_rc 0 "a nomination is a test response"
run --home "$D" report --json
check_eq "$(py 'import json,sys; d = json.loads(sys.argv[1]); print([t["nominated"] for t in d["test_requests"] if t["id"] == sys.argv[2]])' "$OUT" "$R3")" "[1]" \
	"the report counts the nomination"

# a line shown through the claim verbs has its own kind's state
run --home "$D" claim show "${L2:0:10}"
check_out_has "state    rejected" "claim show of a line: the line's state"
run --home "$D" claim show "${C2:0:10}" --json
check_eq "$(py 'import json,sys; print(json.loads(sys.argv[1])["kind"])' "$OUT")" claim \
	"claim show --json prints JSON only"

# the producer's tables in the terminal: claim stats, test progress
run --home "$D" claim stats
check_rc 0 "claim stats exits 0"
check_out_has "MONTH" "it has the months"
check_out_has "DW-200" "and the products"
run --home "$D" claim stats --json
check_eq "$(py 'import json,sys; d = json.loads(sys.argv[1]); print(d["total"], d["open"] + d["closed"] == d["total"])' "$OUT")" "2 True" \
	"claim stats --json: totals that add up"
run --home "$D" test progress
check_rc 0 "test progress exits 0"
check_out_has "NOMINATED" "it shows the answers per partner"
run --home "$D" test progress --json
check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 2 "both test requests"

finish
