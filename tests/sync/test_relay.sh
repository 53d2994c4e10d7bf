#!/usr/bin/env bash
# test_relay.sh: the three tiers as real daemons on loopback. A producer p, a distributor
# d, two user firms u1 and u2; u1 and u2 dial d, d dials p. Sharing rules, the author's
# onward terms, consent, the inbox, reply routing and retraction (/tmp/issue4-design.md,
# DESIGN.md flows 1, 3, 5 and 6):
#  1. an idea with onward terms "1 hop, to producer, private submitter,account" goes
#     u1 -> d (rule) -> p (rule with --forward) only once u1 granted d consent "ideas";
#     without consent it stays at d, in d's inbox; p's copy lacks the private fields and
#     those d's rule did not list (shown withheld; p's store file holds none of them);
#  2. p's status on the idea comes back to u1 through d (rules with --replies), not to
#     u2; p holds nothing naming u1 (no partner, no endpoint, not its name);
#  3. a node with p's key dialing u1 directly is refused: listed in u1's pending, gets
#     nothing through;
#  4. d's inbox: forward (with --fields) and decline; a forward the author's terms
#     forbid (hops 0, a role not allowed) is refused, saying why; an idea without
#     consent does not reach p by any route; a test response goes back up the same way
#     (consent "trials");
#  7. policy test p: what p would get, "new" / "more fields" / "has it";
#  5. consent withdraw: a new idea by u1 does not reach p, nor one queued (p stopped)
#     and not yet sent when the withdrawal arrived;
#  6. retraction: policy remove --retract (fields, then the whole body), share --revoke
#     --retract, trestle retract (through d to p): the copies lose what was retracted
#     (still listed, shown withheld), receipts come back, `retractions` shows what is
#     outstanding (p stopped) and then nothing.
# Run: bash tests/sync/test_relay.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
. "$(dirname "$0")/lib.sh"

# firm_init NAME ROLE FIRM: as node_init, with FIRM as the firm's name (node_init uses
# NAME, which is too short to look for in a store file)
firm_init() {
	local name=$1 port
	port=$(free_port)
	eval "PORT_$name=$port"
	"$T" --home "$TMP/$name" init --name "$3" --role "$2" \
		--listen "tcp://127.0.0.1:$port" >/dev/null 2>"$TMP/.err" ||
		{ not_ok "init $name"; note "$(cat "$TMP/.err")"; }
}

# field NAME ID KEY: record ID at NAME (`record show --json`): KEY as JSON; for "fields"
# the sorted field names. "error" if it cannot be read.
field() {
	"$T" --home "$TMP/$1" record show "$2" --json 2>/dev/null |
		py 'import json,sys
try:
    v = json.load(sys.stdin)[sys.argv[1]]
    if isinstance(v, dict):
        v = sorted(v)
    elif isinstance(v, list):
        v = sorted(v)
    print(json.dumps(v))
except Exception:
    print("error")' "$3"
}

# fval NAME ID FIELD: the value of FIELD in record ID at NAME ("<none>" if not there)
fval() {
	"$T" --home "$TMP/$1" record show "$2" --json 2>/dev/null |
		py 'import json,sys
try:
    print(json.load(sys.stdin)["fields"].get(sys.argv[1], "<none>"))
except Exception:
    print("error")' "$3"
}

# listed NAME ID KEY: as field, from NAME's `record list --json` (the entry of ID)
listed() {
	"$T" --home "$TMP/$1" record list --json 2>/dev/null |
		py 'import json,sys
try:
    for r in json.load(sys.stdin):
        if r["id"] == sys.argv[1]:
            v = r[sys.argv[2]]
            print(json.dumps(sorted(v) if isinstance(v, (dict, list)) else v))
            break
    else:
        print("not listed")
except Exception:
    print("error")' "$2" "$3"
}

# in_store NAME TEXT: TEXT occurs in NAME's store file (data.mdb)
in_store() {
	grep -qaF -- "$2" "$TMP/$1/store/data.mdb"
}

# inbox_has NAME ID: ID is in NAME's `inbox --json`
inbox_has() {
	"$T" --home "$TMP/$1" inbox --json 2>/dev/null | py 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if any(e["id"] == sys.argv[1] for e in d) else 1)' "$2"
}
# inbox_from NAME ID: the partner ID came from, as NAME's `inbox --json` says
inbox_from() {
	"$T" --home "$TMP/$1" inbox --json 2>/dev/null | py 'import json,sys
print(" ".join(e.get("from", "?") for e in json.load(sys.stdin) if e["id"] == sys.argv[1]))' "$2"
}

