#!/usr/bin/env bash
# test_restore.sh: a node restored from a backup loses nothing for its partners.
#
# s shares ideas with r. s is backed up, writes more, and is restored from the older
# copy: its queue positions go back below r's cursor. Records s writes after the
# restore must still reach r (the queue epoch tells r to pull from the start), nothing
# arrives twice, and restore refuses while the daemon runs, a copy of another node, and
# a directory with no copy.
# Run: bash tests/sync/test_restore.sh TRESTLE TRESTLED [HOSTILE_PEER]
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

node_init s distributor
node_init r user
node_init x user
pair r s idea

idea() { "$T" --home "$TMP/$1" record create idea title="$2" text="t" </dev/null 2>/dev/null; }
holds() { [ "$(count "$1" "$2")" = "$3" ]; } # holds NAME KIND N

node_start s
node_start r
for i in 1 2 3; do idea s "before backup $i" >/dev/null; done
run --home "$TMP/s" backup "$TMP/bk"
check_rc 0 "backup of s"
for i in 4 5 6 7; do idea s "after backup $i" >/dev/null; done
if wait_ms 10000 holds r idea 7; then
	ok "r holds s's 7 ideas"
else
	not_ok "r holds s's 7 ideas (it has $(count r idea))"
fi

run --home "$TMP/s" restore "$TMP/bk"
check_rc 1 "restore refuses while trestled runs"
check_err_has "stop it first" "and says to stop it"

node_term s
run --home "$TMP/s" restore "$TMP/nothing-here"
check_rc 1 "restore of a directory with no copy fails"
run --home "$TMP/x" backup "$TMP/bkx"
run --home "$TMP/s" restore "$TMP/bkx"
check_rc 1 "restore of another node's copy fails"
check_err_has "another node key" "and says it is another node's"

run --home "$TMP/s" restore "$TMP/bk"
check_rc 0 "restore of s's own copy"
check_out_has "restored 3 records" "restore says how many records the copy holds"
kept() { compgen -G "$TMP/s/store/data.mdb.before-restore.*" >/dev/null; }
check "the replaced store is kept beside it" kept
check_eq "$(count s idea)" 3 "s holds the 3 ideas of the copy"
run --home "$TMP/s" verify
check_rc 0 "the restored store verifies"

# written after the restore: queue positions 4 and 5 again, below r's cursor (7)
A=$(idea s "after restore A")
B=$(idea s "after restore B")
node_start s
if wait_ms 10000 has_recs r "$A" "$B"; then
	ok "records written at s after the restore reach r (${WAITED_MS} ms)"
else
	not_ok "records written at s after the restore reach r"
	note "$(tail -n 5 "$TMP/r.log")"
fi
check_eq "$(count r idea)" 9 "r holds 9 ideas: the 7, and the 2 new, none twice"
DUPS=$(ids r | uniq -d)
check_eq "$DUPS" "" "no id twice at r"
if grep -q "restored from a backup" "$TMP/r.log"; then
	ok "r logged that s's store was restored"
else
	not_ok "r logged that s's store was restored"
fi
run --home "$TMP/r" verify
check_rc 0 "r verifies"
run --home "$TMP/s" audit
check_out_has "restore" "the audit log has the restore"

node_term s
node_term r
finish
