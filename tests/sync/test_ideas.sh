#!/usr/bin/env bash
# test_ideas.sh: `trestle idea groups|merge|split` end to end, with real daemons on
# loopback. A producer p, two distributors d1 and d2, three user firms: u1 and u2 dial
# d1, u3 dials d2; d1 and d2 dial p. Ideas go u -> d -> p (the users' consent "ideas",
# the authors' onward terms "1 hop, to producer", the distributors' rules with --forward).
#  1. u1, u2 and u3 each write the same idea (detergent dosing on small loads) in their
#     own words; u3 also writes an unrelated one (a quieter drain pump). Once p holds all
#     four, p's `idea groups --json` shows one group of 3 ideas (3 firms, 2 distributors)
#     and one of 1; --product, --category and --min filter; the table has a header and
#     a row per group.
#  2. p merges the pump idea into the dosing group: p shows one group of 4; the signed
#     status "merged" goes back down the way the idea came (p -> d2 -> u3), so u3, its
#     author, holds it; d2 holds it too; u2 (neither idea is its) does not. (Whether
#     u1, author of the idea merged into, gets it too is only noted.)
#  3. a distributor cannot merge: exit 1, "only a producer merges".
#  4. p splits an idea out of the group: a group of its own at p, and nothing is sent
#     (no node gets a new record, p writes none). Merging it back afterwards puts it
#     back in the group at p (the later correction wins) and tells u2 through d1.
#  5. every node verifies its store.
# Run: bash tests/sync/test_ideas.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
. "$(dirname "$0")/lib.sh"

