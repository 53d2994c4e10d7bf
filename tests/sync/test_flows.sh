#!/usr/bin/env bash
# test_flows.sh: DESIGN.md "Flows that must work" 4 (claims) and 5 (test requests) end to
# end, with real daemons on loopback (issue 5). A producer p, distributors d1 and d2,
# user firms u1 and u2 (they dial d1) and u3 (it dials d2); d1 and d2 dial p.
#  4. claims: d1 imports claims from its CRM's CSV and writes one more; u1 writes a
#     claim (consent "claims" to d1, onward terms 1 hop to the producer) that d1 passes
#     on with a --forward rule; d1's rule lists the fields but not the customer. d2
#     shares its claim with the customer (the control). At p: every claim is there, the
#     customer withheld on d1's and u1's (record list --json), none of their customers'
#     names in p's data.mdb (d2's is there); `report --json` counts them by product and
#     month, and finds the machine claimed twice. d1 moves its claim draft -> submitted
#     -> under_review -> approved -> closed; "approved" on the closed claim is refused,
#     naming what is allowed; p's report shows the claim closed (d1 shares its statuses).
#  5. a test request: p writes one (onward terms: 1 hop, to user firms), its rules
#     send it to d1 and d2. d1 forwards it from its inbox to u1 only (not u2); d2 passes
#     it to u3 with a --forward rule. u1 accepts, u3 declines (consent "trials", onward 1
#     hop to the producer, contact private); the answers go back up through d1 and d2
#     (rules --forward --replies); p holds both, contact withheld, and its report counts
#     them per distributor. u1's trial report (refers to the request and its answer)
#     reaches p; u3 (declined) cannot write one; d1 cannot set the request's state (a
#     note it may). p moves the request open -> candidates_proposed -> in_trial ->
#     reported -> closed; a move back is refused. The statuses travel down through d1
#     and d2 (status rules with --replies) to u1 and u3; u2 never holds the request nor
#     a status on it.
#  Every node verifies its store; no daemon log holds a sanitizer report.
# Run: bash tests/sync/test_flows.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
. "$(dirname "$0")/lib.sh"

NODES=(p d1 d2 u1 u2 u3)

# rid NAME: the record id the last run printed (in full, or as "consent PREFIX: ..." or
# "(status PREFIX)"),
# in full as NAME holds it
rid() {
	[[ $OUT =~ ([0-9a-f]{64}) ]] && { echo "${BASH_REMATCH[1]}"; return; }
	[[ $OUT =~ (consent|status)\ ([0-9a-f]{8,63}) ]] &&
		"$T" --home "$TMP/$1" record show "${BASH_REMATCH[2]}" --json 2>/dev/null |
		py 'import json,sys; print(json.load(sys.stdin)["id"])'
}
# listed NAME ID KEY: the entry of ID in NAME's `record list --json`: KEY as JSON (a
# list or object sorted)
listed() {
	"$T" --home "$TMP/$1" record list --json 2>/dev/null | py 'import json,sys
try:
    for r in json.load(sys.stdin):
        if r["id"] == sys.argv[1]:
            v = r[sys.argv[2]]
            print(json.dumps(sorted(v) if isinstance(v, (dict, list)) else v))
            break
    else:
        print("not listed")
except Exception as e:
    print("error: %s" % e)' "$2" "$3"
}
# fval NAME ID FIELD: the value of FIELD in record ID at NAME ("<none>" if not shown)
fval() {
	"$T" --home "$TMP/$1" record show "$2" --json 2>/dev/null | py 'import json,sys
try:
    print(json.load(sys.stdin)["fields"].get(sys.argv[1], "<none>"))
except Exception:
    print("error")' "$3"
}
# in_store NAME TEXT: TEXT occurs in NAME's store file
in_store() {
	grep -qaF -- "$2" "$TMP/$1/store/data.mdb"
}
inbox_has() {
	"$T" --home "$TMP/$1" inbox --json 2>/dev/null | py 'import json,sys
sys.exit(0 if any(e["id"] == sys.argv[1] for e in json.load(sys.stdin)) else 1)' "$2"
}
# report NAME: NAME's `report --json` into $TMP/report-NAME.json; RC
report() {
	"$T" --home "$TMP/$1" report --json </dev/null >"$TMP/report-$1.json" 2>"$TMP/report-$1.err"
}
# rget NAME EXPR: a Python expression over r (NAME's saved report), printed (strings
# bare, the rest as JSON)
rget() {
	py 'import json,sys
try:
    r = json.load(open(sys.argv[1]))
    v = eval(sys.argv[2])
    print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
except Exception as e:
    print("error: %s" % e)' "$TMP/report-$1.json" "$2"
}
# treq NAME ID EXPR: EXPR over t, the entry of test request ID in NAME's saved report
treq() {
	rget "$1" "(lambda t: $3)(next(x for x in r['test_requests'] if x['id'] == '$2'))"
}
# statuses_on NAME REF: the states of the status records at NAME that refer to REF,
# oldest first (creation time, then the author's sequence number), one line
statuses_on() {
	"$T" --home "$TMP/$1" record list --kind status --ref "$2" --json 2>/dev/null | py 'import json,sys
ids = [r["id"] for r in json.load(sys.stdin)]
print(" ".join(ids))' | tr ' ' '\n' | while read -r sid; do
		[ -n "$sid" ] || continue
		"$T" --home "$TMP/$1" record show "$sid" --json 2>/dev/null |
			py 'import json,sys
r = json.load(sys.stdin)
print(r.get("created", ""), "%020d" % r.get("seq", 0), r["fields"].get("state", "?"))'
	done | sort | awk '{print $NF}' | tr '\n' ' ' | sed 's/ $//'
}

