#!/usr/bin/env bash
# test_crash.sh: kill -9 of a daemon in the middle of a large sync; nothing is lost,
# nothing is duplicated, and the sync resumes from its cursor.
#  - s (a distributor) holds 40,000 claims, allowed for r (a producer that dials s).
#    r's daemon is killed with SIGKILL 4 times at random points of the sync and started
#    again each time. Before each kill, r's status --json shows the received count
#    moving (more than r held at the kill before, not all; equal to the cursor); after
#    it, r's store holds more claims than at the kill before, and not all (the kill
#    landed mid-sync).
#  - When it completes: r's claim ids (from `trestle export`, in arrival order) are
#    exactly s's, each once; status agrees (received = cursor = s's queue head: the
#    count r keeps with its cursor survived every kill, and counted nothing twice);
#    `trestle verify` is clean on r (every signature, digest and index entry).
#  - The cursor resumed: after r's last restart, s sent what r still lacked (plus at
#    most one batch that was in flight), not all 40,000 again.
#  - s's daemon is killed once in the middle of the sync of 20,000 more claims and
#    started again: r sees it down, then everything arrives; the same equality, verify
#    clean on both; the restarted s sends only what r lacked.
#  - No sanitizer report in either daemon's log.
# The kill points are random; the seed is printed (TR_TEST_SEED=N repeats the choice).
# Run: bash tests/sync/test_crash.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
. "$(dirname "$0")/lib.sh"

