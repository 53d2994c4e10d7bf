#!/usr/bin/env bash
# test_basic.sh: real trestled daemons on loopback, each its own process and store.
#  - two nodes sync both ways over the one connection b dials (ideas b->a, claims a->b):
#    same ids on both sides, verify clean, status/status --json/sync, exit 3 without a
#    daemon, READY to $NOTIFY_SOCKET, a record at the partner within 5 s;
#  - default deny, policy allow backfills what is already there, policy deny stops;
#  - a second daemon on the same home refuses to start and the first keeps serving;
#  - SIGTERM stops cleanly; after a restart what was written meanwhile arrives, once;
#  - three nodes in a line (u dials d, d dials p): relay up two hops and back down,
#    nothing comes back to its author, exact counts; the author's onward terms.
# Run: bash tests/sync/test_basic.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
. "$(dirname "$0")/lib.sh"

# sorted ID...: the ids, sorted, one a line
sorted() {
	printf '%s\n' "$@" | sort
}

# field NAME ID KEY: the record's JSON at NAME: KEY ("withheld", "fields", ...) as JSON
field() {
	"$T" --home "$TMP/$1" record show "$2" --json 2>/dev/null |
		py 'import json,sys
try:
    print(json.dumps(json.load(sys.stdin).get(sys.argv[1])))
except Exception:
    print("error")' "$3"
}

###########################################################################################
# Two nodes: a (distributor) and b (a user firm that dials a)
###########################################################################################
node_init a distributor
node_init b user
pair b a # b dials a; no kind allowed yet
"$T" --home "$TMP/b" policy allow a idea >/dev/null || not_ok "b allows idea for a"
"$T" --home "$TMP/a" policy allow b claim >/dev/null || not_ok "a allows claim for b"

# no daemon: status and sync say so, with exit status 3
run --home "$TMP/a" status
check_rc 3 "status without a daemon exits 3"
check_err_has "not running" "and says trestled is not running"
run --home "$TMP/a" status --json
check_rc 3 "status --json without a daemon exits 3"
run --home "$TMP/b" sync a
check_rc 3 "sync without a daemon exits 3"

# records written before either daemon runs
mk B_I1 b idea title="Quieter rinse" text="The rinse is loud"
mk B_I2 b idea title="Bigger basket" text="Pots do not fit"
mk A_C1 a claim product=DW-200 serial=SN-1 opened=2026-01-05 problem="Drain pump stops"
mk A_C2 a claim product=DW-200 serial=SN-2 opened=2026-01-06 problem="Door leaks"

# READY=1 reaches $NOTIFY_SOCKET (sd_notify protocol: one UNIX datagram)
notify_listen "$TMP/notify.sock" "$TMP/notify.out"
NOTIFY_SOCKET=$TMP/notify.sock node_start a
if wait_until 5 grep -qx 'READY=1' "$TMP/notify.out"; then
	ok "trestled sends READY=1 to \$NOTIFY_SOCKET"
else
	not_ok "trestled sends READY=1 to \$NOTIFY_SOCKET"
	note "got: $(tr '\n' ' ' <"$TMP/notify.out")" "$(tail -3 "$TMP/a.log")"
fi
check_match "$(grep -c . "$TMP/a.log")" '^[1-9]' "trestled logs to stderr"
check_match "$(head -1 "$TMP/a.log")" '^<[0-7]>' "log lines carry a journald level prefix"

node_start b
run --home "$TMP/b" status
check_rc 0 "status with a daemon exits 0"

# both ways over one connection (only b has an endpoint: a never dials)
if wait_until 10 has_recs a "$B_I1" "$B_I2"; then ok "ideas written at b reach a"; else not_ok "ideas written at b reach a"; fi
if wait_until 10 has_recs b "$A_C1" "$A_C2"; then ok "claims written at a reach b"; else not_ok "claims written at a reach b"; fi
check_eq "$(pstat a b via)" accepted "a serves b over the connection b dialed"
check_eq "$(pstat b a via)" dialed "b syncs with a over the connection it dialed"

