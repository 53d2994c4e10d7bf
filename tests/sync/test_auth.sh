#!/usr/bin/env bash
# test_auth.sh: who gets in. Real trestled daemons on loopback; a (distributor) listens,
# the others dial it:
#  - n: a normal partner (the positive control all along);
#  - x: has a as partner, a does not have x: refused, gets nothing and gives nothing,
#    listed in a's `partner pending` (fingerprint, 127.0.0.1), its status says refused;
#    `partner add` on a lets it in (it redials with back-off) and records flow;
#  - y: refused too; `partner ignore` forgets it;
#  - removal and suspension cut a live partner within a second; resume brings it back
#    with what was written meanwhile;
#  - w: dials a's endpoint with y's id (the wrong key): no connection, a handshake error.
# Run: bash tests/sync/test_auth.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
. "$(dirname "$0")/lib.sh"

# idea VAR NAME: a fresh idea written at NAME
SEQ=0
idea() {
	SEQ=$((SEQ + 1))
	mk "$1" "$2" idea title="idea $SEQ from $2" text="written at $2 (#$SEQ)"
}

# fpr NAME: the fingerprint `trestle id` prints at NAME
fpr() {
	"$T" --home "$TMP/$1" id | awk '$1 == "fingerprint:" {print $2}'
}

