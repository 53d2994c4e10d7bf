#!/usr/bin/env bash
# test_rules.sh: sharing rules, grants and consent at one node, from the CLI
# (/tmp/issue4-design.md):
#  - policy add/list/show/remove (and allow/deny) with --json, and the audit log: each
#    change with its action, who did it and the policy version;
#  - every bad input is refused with a clear message and exit status (2 usage, 1 error)
#    and changes nothing (rules, audit log, records, inbox, consents, retractions):
#    malformed --where (no '=', empty pattern, empty field), a condition or --fields on a
#    field the kind lacks, an unknown kind or partner, a rule or record that is not
#    there, a share of a record this node does not hold, of a foreign record whose
#    author's terms forbid it (no hop left, role not allowed, imported from a file), back
#    to where it came from; consent grant to an unknown partner or for an unknown
#    purpose; consent withdraw of what is not a consent this node gave.
# The foreign records come from a user node u through real daemons (started once, then
# stopped); everything else runs without a daemon.
# Run: bash tests/cli/test_rules.sh TRESTLE [TRESTLED]   (TRESTLED: by default the trestled
# next to TRESTLE in the build tree)
set -u
. "$(dirname "$0")/lib.sh"

free_port() {
	py 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
jid() {
	"$T" --home "$1" id --json | py 'import json,sys; print(json.load(sys.stdin)["id"])'
}
# full_id HOME PREFIX: the full id of the record HOME holds whose id starts with PREFIX
full_id() {
	"$T" --home "$1" record show "$2" --json 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin)["id"])'
}
# consent_id HOME: the consent id `consent grant` printed (consent PREFIX: ...) in full
consent_id() {
	[[ $OUT =~ consent\ ([0-9a-f]{8,64}) ]] && full_id "$1" "${BASH_REMATCH[1]}"
}
# rule_id: the N of "added rule N" in the last run's output
rule_id() {
	[[ $OUT =~ added\ rule\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}
# jq_ EXPR: python expression on the last run's stdout parsed as JSON (as j)
jq_() {
	py 'import json,sys
j = json.loads(sys.argv[2])
print(eval(sys.argv[1]))' "$1" "$OUT" 2>&1
}

D=$TMP/d
U=$TMP/u
P=$TMP/p
PORT_D=$(free_port)
new_node "$D" --name "Nordic Dish" --role distributor --listen "tcp://127.0.0.1:$PORT_D"
new_node "$U" --name "Cafe Nord" --role user --listen "tcp://127.0.0.1:$(free_port)"
new_node "$P" --name "Acme" --role producer --listen "tcp://127.0.0.1:$(free_port)"
ID_D=$(jid "$D")
ID_U=$(jid "$U")
ID_P=$(jid "$P")
"$T" --home "$D" partner add p "$ID_P" --relation upstream >/dev/null || not_ok "d adds p"
"$T" --home "$D" partner add u "$ID_U" --relation downstream >/dev/null || not_ok "d adds u"
"$T" --home "$U" partner add d "$ID_D" --relation upstream \
	--endpoint "tcp://127.0.0.1:$PORT_D" >/dev/null || not_ok "u adds d"

###########################################################################################
# Records from elsewhere at d: u's ideas, through real daemons
###########################################################################################
"$T" --home "$U" policy add d idea >/dev/null || not_ok "u: policy add d idea"
mkrec() { # mkrec VAR HOME ARGS...
	local var=$1 h=$2
	shift 2
	printf -v "$var" '%s' "$("$T" --home "$h" record create "$@" </dev/null 2>"$TMP/.mk.err")"
	[ -n "${!var}" ] || { not_ok "record create $*"; note "$(cat "$TMP/.mk.err")"; }
}
mkrec U_H0 "$U" idea title="first partner only" text="0 hops"
mkrec U_RD "$U" idea title="distributors only" text="1 hop, distributors" \
	--onward-hops 1 --onward-to distributor
mkrec U_OK "$U" idea title="may go to the producer" text="1 hop, producer" \
	submitter="Karin" --onward-hops 1 --onward-to producer --private submitter
run --home "$U" consent grant d --for ideas
check_rc 0 "u: consent grant d --for ideas (no daemon needed)"
U_CONSENT=$(consent_id "$U")
check_match "$U_CONSENT" '^[0-9a-f]{64}$' "consent grant prints the consent's id"
# an imported foreign record (unknown depth: never relayed), by a node d never syncs with
new_node "$TMP/x" --name "Elsewhere" --role user
mkrec X_IMP "$TMP/x" idea title="exported, imported" text="by file" --onward-hops 3 --onward-to all
"$T" --home "$TMP/x" export --kind idea >"$TMP/imp.jsonl"
"$T" --home "$D" import "$TMP/imp.jsonl" >/dev/null 2>&1 || not_ok "d imports x's exported idea"

# the daemons: trestled next to trestle in the build tree (or $2)
TD=${2:-}
for c in "$(dirname "$T")/../trestled" "$(dirname "$T")/../node/trestled" "$(command -v trestled)"; do
	[ -z "$TD" ] && [ -n "$c" ] && [ -x "$c" ] && TD=$c
done
if [ -z "$TD" ]; then
	not_ok "trestled found next to $T (give it as the second argument)"
	finish
fi
"$TD" --home "$D" 2>"$TMP/d.log" &
BG_PIDS+=("$!")
PID_D=$!
"$TD" --home "$U" 2>"$TMP/u.log" &
BG_PIDS+=("$!")
PID_U=$!
got_all() {
	local id
	for id in "$U_H0" "$U_RD" "$U_OK" "$U_CONSENT"; do
		"$T" --home "$D" record show "$id" >/dev/null 2>&1 || return 1
	done
}
end=$((SECONDS + 20))
until got_all || [ $SECONDS -ge $end ]; do sleep 0.1; done
check "u's ideas and consent reach d" got_all
kill -TERM "$PID_D" "$PID_U"
wait "$PID_D" "$PID_U" 2>/dev/null
BG_PIDS=()

###########################################################################################
# Good paths: add, list, show, remove, allow, deny; the audit log
###########################################################################################
run --home "$D" policy list --json
check_rc 0 "policy list --json exits 0"
check_eq "$(jq_ 'len(j)')" 0 "no rule at first (default deny)"

mkrec D_I1 "$D" idea title="own idea" text="written at d" category=hygiene product=DW-200
mkrec D_I2 "$D" idea title="other idea" text="written at d" category=cost product=XX-1
mkrec D_C1 "$D" claim product=DW-200 problem="pump" opened=2026-01-01 customer="Cafe"

run --home "$D" policy add p idea --fields title,text,category --where 'category=hygiene|safety' \
	--where 'product=DW-*'
check_rc 0 "policy add p idea --fields --where --where"
check_match "$OUT" '^added rule [0-9]+' "it prints \"added rule N\""
check_match "$OUT" '1 record' "and how many records already here were queued (1 matches)"
R1=$(rule_id)
run --home "$D" policy add p claim --where 'x_region=north'
check_rc 0 "a condition on a custom field x_... is accepted"
R2=$(rule_id)
run --home "$D" policy add u status --forward --replies
check_rc 0 "policy add u status --forward --replies"
R3=$(rule_id)
check_eq "$(printf '%s\n' "$R1" "$R2" "$R3" | sort -un | wc -l)" 3 "each rule gets its own id"

run --home "$D" policy list --json
check_rc 0 "policy list --json"
check_eq "$(jq_ 'len(j)')" 3 "three rules listed"
check_eq "$(jq_ 'all(set(r) >= {"id", "partner", "kind", "fields", "where", "forward", "replies", "since"} for r in j)')" True \
	"each has id, partner, kind, fields, where, forward, replies, since"
check_eq "$(jq_ '[(r["partner"], r["kind"]) for r in j if str(r["id"]) == "'"$R1"'"]')" "[('p', 'idea')]" \
	"rule $R1 is p's idea rule"
run --home "$D" policy show "$R1" --json
check_rc 0 "policy show RULE --json"
check_eq "$(jq_ 'sorted(j["fields"])')" "['category', 'text', 'title']" "show: its fields"
check_eq "$(jq_ 'sorted((w["field"], w["pattern"]) for w in j["where"])')" \
	"[('category', 'hygiene|safety'), ('product', 'DW-*')]" "show: both conditions"
check_eq "$(jq_ '(j["forward"], j["replies"], j["partner"], j["kind"])')" "(False, False, 'p', 'idea')" \
	"show: no flags, partner and kind"
run --home "$D" policy show "$R3" --json
check_eq "$(jq_ '(j["forward"], j["replies"], j["partner"], j["kind"], j["fields"], j["where"])')" \
	"(True, True, 'u', 'status', None, [])" "show: the --forward and --replies flags (all fields: null)"
run --home "$D" policy show "$R1"
check_rc 0 "policy show RULE (text)"
check_out_has "hygiene|safety" "the text form shows the condition"
run --home "$D" policy list p --json
check_eq "$(jq_ 'sorted(r["kind"] for r in j)')" "['claim', 'idea']" "policy list p: only p's rules"
run --home "$D" policy list
check_rc 0 "policy list (table)"
check_out_has "idea" "the table shows the rules"

# allow = add --forward; deny removes every rule of that partner and kind
run --home "$D" policy allow p test_request
check_rc 0 "policy allow p test_request"
run --home "$D" policy list p --json
check_eq "$(jq_ 'sum(1 for r in j if r["kind"] == "test_request")')" 1 "allow made one rule"
run --home "$D" policy add p test_request --fields title
run --home "$D" policy deny p test_request
check_rc 0 "policy deny p test_request"
run --home "$D" policy list p --json
check_eq "$(jq_ 'sum(1 for r in j if r["kind"] == "test_request")')" 0 "deny removed both test_request rules"

run --home "$D" policy remove "$R2"
check_rc 0 "policy remove RULE"
run --home "$D" policy list --json
check_eq "$(jq_ 'sorted(str(r["id"]) for r in j)')" "$(py 'import sys; print(sorted(sys.argv[1:]))' "$R1" "$R3")" \
	"the removed rule is gone, the others stay"

# the audit log: action, who, policy version
run --home "$D" audit --json
check_rc 0 "audit --json"
printf '%s\n' "$OUT" >"$TMP/audit.jsonl"
py 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pol = [r for r in rows if "policy" in r["action"]]
print(" ".join(r["action"] for r in pol))' "$TMP/audit.jsonl" >"$TMP/audit.actions"
check_eq "$(cat "$TMP/audit.actions")" \
	"policy-add policy-add policy-add policy-add policy-add policy-remove policy-remove" \
	"every policy change is in the audit log, in order (allow is an add, deny one remove)"
WHO=$(id -un)
check_eq "$(py 'import json,re,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pol = [r for r in rows if "policy" in r["action"]]
bad = [r for r in pol if not re.search(r"\bby " + re.escape(sys.argv[2]) + r"\b", r["detail"])
       or not re.search(r"policy version [0-9]+", r["detail"])]
print(len(pol) > 0 and not bad or bad)' "$TMP/audit.jsonl" "$WHO")" True \
	"each policy entry names who (by $WHO) and the policy version"
check_eq "$(py 'import json,re,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = [int(re.search(r"policy version ([0-9]+)", r["detail"]).group(1)) for r in rows if "policy" in r["action"]]
print(all(b > a for a, b in zip(v, v[1:])) or v)' "$TMP/audit.jsonl")" True "the policy version goes up with each change"
check_eq "$(py 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["action"] == "policy-add"][0]
print(r["detail"].startswith("p") and "idea" in r["detail"] and "hygiene|safety" in r["detail"] or r["detail"])' "$TMP/audit.jsonl")" True \
	"the add entry names the partner, kind and condition"
run --home "$D" policy list --json
check_eq "$(jq_ 'max(r["version"] for r in j) if j else 0')" \
	"$(py 'import json,re,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print([int(re.search(r"policy version ([0-9]+)", r["detail"]).group(1)) for r in rows if r["action"] == "policy-add"][2])' "$TMP/audit.jsonl")" \
	"the newest rule left carries the version its add was logged with"
run --home "$D" audit
check_rc 0 "audit (text)"
check_out_has "policy-add" "the text form has the policy changes"

###########################################################################################
# Bad input: a clear message, an exit status, and nothing changed
###########################################################################################
# snap: everything a refused command must leave alone
snap() {
	{
		"$T" --home "$D" policy list --json
		"$T" --home "$D" audit --json
		"$T" --home "$D" export | cut -c1-200
		"$T" --home "$D" inbox --json
		"$T" --home "$D" consent list --json
		"$T" --home "$D" retractions --json
	} </dev/null 2>&1
}
snap >"$TMP/snap0"
check_match "$(wc -l <"$TMP/snap0")" '^[1-9]' "the snapshot has content"

# bad WANT_RC DESC REGEX ARGS...: `trestle --home d ARGS` exits WANT_RC, stderr matches
# REGEX (case-insensitive), stdout is empty, and the snapshot is unchanged
bad() {
	local want=$1 desc=$2 re=$3
	shift 3
	run --home "$D" "$@"
	check_rc "$want" "$desc"
	if [[ ${ERR,,} =~ $re ]]; then ok "  the message says why ($re)"; else
		not_ok "  the message says why ($re)"
		show_run
	fi
	check_eq "$OUT" "" "  nothing on stdout"
	snap >"$TMP/snap1"
	if cmp -s "$TMP/snap0" "$TMP/snap1"; then ok "  nothing changed"; else
		not_ok "  nothing changed"
		note "$(diff "$TMP/snap0" "$TMP/snap1" | head -8)"
		cp "$TMP/snap1" "$TMP/snap0"
	fi
}

ZERO=$(printf '0%.0s' {1..64})
bad 2 "--where without '=' is a usage error" "=" policy add p idea --where category
bad 2 "--where with an empty pattern is a usage error" "empty|pattern" policy add p idea --where category=
bad 2 "--where with an empty field is a usage error" "field" policy add p idea --where =hygiene
bad 2 "a condition on a field idea does not have" "serial" policy add p idea --where serial=SN-1
bad 2 "--fields naming a field idea does not have" "serial" policy add p idea --fields title,serial
bad 2 "an unknown kind" "nosuchkind" policy add p nosuchkind
bad 1 "an unknown partner" "nosuch" policy add nosuch idea
bad 2 "policy add with no kind" "kind" policy add p
bad 1 "policy show of a rule that is not there" "9999" policy show 9999
bad 1 "policy remove of a rule that is not there" "9999" policy remove 9999
bad 2 "policy remove of something that is not a rule id" "rule" policy remove idea
bad 1 "policy test of an unknown partner" "nosuch" policy test nosuch
bad 2 "policy test with --fields naming a field the kind lacks" "serial" policy test p --kind idea --fields serial

bad 1 "share of a record this node does not hold" "not|no record" share "$ZERO" --to p
bad 2 "share of a malformed record id" "record|id" share xyz --to p
bad 1 "share to an unknown partner" "nosuch" share "$D_I1" --to nosuch
bad 1 "share with --fields naming a field the record's kind lacks" "serial" share "$D_I1" --to p --fields serial
bad 1 "share of a foreign record with 0 onward hops" "terms|hop" share "$U_H0" --to p
check_match "${ERR,,}" 'first partner|0 hops|no (further )?hop|hops: 0|may go to' \
	"  and what would be allowed (no hop beyond the first partner, or where it may go)"
bad 1 "share of a foreign record to a role its author did not allow" "role" share "$U_RD" --to p
check_match "${ERR,,}" 'distributor|may go to' \
	"  and what would be allowed (distributors only, or where it may go)"
bad 1 "share of a record back to the partner it came from (its author)" "came from|author" share "$U_OK" --to u
bad 1 "share of a record imported from a file (its path unknown)" "import|unknown" share "$X_IMP" --to p
bad 1 "inbox forward with no hop left" "terms|hop" inbox forward "$U_H0" --to p
bad 1 "inbox decline of a record not in the inbox" "inbox" inbox decline "$D_I1"
bad 1 "share --revoke of a grant that does not exist" "grant|shar" share "$D_C1" --to p --revoke

bad 1 "consent grant to an unknown partner" "nosuch" consent grant nosuch --for ideas
bad 2 "consent grant for an unknown purpose" "purpose|bogus" consent grant p --for bogus
bad 2 "consent grant without --for" "for" consent grant p
bad 2 "consent grant with a malformed --until" "until|date" consent grant p --for ideas --until tomorrow
bad 1 "consent withdraw of a record that is not a consent" "not a consent" consent withdraw "$D_I1"
bad 1 "consent withdraw of a record this node does not hold" "not|no record" consent withdraw "$ZERO"
bad 1 "consent withdraw of a consent another node gave" "author|gave|not .*this node|yours" consent withdraw "$U_CONSENT"
bad 1 "retract of a record this node does not hold" "not|no record" retract "$ZERO"

###########################################################################################
# Shares that are allowed: a consented idea from u, d's own record
###########################################################################################
run --home "$D" share "$U_OK" --to p --fields title
check_rc 0 "share of u's idea (1 hop to the producer, consent given) --to p --fields title"
run --home "$D" share "$D_C1" --to p
check_rc 0 "share of d's own claim --to p"
run --home "$D" policy test p --json
check_rc 0 "policy test p --json"
# names: which of the records a dry run lists, by their names here
names() {
	py 'import json,sys
names = dict(reversed(a.split("=")) for a in sys.argv[2:])
print(" ".join(sorted(names.get(e["id"], "other") for e in json.loads(sys.argv[1]))))' "$OUT" \
		"U_OK=$U_OK" "D_C1=$D_C1" "D_I1=$D_I1" "D_I2=$D_I2" "U_H0=$U_H0" "U_RD=$U_RD" "X_IMP=$X_IMP"
}
check_eq "$(names)" "D_C1 D_I1 U_OK" \
	"policy test p: the two shares and the idea the rule matches (not the other idea, not the 0-hop one)"
check_eq "$(jq_ '[sorted(e["fields"]) for e in j if e.get("id", e.get("record")) == "'"$U_OK"'"]')" "[['title']]" \
	"the shared idea with the shared field only"
run --home "$D" audit --json
check_eq "$(py 'import json,sys
for l in sys.argv[1].splitlines():
    r = json.loads(l)
    if r["action"] == "share" and r["detail"].startswith(sys.argv[2][:16]):
        d = r["detail"]
        print(" to p" in d and "title" in d and "by " + sys.argv[3] in d and "policy version" in d or d)
        break
else:
    print("no share entry")' "$OUT" "$U_OK" "$WHO")" True "the audit log has the share: record, partner, fields, who, policy version"
run --home "$D" share "$U_OK" --to p --revoke
check_rc 0 "share --revoke"
run --home "$D" consent list --json
check_rc 0 "consent list --json"
check_eq "$(jq_ '[c.get("state") for c in j if c.get("id") == "'"$U_CONSENT"'"]')" "['valid']" \
	"d lists u's consent as valid"
run --home "$U" consent withdraw "$U_CONSENT"
check_rc 0 "u: consent withdraw (its own consent)"
run --home "$U" consent list --json
check_eq "$(jq_ '[c.get("state") for c in j if c.get("id") == "'"$U_CONSENT"'"]')" "['withdrawn']" \
	"u lists it as withdrawn"
run --home "$U" consent withdraw "$U_CONSENT"
check_rc 1 "withdrawing it twice is refused"
run --home "$U" audit --json
check_match "$OUT" "consent" "u's audit log has the consent grant and withdrawal"

run --home "$D" verify
check_rc 0 "d verifies at the end"
finish