# latency sanity (not a timing benchmark): live records arrive within 5 s
mk B_I3 b idea title="Eco mode" text="Half load button"
if wait_ms 5000 has_rec a "$B_I3"; then
	ok "a record written at b is at a within 5 s (${WAITED_MS} ms)"
else
	not_ok "a record written at b is at a within 5 s"
fi
mk A_C3 a claim product=DW-300 opened=2026-02-01 problem="Display dark"
if wait_ms 5000 has_rec b "$A_C3"; then
	ok "a record written at a is at b within 5 s (${WAITED_MS} ms)"
else
	not_ok "a record written at a is at b within 5 s"
fi

BOTH=("$B_I1" "$B_I2" "$B_I3" "$A_C1" "$A_C2" "$A_C3")
check_eq "$(ids a)" "$(sorted "${BOTH[@]}")" "a holds exactly the six records"
check_eq "$(ids b)" "$(sorted "${BOTH[@]}")" "b holds the same record ids"
run --home "$TMP/a" verify
check_rc 0 "verify is clean at a"
run --home "$TMP/b" verify
check_rc 0 "verify is clean at b"

# status: the table, and --json with counts that match each other
run --home "$TMP/a" status
check_rc 0 "status exits 0"
check_out_has "PARTNER" "status prints a table with a header"
check_match "$OUT" $'\nb +connected +accepted ' "the table shows b connected (it dialed in)"
run --home "$TMP/b" status --json
check_rc 0 "status --json exits 0"
check_eq "$(py 'import json,sys; d=json.loads(sys.argv[1]); print(len(d["partners"]), d["partners"][0]["name"], d["partners"][0]["connected"], d["name"])' "$OUT")" \
	"1 a True b" "status --json: a partners array with a, connected"
check_eq "$(pstat a b received) $(pstat a b sent)" "3 3" "a: received 3 ideas from b, sent 3 claims"
check_eq "$(pstat b a received) $(pstat b a sent)" "3 3" "b: received 3 claims from a, sent 3 ideas"
check_eq "$(pstat a b to_send)" 0 "a has nothing left to send to b"
check_eq "$(pstat a b last_error)" null "no error with b"

# sync PARTNER answers
run --home "$TMP/b" sync a
check_rc 0 "sync a exits 0"
check_out_has "pulling from a" "sync says it pulls"
run --home "$TMP/b" sync nosuch
check_rc 1 "sync of an unknown partner exits 1"
check_err_has "nosuch" "and names it"

###########################################################################################
# Default deny, backfill, deny
###########################################################################################
mk A_I1 a idea title="Not for b" text="idea kept at a" # idea is not allowed a->b
mk B_C1 b claim product=DW-200 opened=2026-03-01 problem="Not for a"
# controls written after them, on the same queues: once these are there, the others
# would have been too
mk A_C4 a claim product=DW-200 opened=2026-03-02 problem="control a->b"
mk B_I4 b idea title="control" text="control b->a"
if wait_until 10 has_rec b "$A_C4" && wait_until 10 has_rec a "$B_I4"; then
	ok "allowed kinds written after the denied ones arrived"
else
	not_ok "allowed kinds written after the denied ones arrived"
fi
if has_rec b "$A_I1"; then not_ok "an idea (not allowed a->b) stays at a"; else ok "an idea (not allowed a->b) stays at a"; fi
if has_rec a "$B_C1"; then not_ok "a claim (not allowed b->a) stays at b"; else ok "a claim (not allowed b->a) stays at b"; fi

# allow: what is already there is queued too (a's own ideas; not b's ideas, which came
# from b)
mk A_I2 a idea title="Also not yet" text="second idea at a"
run --home "$TMP/a" policy allow b idea
check_rc 0 "policy allow b idea exits 0"
check_out_has "2 records already here queued for it)" "allow backfills the 2 ideas written at a"
if wait_until 10 has_recs b "$A_I1" "$A_I2"; then
	ok "the backfilled ideas reach b"