# rid NAME: the record id the last run printed (in full, or as "consent PREFIX: ..."), in
# full as NAME holds it
rid() {
	[[ $OUT =~ ([0-9a-f]{64}) ]] && { echo "${BASH_REMATCH[1]}"; return; }
	[[ $OUT =~ consent\ ([0-9a-f]{8,63}) ]] &&
		"$T" --home "$TMP/$1" record show "${BASH_REMATCH[1]}" --json 2>/dev/null |
		py 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# groups NAME [OPTIONS]: NAME's `idea groups --json OPTIONS` into $TMP/groups.json; RC
groups() {
	local name=$1
	shift
	"$T" --home "$TMP/$name" idea groups --json "$@" </dev/null >"$TMP/groups.json" 2>"$TMP/groups.err"
}

# gsum: a summary of $TMP/groups.json, one "ideas/firms/distributors" per group in the
# order listed, e.g. "3/3/2 1/1/1"
gsum() {
	py 'import json,sys
try:
    g = json.load(open(sys.argv[1]))
    print(" ".join("%d/%d/%d" % (x["ideas"], x["firms"], x["distributors"]) for x in g))
except Exception as e:
    print("error: %s" % e)' "$TMP/groups.json"
}

# gget EXPR: a Python expression over g (the parsed $TMP/groups.json), printed
gget() {
	py 'import json,sys
try:
    g = json.load(open(sys.argv[1]))
    v = eval(sys.argv[2])
    print(v if isinstance(v, str) else json.dumps(v))
except Exception as e:
    print("error: %s" % e)' "$TMP/groups.json" "$1"
}

# group_of ID: the members of the group in $TMP/groups.json that holds ID, sorted, one
# line ("none" if no group holds it)
group_of() {
	gget "' '.join(sorted(next((x['members'] for x in g if '$1' in x['members']), ['none'])))"
}

# p_has_all: p holds every idea of the four
p_has_all() {
	has_recs p "$A1" "$A2" "$A3" "$B3"
}

# p_groups_are SUMMARY: p's groups summarise to SUMMARY (gsum)
p_groups_are() {
	groups p && [ "$(gsum)" = "$1" ]
}

# status_of NAME REF: the status records at NAME that refer to REF, as
# "id state" lines
status_of() {
	"$T" --home "$TMP/$1" record list --kind status --json 2>/dev/null | py 'import json,sys
for r in json.load(sys.stdin):
    print(r["id"])' | while read -r sid; do
		"$T" --home "$TMP/$1" record show "$sid" --json 2>/dev/null | py 'import json,sys
r = json.load(sys.stdin)
if sys.argv[1] in r.get("refs", []):
    print(r["id"], r.get("fields", {}).get("state", "?"))' "$2"
	done
}

# merged_status_at NAME: NAME holds the merged status MS
merged_status_at() {
	[ -n "${MS:-}" ] && has_rec "$1" "$MS"
}

# snapshot FILE: the record ids of every node, "node id" lines, sorted
snapshot() {
	local n
	for n in p d1 d2 u1 u2 u3; do
		ids "$n" | sed "s/^/$n /"
	done | sort >"$1"
}

###########################################################################################
# The network
###########################################################################################
# free_port picks a port nobody listens on now, but does not hold it: six of them in a
# row can repeat one. Pick until all six differ.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	PORTS=()
	for n in p d1 d2 u1 u2 u3; do PORTS+=("$(free_port)"); done
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
ID_p=$(node_id p)
pair u1 d1 # u1 dials d1; no rule yet
pair u2 d1
pair u3 d2
pair d1 p
pair d2 p

# the user firms share their ideas with their distributor
rule_ok u1 d1 idea
rule_ok u2 d1 idea
rule_ok u3 d2 idea
# the distributors pass them on to p, and p's statuses back down to whoever raised them
rule_ok d1 p idea --forward
rule_ok d2 p idea --forward
rule_ok d1 u1 status --forward --replies
rule_ok d1 u2 status --forward --replies
rule_ok d2 u3 status --forward --replies
# p's statuses go back the way the idea came
rule_ok p d1 status --replies
rule_ok p d2 status --replies

for n in p d1 d2 u1 u2 u3; do node_start "$n"; done

# consent first: an idea that reaches a distributor before its author's consent waits
# in the inbox
for u in u1:d1 u2:d1 u3:d2; do
	run --home "$TMP/${u%%:*}" consent grant "${u##*:}" --for ideas --text "pass my ideas on to the producer"
	check_rc 0 "${u%%:*}: consent grant ${u##*:} --for ideas"
	eval "C_${u%%:*}=\$(rid ${u%%:*})"
done
consents_in() {
	has_recs d1 "${C_u1:-none}" "${C_u2:-none}" && has_recs d2 "${C_u3:-none}"
}
if wait_until 20 consents_in; then ok "the consents reach d1 (u1's, u2's) and d2 (u3's)"; else
	not_ok "the consents reach d1 (u1's, u2's) and d2 (u3's)"
	for n in p d1 d2 u1 u2 u3; do note "$n: $(tail -2 "$TMP/$n.log" | tr '\n' ' ')"; done
	finish # nothing below means anything without them
fi

###########################################################################################
# 1. the same idea in three firms' words, and one unrelated
###########################################################################################
TERMS=(--onward-hops 1 --onward-to producer)
mk A1 u1 idea title="Detergent dosing for small loads" \
	text="the dishwasher doses full detergent even for small loads; dosing should follow the load size" \
	product=DW-500 category=dosing "${TERMS[@]}"
mk A2 u2 idea title="Too much detergent on small loads" \
	text="small loads get the full detergent dose, the dosing should adapt to the load size" \
	product=DW-500 category=dosing "${TERMS[@]}"
mk A3 u3 idea title="Adapt detergent dose to load size" \
	text="with a small load the machine still doses detergent for a full load; dose by load size please" \
	product=DW-500 category=dosing "${TERMS[@]}"
mk B3 u3 idea title="Quieter drain pump" \
	text="the drain pump is loud at night in open kitchens; a slower, quieter pump cycle would help" \
	product=DW-700 category=noise "${TERMS[@]}"

if wait_until 20 p_has_all; then ok "p holds all four ideas (u -> d -> p)"; else
	not_ok "p holds all four ideas (u -> d -> p)"
	for id in "$A1" "$A2" "$A3" "$B3"; do has_rec p "$id" || note "p lacks ${id:0:12}"; done
	for n in p d1 d2 u1 u2 u3; do note "$n: $(tail -2 "$TMP/$n.log" | tr '\n' ' ')"; done
	finish # nothing below means anything without them
fi
# the grouping is over what p holds; wait until it settles (it is a pure function of
# the store: no wait is needed once p holds them all, but allow for a late copy)
wait_until 10 p_groups_are "3/3/2 1/1/1"
groups p
RC=$?
check_eq "$RC" 0 "p: idea groups --json exits 0"
check_eq "$(gget 'len(g)')" 2 "p has two groups"
check_eq "$(gsum)" "3/3/2 1/1/1" "one group of 3 ideas from 3 firms and 2 distributors, first; one of 1"
check_eq "$(group_of "$A1")" "$(printf '%s\n' "$A1" "$A2" "$A3" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the dosing group holds the three dosing ideas"
check_eq "$(group_of "$B3")" "$B3" "the pump idea is alone"
check_eq "$(gget 'g[0]["product"] + " " + g[0]["category"] + " " + g[0]["status"]')" \
	"DW-500 dosing submitted" "the dosing group: product, category, status submitted"
check_eq "$(gget 'g[1]["product"] + " " + g[1]["category"] + " " + g[1]["title"]')" \
	"DW-700 noise Quieter drain pump" "the pump group: product, category, title"
check_eq "$(gget 'g[0]["group"] in g[0]["members"] and g[1]["group"] == g[1]["members"][0]')" \
	true "a group is named by one of its ideas"
check_eq "$(gget 'sorted(g[0].keys())')" \
	'["assessments", "category", "distributors", "firms", "group", "ideas", "members", "product", "status", "title"]' \
	"the JSON keys"
DOSING=$(gget 'g[0]["group"]')

groups p --product DW-500
check_eq "$(gsum)" "3/3/2" "--product DW-500: the dosing group only"
groups p --product DW-700
check_eq "$(gsum)" "1/1/1" "--product DW-700: the pump group only"
groups p --product DW-999
check_eq "$(gget 'len(g)')" 0 "--product of nothing: an empty array"
groups p --min 2
check_eq "$(gsum)" "3/3/2" "--min 2: the dosing group only"
groups p --min 4
check_eq "$(gget 'len(g)')" 0 "--min 4: none"
groups p --category noise
check_eq "$(gsum)" "1/1/1" "--category noise: the pump group only"
groups p --product DW-500 --min 3
check_eq "$(gsum)" "3/3/2" "--product DW-500 --min 3: the dosing group"

run --home "$TMP/p" idea groups
check_rc 0 "p: idea groups (table) exits 0"
check_eq "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 3 "the table has a header and two rows"
check_match "$(printf '%s\n' "$OUT" | head -1)" '^GROUP +IDEAS +FIRMS +DISTR +PRODUCT +CATEGORY +STATUS +TITLE$' \
	"the table's header"
check_match "$(printf '%s\n' "$OUT" | sed -n 2p)" "^${DOSING:0:12} +3 +3 +2 +DW-500 +dosing +submitted +" \
	"the dosing group's row"
check_match "$(printf '%s\n' "$OUT" | sed -n 3p)" "^${B3:0:12} +1 +1 +1 +DW-700 +noise +submitted +Quieter drain pump$" \
	"the pump group's row"
run --home "$TMP/p" idea groups --min 2
check_eq "$(printf '%s\n' "$OUT" | wc -l | tr -d ' ')" 2 "the table with --min 2: the header and one row"

# the distributors group what they hold: d1 two dosing ideas (one firm each, one
# distributor: itself's partners u1, u2), d2 u3's two ideas apart
groups d1
check_eq "$(gsum)" "2/2/2" "d1: one group of u1's and u2's ideas (its partners are the sources)"
groups d2
check_eq "$(gsum)" "1/1/1 1/1/1" "d2: u3's two ideas apart"

###########################################################################################
# 2. p merges the pump idea into the dosing group
###########################################################################################
NS_P=$(count p status)
run --home "$TMP/p" idea merge "$B3" --into "$A1" --message "same as the dosing idea"
check_rc 0 "p: idea merge (pump) --into (dosing) exits 0"
check_out_has "merged" "it says it merged"
check_eq "$(count p status)" "$((NS_P + 1))" "p wrote one status record"
MS=$("$T" --home "$TMP/p" record list --kind status --author self --json 2>/dev/null |
	py 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)))')
