#!/usr/bin/env bash
# test_ideas.sh: trestle idea groups|merge|split on one node: near-duplicate ideas in one
# group, filters, JSON, merging by hand (a signed "merged" status, producers only),
# splitting (local), and bad input refused with nothing changed.
set -u
. "$(dirname "$0")/lib.sh"

P=$TMP/producer
D=$TMP/distributor
new_node "$P" --name "Acme" --role producer
new_node "$D" --name "Nordic Dish" --role distributor

mkidea() { # NODE TITLE CATEGORY PRODUCT: prints the new idea's id
	"$T" --home "$1" record create idea title="$2" text="$2" category="$3" product="$4" | tail -1
}
groups() { "$T" --home "$P" idea groups --json "$@"; }
# gfield JSON EXPR [ARGS...]: a Python expression over the parsed JSON (g), with the
# extra arguments in a (a list)
gfield() {
	py 'import json,sys; g = json.loads(sys.argv[1]); a = sys.argv[3:]; print(eval(sys.argv[2]))' "$@"
}

run --home "$P" idea groups --json
check_rc 0 "idea groups on a node with no ideas exits 0"
check_eq "$OUT" "[]" "no ideas: no groups"

I1=$(mkidea "$P" "Detergent dosing: too much detergent on small loads" dosing DW-200)
I2=$(mkidea "$P" "Too much detergent dosed for small loads, please" dosing DW-200)
I3=$(mkidea "$P" "Small loads get too much detergent from the dosing" dosing DW-200)
I4=$(mkidea "$P" "Hygiene report with the rinse temperature per cycle" hygiene DW-300)
I5=$(mkidea "$P" "Rinse temperatures per cycle in the hygiene reports" hygiene DW-300)
I6=$(mkidea "$P" "A quieter drain pump for night shifts" noise DW-200)

G=$(groups)
check_eq "$(gfield "$G" 'len(g)')" 3 "six ideas, three groups"
check_eq "$(gfield "$G" '[x["ideas"] for x in g]')" "[3, 2, 1]" "largest first: 3, 2, 1 ideas"
check_eq "$(gfield "$G" 'sorted(g[0]["members"]) == sorted(a)' "$I1" "$I2" "$I3")" True \
	"the three dosing ideas are one group"
check_eq "$(gfield "$G" 'g[0]["product"] + " " + g[0]["category"] + " " + g[0]["status"]')" \
	"DW-200 dosing submitted" "the group's product, category and status"
check_eq "$(gfield "$G" 'g[0]["firms"], g[0]["distributors"]')" "(1, 1)" \
	"one firm (this node wrote them all), one source"

run --home "$P" idea groups --product DW-300 --json
check_eq "$(gfield "$OUT" '[x["ideas"] for x in g]')" "[2]" "--product keeps the DW-300 group"
run --home "$P" idea groups --min 2 --json
check_eq "$(gfield "$OUT" 'len(g)')" 2 "--min 2 leaves out the single idea"
run --home "$P" idea groups --category noise
check_rc 0 "the table exits 0"
check_out_has "GROUP" "the table has a header"
check_out_has "A quieter drain pump" "and the group's title"

# a status shows as the group's
"$T" --home "$P" record create status --ref "$I4" state=planned message="Q3" >/dev/null
check_eq "$(gfield "$(groups --category hygiene)" 'g[0]["status"]')" planned \
	"the latest status of a member is the group's"

# merging by hand: a signed status "merged" naming the idea it joins
N0=$(count "$P")
run --home "$P" idea merge "${I6:0:10}" --into "${I1:0:10}" --message "one topic"
check_rc 0 "idea merge exits 0"
check_eq "$(count "$P")" $((N0 + 1)) "merge wrote one record"
M=$("$T" --home "$P" record list --kind status --ref "$I6" --json)
check_eq "$(gfield "$M" 'g[-1]["fields"]["state"] + " " + g[-1]["fields"]["message"]')" \
	"merged one topic" "a status merged, with the message"
check_eq "$(gfield "$M" 'sorted(g[-1]["refs"]) == sorted(a)' "$I6" "$I1")" True \
	"it refers to both ideas"
G=$(groups)
check_eq "$(gfield "$G" '[x["ideas"] for x in g]')" "[4, 2]" "the pump idea is now in the dosing group"
check_eq "$(gfield "$G" 'g[0]["status"]')" submitted "a merge is no state of the group"

# splitting: local only, nothing written but a note
N1=$(count "$P")
run --home "$P" idea split "$I2"
check_rc 0 "idea split exits 0"
check_eq "$(count "$P")" "$N1" "split writes no record"
check_eq "$(gfield "$(groups)" '[x["ideas"] for x in g]')" "[3, 2, 1]" "the split idea is alone"
run --home "$P" audit
check_out_has "idea-merge" "the audit log has the merge"
check_out_has "idea-split" "and the split"

