#!/usr/bin/env bash
# test_records.sh: record create (every kind, validation), list and its filters, search,
# show, FIELD=@file, verify, audit and kinds.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
O=$TMP/other
new_node "$H" --name "Nordic Dish AB" --role distributor
new_node "$O" --name "Other Firm" --role producer
HEX64='^[0-9a-f]{64}$'

# ids JSONFILE: the ids of a record list --json, comma-separated
ids_of() {
	py 'import json,sys; print(",".join(r["id"] for r in json.load(open(sys.argv[1]))))' "$1" 2>&1
}
kinds_of() {
	py 'import json,sys; print(",".join(r["kind"] for r in json.load(open(sys.argv[1]))))' "$1" 2>&1
}
# list ARGS...: record list --json ARGS on H into $TMP/l.json; sets RC; prints ids
list() {
	"$T" --home "$H" record list --json "$@" </dev/null >"$TMP/l.json" 2>"$TMP/l.err"
	RC=$?
	ids_of "$TMP/l.json"
}

# create VAR KIND ARGS...: creates on H, checks the printed id, stores it in VAR
create() {
	local var=$1 kind=$2
	shift 2
	run --home "$H" record create "$kind" "$@"
	if [ "$RC" = 0 ] && [[ $OUT =~ $HEX64 ]]; then
		ok "create $kind prints a 64-hex id"
	else
		not_ok "create $kind prints a 64-hex id"
		show_run
	fi
	printf -v "$var" '%s' "$OUT"
}

# a record by another node, made before everything else
run --home "$O" record create claim product=DW-900 opened=2026-01-02 problem="Foreign door latch" serial=SN-9
check_rc 0 "the other node creates a claim"
FOREIGN=$OUT
O_ID=$(sed -n 's/^node id: *//p' <<<"$("$T" --home "$O" id)")
"$T" --home "$O" export -o "$TMP/foreign.jsonl" >/dev/null 2>&1
sleep 0.05

# ---- one record of every kind ----
create ACC account name="Cafe Nord" city=Oslo country=NO sector=restaurant
create CON contact --ref "$ACC" name="Kari Nordmann" email=kari@cafenord.no position=Chef
create IDEA idea title="Quieter rinse cycle" text="The rinse is too loud at night" product=DW-200 category=usability
create CLAIM claim product=DW-200 serial=SN-1001 opened=2026-01-05 problem="Drain pump stops after 300 cycles" \
	customer="Cafe Nord" severity=high x_ticket=4711
create TREQ test_request product=DW-300 title="Trial of the DW-300 prototype" text="Four weeks in a busy kitchen" \
	start=2026-03-01 end=2026-04-01 slots=5
create TRESP test_response --ref "$TREQ" answer=accept text="We can start in March" contact="Kari Nordmann"
sleep 1.05
MID=$(date -u +%Y-%m-%dT%H:%M:%SZ)
create TREP trial_report --ref "$TREQ" text="Ran well; quieter than DW-200" rating=4 outcome=keep
create STAT status --ref "$IDEA" state=note message="In the Q3 release"
create ASSESS assessment --ref "$CLAIM" text="Claim is valid; pump batch 12" score=8 recommendation=support
create CONS consent scope=trial text="Cafe Nord agrees to the DW-300 trial" until=2026-12-31
create RETR retraction --ref "$CONS" reason="Entered by mistake"
ALL="$ACC,$CON,$IDEA,$CLAIM,$TREQ,$TRESP,$TREP,$STAT,$ASSESS,$CONS,$RETR"
KINDS="account,contact,idea,claim,test_request,test_response,trial_report,status,assessment,consent,retraction"

check_eq "$(list)" "$ALL" "record list --json lists the 11 records in the order they were made"
check_eq "$(kinds_of "$TMP/l.json")" "$KINDS" "record list --json gives each record's kind"
check_eq "$(json_len "$TMP/l.json")" 11 "record list --json has 11 entries"
run --home "$H" record create idea --json title="JSON out" text="printed as JSON"
check_rc 0 "create --json exits 0"
JSON_ID=$(py 'import json,sys; o=json.loads(sys.argv[1]); print(o["id"] if o["fields"]["title"]=="JSON out" and o["kind"]=="idea" else "bad")' "$OUT" 2>&1)
check_match "$JSON_ID" "$HEX64" "create --json prints the new record as JSON"
ALL="$ALL,$JSON_ID"
N=12