check_match "$MS" '^[0-9a-f]{64}$' "p holds its one status (the merge)"
run --home "$TMP/p" record show "$MS" --json
check_eq "$(py 'import json,sys
r = json.loads(sys.argv[1])
print(r["kind"], r["fields"].get("state"), r["fields"].get("message"), " ".join(sorted(r.get("refs", []))))' "$OUT")" \
	"status merged same as the dosing idea $(printf '%s\n' "$A1" "$B3" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the status: kind status, state merged, the message, refs the two ideas"

groups p
check_eq "$(gsum)" "4/3/2" "p: one group of 4 ideas (3 firms, 2 distributors)"
check_eq "$(group_of "$B3")" "$(printf '%s\n' "$A1" "$A2" "$A3" "$B3" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the pump idea is in the dosing group"
check_eq "$(gget 'g[0]["status"]')" submitted "a merge is not the group's status"
check_eq "$(gget 'g[0]["product"]')" DW-500 "the merged group's product: the most frequent"

if wait_until 20 merged_status_at d2; then ok "the merged status reaches d2 (the pump idea came from d2)"; else
	not_ok "the merged status reaches d2 (the pump idea came from d2)"
fi
if wait_until 20 merged_status_at u3; then ok "the merged status reaches u3, the pump idea's author, through d2"; else
	not_ok "the merged status reaches u3, the pump idea's author, through d2"
	note "d2: $(status_of d2 "$B3")" "u3 log: $(tail -3 "$TMP/u3.log")"
fi
run --home "$TMP/u3" record show "$MS" --json
check_eq "$(py 'import json,sys
try:
    r = json.loads(sys.argv[1])
    print(r["kind"], r["fields"].get("state"), r["author"], sys.argv[2] in r.get("refs", []))
except Exception as e:
    print("error", e)' "$OUT" "$B3")" "status merged $ID_p True" \
	"u3 holds the status: kind status, state merged, by p, about its pump idea"
