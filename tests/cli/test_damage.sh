#!/usr/bin/env bash
# test_damage.sh: a damaged or foreign store, and a full disk. Every command must fail
# cleanly (exit 1 with a message, never a crash or a hang), leave a file it refuses
# unchanged, and `verify` must name damage to a record (exit 4). An import that runs
# out of space keeps whole batches, says so, and can be resumed.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
SAVE=$TMP/pristine
DB=$H/store/data.mdb
new_node "$H" --name "Damage Test"
for i in 1 2 3; do
	"$T" --home "$H" record create claim product=DW-200 opened=2026-01-0$i \
		problem="MARKER$i unique text for claim $i" </dev/null >"$TMP/id$i" 2>&1
done
ID1=$(cat "$TMP/id1")
ID2=$(cat "$TMP/id2")
ID3=$(cat "$TMP/id3")
check_eq "$(count "$H")" 3 "a node with 3 claims"
cp -a "$H" "$SAVE"
printf 'product,problem,opened\nDW-1,imported,2026-02-01\n' >"$TMP/one.csv"

restore() {
	rm -rf "$H"
	cp -a "$SAVE" "$H"
}

# every command that opens the store, as one string each
CMDS=("id" "record list" "record show ${ID1:0:8}" "record create account name=New"
	"import $TMP/one.csv --kind claim" "export" "verify" "audit" "backup $TMP/bk")

# refused WHAT REGEX: each command exits 1 (no signal, no hang) with a message on
# stderr matching REGEX that names the store, and data.mdb is unchanged
refused() {
	local what=$1 re=$2 sum c
	sum=$(sha256sum <"$DB")
	for c in "${CMDS[@]}"; do
		rm -rf "$TMP/bk"
		# shellcheck disable=SC2086
		run_t 20 --home "$H" $c
		if [ "$RC" = 1 ] && [[ $ERR =~ $re ]] && has "$ERR" "trestle: error: " && has "$ERR" "$H/store" &&
			! has "$ERR" "Sanitizer" && ! has "$ERR" "runtime error"; then
			ok "$what: '${c%% "$TMP"*}' exits 1 with a clear message"
		else
			not_ok "$what: '${c%% "$TMP"*}' exits 1 with a clear message"
			show_run
		fi
	done
	check_eq "$(sha256sum <"$DB")" "$sum" "$what: data.mdb is unchanged"
	check "$what: no backup was written" test ! -e "$TMP/bk/data.mdb"
}

# ---- random bytes ----
SIZE=$(stat -c %s "$DB")
head -c "$SIZE" /dev/urandom >"$DB"
refused "random bytes" "not an LMDB file|damaged|not a trestle store"
head -c 100 /dev/urandom >"$DB"
refused "100 random bytes" "not an LMDB file|damaged|not a trestle store|truncated"
head -c 1048576 /dev/urandom >"$DB"
refused "1 MiB of random bytes" "not an LMDB file|damaged|not a trestle store"

# ---- truncated ----
restore
truncate -s $((SIZE / 2)) "$DB"
refused "truncated to half" "truncated|damaged"
restore
truncate -s $((SIZE / 2 + 1000)) "$DB"
refused "truncated in the middle of a page" "truncated|damaged"
restore
: >"$DB"
refused "truncated to 0 bytes" "empty|truncated|damaged"

# ---- an LMDB file of something else ----
restore
rm -f "$H/store/data.mdb" "$H/store/lock.mdb"
printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 68656c6c6f\n 776f726c64\nDATA=END\n' |
	mdb_load -f /dev/stdin "$H/store"
check_eq "$?" 0 "mdb_load made a foreign LMDB store"
refused "a foreign LMDB file" "not a trestle store"
check_eq "$(mdb_dump -p "$H/store" 2>&1 | sed -n '/HEADER=END/,/DATA=END/p' | tr '\n' ' ')" \
	"HEADER=END  hello  world DATA=END " "the foreign database still holds exactly its own data"
# one with a sub-database named meta, as a trestle store has
rm -f "$H/store/data.mdb" "$H/store/lock.mdb"
printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 6d61676963\n 6f74686572\nDATA=END\n' |
	mdb_load -s meta -f /dev/stdin "$H/store"
refused "a foreign LMDB file with a meta database" "not a (complete )?trestle store"

# another node's store
restore
O=$TMP/other
new_node "$O"
cp "$O/store/data.mdb" "$DB"
refused "another node's store" "another node key"