# ---- validation: exit 1, a message naming the problem, nothing stored ----
# bad WANT_RC FRAGMENT DESC -- ARGS...
bad() {
	local want=$1 frag=$2 desc=$3
	shift 4
	run --home "$H" record create "$@"
	local rc=$RC out=$OUT err=$ERR
	local n
	n=$(count "$H")
	if [ "$rc" = "$want" ] && has "$err" "$frag" && [ "$n" = "$N" ] && [ -z "$out" ]; then
		ok "$desc: exit $want, says \"$frag\", still $N records"
	else
		not_ok "$desc: exit $want, says \"$frag\", still $N records"
		RC=$rc OUT=$out ERR=$err show_run
		note "records now: $n"
	fi
}
LONG201=$(printf 'a%.0s' $(seq 201))
LONG200=$(printf 'b%.0s' $(seq 200))
ZERO64=$(printf '0%.0s' $(seq 64))
bad 1 "claim records need the field problem" "missing required field" -- claim product=DW-200 opened=2026-01-05
bad 1 "opened must be a date written YYYY-MM-DD" "bad date 2026-02-30" -- claim product=P problem=x opened=2026-02-30
bad 1 "opened must be a date" "date in another format" -- claim product=P problem=x opened=05.01.2026
bad 1 'severity must be one of the listed values' "bad enum value" -- claim product=P problem=x opened=2026-01-05 severity=huge
bad 1 'claim records have no field "colour"' "unknown field" -- claim product=P problem=x opened=2026-01-05 colour=red
bad 1 "title is 201 bytes long; at most 200" "title of 201 bytes" -- idea title="$LONG201" text=x
bad 1 "a status refers to 1 to 2 records, not 0" "status without --ref" -- status state=planned
bad 1 "a status cannot refer to a account" "status --ref to an account" -- status --ref "$ACC" state=planned
bad 1 "no record with id $ZERO64" "--ref to a missing id" -- status --ref "$ZERO64" state=planned
bad 1 "no record with id" "--ref to a missing prefix" -- status --ref "${ZERO64:0:10}" state=planned
# decisions on an idea are its producer's; this node is a distributor: a note only
bad 1 "the producer's to set" "a distributor's status on an idea" -- status --ref "$IDEA" state=planned
# states follow the record's lifecycle
bad 1 "cannot become approved" "a draft claim cannot be approved" -- status --ref "$CLAIM" state=approved
bad 1 "a test_response refers to exactly 1 record, not 0" "test_response without --ref" -- test_response answer=accept
bad 1 "a test_response cannot refer to a idea" "test_response --ref to an idea" -- test_response --ref "$IDEA" answer=accept
bad 1 "rating must be between 1 and 5, not 6" "number out of range" -- trial_report --ref "$TREQ" text=x rating=6
bad 1 "slots must be a whole number" "number field with text" -- test_request product=P title=t text=x slots=five
bad 1 "field title is given twice" "field given twice" -- idea title=a title=b text=x
bad 1 "title contains a control character" "line break in a one-line field" -- idea title=$'two\nlines' text=x
bad 1 "title is not valid UTF-8" "invalid UTF-8" -- idea title=$'caf\xe9' text=x
bad 1 "at most 1000 are allowed" "custom field over 1000 bytes" -- idea title=t text=x "x_note=$(printf 'n%.0s' $(seq 1001))"
bad 1 "text must not be empty" "empty required field" -- idea title=t text=
bad 2 "unknown kind" "unknown kind (usage)" -- widget name=x
bad 2 "is not FIELD=VALUE" "argument without = (usage)" -- idea title=t justtext
bad 2 "--onward-hops must be 0 to 16" "--onward-hops 17 (usage)" -- idea --onward-hops 17 title=t text=x
run --home "$H" record create idea --private nosuch title=t text=x
if { [ "$RC" = 1 ] || [ "$RC" = 2 ]; } && { has "$ERR" '"nosuch"' || has "$ERR" " nosuch"; }; then
	ok "--private with an unknown field: exit $RC, names the field"