# rule_id: the N of "added rule N" in the last run's output
rule_id() {
	[[ $OUT =~ added\ rule\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

# add_rule VAR NAME ARGS...: trestle policy add ARGS at NAME; the rule's id into VAR
add_rule() {
	local var=$1 name=$2
	shift 2
	run --home "$TMP/$name" policy add "$@"
	if [ "$RC" != 0 ]; then
		not_ok "policy add $* at $name"
		show_run
	fi
	printf -v "$var" '%s' "$(rule_id)"
}

# full_id NAME PREFIX: the full id of the record NAME holds whose id starts with PREFIX
full_id() {
	"$T" --home "$TMP/$1" record show "$2" --json 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin)["id"])'
}
# rid NAME: the record id the last run printed (in full or as a prefix, as in
# "consent 1a2b3c4d5e6f: ..."), in full as NAME holds it
rid() {
	[[ $OUT =~ ([0-9a-f]{64}) ]] && { echo "${BASH_REMATCH[1]}"; return; }
	[[ $OUT =~ (consent|retraction)\ ([0-9a-f]{8,63}) ]] && full_id "$1" "${BASH_REMATCH[2]}"
}

# consent_state NAME ID: the state of consent ID in NAME's `consent list --json`
consent_state() {
	"$T" --home "$TMP/$1" consent list --json 2>/dev/null | py 'import json,sys
for c in json.load(sys.stdin):
    if c.get("id") == sys.argv[1]:
        print(c.get("state")); break
else:
    print("none")' "$2"
}

# outstanding NAME [RECORD]: how many of NAME's retractions (of RECORD) await a receipt
outstanding() {
	"$T" --home "$TMP/$1" retractions --json 2>/dev/null | py 'import json,sys
n = 0
for r in json.load(sys.stdin):
    if sys.argv[1] and r["record"] != sys.argv[1]:
        continue
    if r["receipt"] is None:
        n += 1
print(n)' "${2:-}"
}
# receipts NAME RECORD: the receipts NAME got for its retractions of RECORD, oldest first
receipts() {
	"$T" --home "$TMP/$1" retractions --json 2>/dev/null | py 'import json,sys
print(" ".join(str(r.get("receipt")) for r in json.load(sys.stdin) if r.get("record") == sys.argv[1]))' "$2"
}
# retraction_count NAME RECORD: NAME's retractions of RECORD (any state)
retraction_count() {
	"$T" --home "$TMP/$1" retractions --json 2>/dev/null | py 'import json,sys
print(sum(1 for r in json.load(sys.stdin) if r.get("record") == sys.argv[1]))' "$2"
}
no_outstanding() {
	[ "$(outstanding "$@")" = 0 ]
}

# has_withheld NAME ID F...: record ID at NAME shows each F withheld
has_withheld() {
	local name=$1 id=$2 w
	shift 2
	w=$(field "$name" "$id" withheld)
	for f in "$@"; do
		has "$w" "\"$f\"" || return 1
	done
}

###########################################################################################
# The network
###########################################################################################
firm_init p producer "Acme Dishwashers Producer"
firm_init d distributor "Nordic Dish Distribution"
firm_init u1 user "Cafe Kanarie Userfirm One"
firm_init u2 user "Hotel Zwaluw Userfirm Two"
# pk: a pristine copy of p (its key, an empty store) on a port of its own, for part 3
cp -a "$TMP/p" "$TMP/pk"
PORT_pk=$(free_port)
sed -i "s|^listen = .*|listen = \"tcp://127.0.0.1:$PORT_pk\"|" "$TMP/pk/trestle.conf"
for n in p d u1 u2; do eval "ID_$n=\$(node_id $n)"; done
pair u1 d # u1 dials d; no rule yet
pair u2 d
pair d p

run --home "$TMP/d" partner list --json
check_eq "$(py 'import json,sys; print(" ".join("%s=%s" % (p["name"], p.get("role")) for p in json.loads(sys.argv[1])))' "$OUT")" \
	"p=producer u1=user u2=user" "d derives its partners' roles from the relation"

# u1 and u2 share their own ideas (and test responses) with d
add_rule _ u1 d idea
add_rule _ u2 d idea
add_rule _ u1 d test_response
# d passes ideas on to p: only title, text, product, submitter (submitter is private to
# the authors below, so it is withheld all the same)
add_rule R_D_IDEA d p idea --fields title,text,product,submitter --forward
# test responses to p: replies to what came from p
add_rule _ d p test_response --forward --replies
# p's statuses go back the way the idea came; d's too
add_rule _ p d status --replies
add_rule _ d u1 status --forward --replies
add_rule _ d u2 status --forward --replies
# p sends its test requests to d (its own records only)
add_rule _ p d test_request
# d's own claims to p: two rules (the second narrower)
add_rule R_C_WIDE d p claim --fields product,problem,opened,customer
add_rule R_C_NARROW d p claim --fields product,problem,opened
check_match "$R_D_IDEA $R_C_WIDE $R_C_NARROW" '^[0-9]+ [0-9]+ [0-9]+$' "policy add prints the rule's id"

for n in p d u1 u2; do node_start "$n"; done

###########################################################################################
# 1. consent, relay, fields
###########################################################################################
TERMS=(--onward-hops 1 --onward-to producer --private submitter,account)
mk I0 u1 idea title="Before consent" text="written before any consent" product=DW-1 \
	category="CAT-CANARY-0" submitter="SUBM-CANARY-0" account="ACCT-CANARY-0" \
	external_id="EXT-CANARY-0" "${TERMS[@]}"
arrives 20 d "u1's idea reaches d (rule u1->d)" "$I0"
mk D1 d idea title="d's own idea" text="control d->p"
arrives 20 p "d's own idea reaches p (the control)" "$D1"
not_there p "$I0" "without u1's consent d does not pass u1's idea on to p"
if wait_until 10 inbox_has d "$I0"; then ok "the idea waits in d's inbox"; else
	not_ok "the idea waits in d's inbox"
	note "$("$T" --home "$TMP/d" inbox --json 2>&1)"
fi
not_there p "$I0" "nor at p after the inbox check (no consent)"
check_eq "$(inbox_from d "$I0")" u1 "the inbox says it came from u1"

mk I2 u2 idea title="From u2" text="u2 never consents" product=DW-2 \
	submitter="SUBM-CANARY-2" account="ACCT-CANARY-2" "${TERMS[@]}"
arrives 20 d "u2's idea reaches d" "$I2"

run --home "$TMP/u1" consent grant d --for ideas --text "pass my ideas on to the producer"
check_rc 0 "u1: consent grant d --for ideas"
C1=$(rid u1)
check_match "$C1" '^[0-9a-f]{64}$' "consent grant prints the consent record's id"
arrives 20 d "the consent reaches d" "$C1"
if wait_until 10 eval '[ "$(consent_state d "$C1")" = valid ]'; then ok "d lists u1's consent as valid"; else
	not_ok "d lists u1's consent as valid"
	note "$("$T" --home "$TMP/d" consent list --json 2>&1)"
fi
check_eq "$(consent_state u1 "$C1")" valid "u1 lists the consent it gave as valid"
check_eq "$(fval d "$C1" grantee)" "$ID_d" "the consent names d as grantee"
check_eq "$(fval d "$C1" scope)" ideas "scope: ideas"

mk I1 u1 idea title="Pump wear warning" text="warn before the pump fails" product=DW-1 \
	category="CAT-CANARY-1" submitter="SUBM-CANARY-1" account="ACCT-CANARY-1" \
	external_id="EXT-CANARY-1" "${TERMS[@]}"
arrives 20 p "with consent, u1's idea goes u1 -> d -> p" "$I1"
check_eq "$(field d "$I1" withheld)" '[]' "d (first partner) holds every field"
check_eq "$(field p "$I1" fields)" '["product", "text", "title"]' \
	"p holds only the fields d's rule lists and the author did not make private"
check_eq "$(field p "$I1" withheld)" '["account", "category", "external_id", "submitter"]' \
	"p's copy shows the private and the unlisted fields withheld"
check_eq "$(listed p "$I1" withheld)" '["account", "category", "external_id", "submitter"]' \
	"record list --json at p shows them withheld too"
check_eq "$(field p "$I1" author)" "\"$ID_u1\"" "p sees u1's node id as the author (its pseudonym)"
run --home "$TMP/p" verify
check_rc 0 "p verifies u1's signature on what it was shown"
leak=
for s in SUBM-CANARY ACCT-CANARY CAT-CANARY EXT-CANARY; do
	in_store p "$s" && leak+=" $s"
done
check_eq "$leak" "" "p's store file holds no withheld value"
not_there p "$I2" "u2's idea (no consent) is not at p"
# not in the contract either way: does the consent let the idea written before it go?
if has_rec p "$I0"; then note "(u1's idea written before the consent went to p once the consent came)"; else note "(u1's idea written before the consent has not gone to p)"; fi
if inbox_has d "$I2"; then ok "u2's idea is in d's inbox"; else not_ok "u2's idea is in d's inbox"; fi
if inbox_has d "$I1"; then not_ok "u1's relayed idea left d's inbox"; else ok "u1's relayed idea left d's inbox"; fi

###########################################################################################
# 2. reply routing: p's status goes back to u1 through d; p never learns who u1 is
###########################################################################################
mk S1 p status --ref "$I1" state=planned message="in the Q3 release" \
	--onward-hops 1 --onward-to user
arrives 20 u1 "p's status on u1's idea reaches u1 through d" "$S1"
check_eq "$(field u1 "$S1" withheld)" '[]' "u1 gets the whole status"
# control for u2: d's own status on u2's idea
mk DS2 d status --ref "$I2" state=note message="we keep it here"
arrives 20 u2 "d's status on u2's idea reaches u2 (the control)" "$DS2"
not_there u2 "$S1" "p's status on u1's idea does not reach u2"
not_there u1 "$DS2" "d's status on u2's idea does not reach u1"
not_there p "$DS2" "d's status (a reply to u2) does not go to p"

run --home "$TMP/p" partner list --json
check_eq "$(py 'import json,sys; print(" ".join(p["name"] for p in json.loads(sys.argv[1])))' "$OUT")" \
	"d" "p's only partner is d"
if has "$OUT" "$ID_u1"; then not_ok "p has no partner entry with u1's id"; else ok "p has no partner entry with u1's id"; fi
run --home "$TMP/p" partner pending --json
check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 0 "nothing else ever dialed p"
leak=
for s in "Cafe Kanarie" "Hotel Zwaluw" "127.0.0.1:$PORT_u1" "127.0.0.1:$PORT_u2" ":$PORT_u1" ":$PORT_u2"; do
	in_store p "$s" && leak+=" [$s]"
done
check_eq "$leak" "" "p's store file holds no user firm's name or endpoint"
leak=
for s in "Cafe Kanarie" "Hotel Zwaluw" ":$PORT_u1" ":$PORT_u2"; do
	grep -rqaF -- "$s" "$TMP/p" && leak+=" [$s]"
done
check_eq "$leak" "" "nor any other file in p's home"

###########################################################################################
# 3. p's key is refused by a user node
###########################################################################################
# pk: a node with p's key (a copy of p made before p had partners) that knows u1's
# endpoint and dials it
check_eq "$(node_id pk)" "$ID_p" "pk has p's node id"
FPR_p=$("$T" --home "$TMP/p" id --json | py 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
"$T" --home "$TMP/pk" partner add u1 "$ID_u1" --relation downstream \
	--endpoint "tcp://127.0.0.1:$PORT_u1" >/dev/null || not_ok "pk adds u1 with its endpoint"
add_rule _ pk u1 test_request
mk TRK pk test_request product=PROTO-K title="direct" text="straight to a user firm"
node_start pk
pending_p() {
	"$T" --home "$TMP/u1" partner pending --json 2>/dev/null | py 'import json,sys
sys.exit(0 if any(p["fingerprint"] == sys.argv[1] for p in json.load(sys.stdin)) else 1)' "$FPR_p"
}
if wait_until 20 pending_p; then ok "u1 refuses p's key: it is listed in u1's partner pending"; else
	not_ok "u1 refuses p's key: it is listed in u1's partner pending"
	note "$("$T" --home "$TMP/u1" partner pending 2>&1)"
fi
sleep 2
not_there u1 "$TRK" "nothing from p's key reaches u1 directly"
check_eq "$(pstat pk u1 connected)" false "the node with p's key is not connected to u1"
node_stop pk

###########################################################################################
# 4. d's inbox: forward, decline, refusals; a test response goes back up
###########################################################################################
mk TR1 p test_request product=PROTO-1 title="Trial one" text="a silent pump" start=2026-05-01 \
	slots=3 --onward-hops 1 --onward-to user
mk TR2 p test_request product=PROTO-2 title="Trial two" text="declined at d" \
	--onward-hops 1 --onward-to user
mk TR0 p test_request product=PROTO-0 title="Trial zero" text="first partner only"
mk TRD p test_request product=PROTO-D title="Trial d" text="distributors only" \
	--onward-hops 1 --onward-to distributor
arrives 20 d "p's test requests reach d" "$TR1" "$TR2" "$TR0" "$TRD"
# (TR0 may or may not be listed: its author lets it go no further)
for id in "$TR1" "$TR2" "$TRD"; do
	if wait_until 10 inbox_has d "$id"; then ok "test request ${id:0:8} is in d's inbox"; else not_ok "test request ${id:0:8} is in d's inbox"; fi
done
run --home "$TMP/d" inbox
check_rc 0 "inbox (table) exits 0"
check_out_has "${TR1:0:8}" "the inbox table shows the test request"

run --home "$TMP/d" inbox forward "$TR1" --to u1 --fields title,text,product
check_rc 0 "inbox forward TR1 --to u1 --fields title,text,product"
arrives 20 u1 "the forwarded test request reaches u1" "$TR1"
check_eq "$(field u1 "$TR1" fields)" '["product", "text", "title"]' "u1 gets the forwarded fields"
check_eq "$(field u1 "$TR1" withheld)" '["slots", "start"]' "and sees the others withheld"
if inbox_has d "$TR1"; then not_ok "TR1 left d's inbox"; else ok "TR1 left d's inbox"; fi

run --home "$TMP/d" inbox decline "$TR2"
check_rc 0 "inbox decline TR2"
if inbox_has d "$TR2"; then not_ok "TR2 left d's inbox"; else ok "TR2 left d's inbox"; fi
run --home "$TMP/d" audit --json
check_match "$OUT" "decline[^\\n]*${TR2:0:16}" "d's audit log has the decline of TR2"

AUDIT_N=$("$T" --home "$TMP/d" audit --json | wc -l)
run --home "$TMP/d" inbox forward "$TR0" --to u1
check_rc 1 "forwarding a record with 0 onward hops is refused"
check_match "$ERR" 'terms|hop' "and the message says the author's terms let it go no further"
run --home "$TMP/d" inbox forward "$TRD" --to u1
check_rc 1 "forwarding to a role the author did not allow is refused"
check_match "$ERR" 'role' "and the message says the partner's role is not allowed"
run --home "$TMP/d" share "$TR0" --to u2
check_rc 1 "share of the same record is refused too"
check_eq "$("$T" --home "$TMP/d" audit --json | wc -l)" "$AUDIT_N" "the refusals change nothing (audit)"
if inbox_has d "$TRD"; then ok "the refused one stays in the inbox"; else not_ok "the refused one stays in the inbox"; fi

# an idea without consent: no admin route passes it on
run --home "$TMP/d" inbox forward "$I2" --to p
FWD_I2_RC=$RC FWD_I2_ERR=$ERR

# the test response goes back up: u1 consents to "trials" first
run --home "$TMP/u1" consent grant d --for trials
check_rc 0 "u1: consent grant d --for trials"
C2=$(rid u1)
arrives 20 d "the trials consent reaches d" "$C2"
mk TRESP u1 test_response --ref "$TR1" answer=accept text="we take part" contact="CONTACT-CANARY" \
	--onward-hops 1 --onward-to producer --private contact
arrives 20 p "u1's answer to the test request goes back up to p" "$TRESP"
check_eq "$(field p "$TRESP" withheld)" '["contact"]' "without u1's private contact field"

mk D2 d idea title="d's second idea" text="control after the inbox"
mk D2C d claim product=DW-9 problem="control claim" opened=2026-01-02 serial=SN-OLD \
	customer="CUST-CANARY-OLD"
arrives 20 p "d's later records reach p (control)" "$D2" "$D2C"
not_there p "$I2" "u2's idea never reached p (no consent), whatever the forward said"
not_there p "$DS2" "nor did d's reply to u2"
if [ "$FWD_I2_RC" = 0 ]; then
	note "inbox forward of u2's idea without consent exited 0 (the record did not go)"
else
	ok "inbox forward of an idea without its author's consent is refused (exit $FWD_I2_RC)"
	check_match "$FWD_I2_ERR" 'consent' "and the message says consent is missing"
fi
for id in "$TR2" "$TR0" "$TRD"; do
	not_there u1 "$id" "test request ${id:0:8} (declined or refused) is not at u1"
	not_there u2 "$id" "test request ${id:0:8} (declined or refused) is not at u2"
done
not_there u2 "$TR1" "TR1 went to u1 only"
check_eq "$(field p "$D2C" withheld)" '["serial"]' "p got d's claim with the customer (wide rule), not the serial"

###########################################################################################
# 7. policy test p
###########################################################################################
# d writes down how far p pulled once a second: what p holds is known after that
d_knows_p_holds() {
	"$T" --home "$TMP/d" policy test p --json 2>/dev/null | py 'import json,sys
ids = set(sys.argv[1:])
sys.exit(0 if ids <= {r["id"] for r in json.load(sys.stdin) if r["state"] == "has it"} else 1)' "$@"
}
wait_until 10 d_knows_p_holds "$D2C" "$I1" || not_ok "d learns that p holds what it pulled"
node_stop p
mk D3C d claim product=DW-9 problem="written while p is down" opened=2026-01-03
mk I6 u1 idea title="Queued" text="queued at d while p is down" submitter="SUBM-CANARY-6" \
	"${TERMS[@]}"
arrives 20 d "u1's idea written while p is down reaches d" "$I6"

# ptest NAME PARTNER ARGS...: `policy test --json` at NAME; prints "ID STATE" lines
ptest() {
	local name=$1
	shift
	"$T" --home "$TMP/$name" policy test "$@" --json 2>/dev/null | py 'import json,sys
for e in json.load(sys.stdin):
    print("\t".join((e["id"], e["state"], ",".join(sorted(e["fields"])))))'
}
# state_of ID: from the saved ptest output
state_of() {
	awk -F'\t' -v id="$1" '$1 == id {print $2}' "$TMP/ptest.out"
}
fields_of() {
	awk -F'\t' -v id="$1" '$1 == id {print $3}' "$TMP/ptest.out"
}
run --home "$TMP/d" policy test p
check_rc 0 "policy test p exits 0"
ptest d p >"$TMP/ptest.out"
check_eq "$(state_of "$D3C")" new "policy test: d's claim written while p is down is new"
check_eq "$(fields_of "$D3C")" "opened,problem,product" "with the fields the rules list (and it has)"
check_eq "$(state_of "$I6")" new "u1's idea queued for p is new"
check_eq "$(fields_of "$I6")" "text,title" "with the fields p may get (not the private submitter)"
check_eq "$(state_of "$D2C")" "has it" "d's earlier claim: p has it"
check_eq "$(state_of "$I1")" "has it" "u1's relayed idea: p has it"
check_eq "$(state_of "$I2")" "" "u2's idea (no consent) is not listed"
check_eq "$(state_of "$S1")" "" "p's own status is not listed"
check_eq "$(state_of "$DS2")" "" "a reply to u2 is not listed"
ptest d p --kind claim --fields serial >"$TMP/ptest.out"
check_eq "$(state_of "$D2C")" "more fields" "with an extra rule for the serial, p would get more of the old claim"
check_eq "$(fields_of "$D2C")" "customer,opened,problem,product,serial" "the fields it would then hold"
run --home "$TMP/d" policy list p --json
check_eq "$(py 'import json,sys; print(len([r for r in json.loads(sys.argv[1]) if r["kind"] == "claim"]))' "$OUT")" 2 \
	"policy test added no rule"

###########################################################################################
# 5. consent withdraw
###########################################################################################
run --home "$TMP/u1" consent withdraw "$C1"
check_rc 0 "u1: consent withdraw"
W1=$("$T" --home "$TMP/u1" record list --kind retraction --ref "$C1" --json 2>/dev/null |
	py 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)))')