###########################################################################################
# The network
###########################################################################################
# free_port does not hold a port: pick until all six differ
for _ in 1 2 3 4 5 6 7 8 9 10; do
	PORTS=()
	for n in "${NODES[@]}"; do PORTS+=("$(free_port)"); done
	[ "$(printf '%s\n' "${PORTS[@]}" | sort -u | wc -l)" = 6 ] && break
done
i=0
for n in p:producer d1:distributor d2:distributor u1:user u2:user u3:user; do
	eval "PORT_${n%%:*}=${PORTS[$i]}"
	"$T" --home "$TMP/${n%%:*}" init --name "${n%%:*}" --role "${n##*:}" \
		--listen "tcp://127.0.0.1:${PORTS[$i]}" >/dev/null 2>"$TMP/.err" ||
		{ not_ok "init ${n%%:*}"; note "$(cat "$TMP/.err")"; }
	i=$((i + 1))
done
for n in "${NODES[@]}"; do eval "ID_$n=\$(node_id $n)"; done
pair u1 d1 # u1 dials d1; no rule yet
pair u2 d1
pair u3 d2
pair d1 p
pair d2 p

# flow 4: claims. u1's own go to d1; d1's (own and u1's) go to p without the customer;
# d2's go to p whole; d1's own statuses (on its claims) go to p
rule_ok u1 d1 claim
rule_ok d1 p claim --fields product,serial,problem,opened --forward
rule_ok d2 p claim
rule_ok d1 p status
# flow 5: test requests down (d1 decides from its inbox; d2 by a rule, to u3 only)
rule_ok p d1 test_request
rule_ok p d2 test_request
rule_ok d2 u3 test_request --forward
# answers and trial reports up, the way the request came
rule_ok u1 d1 test_response
rule_ok u1 d1 trial_report
rule_ok u2 d1 test_response
rule_ok u3 d2 test_response
rule_ok u3 d2 trial_report
rule_ok d1 p test_response --forward --replies
rule_ok d2 p test_response --forward --replies
rule_ok d1 p trial_report --forward --replies
rule_ok d2 p trial_report --forward --replies
# p's statuses down the way the request went, and on to the firms it reached
rule_ok p d1 status --replies
rule_ok p d2 status --replies
rule_ok d1 u1 status --forward --replies
rule_ok d1 u2 status --forward --replies
rule_ok d2 u3 status --forward --replies

for n in "${NODES[@]}"; do node_start "$n"; done

# consents: u1 lets d1 pass on its claims and trial answers; u3 lets d2 pass on its
# trial answers
run --home "$TMP/u1" consent grant d1 --for claims,trials --text "claims and trials may go to the producer"
check_rc 0 "u1: consent grant d1 --for claims,trials"
C_u1=$(rid u1)
run --home "$TMP/u3" consent grant d2 --for trials
check_rc 0 "u3: consent grant d2 --for trials"
C_u3=$(rid u3)
consents_in() {
	has_rec d1 "${C_u1:-none}" && has_rec d2 "${C_u3:-none}"
}
if wait_until 20 consents_in; then ok "the consents reach d1 (u1's) and d2 (u3's)"; else
	not_ok "the consents reach d1 (u1's) and d2 (u3's)"
	for n in "${NODES[@]}"; do note "$n: $(tail -2 "$TMP/$n.log" | tr '\n' ' ')"; done
	finish # nothing below means anything without them