else
	not_ok "--private with an unknown field: exit 1 or 2, names the field"
	show_run
fi
check_eq "$(count "$H")" "$N" "--private with an unknown field: nothing stored"

# boundaries that must be accepted
create T200 idea title="$LONG200" text="a title of exactly 200 bytes"
ALL="$ALL,$T200"
N=$((N + 1))
check_eq "$(count "$H")" "$N" "a title of exactly 200 bytes is stored"

# ---- FIELD=@file ----
printf 'First line of the idea,\nsecond line with "quotes" and a tab\there.\n\n' >"$TMP/idea.txt"
create FILEIDEA idea title="From a file" text=@"$TMP/idea.txt"
run --home "$H" record show "$FILEIDEA" --json
GOT=$(py 'import json,sys; print(repr(json.loads(sys.argv[1])["fields"]["text"]))' "$OUT" 2>&1)
check_eq "$GOT" "'First line of the idea,\\nsecond line with \"quotes\" and a tab\\there.'" \
	"FIELD=@file takes the file's text (trailing newlines dropped)"
printf 'from standard input\n' >"$TMP/stdin.txt"
run_in "$TMP/stdin.txt" --home "$H" record create idea title="From stdin" text=@-
check_rc 0 "FIELD=@- reads standard input"
STDIN_ID=$OUT
run --home "$H" record show "$STDIN_ID" --json
check_eq "$(py 'import json,sys; print(json.loads(sys.argv[1])["fields"]["text"])' "$OUT" 2>&1)" "from standard input" "FIELD=@- stores what was read"
ALL="$ALL,$FILEIDEA,$STDIN_ID"
N=$((N + 2))
bad 1 "cannot read $TMP/missing.txt" "FIELD=@file with a missing file" -- idea title=t text=@"$TMP/missing.txt"

# ---- a record of another node, and retracting it ----
run --home "$H" import "$TMP/foreign.jsonl"
check_rc 0 "import the other node's claim"
check_out_has "imported 1 record" "the foreign record is imported"
ALL="$ALL,$FOREIGN"
N=$((N + 1))
bad 1 "a node can only retract its own records" "retraction of another node's record" -- retraction --ref "$FOREIGN" reason=no

# ---- list ----
run --home "$H" record list
check_rc 0 "record list exits 0"
HEADER=$(head -n 1 <<<"$OUT")
check_match "$HEADER" '^ID +KIND +CREATED \(UTC\) +AUTHOR +SUMMARY$' "record list prints the table header"
check_eq "$(($(wc -l <<<"$OUT") - 1))" "$N" "record list prints one row per record"
ROW=$(grep "^${CLAIM:0:12} " <<<"$OUT")
check_match "$ROW" "^${CLAIM:0:12}  claim +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}  [a-z0-9]{4}-[a-z0-9]{4}  DW-200 \| SN-1001 \| Drain pump stops after 300 cycles$" \
	"the claim's row has id, kind, time, author and summary"
check_eq "$(list)" "$ALL" "record list --json lists every record in arrival order"
check_eq "$(json_len "$TMP/l.json")" "$N" "record list --json has $N entries"
SRC=$(py 'import json,sys; print(",".join(sorted(set(r["source"] for r in json.load(open(sys.argv[1]))))))' "$TMP/l.json" 2>&1)
check_eq "$SRC" "import,local" "record list --json tells local and imported records apart"