check_eq "$(status_of u3 "$B3")" "$MS merged" "u3 lists one status on its pump idea: merged"
run --home "$TMP/u3" record show "$MS" --json
check_eq "$(py 'import json,sys; print(json.loads(sys.argv[1]).get("withheld"))' "$OUT")" "[]" \
	"u3 sees the whole status (state and message)"
# the merge names A1 (u1's, through d1): whether u1 hears of it too is the rules' affair
# (a reply to any record it refers to); note it, do not require it either way
sleep 1
if has_rec u1 "$MS"; then note "(the merged status also reached u1, author of the idea merged into)"; else
	note "(the merged status did not reach u1, author of the idea merged into)"
fi
not_there u2 "$MS" "u2 (neither idea is its) does not get the merged status"

###########################################################################################
# 3. a distributor cannot merge
###########################################################################################
NS_D2=$(nrecs d2)
run --home "$TMP/d2" idea merge "$B3" --into "$A3"
check_rc 1 "d2: idea merge exits 1"
check_err_has "only a producer merges" "and says only a producer merges"
check_eq "$(nrecs d2)" "$NS_D2" "d2 wrote nothing"
run --home "$TMP/u3" idea merge "$B3" --into "$A3"
check_rc 1 "u3 (a user firm): idea merge exits 1 too"
run --home "$TMP/p" idea merge "$A2" --into "$A2"
check_rc 1 "p: merging an idea into itself exits 1"
run --home "$TMP/p" idea merge "$A2" --into "$MS"
check_rc 1 "p: merging into a status (not an idea) exits 1"
run --home "$TMP/p" idea merge "$A2"
check_rc 2 "p: idea merge without --into is a usage error"

###########################################################################################
# 4. p splits an idea out; nothing is sent
###########################################################################################
# let everything in flight land first (the merged status to u1, if it goes there)
quiesce 15 p d1 d2 u1 u2 u3 || note "(the network did not quiesce in 15 s)"
snapshot "$TMP/before.ids"
run --home "$TMP/p" idea split "$A2"
check_rc 0 "p: idea split (u2's dosing idea) exits 0"
groups p
check_eq "$(gsum)" "3/2/2 1/1/1" "p: the group of 3 (u1's and u3's, through d1 and d2) and the split one alone"
check_eq "$(group_of "$A2")" "$A2" "the split idea is in a group of its own"
check_eq "$(group_of "$A1")" "$(printf '%s\n' "$A1" "$A3" "$B3" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the others stay together (the merge holds)"
groups d1
check_eq "$(gsum)" "2/2/2" "d1's groups are unchanged (a split is p's own)"
# nothing is sent: give the daemons time to send anything they would, then compare
# every store with before the split
sleep 2
quiesce 15 p d1 d2 u1 u2 u3 || note "(the network did not quiesce in 15 s)"
snapshot "$TMP/after.ids"
if d=$(diff "$TMP/before.ids" "$TMP/after.ids"); then ok "the split sent nothing: no node holds a new record"; else
	not_ok "the split sent nothing: no node holds a new record"
	note "$d"
fi
check_eq "$(status_of u2 "$A2")" "" "u2 holds no status about its split idea"
run --home "$TMP/p" idea split "$MS"
check_rc 1 "p: splitting a status (not an idea) exits 1"

# the producer changes its mind: merging the split idea back puts it back (the later
# hand correction wins), and its "merged" status reaches u2 through d1
run --home "$TMP/p" idea merge "$A2" --into "$A1" --message "back with the dosing idea"
check_rc 0 "p: idea merge of the split idea back --into (dosing) exits 0"
MS2=$("$T" --home "$TMP/p" record list --kind status --author self --json 2>/dev/null |
	py 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin) if r["id"] != sys.argv[1]))' "$MS")
check_match "$MS2" '^[0-9a-f]{64}$' "p wrote a second status (the merge back)"
groups p
check_eq "$(gsum)" "4/3/2" "p: after the merge back, one group of 4 again"
check_eq "$(group_of "$A2")" "$(printf '%s\n' "$A1" "$A2" "$A3" "$B3" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the idea merged back is in the dosing group"
if wait_until 20 has_rec u2 "$MS2"; then ok "the second merged status reaches u2 through d1"; else
	not_ok "the second merged status reaches u2 through d1"
fi

###########################################################################################
# 5. every node verifies
###########################################################################################
for n in p d1 d2 u1 u2 u3; do
	run --home "$TMP/$n" verify
	check_rc 0 "$n: verify passes"
done
for n in p d1 d2 u1 u2 u3; do
	node_alive "$n" || not_ok "$n's daemon still runs"
done
logs_clean p d1 d2 u1 u2 u3
finish