check_match "$W1" '^[0-9a-f]{64}$' "the withdrawal is one retraction record at u1"
if wait_until 20 eval '[ "$(consent_state d "$C1")" = withdrawn ]'; then ok "d lists the consent as withdrawn"; else
	not_ok "d lists the consent as withdrawn"
	note "$("$T" --home "$TMP/d" consent list 2>&1)" "C1=$C1 W1=$W1"
fi
check_eq "$(consent_state u1 "$C1")" withdrawn "u1 lists it as withdrawn"
check_eq "$(consent_state d "$C2")" valid "the trials consent is still valid"
ptest d p >"$TMP/ptest.out"
check_eq "$(state_of "$I6")" "" "policy test: the queued idea is no longer for p"
mk I5 u1 idea title="After withdrawal" text="must stay at d" submitter="SUBM-CANARY-5" "${TERMS[@]}"
arrives 20 d "u1's idea after the withdrawal reaches d" "$I5"
node_start p
mk D4 d idea title="d's third idea" text="control after the withdrawal"
arrives 20 p "after p restarts, d's records reach it (control)" "$D4" "$D3C"
not_there p "$I6" "an idea queued for p before the withdrawal did not go"
not_there p "$I5" "an idea written after the withdrawal does not reach p"
if [ -n "$W1" ]; then not_there p "$W1" "the withdrawal itself stays between u1 and d"; fi
arrives 1 p "u1's idea sent before the withdrawal stays at p" "$I1"