else
	not_ok "the backfilled ideas reach b"
fi

# deny: new ones stop
run --home "$TMP/a" policy deny b idea
check_rc 0 "policy deny b idea exits 0"
mk A_I3 a idea title="After deny" text="must stay at a"
mk A_C5 a claim product=DW-200 opened=2026-03-03 problem="control after deny"
if wait_until 10 has_rec b "$A_C5"; then ok "a claim after the deny reaches b"; else not_ok "a claim after the deny reaches b"; fi
if has_rec b "$A_I3"; then not_ok "an idea written after policy deny stays at a"; else ok "an idea written after policy deny stays at a"; fi

BOTH+=("$B_I4" "$A_C4" "$A_I1" "$A_I2" "$A_C5")
A_ONLY=("$A_I3")
B_ONLY=("$B_C1")

###########################################################################################
# A second daemon on the same home refuses; the first goes on
###########################################################################################
timeout -k 2 10 "$D" --home "$TMP/a" </dev/null >/dev/null 2>"$TMP/second.err"
RC=$?
ERR=$(cat "$TMP/second.err")
OUT=
check_rc 1 "a second trestled on the same home exits 1"
check_err_has "another trestled (pid ${DPID[a]}) runs" "and says another (with its pid) runs"
check_eq "$(pstat a b connected)" true "the first daemon still has b connected"
check_eq "$("$T" --home "$TMP/a" status --json 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin)["pid"])')" \
	"${DPID[a]}" "status still answers from the first daemon"
mk B_I5 b idea title="After second" text="first daemon still serves"
if wait_until 10 has_rec a "$B_I5"; then ok "the first daemon still syncs"; else not_ok "the first daemon still syncs"; fi
BOTH+=("$B_I5")

###########################################################################################
# SIGTERM, and a restart resumes
###########################################################################################
node_term b
check_eq "$NODE_RC" 0 "SIGTERM stops trestled with exit status 0"
check_match "$(tail -1 "$TMP/b.log")" 'stopped' "the log ends with \"stopped\""
run --home "$TMP/b" status
check_rc 3 "status exits 3 once the daemon stopped"
run --home "$TMP/b" sync a
check_rc 3 "sync exits 3 once the daemon stopped"
if wait_until 5 is_down a b; then ok "a sees b disconnected"; else not_ok "a sees b disconnected"; fi

mk B_I6 b idea title="While down 1" text="written while b's daemon was stopped"
mk B_I7 b idea title="While down 2" text="written while b's daemon was stopped"
mk A_C6 a claim product=DW-200 opened=2026-04-01 problem="written while b was down"
node_start b
if wait_until 10 has_recs a "$B_I6" "$B_I7"; then
	ok "after a restart, records written at b meanwhile reach a"
else
	not_ok "after a restart, records written at b meanwhile reach a"
fi
if wait_until 10 has_rec b "$A_C6"; then
	ok "after a restart, records written at a meanwhile reach b"
else
	not_ok "after a restart, records written at a meanwhile reach b"
fi
BOTH+=("$B_I6" "$B_I7" "$A_C6")
check_eq "$(ids a)" "$(sorted "${BOTH[@]}" "${A_ONLY[@]}")" "a holds exactly what it should (nothing twice)"
check_eq "$(ids b)" "$(sorted "${BOTH[@]}" "${B_ONLY[@]}")" "b holds exactly what it should (nothing twice)"
# received counts are kept in the store; sent counts since the daemon started
check_eq "$(pstat a b received)" 7 "a received each of b's 7 shared ideas once"
check_eq "$(pstat b a received)" 8 "b received each of a's 8 shared records once"
check_eq "$(pstat a b sent)" 8 "a served each record to b once (b resumed from its cursor)"
check_eq "$(pstat b a sent)" 2 "after its restart, b served a only the 2 new ideas"
run --home "$TMP/a" verify
check_rc 0 "verify is clean at a at the end"
run --home "$TMP/b" verify
check_rc 0 "verify is clean at b at the end"

