#!/usr/bin/env bash
# test_crash.sh: kill -9 an import while it writes, three times on the same node, and
# check after each kill that the store is whole: `verify` passes (every stored record
# complete, with all its index entries) and the records are a whole number of batches
# (imports commit 1000 records per transaction). Re-running a killed import is refused
# with the line to go on at, and the next round resumes there (--start-line), so no row
# is stored twice. Then a full import on a fresh node.
#
# The kill comes a random 0.3 to 2 s after the import's first batch reached the store
# (the first pass, which only checks the file, takes seconds on a file this size and
# writes nothing: a kill during it proves little). The store starts with a 1 MiB map
# (TRESTLE_INITIAL_MAP) so that kills also land around map growth.
#
# TRESTLE_CRASH_ROWS sets the file's size (default 200000). The final full import uses
# fewer rows if the time measured so far says it would not end within the budget.
set -u
. "$(dirname "$0")/lib.sh"

ROWS=${TRESTLE_CRASH_ROWS:-200000}
BUDGET=${TRESTLE_CRASH_BUDGET:-40} # seconds for the whole script
BATCH=1000
START=$(now_s)
export TRESTLE_INITIAL_MAP=1048576

CSV=$TMP/claims.csv
py 'import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write("product,serial,problem,opened,customer,severity\n")
    sev = ("low", "medium", "high", "critical")
    for i in range(n):
        f.write("DW-%d,SN-%07d,\"Pump stops after %d cycles, error E%d\",2026-%02d-%02d,Customer %d,%s\n"
                % (i % 40, i, 100 + i % 900, i % 17, 1 + i % 12, 1 + i % 28, i % 997, sev[i % 4]))' "$CSV" "$ROWS"
check_eq "$(($(wc -l <"$CSV") - 1))" "$ROWS" "generated a CSV of $ROWS claims"

H=$TMP/node
new_node "$H" --name "Crash Test"
DB=$H/store/data.mdb

# three different delays, one from each third of 0.3..2.0 s, in random order
read -r -a DELAYS <<<"$(py 'import random
d = [random.uniform(0.3, 0.85), random.uniform(0.87, 1.43), random.uniform(1.45, 2.0)]
random.shuffle(d)
print(" ".join("%.2f" % x for x in d))')"

PREV=0
RATE=0      # records per second seen in pass 2
PASS1_MS=0  # time to the first batch
for round in 1 2 3; do
	delay=${DELAYS[$((round - 1))]}
	RESUME=()
	if [ "$round" -gt 1 ]; then
		# the same import again is refused: it says where the killed one stopped
		run --home "$H" import --quiet --kind claim "$CSV"
		check_rc 1 "round $round: re-running the killed import is refused"
		START=$(sed -n 's/.*run it with --start-line \([0-9]*\) .*/\1/p' <<<"$ERR")
		check_eq "$START" "$((PREV + 2))" "round $round: it says to go on at the line after the $PREV stored rows"
		RESUME=(--start-line "${START:-1}")
	fi
	before=$(mtime "$DB")
	t0=$(now_s)
	bg_start PID --home "$H" import --quiet --kind claim "${RESUME[@]}" "$CSV"
	# wait for the first batch to reach the file (or for the import to end)
	waited=0
	while [ "$(mtime "$DB")" == "$before" ] && kill -0 "$PID" 2>/dev/null && [ $waited -lt 3000 ]; do
		sleep 0.02
		waited=$((waited + 1))
	done
	first_ms=$(elapsed_ms "$t0")
	[ "$PASS1_MS" -lt "$first_ms" ] && PASS1_MS=$first_ms
	sleep "$delay"
	if kill -0 "$PID" 2>/dev/null; then
		kill -9 "$PID"
		bg_wait "$PID"
		rc=$BG_RC
		check_eq "$rc" 137 "round $round: the import was killed with SIGKILL ${delay}s after its first batch (${first_ms} ms in)"
	else
		bg_wait "$PID"
		rc=$BG_RC
		not_ok "round $round: the import was still running ${delay}s after its first batch (it ended with status $rc)"
		note "$(cat "$TMP/bg.err")"
	fi

	run --home "$H" verify
	check_rc 0 "round $round: verify exits 0 after the kill"
	check_eq "$ERR" "" "round $round: verify reports no problem"
	N=$(sed -n 's/^\([0-9]*\) records checked: all signatures and fields verify, indexes consistent$/\1/p' <<<"$OUT")
	if [ -z "$N" ]; then
		not_ok "round $round: verify says how many records it checked"
		show_run
		N=-1
	fi
	if [ "$N" -ge 0 ] && [ $((N % BATCH)) -eq 0 ]; then
		ok "round $round: $N records, a multiple of $BATCH"
	else
		not_ok "round $round: $N records, a multiple of $BATCH"
	fi
	ADDED=$((N - PREV))
	if [ "$ADDED" -ge "$BATCH" ] && [ "$ADDED" -le "$ROWS" ]; then
		ok "round $round: the killed import kept $ADDED records (between $BATCH and $ROWS)"
	else
		not_ok "round $round: the killed import kept $ADDED records (between $BATCH and $ROWS)"
	fi
	r=$(py 'import sys; print(int(int(sys.argv[1]) / max(float(sys.argv[2]), 0.1)))' "$ADDED" "$delay")
	[ "$r" -gt "$RATE" ] && RATE=$r
	PREV=$N