###########################################################################################
# 6. retraction
###########################################################################################
# (a) policy remove --retract: the wide rule first (customer goes), then the narrow
# one (the whole body goes)
check_eq "$(fval p "$D2C" customer)" CUST-CANARY-OLD "p holds the claim's customer"
run --home "$TMP/d" policy remove "$R_C_WIDE" --retract
check_rc 0 "policy remove WIDE --retract"
if wait_until 20 has_withheld p "$D2C" customer; then ok "p's copy of the claim loses the customer"; else not_ok "p's copy of the claim loses the customer"; fi
check_eq "$(field p "$D2C" fields)" '["opened", "problem", "product"]' "and keeps what the narrow rule still allows"
if wait_until 20 no_outstanding d "$D2C"; then ok "p's receipt reaches d (nothing outstanding)"; else
	not_ok "p's receipt reaches d (nothing outstanding)"
	note "$("$T" --home "$TMP/d" retractions --json 2>&1)"
fi
check_eq "$(retraction_count d "$D2C")" 1 "d lists one retraction of the claim"
check_eq "$(receipts d "$D2C")" deleted "its receipt: deleted"
run --home "$TMP/d" policy remove "$R_C_NARROW" --retract
check_rc 0 "policy remove NARROW --retract"
if wait_until 20 has_withheld p "$D2C" product problem opened; then ok "p's copy loses the whole body"; else not_ok "p's copy loses the whole body"; fi
check_eq "$(field p "$D2C" fields)" '[]' "no field left"
check_eq "$(listed p "$D2C" kind)" '"claim"' "the record is still listed at p"
if wait_until 20 no_outstanding d "$D2C"; then ok "the second receipt reaches d"; else not_ok "the second receipt reaches d"; fi
check_eq "$(receipts d "$D2C")" "deleted deleted" "both receipts: deleted"
run --home "$TMP/p" verify
check_rc 0 "p still verifies (header and signature stay)"
run --home "$TMP/p" record list --text CUST-CANARY-OLD --json
check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 0 "a search at p no longer finds the retracted value"
# live data only: a backup is compacted (LMDB's free pages may keep old bytes in data.mdb)
"$T" --home "$TMP/p" backup "$TMP/p-backup" >/dev/null 2>&1 || not_ok "backup of p"
if grep -rqaF CUST-CANARY-OLD "$TMP/p-backup"; then not_ok "the retracted value is gone from p's store (a compacted backup)"; else ok "the retracted value is gone from p's store (a compacted backup)"; fi
# and from p's own store file, once compacted (the daemon does it when idle; ask now)
run --home "$TMP/p" compact
check_rc 0 "trestle compact at p (by its daemon)"
if in_store p CUST-CANARY-OLD; then
	not_ok "after compact, the retracted value is gone from p's data.mdb, free pages included"