# ---- one byte of a record changed ----
restore
CHANGED=$(py 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n, i = 0, b.find(b"MARKER2 unique")
while i >= 0:  # old copies of the page may hold it too: change every one
    b[i] = ord("N"); n += 1
    i = b.find(b"MARKER2 unique", i + 1)
open(p, "wb").write(b)
print(n)' "$DB" 2>&1)
check "the marker was found in data.mdb ($CHANGED times)" test "$CHANGED" -ge 1
run_t 20 --home "$H" verify
check_rc 4 "verify exits 4 after one byte of a record changed"
check_err_has "trestle: problem: record at log position 2: a disclosed field does not match its signed digest" \
	"verify names the damaged record and the problem"
check_match "$OUT" '^3 records checked: [0-9]+ problems?$' "verify's summary counts the problems"
run_t 20 --home "$H" verify --json
check_rc 4 "verify --json exits 4 too"
check_eq "$(py 'import json,sys; o=json.loads(sys.argv[1]); print(o["records"], o["problems"] >= 1)' "$OUT" 2>&1)" "3 True" "verify --json counts the problems"
run_t 20 --home "$H" record show "$ID2"
check_rc 1 "record show of the damaged record exits 1"
check_err_has "is damaged" "record show says the record is damaged"
run_t 20 --home "$H" record show "$ID3"
check_rc 0 "an undamaged record still shows"

# ---- index entries missing or wrong (rebuilt with mdb_dump/mdb_load) ----
# edit_db WHAT PYCODE: dumps the pristine store, lets PYCODE change `dbs` (a dict of
# database name -> list of [key, value] hex pairs), loads the result as the node's store
edit_db() {
	restore
	mdb_dump -a "$SAVE/store" >"$TMP/dump.txt" 2>"$TMP/dump.err"
	py 'import sys
lines = open(sys.argv[1]).read().split("\n")
dbs, out, cur, pairs, hdr = {}, [], None, None, []
# sections: header lines up to HEADER=END, then " key" / " value" lines, then DATA=END
i = 0
sections = []
while i < len(lines):
    if lines[i].startswith("VERSION="):
        h = []
        while lines[i] != "HEADER=END":
            h.append(lines[i]); i += 1
        h.append(lines[i]); i += 1
        data = []
        while lines[i] != "DATA=END":
            data.append(lines[i]); i += 1
        i += 1
        name = next((l[9:] for l in h if l.startswith("database=")), None)
        dbs[name] = [[data[k].strip(), data[k + 1].strip()] for k in range(0, len(data), 2)]
        sections.append((name, h))
    else:
        i += 1
exec(sys.argv[3])
with open(sys.argv[2], "w") as f:
    for name, h in sections:
        f.write("\n".join(h) + "\n")
        for k, v in dbs[name]:
            f.write(" " + k + "\n " + v + "\n")
        f.write("DATA=END\n")' "$TMP/dump.txt" "$TMP/dump2.txt" "$2"
	rm -f "$H/store/data.mdb" "$H/store/lock.mdb"
	mdb_load -f "$TMP/dump2.txt" "$H/store" 2>"$TMP/load.err"
	check_eq "$?" 0 "$1: the edited store loads"
}
edit_db "a kind index entry removed" 'dbs["by_kind"].pop()'
run_t 20 --home "$H" verify
check_rc 4 "a kind index entry removed: verify exits 4"
check_err_has "trestle: problem: the kind index has 2 entries for 3 records" "a kind index entry removed: verify names the index"
edit_db "an id index entry removed" 'dbs["id"].pop(0)'
run_t 20 --home "$H" verify
check_rc 4 "an id index entry removed: verify exits 4"
check_err_has "is missing from the id index" "an id index entry removed: verify says a record is missing from it"
edit_db "a product index entry under the wrong product" \
	'dbs["by_product"][0][0] = b"DW-999".hex()'
run_t 20 --home "$H" verify
check_rc 4 "a wrong product index entry: verify exits 4"
check_err_has "index by_product entry for log position" "a wrong product index entry: verify names the index"
edit_db "a record removed from the log" 'dbs["rec"].pop(1)'
run_t 20 --home "$H" verify
check_rc 4 "a record removed from the log: verify exits 4"
check_err_has "the id index has 3 entries for 2 records" "a record removed from the log: verify counts the id index entries"
edit_db "the pristine store, dumped and loaded" 'pass'
run_t 20 --home "$H" verify
check_rc 0 "the same store dumped and loaded unchanged verifies (the edits above are what verify found)"

# ---- a damaged B-tree page: the flags of the nodes on the page of a record ----
restore
PAGES=$(py 'import sys, struct
p, marker = sys.argv[1], b"MARKER2 unique"
b = bytearray(open(p, "rb").read())
PS = 4096
pages = sorted({i // PS for i in range(len(b)) if b.startswith(marker, i)})
done = 0
for pg in pages:
    base = pg * PS
    flags, lower = struct.unpack_from("<HH", b, base + 10)
    if not flags & 0x02:  # not a leaf page
        continue
    for k in range((lower - 16) // 2):
        off = struct.unpack_from("<H", b, base + 16 + 2 * k)[0]
        if 16 <= off < PS - 8:
            fl = struct.unpack_from("<H", b, base + off + 4)[0]
            struct.pack_into("<H", b, base + off + 4, fl | 0x04)  # F_DUPDATA
    done += 1
open(p, "wb").write(b)
print(done)' "$DB" 2>&1)
check "a leaf page holding a record was changed ($PAGES pages)" test "$PAGES" -ge 1
for c in "record list" "verify" "export" "record search marker" "record create account name=New"; do
	# shellcheck disable=SC2086
	run_t 20 --home "$H" $c
	if { [ "$RC" = 1 ] || [ "$RC" = 4 ]; } && [[ $ERR =~ trestle:\ (error|problem): ]] &&
		! has "$ERR" "Sanitizer" && ! has "$ERR" "runtime error"; then
		ok "damaged page: '$c' fails cleanly (exit $RC, a message, no crash)"
	else
		not_ok "damaged page: '$c' fails cleanly (exit 1 or 4, a message, no crash)"
		show_run
	fi
done

# ---- a full disk (a file size limit) ----
F=$TMP/full
new_node "$F"
ROWS=20000
py 'import sys
with open(sys.argv[1], "w") as f:
    f.write("product,serial,problem,opened\n")
    for i in range(int(sys.argv[2])):
        f.write("DW-%d,SN-%06d,\"Pump stops after %d cycles; the customer called twice\",2026-03-%02d\n" % (i % 30, i, i % 500, 1 + i % 28))' \
	"$TMP/big.csv" "$ROWS"
S0=$(stat -c %s "$F/store/data.mdb")

# limited KB: import under `ulimit -f` allowing KB more than the store has now
limited() {
	local kb=$1
	shift
	(
		ulimit -f $(((S0 + kb * 1024) / 1024))
		exec "$T" --home "$F" "$@" </dev/null >"$TMP/.out" 2>"$TMP/.err"
	)
	RC=$?
	OUT=$(cat "$TMP/.out")
	ERR=$(cat "$TMP/.err")
}

TOTAL=0
for kb in 300 3000; do
	limited "$kb" import --quiet --kind claim "$TMP/big.csv"
	check_no_crash "import with ${kb} KB of room: no crash"
	check_rc 1 "import with ${kb} KB of room exits 1"
	if [[ $ERR =~ disk\ is\ full|disk\ may\ be\ full|File\ too\ large|No\ space\ left ]]; then
		ok "import with ${kb} KB of room: the message says the disk is full"
	else
		not_ok "import with ${kb} KB of room: the message says the disk is full (or File too large)"
		show_run
	fi
	check_err_lacks "big.csv:0:" "import with ${kb} KB of room: the message gives no line 0"
	KEPT=$(sed -n 's/^trestle: \([0-9]*\) records were imported before this and are kept.*/\1/p' <<<"$ERR")
	RESUME=$(sed -n 's/.*run the same import with --start-line \([0-9]*\)$/\1/p' <<<"$ERR")
	check_match "$KEPT" '^[0-9]+$' "import with ${kb} KB of room says how many records it kept"
	check_match "$RESUME" '^[0-9]+$' "import with ${kb} KB of room says which --start-line resumes it"
	run_t 30 --home "$F" verify
	check_rc 0 "after the import with ${kb} KB of room, verify exits 0"
	N=$(count "$F")
	check_eq "$N" "$((TOTAL + ${KEPT:-0}))" "after the import with ${kb} KB of room, the store holds the records it said it kept"
	if [ $((N % 1000)) -eq 0 ]; then ok "$N records: whole batches of 1000"; else not_ok "$N records: whole batches of 1000"; fi
	check_eq "${RESUME:-}" "$((${KEPT:-0} + 2))" "the --start-line to resume is the line after the kept rows"
	TOTAL=$N
done
check "some batches fitted in 3000 KB" test "$TOTAL" -ge 1000

# resume without the limit: only the rest of the file is imported
run_t 60 --home "$F" import --quiet --kind claim --start-line "${RESUME:-2}" "$TMP/big.csv"
check_rc 0 "the import resumes with --start-line once there is room"
check_eq "$OUT" "imported $((ROWS - TOTAL)) records from $TMP/big.csv" "the resumed import imports the rest"
check_eq "$(count "$F")" "$ROWS" "the store holds each row once"
run_t 30 --home "$F" verify
check_rc 0 "verify exits 0 after the resumed import"

# a single record when the store cannot grow at all
py 'print("x" * 7000)' >"$TMP/long.txt"
BEFORE=$(count "$F")
for i in 1 2 3 4 5 6 7 8; do
	limited 0 record create idea title="no room $i" text=@"$TMP/long.txt"
	[ "$RC" = 0 ] || break
done
check_no_crash "record create with no room: no crash"
check_rc 1 "record create with no room exits 1 (after $((i - 1)) fitted in free pages)"
if [[ $ERR =~ disk\ is\ full|disk\ may\ be\ full|File\ too\ large|No\ space\ left ]]; then
	ok "record create with no room: the message says the disk is full"
else
	not_ok "record create with no room: the message says the disk is full (or File too large)"
	show_run
fi
check_eq "$(count "$F")" "$((BEFORE + i - 1))" "the record that did not fit was not stored"
run_t 30 --home "$F" verify
check_rc 0 "verify exits 0 after the failed create"

finish