fi

###########################################################################################
# Flow 4: claims
###########################################################################################
# d1's CRM export: a claim number that is not a field (mapped to external_id)
cat >"$TMP/d1-claims.csv" <<'EOF'
Claim No,Product,Serial,Problem,Opened,Customer
NDC-1001,DW-200,SN-200-0141,"Drain pump stops after about 300 cycles; error light blinks twice",2026-01-05,CUST-CANARY Bistro Alfa
NDC-1002,DW-200,SN-200-0177,"Rinse arm cracked near the hub",2026-01-20,CUST-CANARY Hotel Beta
NDC-1003,DW-300,SN-300-0022,"Door seal leaks on the left side when the tank is full",2026-02-03,CUST-CANARY Canteen Gamma
EOF
NC_D1=$(nrecs d1 claim)
run --home "$TMP/d1" import "$TMP/d1-claims.csv" --kind claim --map 'Claim No=external_id' --quiet
check_rc 0 "d1: import of three claims from CSV exits 0"
check_eq "$(nrecs d1 claim)" "$((NC_D1 + 3))" "d1 holds the three imported claims"
mapfile -t IMP < <("$T" --home "$TMP/d1" record list --kind claim --author self --json 2>/dev/null |
	py 'import json,sys; [print(r["id"]) for r in json.load(sys.stdin)]')
mk CH d1 claim product=DW-300 serial=SN-300-0090 problem="Heater does not reach 85 C in the rinse" \
	opened=2026-02-10 customer="CUST-CANARY Delta Diner" responsible="A. Berg"
mk CU1 u1 claim product=DW-200 serial=SN-200-0141 problem="Drain pump stops again, same as in January" \
	opened=2026-02-16 customer="CUST-CANARY Cafe Kanarie" --onward-hops 1 --onward-to producer
mk CD2 d2 claim product=DW-500 serial=SN-500-0007 problem="Heater element burnt out" \
	opened=2026-03-02 customer="SHARED-CUST Canteen Epsilon"
D1_CLAIMS=("${IMP[@]}" "$CH")
check_eq "${#IMP[@]}" 3 "d1 lists its three imported claims as its own"
arrives 20 d1 "u1's claim reaches d1 (rule u1 -> d1)" "$CU1"
arrives 20 p "d1's claims (imported and written) reach p" "${D1_CLAIMS[@]}"
arrives 20 p "u1's claim goes on from d1 to p (consent claims, rule --forward)" "$CU1"
arrives 20 p "d2's claim reaches p" "$CD2"
check_eq "$(nrecs p claim)" 6 "p holds six claims"

bad=
for id in "${D1_CLAIMS[@]}" "$CU1"; do
	w=$(listed p "$id" withheld)
	has "$w" '"customer"' || bad+=" ${id:0:12}:$w"
done
check_eq "$bad" "" "record list --json at p shows the customer withheld on d1's and u1's claims"
check_eq "$(listed p "$CH" withheld)" '["customer", "responsible"]' \
	"d1's written claim: only the fields d1's rule lists reach p (customer, responsible withheld)"
check_eq "$(listed p "${IMP[0]}" withheld)" '["customer", "external_id"]' \
	"an imported claim: customer and d1's claim number withheld"
check_eq "$(fval p "$CU1" serial) $(fval p "$CU1" product)" "SN-200-0141 DW-200" \
	"p holds u1's claim's serial and product"
check_eq "$(fval p "$CD2" customer)" "SHARED-CUST Canteen Epsilon" "d2's claim reaches p with its customer (d2's rule)"
check_eq "$(fval d1 "$CU1" customer)" "CUST-CANARY Cafe Kanarie" "d1 (first partner) holds u1's customer"
if in_store p "SHARED-CUST"; then ok "p's data.mdb holds d2's customer (the grep works)"; else
	not_ok "p's data.mdb holds d2's customer (the grep works)"
fi
leak=
for s in "CUST-CANARY" "Bistro Alfa" "Hotel Beta" "Canteen Gamma" "Delta Diner" "Cafe Kanarie" "NDC-100"; do
	in_store p "$s" && leak+=" [$s]"