else
	ok "after compact, the retracted value is gone from p's data.mdb, free pages included"
fi

# (b) share, then share --revoke --retract
mk ACC d account name="ACCT-SHARED-CANARY" city=Oslo
run --home "$TMP/d" share "$ACC" --to p
check_rc 0 "share ACC --to p"
arrives 20 p "the shared account reaches p" "$ACC"
check_eq "$(fval p "$ACC" name)" ACCT-SHARED-CANARY "with its fields"
run --home "$TMP/d" share "$ACC" --to p --revoke --retract
check_rc 0 "share ACC --to p --revoke --retract"
if wait_until 20 has_withheld p "$ACC" name city; then ok "p's copy of the account loses its body"; else not_ok "p's copy of the account loses its body"; fi
check_eq "$(listed p "$ACC" kind)" '"account"' "still listed at p"
if wait_until 20 no_outstanding d "$ACC"; then ok "the receipt for the account reaches d"; else not_ok "the receipt for the account reaches d"; fi
check_eq "$(receipts d "$ACC")" deleted "one retraction of the account, receipt: deleted"
"$T" --home "$TMP/p" backup "$TMP/p-backup2" >/dev/null 2>&1 || not_ok "backup of p"
if grep -rqaF ACCT-SHARED-CANARY "$TMP/p-backup2"; then not_ok "the account's name is gone from p's store (a compacted backup)"; else ok "the account's name is gone from p's store (a compacted backup)"; fi