SEED=${TR_TEST_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$SEED
echo "# seed $SEED (TR_TEST_SEED=$SEED repeats the kill points)"

N1=40000  # claims of the first sync (r killed KILLS times)
N2=20000  # claims of the second sync (s killed once)
KILLS=4
BATCH=1024 # TR_BATCH_MAX_RECORDS: what may be in flight when a daemon dies
STARTED=$SECONDS

# rcv_cursor NAME PARTNER: "RECEIVED CURSOR" of PARTNER from one status --json of NAME
rcv_cursor() {
	"$T" --home "$TMP/$1" status --json 2>/dev/null | py 'import json,sys
try:
    p = [p for p in json.load(sys.stdin)["partners"] if p["name"] == sys.argv[1]][0]
    print(p["received"], p["cursor"])
except Exception as e:
    print("error", e)' "$2"
}

# stat_is NAME PARTNER FIELD VALUE: NAME's status shows VALUE for PARTNER's FIELD
stat_is() {
	[ "$(pstat "$1" "$2" "$3")" = "$4" ]
}

# in_range X LO HI: LO <= X <= HI (integers)
in_range() {
	[[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

node_init s distributor
node_init r producer
pair r s claim # r dials s; claims may flow both ways

gen_claims "$TMP/set1.csv" "$N1" first
run --home "$TMP/s" import --kind claim -q "$TMP/set1.csv"
check_rc 0 "s imports $N1 claims"
export_ids s "$TMP/s1.ids" claim || not_ok "export at s"
mapfile -t IDS <"$TMP/s1.ids"
check_eq "${#IDS[@]}" "$N1" "s holds $N1 claims"

###########################################################################################
# r killed -9 at random points of the sync of N1 claims
###########################################################################################
node_start s
launch r
prev=0
S_BEFORE='' C_LAST=''
for i in $(seq 1 $KILLS); do
	# a random queue position in the i-th of KILLS equal bands (the last ends at 3/4)
	lo=$((N1 * (4 * i - 3) / (4 * KILLS + 4))) hi=$((N1 * (4 * i - 1) / (4 * KILLS + 4)))
	rand_in pos "$lo" "$hi"
	if ! wait_rec 60 r "${IDS[pos - 1]}"; then
		not_ok "kill $i: claim $pos of $N1 reached r (within 60 s)"
		note "$(tail -5 "$TMP/r.log")" "$(tail -5 "$TMP/s.log")"
		break
	fi
	# the sync is moving: r's status --json shows more received than at the kill before
	# (received counts all r got from s, over every restart, and equals the cursor here)
	snap=$(rcv_cursor r s)
	if in_range "${snap% *}" $((prev + 1)) $((N1 - 1)) && [ "${snap% *}" = "${snap#* }" ]; then
		ok "before kill $i, r's status --json shows the sync moving (received = cursor = ${snap% *} of $N1)"
	else
		not_ok "before kill $i, r's status --json shows the sync moving"
		note "received and cursor: $snap (of $N1); r held $prev after the kill before"
	fi
	rand_sleep 40
	node_alive r || not_ok "r's daemon runs before kill $i"
	node_kill r
	c=$(nrecs r claim)
	if in_range "$c" $((prev + 1)) $((N1 - 1)); then
		ok "kill -9 $i of r landed mid-sync (r held $c of $N1 claims, $prev before)"
	else
		not_ok "kill -9 $i of r landed mid-sync"
		note "r held $c of $N1 claims after the kill, $prev after the kill before" \
			"(kill aimed after claim $pos)"
	fi
	prev=$c
	if [ "$i" = "$KILLS" ]; then
		# what s has sent so far; after this, it sends at most a pull r sent before it
		# died, and then what the restarted r asks for
		sleep 0.3
		S_BEFORE=$(pstat s r sent)
		C_LAST=$c
	fi
	launch r # no wait for its status: that would let much of the sync pass
done

if wait_rec 60 r "${IDS[N1 - 1]}" && wait_until 20 stat_is r s received "$N1"; then
	ok "the sync of $N1 claims completes after $KILLS kills"
else
	not_ok "the sync of $N1 claims completes after $KILLS kills"
	note "r holds $(nrecs r claim); status: received $(pstat r s received)" \
		"$(tail -5 "$TMP/r.log")"
fi
export_ids r "$TMP/r1.ids" claim || not_ok "export at r"
check_same_ids "$TMP/s1.ids" "$TMP/r1.ids" \
	"r's claims are exactly s's $N1, each once (no loss, no duplicate)"
check_eq "$(pstat r s received)/$(pstat r s cursor)" "$N1/$(pstat s r queued)" \
	"r's status: received = cursor = s's queue head = $N1"
run --home "$TMP/r" verify
check_rc 0 "verify is clean on r after $KILLS kills"
check_out_has "$N1 records checked" "verify checked exactly $N1 records on r"

# resumed from the cursor: s sent what r lacked after the last restart, not everything
S_END=$(pstat s r sent)
if [[ $S_BEFORE =~ ^[0-9]+$ && $S_END =~ ^[0-9]+$ ]]; then
	delta=$((S_END - S_BEFORE))
	if in_range "$delta" $((N1 - C_LAST)) $((N1 - C_LAST + BATCH)); then
		ok "r resumed from its cursor: after the last restart s sent $delta records, r lacked $((N1 - C_LAST)) of $N1"
	else
		not_ok "r resumed from its cursor after the last restart"
		note "s sent $delta records after r's last restart; r lacked $((N1 - C_LAST)) of $N1" \
			"(want between that and one batch ($BATCH) more)"
	fi
else
	not_ok "s's status reports what it sent"
	note "sent before the last restart: $S_BEFORE, at the end: $S_END"
fi

###########################################################################################
# s killed -9 in the middle of the sync of N2 more claims
###########################################################################################
node_stop r
gen_claims "$TMP/set2.csv" "$N2" second
run --home "$TMP/s" import --kind claim -q "$TMP/set2.csv"
check_rc 0 "s imports $N2 more claims while its daemon runs"
export_ids s "$TMP/s2.ids" claim || not_ok "export at s"
mapfile -t IDS <"$TMP/s2.ids"
check_eq "${#IDS[@]}" "$((N1 + N2))" "s holds $((N1 + N2)) claims"

launch r
rand_in pos $((N1 + N2 / 6)) $((N1 + N2 / 2))
if wait_rec 60 r "${IDS[pos - 1]}"; then
	rand_sleep 40
	node_kill s
	c=$(stable_nrecs r claim)
	if in_range "$c" $((N1 + 1)) $((N1 + N2 - 1)); then
		ok "kill -9 of s landed mid-sync (r held $c of $((N1 + N2)) claims)"
	else
		not_ok "kill -9 of s landed mid-sync"
		note "r held $c of $((N1 + N2)) claims (kill aimed after claim $pos)"
	fi
	if wait_until 8 is_down r s; then
		ok "r's status shows s down after s was killed"
	else
		not_ok "r's status shows s down after s was killed"
		note "connected: $(pstat r s connected)"
	fi
	node_start s
else
	not_ok "claim $pos of $((N1 + N2)) reached r (within 60 s)"
	note "$(tail -5 "$TMP/r.log")" "$(tail -5 "$TMP/s.log")"
	c=$N1
fi

N=$((N1 + N2))
if wait_rec 60 r "${IDS[N - 1]}" && wait_until 20 stat_is r s received "$N"; then
	ok "the sync of $N2 more claims completes after s's restart"
else
	not_ok "the sync of $N2 more claims completes after s's restart"
	note "r holds $(nrecs r claim); status: received $(pstat r s received)" \
		"$(tail -5 "$TMP/r.log")"
fi
export_ids r "$TMP/r2.ids" claim || not_ok "export at r"
check_same_ids "$TMP/s2.ids" "$TMP/r2.ids" \
	"r's claims are exactly s's $N after s's crash, each once"
check_eq "$(pstat r s received)/$(pstat r s cursor)" "$N/$(pstat s r queued)" \
	"r's status: received = cursor = s's queue head = $N"
sent=$(pstat s r sent)
if in_range "$sent" $((N - c)) $((N - c + BATCH)) && [ "$sent" -lt "$N2" ]; then
	ok "the restarted s sent only what r lacked ($sent records; r lacked $((N - c)))"
else
	not_ok "the restarted s sent only what r lacked"
	note "s sent $sent since its restart; r lacked $((N - c)) of $N ($N2 in this sync)"
fi
run --home "$TMP/r" verify
check_rc 0 "verify is clean on r"
check_out_has "$N records checked" "verify checked exactly $N records on r"
run --home "$TMP/s" verify
check_rc 0 "verify is clean on s after its kill -9"

check "no sanitizer report in r's log" log_clean r
check "no sanitizer report in s's log" log_clean s
node_stop r
node_stop s
echo "# took $((SECONDS - STARTED)) s after the import"
finish
