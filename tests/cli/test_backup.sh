#!/usr/bin/env bash
# test_backup.sh: trestle backup while an import writes: the copy is consistent and opens
# as a node (with the node's key and config); a directory that already holds a copy is
# refused.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
new_node "$H" --name "Backup Test" --role distributor
ID=$("$T" --home "$H" id --json </dev/null 2>/dev/null)

gen_csv() { # FILE ROWS TAG
	py 'import sys
with open(sys.argv[1], "w") as f:
    f.write("product,serial,problem,opened\n")
    for i in range(int(sys.argv[2])):
        f.write("DW-%d,%s-%06d,\"Door seal leaks, case %d\",2026-04-%02d\n" % (i % 20, sys.argv[3], i, i, 1 + i % 28))' "$@"
}
gen_csv "$TMP/base.csv" 2000 BASE
ROWS=60000
gen_csv "$TMP/big.csv" "$ROWS" BIG
run --home "$H" import --quiet --kind claim "$TMP/base.csv"
check_rc 0 "2000 records to start with"
FIRST=$("$T" --home "$H" record list --json --limit 1 </dev/null 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin)[0]["id"])' 2>&1)
BASE=2000

# ---- a backup while an import writes ----
DB=$H/store/data.mdb
before=$(mtime "$DB")
bg_start PID --home "$H" import --quiet --kind claim "$TMP/big.csv"
waited=0
while [ "$(mtime "$DB")" == "$before" ] && kill -0 "$PID" 2>/dev/null && [ $waited -lt 3000 ]; do
	sleep 0.02
	waited=$((waited + 1))
done
sleep 0.3
RUNNING_BEFORE=no
kill -0 "$PID" 2>/dev/null && RUNNING_BEFORE=yes
run --home "$H" backup "$TMP/bk1"
BK_RC=$RC BK_OUT=$OUT BK_ERR=$ERR
RUNNING_AFTER=no
kill -0 "$PID" 2>/dev/null && RUNNING_AFTER=yes
run --home "$H" record create account name="Written during the import"
C_RC=$RC
run --home "$H" verify
V_RC=$RC V_OUT=$OUT
V_RUNNING=no
kill -0 "$PID" 2>/dev/null && V_RUNNING=yes
bg_wait "$PID"
check_eq "$RUNNING_BEFORE/$RUNNING_AFTER" "yes/yes" "the import was writing before and after the backup"
RC=$BK_RC OUT=$BK_OUT ERR=$BK_ERR
check_rc 0 "backup during the import exits 0"
SIZE=$(stat -c %s "$TMP/bk1/data.mdb" 2>/dev/null)
check_eq "$OUT" "backed up the store to $TMP/bk1/data.mdb (${SIZE:-?} bytes)" "backup says where the copy is and its size"
check_eq "$(stat -c %a "$TMP/bk1" 2>&1)" 700 "the backup directory is created with mode 0700"
check_eq "$(stat -c %a "$TMP/bk1/data.mdb" 2>&1)" 600 "the copy has mode 0600, like the store"
if [ "$V_RUNNING" = yes ]; then
	RC=$V_RC OUT=$V_OUT ERR=""
	check_rc 0 "verify during the import exits 0"
fi
check_eq "$C_RC" 0 "record create during the import exits 0"
check_eq "$BG_RC" 0 "the import went on to the end"
check_eq "$(cat "$TMP/bg.out")" "imported $ROWS records from $TMP/big.csv" "the import imported every row"
FINAL=$((BASE + ROWS + 1))
check_eq "$(count "$H")" "$FINAL" "the node holds $FINAL records"

# ---- the copy opens as a node ----
# restore_to DIR BACKUPDIR: a node home from the node's config and key and a copy
restore_to() {
	mkdir -p "$1/store"
	cp -p "$H/trestle.conf" "$H/node.key" "$1/"
	cp -p "$2/data.mdb" "$1/store/data.mdb"
}
C=$TMP/copy
restore_to "$C" "$TMP/bk1"
check_eq "$(stat -c %a "$C/node.key")" 600 "the copied key keeps mode 0600"
run --home "$C" id --json
check_eq "$OUT" "$ID" "the restored node has the same id"
run_t 60 --home "$C" verify
check_rc 0 "verify passes on the copy taken during the import"
NB=$(sed -n 's/^\([0-9]*\) records checked: all signatures and fields verify, indexes consistent$/\1/p' <<<"$OUT")
check_match "${NB:-}" '^[0-9]+$' "verify on the copy says how many records it checked"
NB=${NB:-0}
if [ "$NB" -ge "$BASE" ] && [ "$NB" -le "$((BASE + ROWS))" ] && [ $(((NB - BASE) % 1000)) -eq 0 ]; then
	ok "the copy holds $NB records: the $BASE first and whole batches of the import"
else
	not_ok "the copy holds $NB records: the $BASE first and whole batches of the import"
fi
check_eq "$(count "$C")" "$NB" "the copy lists as many records as verify checked"
run --home "$C" record show "${FIRST:0:12}"
check_rc 0 "a record from before the import shows on the copy"
run --home "$C" record list --kind claim --product DW-3 --json
check_eq "$(grep -c '^  {"id":' <<<"$OUT")" "$(((BASE / 20) + (NB - BASE) / 20))" "the copy's product index is complete"
run --home "$C" record create account name="Written to the copy"
check_rc 0 "the restored node takes new records"

# a backup when the import is done holds everything
run --home "$H" backup "$TMP/bk2"
check_rc 0 "a second backup exits 0"
restore_to "$TMP/copy2" "$TMP/bk2"
run_t 60 --home "$TMP/copy2" verify
check_rc 0 "verify passes on the second copy"
check_eq "$OUT" "$FINAL records checked: all signatures and fields verify, indexes consistent" "the second copy holds all $FINAL records"
STORE_SIZE=$(stat -c %s "$DB")
check "the copy is compacted (no larger than the store: $(stat -c %s "$TMP/bk2/data.mdb") <= $STORE_SIZE)" \
	test "$(stat -c %s "$TMP/bk2/data.mdb")" -le "$STORE_SIZE"

# ---- refused targets ----
SUM=$(sha256sum <"$TMP/bk1/data.mdb")
run --home "$H" backup "$TMP/bk1"
check_rc 1 "a backup into a directory that holds data.mdb exits 1"
check_err_has "already holds a store copy" "the message says the directory holds a copy"
check_eq "$(sha256sum <"$TMP/bk1/data.mdb")" "$SUM" "the copy already there is unchanged"
mkdir -p "$TMP/junk"
echo "not a store" >"$TMP/junk/data.mdb"
run --home "$H" backup "$TMP/junk"
check_rc 1 "a backup into a directory with any data.mdb exits 1"
check_eq "$(cat "$TMP/junk/data.mdb")" "not a store" "that data.mdb is left alone"
SUM=$(sha256sum <"$DB")
run --home "$H" backup "$H/store"
check_rc 1 "a backup into the node's own store directory exits 1"
check_eq "$(sha256sum <"$DB")" "$SUM" "the store is unchanged"
run --home "$H" backup "$TMP/no/such/parent"
check_rc 1 "a backup into a directory whose parent is missing exits 1"
check "no directory was made for it" test ! -e "$TMP/no"
run --home "$H" backup
check_rc 2 "backup without a directory is a usage error"
run_t 60 --home "$H" verify
check_rc 0 "the node still verifies"

run --home "$H" audit
check_eq "$(grep -c '  backup     to ' <<<"$OUT")" 2 "the audit log has the two backups"
check_out_has "  backup     to $TMP/bk1" "the audit log names the first backup's directory"

finish
