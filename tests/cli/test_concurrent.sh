#!/usr/bin/env bash
# test_concurrent.sh: two processes writing one store at the same time, while a third
# reads: two imports run at once on a node whose map starts at 1 MiB, so each must grow
# the map under the other (LMDB's MDB_MAP_RESIZED), and `record list` reads meanwhile.
# Both must succeed, every record must be there once, and verify must pass.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
export TRESTLE_INITIAL_MAP=1048576
new_node "$H"
ROWS=${TRESTLE_CONCURRENT_ROWS:-15000}
for f in a b; do
	py 'import sys
f, n = sys.argv[1], int(sys.argv[2])
with open(f, "w") as out:
    out.write("product,serial,problem,opened\n")
    for i in range(n):
        out.write("DW-%s,SN-%s-%06d,pump stops after %d cycles,2026-02-%02d\n" % (sys.argv[3], sys.argv[3], i, i, 1 + i % 28))' \
		"$TMP/$f.csv" "$ROWS" "$f"
done

"$T" --home "$H" import --quiet --kind claim "$TMP/a.csv" </dev/null >"$TMP/a.out" 2>&1 &
PA=$!
"$T" --home "$H" import --quiet --kind claim "$TMP/b.csv" </dev/null >"$TMP/b.out" 2>&1 &
PB=$!
READS=0
READ_FAIL=0
while kill -0 "$PA" 2>/dev/null || kill -0 "$PB" 2>/dev/null; do
	if "$T" --home "$H" record list --limit 5 </dev/null >/dev/null 2>"$TMP/r.err"; then
		READS=$((READS + 1))
	else
		READ_FAIL=$((READ_FAIL + 1))
		note "$(cat "$TMP/r.err")"
	fi
	sleep 0.1
done
wait "$PA"
RA=$?
wait "$PB"
RB=$?
check_eq "$RA" 0 "the first import succeeds while the second writes too"
check_eq "$RB" 0 "the second import succeeds while the first writes too"
[ "$RA" = 0 ] || note "$(cat "$TMP/a.out")"
[ "$RB" = 0 ] || note "$(cat "$TMP/b.out")"
check_eq "$READ_FAIL" 0 "reads during the imports never fail ($READS reads)"
check "some reads ran while the imports wrote" test "$READS" -ge 1

run --home "$H" verify
check_rc 0 "verify passes after the concurrent imports"
check_out_has "$((2 * ROWS)) records checked" "every record of both files is there once"
run --home "$H" record list --product DW-a --json
check_eq "$(json_len <(printf '%s' "$OUT"))" "$ROWS" "the product index has every record of the first file"
run --home "$H" record list --product DW-b --json
check_eq "$(json_len <(printf '%s' "$OUT"))" "$ROWS" "the product index has every record of the second file"
SIZE=$(stat -c %s "$H/store/data.mdb")
check "the store grew past its 1 MiB map ($SIZE bytes)" test "$SIZE" -gt 1048576

finish