done
check_eq "$leak" "" "p's data.mdb holds none of the customers d1's rule left out (nor d1's claim numbers)"
run --home "$TMP/p" record list --kind claim --text "Kanarie" --json
check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 0 "a search at p for u1's name finds nothing"

# d1 moves its claim through its states (`trestle claim status`)
prev=draft
for st in submitted under_review approved closed; do
	run --home "$TMP/d1" claim status "$CH" "$st" --message "claim $st"
	check_rc 0 "d1: claim status $prev -> $st"
	check_match "$OUT" "^$prev -> $st " "it says $prev -> $st"
	eval "CS_$st=\$(rid d1)"
	prev=$st
done
NS_D1=$(nrecs d1 status)
run --home "$TMP/d1" claim status "$CH" approved --message "approve it again"
check_rc 1 "d1: \"approved\" on the closed claim is refused (exit 1)"
check_err_has "closed" "the message says the claim is closed"
check_match "$ERR" 'may go to[^.]*reopened' "and names what is allowed from closed (reopened)"
check_err_has "note" "(a note too)"
run --home "$TMP/d1" record create status --ref "$CH" state=approved
check_rc 1 "record create status approved on the closed claim is refused too"
check_match "$ERR" 'closed.*may go to reopened or note' "naming what is allowed"
check_eq "$(nrecs d1 status)" "$NS_D1" "the refused statuses were not stored"
run --home "$TMP/d1" record create status --ref "${IMP[1]}" state=approved
check_rc 1 "d1: a draft claim cannot jump to approved"
check_match "$ERR" 'draft.*may go to submitted' "the message says a draft may go to submitted"
report d1
check_eq "$(rget d1 '(lambda c: [c.get("state"), c["open"]])(next(c for c in r["claims"]["latest"] if c["id"] == "'"$CH"'"))')" \
	'["closed", false]' "d1's report: its claim is closed"
arrives 20 p "d1's claim statuses reach p (rule d1 -> p status)" \
	"${CS_submitted:-none}" "${CS_under_review:-none}" "${CS_approved:-none}" "${CS_closed:-none}"

report p
check_eq "$?" 0 "p: report --json exits 0"
check_eq "$(rget p 'r["claims"]["total"]')" 6 "p's report counts six claims"
check_eq "$(rget p '[[x["product"], x["total"], x["open"], x["closed"], x["months"]] for x in r["claims"]["by_product"]]')" \
	'[["DW-200", 3, 3, 0, {"2026-01": 2, "2026-02": 1}], ["DW-300", 2, 1, 1, {"2026-02": 2}], ["DW-500", 1, 1, 0, {"2026-03": 1}]]' \
	"by product and month: DW-200 3 (Jan 2, Feb 1), DW-300 2 (Feb, one closed), DW-500 1 (Mar)"
check_eq "$(rget p '[[x["total"], x["closed"]] for x in r["claims"]["by_problem"] if x["product"] == "DW-300" and x["problem"].startswith("Heater")]')" \
	'[[1, 1]]' "by problem: d1's heater claim on DW-300, closed"
check_eq "$(rget p '[[x["month"], x["total"]] for x in r["claims"]["by_month"]]')" \
	'[["2026-01", 2], ["2026-02", 3], ["2026-03", 1]]' "by month: Jan 2, Feb 3, Mar 1"
check_eq "$(rget p '[r["claims"]["open"], r["claims"]["closed"]]')" '[5, 1]' "five open, one closed (d1's statuses)"
check_eq "$(rget p '[[x["product"], x["serial"], x["total"]] for x in r["claims"]["repeats"]]')" \
	'[["DW-200", "SN-200-0141", 2]]' "the machine claimed twice (d1's and u1's claim): DW-200 SN-200-0141"
WANT_CUST=$(for id in "${D1_CLAIMS[@]}" "$CU1"; do echo "${id:0:12}:True:-"; done
	echo "${CD2:0:12}:False:SHARED-CUST Canteen Epsilon")
check_eq "$(rget p '"\n".join(sorted(c["id"][:12] + ":" + str(c.get("customer_withheld", False)) + ":" + c.get("customer", "-") for c in r["claims"]["latest"]))')" \
	"$(printf '%s\n' "$WANT_CUST" | sort)" "the report shows the customer only on d2's claim, withheld on the others"