# pending_has NAME FPR: NAME's `partner pending --json` lists FPR; PENDING_ADDR gets its
# address
pending_has() {
	PENDING_ADDR=$("$T" --home "$TMP/$1" partner pending --json 2>/dev/null | py 'import json,sys
for p in json.load(sys.stdin):
    if p["fingerprint"] == sys.argv[1]:
        print(p["address"]); break
else:
    sys.exit(1)' "$2")
}

node_init a distributor
node_init n user
node_init x user
node_init y user
node_init w user
ID_a=$(node_id a)
ID_x=$(node_id x)
ID_y=$(node_id y)
FPR_x=$(fpr x)
FPR_y=$(fpr y)
check_match "$FPR_x" '^[a-z0-9]{4}-[a-z0-9]{4}$' "trestle id prints x's fingerprint"

pair n a idea # n dials a; idea allowed both ways
# x and y know a (and allow it ideas); a knows neither
for o in x y; do
	"$T" --home "$TMP/$o" partner add a "$ID_a" --relation upstream \
		--endpoint "tcp://127.0.0.1:$PORT_a" >/dev/null || not_ok "$o adds a"
	"$T" --home "$TMP/$o" policy allow a idea >/dev/null || not_ok "$o allows idea for a"
done
# w dials a's endpoint but expects y's key there
"$T" --home "$TMP/w" partner add a-wrong "$ID_y" --relation upstream \
	--endpoint "tcp://127.0.0.1:$PORT_a" >/dev/null || not_ok "w adds y's id at a's endpoint"
"$T" --home "$TMP/w" policy allow a-wrong idea >/dev/null || not_ok "w allows idea"

idea X1 x
idea Y1 y
idea W1 w
idea N1 n
idea A1 a # allowed for n only

node_start a
for o in n x y w; do node_start "$o"; done

###########################################################################################
# An unknown key is refused and gets nothing
###########################################################################################
arrives 10 a "a normal partner's idea reaches a (positive control)" "$N1"
arrives 10 n "a's idea reaches the normal partner (positive control)" "$A1"
sleep 2 # the same time and more for the refused ones
not_there a "$X1" "an idea from x (no partner of a) never reaches a"
not_there x "$A1" "nothing of a's reaches x"
check_eq "$(count x)" 1 "x holds only its own record"
not_there a "$Y1" "an idea from y (no partner of a) never reaches a"

if wait_until 5 pending_has a "$FPR_x"; then
	ok "partner pending on a lists x's fingerprint ($FPR_x)"
else
	not_ok "partner pending on a lists x's fingerprint ($FPR_x)"
	note "$("$T" --home "$TMP/a" partner pending 2>&1)"
fi
check_eq "$PENDING_ADDR" 127.0.0.1 "with the address x dialed from"
run --home "$TMP/a" partner pending
check_rc 0 "partner pending exits 0"
check_out_has "$FPR_x" "the table shows x's fingerprint"
check_eq "$(pstat x a connected)" false "x's status: a is not connected"
check_match "$(pstat x a last_error)" 'refused' "x's status shows a last_error about being refused"
check_eq "$(pstat a x connected)" none "a's status does not show x at all"

# ignore: y is forgotten (stopped first, so it does not dial again meanwhile)
if wait_until 5 pending_has a "$FPR_y"; then ok "partner pending on a lists y too"; else not_ok "partner pending on a lists y too"; fi
node_term y
sleep 0.2 # a handshake y had under way is through
run --home "$TMP/a" partner ignore "$FPR_y"
check_rc 0 "partner ignore exits 0"
if pending_has a "$FPR_y"; then not_ok "partner ignore removes y's entry"; else ok "partner ignore removes y's entry"; fi
if pending_has a "$FPR_x"; then ok "x's entry stays"; else not_ok "x's entry stays"; fi
run --home "$TMP/a" partner ignore "$FPR_y"
check_rc 1 "ignoring a fingerprint that is not pending exits 1"

###########################################################################################
# partner add lets x in: it redials (with back-off) and records flow
###########################################################################################
run --home "$TMP/a" partner add x "$ID_x" --relation downstream
check_rc 0 "a adds x"
check_out_has "it had dialed in from 127.0.0.1" "add says x had dialed in, and from where"
"$T" --home "$TMP/a" policy allow x idea >/dev/null || not_ok "a allows idea for x"
if pending_has a "$FPR_x"; then not_ok "x is no longer pending"; else ok "x is no longer pending"; fi
if wait_ms 12000 is_connected x a; then
	ok "x gets in after it was added (redial with back-off: ${WAITED_MS} ms)"
else
	not_ok "x gets in after it was added (redial with back-off)"
fi
arrives 5 a "x's idea written while refused reaches a" "$X1"
arrives 5 x "a's ideas reach x (backfilled)" "$A1"
check_eq "$(pstat a x connected)" true "a's status shows x connected"

###########################################################################################
# Suspension cuts n within a second; resume brings it back with what was written
###########################################################################################
check_eq "$(pstat n a connected)" true "n is connected before the suspension"
run --home "$TMP/a" partner suspend n
check_rc 0 "a suspends n"
sleep 0.1
check "a's daemon still runs after the suspension" node_alive a
if wait_ms 1000 is_down n a; then
	ok "n is cut within a second of the suspension (${WAITED_MS} ms)"
else
	not_ok "n is cut within a second of the suspension"
fi
idea N2 n
idea A2 a # allowed for n and x
idea X2 x
arrives 5 a "x (still a partner) goes on syncing with a" "$X2"
arrives 5 x "a's idea reaches x (control)" "$A2"
sleep 1
not_there a "$N2" "an idea written at n while suspended does not reach a"
not_there n "$A2" "an idea written at a while n is suspended does not reach n"
check_eq "$(pstat a n suspended)" true "a's status shows n suspended"
check_eq "$(pstat n a connected)" false "n stays cut"

run --home "$TMP/a" partner resume n
check_rc 0 "a resumes n"
sleep 0.1
check "a's daemon still runs after the resume" node_alive a
if wait_ms 12000 is_connected n a; then
	ok "n gets in again after resume (${WAITED_MS} ms)"
else
	not_ok "n gets in again after resume"
fi
arrives 5 a "the idea written at n while suspended arrives after resume" "$N2"
arrives 5 n "the idea written at a while n was suspended arrives after resume" "$A2"

###########################################################################################
# Removal cuts x within a second; what x writes after does not arrive
###########################################################################################
check_eq "$(pstat x a connected)" true "x is connected before its removal"
run --home "$TMP/a" partner remove x
check_rc 0 "a removes x"
sleep 0.1
check "a's daemon still runs after the removal" node_alive a
if wait_ms 1000 is_down x a; then
	ok "x is cut within a second of its removal (${WAITED_MS} ms)"
else
	not_ok "x is cut within a second of its removal"
fi
idea X3 x
idea N3 n
idea A3 a
arrives 5 a "n goes on syncing with a after x's removal" "$N3"
arrives 5 n "a's idea reaches n (control)" "$A3"
sleep 1
not_there a "$X3" "an idea written at x after its removal does not reach a"
not_there x "$A3" "a's new idea does not reach the removed x"
check_eq "$(pstat x a connected)" false "x stays cut"
check_eq "$(pstat a x connected)" none "x is gone from a's status"

###########################################################################################
# The wrong key at an endpoint: no connection, a handshake error
###########################################################################################
check_eq "$(pstat w a-wrong connected)" false "w, expecting y's key at a's endpoint, is not connected"
check_match "$(pstat w a-wrong last_error)" 'handshake' "w's status shows the handshake error"
not_there a "$W1" "nothing of w's reaches a"

for o in a n x; do
	run --home "$TMP/$o" verify
	check_rc 0 "verify is clean at $o"
done
for o in a n x w; do
	node_term "$o"
	check_eq "$NODE_RC" 0 "$o stops cleanly"
	[ "$NODE_RC" = 0 ] || note "$(grep -E '^<[0-4]>' "$TMP/$o.log" | tail -5)" # why
done

logs_clean a n x y w

finish