check_eq "$(list --kind claim)" "$CLAIM,$FOREIGN" "--kind claim"
check_eq "$(list -k account)" "$ACC" "-k account"
check_eq "$(list --kind retraction)" "$RETR" "--kind retraction"
list --kind gadget >/dev/null
check_eq "$RC" 2 "--kind with an unknown kind exits 2"
check_eq "$(list --product DW-200)" "$IDEA,$CLAIM" "--product DW-200"
check_eq "$(list -p DW-300)" "$TREQ" "-p DW-300"
check_eq "$(list --product dw-200)" "" "--product matches exactly (case matters)"
check_eq "$(list --author self --kind claim)" "$CLAIM" "--author self leaves out the other node's records"
check_eq "$(list --author "$O_ID")" "$FOREIGN" "--author NODEID"
check_eq "$(json_len <(list --author self >/dev/null; cat "$TMP/l.json"))" "$((N - 1))" "--author self lists all own records"
check_eq "$(list --author "$(tr a-z- A-Z' ' <<<"$O_ID")")" "$FOREIGN" "--author ignores case, and spaces for dashes"
check_eq "$(list --author "$(tr -d - <<<"$O_ID")")" "$FOREIGN" "--author without dashes"
check_eq "$(list --kind=claim)" "$CLAIM,$FOREIGN" "--kind=claim"
check_eq "$(list -kclaim)" "$CLAIM,$FOREIGN" "-kclaim"
check_eq "$(list --kind idea --kind claim)" "$CLAIM,$FOREIGN" "an option given twice keeps its last value"
TYPO="${O_ID:0:3}$([ "${O_ID:3:1}" = a ] && echo b || echo a)${O_ID:4}"
list --author "$TYPO" >/dev/null
check_eq "$RC" 2 "--author with a mistyped node id exits 2"
check "the mistyped node id is caught by its check" grep -q "check does not match" "$TMP/l.err"
check_eq "$(list --ref "$ACC")" "$CON" "--ref ACCOUNT lists the contact"
check_eq "$(list --ref "${TREQ:0:10}")" "$TRESP,$TREP" "--ref PREFIX of the test request"
check_eq "$(list --ref "$CONS")" "$RETR" "--ref the consent lists the retraction"
check_eq "$(list --ref "$RETR")" "" "--ref a record nothing refers to lists nothing"
check_eq "$(cat "$TMP/l.json")" "[]" "an empty --json list is []"
check_eq "$(list --text 'DRAIN pump')" "$CLAIM" "--text is case-insensitive"
check_eq "$(list -t quieter)" "$IDEA,$TREP" "--text finds the text in any field"
check_eq "$(list --text cafe --kind contact)" "$CON" "--text with --kind"
check_eq "$(list --text 'no such words anywhere')" "" "--text with no match"
check_eq "$(list --since "$MID")" "$TREP,$STAT,$ASSESS,$CONS,$RETR,$JSON_ID,$T200,$FILEIDEA,$STDIN_ID" "--since TIME"
check_eq "$(list --until "$MID")" "$ACC,$CON,$IDEA,$CLAIM,$TREQ,$TRESP,$FOREIGN" "--until TIME (the foreign claim is older)"
check_eq "$(list --since "$MID" --kind status)" "$STAT" "--since with --kind"
check_eq "$(list --since 2000-01-01)" "$ALL" "--since a date long ago lists everything"
check_eq "$(list --until 2000-01-01)" "" "--until a date long ago lists nothing"
list --since 2026-02-30 >/dev/null
check_eq "$RC" 2 "--since with an impossible date exits 2"
list --until yesterday >/dev/null
check_eq "$RC" 2 "--until with a non-time exits 2"
check_eq "$(list --limit 3)" "$ACC,$CON,$IDEA" "--limit 3 gives the first three"
check_eq "$(list -n 1 --kind test_response)" "$TRESP" "-n 1 with --kind"
check_eq "$(list --limit 2 --since "$MID")" "$TREP,$STAT" "--limit with --since"
list --limit -1 >/dev/null
check_eq "$RC" 2 "--limit -1 exits 2"

run --home "$H" record search PUMP
check_rc 0 "record search exits 0"
check_eq "$(($(wc -l <<<"$OUT") - 1))" 2 "search PUMP finds the claim and the assessment"
check "search lists the claim" has "$OUT" "${CLAIM:0:12}"
check "search lists the assessment" has "$OUT" "${ASSESS:0:12}"
run --home "$H" record search --json nord --kind account
check_eq "$(py 'import json,sys; print(",".join(r["id"] for r in json.loads(sys.argv[1])))' "$OUT" 2>&1)" "$ACC" "search with --kind and --json"
run --home "$H" record search ""
check_rc 2 "search for nothing exits 2"