check_eq "$(rget p '[c["from"] for c in r["claims"]["latest"] if c["id"] == "'"$CU1"'"]')" '["d1"]' \
	"u1's claim came to p from d1"

###########################################################################################
# Flow 5: a test request
###########################################################################################
mk TR p test_request product=PROTO-C1 title="Combined machine trial" \
	text="a prototype combined hood and undercounter machine, free for three months" \
	slots=2 start=2026-04-01 --onward-hops 1 --onward-to user
arrives 20 d1 "p's test request reaches d1 (rule)" "$TR"
arrives 20 d2 "and d2 (rule)" "$TR"
arrives 20 u3 "d2 passes it on to u3 (rule --forward)" "$TR"
if wait_until 10 inbox_has d1 "$TR"; then ok "the request waits in d1's inbox (no rule to a user firm)"; else
	not_ok "the request waits in d1's inbox (no rule to a user firm)"
	note "$("$T" --home "$TMP/d1" inbox --json 2>&1)"
fi
not_there u1 "$TR" "u1 does not have it before d1 decides"
run --home "$TMP/d1" inbox forward "$TR" --to u1
check_rc 0 "d1: inbox forward the request --to u1"
arrives 20 u1 "the request reaches u1" "$TR"
check_eq "$(listed u1 "$TR" withheld)" '[]' "u1 holds every field of it"
if inbox_has d1 "$TR"; then not_ok "the request left d1's inbox"; else ok "the request left d1's inbox"; fi

TERMS=(--onward-hops 1 --onward-to producer --private contact)
mk R1 u1 test_response --ref "$TR" answer=accept text="we can host it from April" \
	contact="CONTACT-CANARY Anna Holm" "${TERMS[@]}"
mk R3 u3 test_response --ref "$TR" answer=decline text="no room in our kitchen this spring" \
	contact="CONTACT-CANARY Bo Ek" "${TERMS[@]}"
arrives 20 p "u1's acceptance goes up u1 -> d1 -> p" "$R1"
arrives 20 p "u3's decline goes up u3 -> d2 -> p" "$R3"
check_eq "$(listed p "$R1" withheld) $(listed p "$R3" withheld)" '["contact"] ["contact"]' \
	"p holds both answers with the contact withheld"
check_eq "$(fval p "$R1" answer) $(fval p "$R3" answer)" "accept decline" "p sees accept and decline"
check_eq "$(fval d1 "$R1" contact)" "CONTACT-CANARY Anna Holm" "d1 (first partner) holds u1's contact"
check_eq "$(fval d2 "$R3" contact)" "CONTACT-CANARY Bo Ek" "d2 holds u3's contact"
if in_store p "CONTACT-CANARY"; then not_ok "p's data.mdb holds no contact"; else ok "p's data.mdb holds no contact"; fi
not_there d1 "$R3" "u3's answer does not go to d1"
not_there u1 "$R3" "nor to u1"

# decisions on a test request are the producer's
run --home "$TMP/d1" record create status --ref "$TR" state=in_trial
check_rc 1 "d1: a state of p's test request is refused"
check_err_has "producer" "the message says it is the producer's"
run --home "$TMP/d1" record create status --ref "$TR" state=note message="u1 is keen"
check_rc 0 "d1 may add a note on it"
# a trial report needs an acceptance
run --home "$TMP/u3" record create trial_report --ref "$TR" --ref "$R3" text="we never had it" rating=1
check_rc 1 "u3 (declined) cannot write a trial report"
check_err_has "accept" "the message says a trial report needs an answer accept"

run --home "$TMP/p" test status "$TR" in_trial
check_rc 1 "p: open -> in_trial (skipping candidates_proposed) is refused"
check_match "$ERR" 'may go to candidates_proposed' "the message names what follows open"
# p moves the request with `trestle test status` (its statuses: 1 hop on, to user firms)
S_T=()
P_PREV=open
p_status() {
	run --home "$TMP/p" test status "$TR" "$1" --message "$2"
	check_rc 0 "p: test status $P_PREV -> $1"
	S_T+=("$(rid p)")
	P_PREV=$1
}
p_status candidates_proposed "one firm accepted, one declined"
p_status in_trial "the prototype is installed"
report p
check_eq "$(treq p "$TR" '[t["state"], t["accepted"], t["declined"]]')" '["in_trial", 1, 1]' \
	"p's report: the request in trial, 1 accepted, 1 declined"