# (c) trestle retract at the author: through d to p
check_eq "$(fval p "$I1" text)" "warn before the pump fails" "p holds I1's text"
run --home "$TMP/u1" retract "$I1" --fields text --reason "said too much"
check_rc 0 "u1: retract I1 --fields text"
if wait_until 20 has_withheld d "$I1" text; then ok "d's copy of I1 loses the text"; else not_ok "d's copy of I1 loses the text"; fi
if wait_until 20 has_withheld p "$I1" text; then ok "d retracts it in turn: p's copy loses the text"; else not_ok "d retracts it in turn: p's copy loses the text"; fi
check_eq "$(fval p "$I1" title)" "Pump wear warning" "p keeps the title"
check_eq "$(fval u1 "$I1" text)" "warn before the pump fails" "u1 (the author) keeps its text"
for n in d p; do
	run --home "$TMP/$n" record list --text "before the pump" --json
	check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 0 "a search at $n no longer finds the retracted text"
done
if wait_until 20 no_outstanding u1 "$I1"; then ok "d's receipt reaches u1"; else not_ok "d's receipt reaches u1"; fi
if wait_until 20 no_outstanding d "$I1"; then ok "p's receipt reaches d"; else not_ok "p's receipt reaches d"; fi
check_eq "$(retraction_count u1 "$I1")" 1 "u1 sent one retraction (to d, the one partner it sent I1)"
check_eq "$(receipts u1 "$I1") $(receipts d "$I1")" "deleted deleted" "u1's receipt from d and d's from p: deleted"