node_term b
node_term a
check_eq "$NODE_RC" 0 "a stops with exit status 0"
if wait_until 2 grep -qx 'STOPPING=1' "$TMP/notify.out"; then ok "trestled tells systemd STOPPING=1"; else not_ok "trestled tells systemd STOPPING=1"; fi

###########################################################################################
# Three nodes in a line: u (user) dials d (distributor), d dials p (producer)
###########################################################################################
node_init u user
node_init d distributor
node_init p producer
pair u d idea status # both ways
pair d p idea status
# u lets d pass its ideas on (without it d relays none of them, whatever its rules)
"$T" --home "$TMP/u" consent grant d --for ideas >/dev/null || not_ok "u consents: ideas to d"
U_C=$("$T" --home "$TMP/u" consent list --json | py 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
node_start u
node_start d
node_start p

mk U_I u idea title="Pump wear warning" text="warn before the pump fails" \
	--onward-hops 1 --onward-to producer
if wait_until 10 has_rec p "$U_I"; then ok "an idea written at u is relayed by d to p"; else not_ok "an idea written at u is relayed by d to p"; fi
mk P_S p status --ref "$U_I" state=planned message="in the Q3 release" \
	--onward-hops 1 --onward-to user
if wait_until 10 has_rec u "$P_S"; then ok "a status written at p comes back down to u"; else not_ok "a status written at p comes back down to u"; fi
mk D_I d idea title="From the distributor" text="to both sides"
if wait_until 10 has_rec u "$D_I" && wait_until 10 has_rec p "$D_I"; then
	ok "an idea written at d reaches u and p"
else
	not_ok "an idea written at d reaches u and p"
fi
# a record never comes back to its author's node, nor to where it came from
# (u's consent goes to d, the partner it names, and no further)
LINE=$(sorted "$U_I" "$P_S" "$D_I")
LINE_C=$(sorted "$U_I" "$P_S" "$D_I" "$U_C")
check_eq "$(ids u)" "$LINE_C" "u holds exactly the 3 records and its consent"
check_eq "$(ids d)" "$LINE_C" "d holds exactly the 3 records and u's consent"
check_eq "$(ids p)" "$LINE" "p holds exactly the 3 records"
check_eq "$(pstat d u sent) $(pstat d u received)" "2 2" "d sent u 2 records (not u's own idea), received 2"
check_eq "$(pstat d p sent) $(pstat d p received)" "2 1" "d sent p 2 records (not p's own status), received 1"
check_eq "$(pstat u d sent) $(pstat u d received)" "2 2" "u sent 2 (idea, consent), received 2"
check_eq "$(pstat p d sent) $(pstat p d received)" "1 2" "p sent 1, received 2"
for n in u d p; do
	run --home "$TMP/$n" verify
	check_rc 0 "verify is clean at $n"
done

# the author's onward terms (DESIGN "What always holds"): a record with no onward hops
# stops at the first partner; a private field does not go beyond it
mk U_I0 u idea title="First partner only" text="default onward terms: 0 hops"
mk U_I1 u idea title="Private submitter" text="submitter stays at d" submitter="Karin" \
	--onward-hops 1 --onward-to producer --private submitter
if wait_until 10 has_rec p "$U_I1"; then ok "the control idea reaches p"; else not_ok "the control idea reaches p"; fi
if has_rec d "$U_I0"; then ok "an idea with 0 onward hops reaches the first partner"; else not_ok "an idea with 0 onward hops reaches the first partner"; fi
if has_rec p "$U_I0"; then
	not_ok "an idea with 0 onward hops is not relayed beyond the first partner"
else
	ok "an idea with 0 onward hops is not relayed beyond the first partner"
fi
check_eq "$(field d "$U_I1" withheld)" '[]' "d (first partner) sees the private field"
check_eq "$(field p "$U_I1" withheld)" '["submitter"]' "p (beyond the first partner) does not get the private field"

logs_clean a b u d p

finish