# bad input: refused, with why, nothing changed
N2=$(count "$P")
run --home "$P" idea merge "$I1" --into "$I1"
check_rc 1 "merging an idea into itself is refused"
check_err_has "into itself" "and says so"
ST=$(gfield "$("$T" --home "$P" record list --kind status --json)" 'g[0]["id"]')
run --home "$P" idea merge "$I1" --into "$ST"
check_rc 1 "merging into a status is refused"
check_err_has "not an idea" "and says it is not an idea"
run --home "$P" idea merge "$I1"
check_rc 2 "merge without --into is a usage error"
run --home "$P" idea merge ffff0000 --into "$I1"
check_rc 1 "an unknown idea is refused"
run --home "$P" idea split "$ST"
check_rc 1 "splitting a status is refused"
check_eq "$(count "$P")" "$N2" "nothing was written by the refused commands"
DI=$(mkidea "$D" "Detergent dosing on small loads" dosing DW-200)
DJ=$(mkidea "$D" "Quieter pump" noise DW-200)
run --home "$D" idea merge "$DI" --into "$DJ"
check_rc 1 "a distributor cannot merge"
check_err_has "only a producer merges" "and is told who can"
run --home "$D" idea groups --json
check_rc 0 "a distributor sees its own groups"
run --home "$P" idea frobnicate
check_rc 2 "an unknown subcommand is a usage error"

# states: idea status moves an idea along its lifecycle; list shows the state now
run --home "$P" idea status "$I4" in_progress --message "prototype built"
check_rc 0 "idea status: planned -> in_progress"
check_out_has "planned -> in_progress" "it says from where to where"
run --home "$P" idea status "$I4" planned
check_rc 1 "a state does not go back"
check_err_has "cannot become planned" "and the refusal says so"
check_err_has "released, declined, merged, reopened or note" "and what may follow"
run --home "$P" idea status "$I4" approved
check_rc 1 "a claim's state is no idea's"
check_err_has "not a state of an idea" "and says so"
run --home "$P" idea status "$I4" merged
check_rc 2 "merging goes through idea merge"
run --home "$P" idea status "$I4" released
run --home "$P" idea status "$I4" reopened
check_rc 0 "a released idea can be reopened"
run --home "$P" idea list --state under_review --json
check_eq "$(gfield "$OUT" '[r["id"] for r in g]')" "['$I4']" "reopened leads back to under review"
run --home "$P" idea list --json
check_eq "$(gfield "$OUT" '[r["state"] for r in g if r["id"] == a[0]]' "$I6")" "['merged']" \
	"the idea merged by hand is merged"
run --home "$P" idea merge "$I6" --into "$I3"
check_rc 1 "a merged idea is not merged again"
run --home "$P" idea list
check_out_has "STATE" "the list's table has a header"
run --home "$D" idea status "$DI" planned
check_rc 1 "a distributor does not decide on ideas"
check_err_has "the producer's" "and is told whose they are"
run --home "$D" idea status "$DI" note --message "customers ask for it weekly"
check_rc 0 "a distributor may add a note"

# a trial report comes from a firm that accepted the trial
TR=$("$T" --home "$D" record create test_request product=DW-9 title="Prototype trial" text="4 weeks" | tail -1)
run --home "$D" record create trial_report --ref "$TR" text="went well" rating=4
check_rc 1 "a trial report without an answer accept is refused"
check_err_has 'no answer "accept"' "and the message says what is missing"
"$T" --home "$D" record create test_response --ref "$TR" answer=decline >/dev/null
run --home "$D" record create trial_report --ref "$TR" text="went well" rating=4
check_rc 1 "a decline is no accept"
"$T" --home "$D" record create test_response --ref "$TR" answer=accept >/dev/null
run --home "$D" record create trial_report --ref "$TR" text="went well" rating=4
check_rc 0 "after an accept the report is taken"

# the same rule for statuses brought in by import
printf '{"kind":"status","fields":{"state":"planned"},"refs":["%s"]}\n' "$DI" >"$TMP/st.jsonl"
run --home "$D" import "$TMP/st.jsonl"
check_rc 5 "importing a distributor's decision on an idea is refused"
check_err_has "the producer's" "with the reason"
printf '{"kind":"status","fields":{"state":"approved"},"refs":["%s"]}\n' "$I1" >"$TMP/st2.jsonl"
run --home "$P" import "$TMP/st2.jsonl"
check_rc 5 "importing a state the lifecycle does not allow is refused"
check_err_has "not a state of an idea" "with the lifecycle's reason"

# an import that changes one record's state twice is refused whole: each change is
# checked against the state before the import, so the second could not be
for i in 1 2 3; do printf '{"kind":"status","fields":{"state":"note"},"refs":["%s"]}\n' "$I2"; done >"$TMP/st3.jsonl"
printf '{"kind":"status","fields":{"state":"declined"},"refs":["%s"]}\n' "$I2" >>"$TMP/st3.jsonl"
printf '{"kind":"status","fields":{"state":"declined"},"refs":["%s"]}\n' "$I2" >>"$TMP/st3.jsonl"
N3=$(count "$P")
run --home "$P" import "$TMP/st3.jsonl"
check_rc 5 "a file that moves a record twice is refused"
check_err_has "changes the state of" "and says which line moved it first"
check_eq "$(count "$P")" "$N3" "and nothing of it was imported"

finish