done

# the killed imports left nothing half-done: the records are complete and each appears
# under its kind and its product
"$T" --home "$H" record list --kind claim --json </dev/null >"$TMP/list.json" 2>"$TMP/list.err"
check_eq "$?" 0 "record list --kind claim works after the kills"
check_eq "$(grep -c '^  {"id":' "$TMP/list.json")" "$PREV" "the kind index lists every one of the $PREV records"
run --home "$H" record list --product DW-7 --json
P7=$(grep -c '^  {"id":' <<<"$OUT")
# the imports resumed where the killed ones stopped, so the store holds the file's first
# rows, each once, in whole batches of 1000 rows, and every 40th row is DW-7
check_eq "$P7" "$((PREV / 40))" "the product index lists every DW-7 claim"
run --home "$H" record create claim product=DW-1 problem="after the kills" opened=2026-01-01
check_rc 0 "the node takes new records after the kills"

# ---- a full import on a fresh node ----
ELAPSED=$(($(elapsed_ms "$START") / 1000))
LEFT=$((BUDGET - ELAPSED))
FULL=$ROWS
if [ "$RATE" -gt 0 ]; then
	# pass 1 scales with the rows, pass 2 with the measured rate; counting costs ~60% more
	FULL=$(py 'import sys
rows, rate, p1, left = (float(x) for x in sys.argv[1:5])
rows = int(rows)
per_row = p1 / 1000.0 / rows + 1.6 / rate
n = min(rows, int(left / per_row) // 1000 * 1000)
print(max(n, 10000))' "$ROWS" "$RATE" "$PASS1_MS" "$LEFT")
fi
echo "# ${ELAPSED}s so far; first batch after ${PASS1_MS} ms; ~$RATE records/s; $LEFT s left for $FULL rows"
if [ "$FULL" -lt "$ROWS" ]; then
	echo "# this machine is slow (${ELAPSED}s used, ~$RATE records/s): the full import uses the first $FULL rows"
	head -n $((FULL + 1)) "$CSV" >"$TMP/full.csv"
	FULLCSV=$TMP/full.csv
else
	FULLCSV=$CSV
fi
H2=$TMP/fresh
new_node "$H2"
run --home "$H2" import --quiet --kind claim "$FULLCSV"
check_rc 0 "a full import on a fresh node exits 0"
check_eq "$OUT" "imported $FULL records from $FULLCSV" "the full import says it imported $FULL records"
"$T" --home "$H2" record list --kind claim --json </dev/null >"$TMP/list.json" 2>"$TMP/list.err"
check_eq "$?" 0 "record list --kind claim works on the fresh node"
check_eq "$(grep -c '^  {"id":' "$TMP/list.json")" "$FULL" "the fresh node holds $FULL claims"
run --home "$H2" audit
check_out_has "import     $FULLCSV: $FULL new, 0 present, 0 invalid skipped" "the audit log has the full import"
echo "# took $(($(elapsed_ms "$START") / 1000)) s; delays ${DELAYS[*]}; ~$RATE records/s"
finish