# ---- show ----
run --home "$H" record show "${ACC:0:8}"
check_rc 0 "show PREFIX exits 0"
check_match "$OUT" $'(^|\n)record +'"$ACC"$'\n' "show gives the full id"
check_match "$OUT" $'\nkind +account\n' "show gives the kind"
check_out_has "[this node]" "show marks this node's own record"
check_out_has "verified signature" "show says the record verified"
check_match "$OUT" $'\n  name +Cafe Nord\n' "show lists the name field"
check_match "$OUT" $'\n  city +Oslo\n' "show lists the city field"
check_match "$OUT" $'referred to by\n  '"${CON:0:12}"'  contact +Kari Nordmann' "show lists the contact under referred to by"
run --home "$H" record show "${TREQ:0:6}"
REFBY=$(sed -n '/^referred to by$/,$p' <<<"$OUT" | tail -n +2 | cut -c3-14 | tr '\n' ',')
check_eq "$REFBY" "${TRESP:0:12},${TREP:0:12}," "show of the test request lists its response and report"
run --home "$H" record show "$(tr a-f A-F <<<"${STAT:0:10}")"
check_rc 0 "show accepts an upper-case prefix"
check_match "$OUT" $'\nrefers +'"$IDEA"$'\n' "show of the status shows what it refers to"
check_match "$OUT" $'\n  state +note\n' "show of the status shows its state"
run --home "$H" record show "$FOREIGN"
check_rc 0 "show of the other node's record"
check "the other node's record is not marked [this node]" test "${OUT/\[this node\]/}" == "$OUT"
run --home "$H" record show "$CLAIM" --json
check_eq "$(py 'import json,sys; o=json.loads(sys.argv[1]); print(o["id"], repr(o["fields"]["x_ticket"]), o["fields"]["severity"])' "$OUT" 2>&1)" "$CLAIM '4711' high" "show --json parses and has the fields (an x_ field given on the command line is text)"
MISSING=""
for p in 0000 1111 2222 3333 4444 5555 6666 7777 8888 9999 aaaa bbbb cccc dddd eeee ffff; do
	p="${p}${p}"
	case ",$ALL," in *",$p"*) continue ;; esac
	MISSING=$p
	break
done
run --home "$H" record show "$MISSING"
check_rc 1 "show with an unknown prefix exits 1"
check_err_has "no record with id $MISSING" "show with an unknown prefix says so"
run --home "$H" record show xyz12
check_rc 2 "show with a non-hex id exits 2"
run --home "$H" record show abc
check_rc 2 "show with a 3-digit prefix exits 2"
check_err_has "4 to 64 hex digits" "the message says what an id looks like"
run --home "$H" record show
check_rc 2 "show without an id exits 2"

# an ambiguous prefix: 2000 claims on another node make 4-digit collisions near certain
A=$TMP/amb
new_node "$A"
py 'import sys
with open(sys.argv[1], "w") as f:
    f.write("product,problem,opened\n")
    for i in range(2000):
        f.write("P-%d,problem %d,2026-01-%02d\n" % (i % 7, i, 1 + i % 28))' "$TMP/amb.csv"