# (d) outstanding while the recipient is stopped
mk ACC2 d account name="ACCT-TWO" city=Bergen
run --home "$TMP/d" share "$ACC2" --to p
arrives 20 p "a second shared account reaches p" "$ACC2"
node_stop p
run --home "$TMP/d" retract "$ACC2" --to p --reason "sent by mistake"
check_rc 0 "retract ACC2 --to p while p is stopped"
check_eq "$(outstanding d "$ACC2")" 1 "retractions lists it as outstanding"
check_eq "$(receipts d "$ACC2")" None "(no receipt yet)"
run --home "$TMP/d" retractions
check_rc 0 "retractions (table) exits 0"
check_match "$OUT" "${ACC2:0:8}" "the table shows it"
node_start p
if wait_until 20 no_outstanding d "$ACC2"; then ok "once p runs again its receipt comes back"; else not_ok "once p runs again its receipt comes back"; fi
if wait_until 5 has_withheld p "$ACC2" name city; then ok "and p's copy lost its body"; else not_ok "and p's copy lost its body"; fi
check_eq "$(receipts d "$ACC2")" deleted "its receipt: deleted"
check_eq "$(outstanding d)" 0 "d has no outstanding retraction at all"

for n in p d u1 u2; do
	run --home "$TMP/$n" verify
	check_rc 0 "verify is clean at $n"
done
for n in p d u1 u2; do node_term "$n"; done
logs_clean p d u1 u2 pk
finish