check_eq "$(treq p "$TR" 'sorted([x["partner"], x["accepted"], x["declined"]] for x in t["partners"])')" \
	'[["d1", 1, 0], ["d2", 0, 1]]' "per distributor: d1 1 accepted, d2 1 declined"
check_eq "$(treq p "$TR" 'sorted("contact" in x for x in t["responses"])')" '[false, false]' \
	"the report shows no contact"

mk TRP u1 trial_report --ref "$TR" --ref "$R1" rating=4 outcome=keep \
	text="quiet and fast; the rinse aid pump clogged once" --onward-hops 1 --onward-to producer
arrives 20 p "u1's trial report goes up u1 -> d1 -> p" "$TRP"
check_eq "$(fval p "$TRP" rating) $(fval p "$TRP" outcome)" "4 keep" "p holds its rating and outcome"
p_status reported "the trial report is in"
p_status closed "thank you: the machine is yours at the trial price"
run --home "$TMP/p" record create status --ref "$TR" state=in_trial --onward-hops 1 --onward-to user
check_rc 1 "p: closed -> in_trial is refused (record create status)"
check_match "$ERR" 'closed.*may go to note' "the message names what is allowed from closed (a note)"
report p
check_eq "$(treq p "$TR" '[t["state"], len(t["reports"]), t["reports"][0].get("rating"), t["reports"][0].get("from")]')" \
	'["closed", 1, 4, "d1"]' "p's report: the request closed, one trial report (rating 4, from d1)"
check_eq "$(treq p "$TR" 'sorted([x["partner"], x["reports"]] for x in t["partners"])')" '[["d1", 1], ["d2", 0]]' \
	"trial reports per distributor: d1 1, d2 0"

# the statuses go back down the way the request went: p -> d1 -> u1, p -> d2 -> u3
check_eq "$("$T" --home "$TMP/p" record show "${S_T[0]:-none}" --json 2>/dev/null | py 'import json,sys
r = json.load(sys.stdin); print(r["fields"].get("state"), " ".join(r.get("refs", [])))')" \
	"candidates_proposed $TR" "p's first status: candidates_proposed, about the request"
down_all() {
	local n
	for n in d1 d2 u1 u3; do has_recs "$n" "${S_T[@]}" || return 1; done
}
wait_until 15 down_all
want="candidates_proposed in_trial reported closed"
for n in d1 d2 u1 u3; do
	if has_recs "$n" "${S_T[@]}"; then ok "p's four statuses on the request reach $n"; else
		not_ok "p's four statuses on the request reach $n"
		note "$n holds statuses: $(statuses_on "$n" "$TR")"
	fi
	check_eq "$(statuses_on "$n" "$TR" | tr ' ' '\n' | grep -v '^note$' | tr '\n' ' ' | sed 's/ $//')" "$want" \
		"$n holds the request's states in order"
done
# a user firm gets the statuses on what it was given or sent, not its distributor's
# statuses on the distributor's own claims
for n in u1 u3; do
	check_eq "$("$T" --home "$TMP/$n" record list --kind status --json 2>/dev/null | py 'import json,sys
print(sorted(set(" ".join(r.get("refs", [])) for r in json.load(sys.stdin)) - {sys.argv[1]}))' "$TR")" \
		"[]" "$n holds no status on anything but the request (none on d's own claims)"
	check_eq "$("$T" --home "$TMP/$n" test list --json 2>/dev/null | py 'import json,sys
print(" ".join("%s:%s" % (t["id"][:12], t.get("state")) for t in json.load(sys.stdin)))')" \
		"${TR:0:12}:closed" "$n: test list shows the request closed"
done

###########################################################################################
# u2 never had the request; every node verifies
###########################################################################################
quiesce 10 "${NODES[@]}" || note "(the network did not quiesce in 10 s)"
not_there u2 "$TR" "u2 never received the request"
check_eq "$(nrecs u2 test_request) $(nrecs u2 status)" "0 0" "u2 holds no test request and no status"
check_eq "$(nrecs u1 claim)" 1 "u1 holds only its own claim"
for n in "${NODES[@]}"; do
	run --home "$TMP/$n" verify
	check_rc 0 "$n: verify passes"
done
for n in "${NODES[@]}"; do
	node_alive "$n" || not_ok "$n's daemon still runs"
done
for n in "${NODES[@]}"; do node_term "$n"; done
logs_clean "${NODES[@]}"
finish