run --home "$A" import -q "$TMP/amb.csv" --kind claim
check_rc 0 "2000 claims for the ambiguity test"
"$T" --home "$A" record list --json >"$TMP/amb.json" 2>/dev/null
PAIR=$(py 'import json,sys,collections
ids = [r["id"] for r in json.load(open(sys.argv[1]))]
by = collections.defaultdict(list)
for i in ids: by[i[:4]].append(i)
for p, l in sorted(by.items()):
    if len(l) > 1:
        a, b = sorted(l)[:2]
        n = next(k for k in range(4, 65) if a[:k] != b[:k])
        print(p, a[:n + 1]); break' "$TMP/amb.json" 2>&1)
read -r AMB UNIQ <<<"$PAIR"
if [ -n "${UNIQ:-}" ]; then
	run --home "$A" record show "$AMB"
	check_rc 1 "show with an ambiguous prefix exits 1"
	check_err_has "matches more than one record" "show with an ambiguous prefix says so"
	run --home "$A" record show "$UNIQ"
	check_rc 0 "a longer prefix of the same id resolves"
	run --home "$A" record create status --ref "$AMB" state=note
	check_rc 1 "--ref with an ambiguous prefix exits 1"
else
	not_ok "found two ids sharing a 4-digit prefix among 2000 ($PAIR)"
fi

# ---- verify, audit, kinds ----
run --home "$H" verify
check_rc 0 "verify exits 0"
check_eq "$OUT" "$N records checked: all signatures and fields verify, indexes consistent" "verify says all $N records verify"
run --home "$H" verify --json
check_eq "$OUT" "{\"records\":$N,\"problems\":0}" "verify --json"

run --home "$H" audit
check_rc 0 "audit exits 0"
check_match "$(head -n 1 <<<"$OUT")" '^ +1  [0-9-]{10}T[0-9:.]{12}Z  init +name=Nordic Dish AB role=distributor$' "the audit log starts with init"
list >/dev/null # every record's kind, into $TMP/l.json
py 'import json,sys
for r in json.load(open(sys.argv[1])):
    if r["source"] == "local": print("  create     %s %s" % (r["kind"], r["id"]))' "$TMP/l.json" >"$TMP/want_audit"
i=$(wc -l <"$TMP/want_audit")
MISSING_AUDIT=$(grep -vxF -f <(sed 's/^ *[0-9]*  [^ ]*//' <<<"$OUT") "$TMP/want_audit")
check_eq "$MISSING_AUDIT" "" "audit lists a create entry for each of the $i records made here"
check_eq "$(grep -c '  create  ' <<<"$OUT")" "$((N - 1))" "audit has no create entry for failed creates"
check_out_has "import     $TMP/foreign.jsonl: 1 new, 0 present" "audit lists the import"
run --home "$H" audit --json
check_eq "$(py 'import json,sys
ls = [json.loads(l) for l in sys.argv[1].splitlines()]
print(len(ls), ls[0]["action"], ls[1]["action"], ls[1]["detail"].split()[0], [l["seq"] for l in ls] == list(range(1, len(ls) + 1)))' "$OUT" 2>&1)" \
	"$((N + 1)) init create account True" "audit --json: one object per action, numbered in order"

run kinds
check_rc 0 "kinds exits 0 (no node needed)"
GOT=$(awk '/^  [a-z_]+ /{print $1}' <<<"$OUT" | tr '\n' ',')
check_eq "$GOT" "account,contact,idea,claim,test_request,test_response,trial_report,status,claim_line,assessment,consent,retraction,receipt," "kinds lists all 13 kinds"
run kinds claim
check_rc 0 "kinds claim exits 0"
check_match "$OUT" $'\n  opened +date +required ' "kinds claim: opened is a required date"
check_match "$OUT" $'\n  severity +choice +optional ' "kinds claim: severity is an optional choice"
check_match "$OUT" "refers to 0..1 record\(s\) of kind account" "kinds claim: may refer to an account"
run kinds status
check_match "$OUT" "refers to 1..2 record\(s\) of kind idea, claim, claim_line, test_request, test_response, trial_report" "kinds status: what a status may refer to"
run kinds widget
check_rc 2 "kinds with an unknown kind exits 2"

# kinds --json: the same table, for programs
run kinds --json
check_rc 0 "kinds --json exits 0"
check_eq "$(py 'import json,sys; d=json.loads(sys.argv[1]); print(len(d), " ".join(k["kind"] for k in d))' "$OUT")" \
	"13 account contact idea claim test_request test_response trial_report status claim_line assessment consent retraction receipt" \
	"kinds --json lists the 13 kinds"
run kinds claim --json
check_eq "$(py 'import json,sys; d=json.loads(sys.argv[1]); print(" ".join(f["name"] for f in d["fields"] if f["required"]))' "$OUT")" \
	"product problem opened" "kinds claim --json names the required fields"

finish
