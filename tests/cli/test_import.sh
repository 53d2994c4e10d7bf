#!/usr/bin/env bash
# test_import.sh: trestle import of CSV (quoting, --map, --delimiter, invalid rows and
# columns, --skip-invalid, --start-line) and JSON lines; export and re-import on a
# second node.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
H2=$TMP/second
new_node "$H" --name "Nordic Dish AB" --role distributor
new_node "$H2" --name "Partner" --role producer
D=$TMP/data
mkdir -p "$D"

# fields_of HOME [list options]: the fields of the listed records, one JSON object a line
# (keys sorted), kind first
fields_of() {
	local h=$1
	shift
	"$T" --home "$h" record list --json "$@" </dev/null >"$TMP/f.json" 2>/dev/null || {
		echo "record list failed"
		return
	}
	py 'import json,sys
for r in json.load(open(sys.argv[1])):
    print(r["kind"], json.dumps(r["fields"], sort_keys=True))' "$TMP/f.json" 2>&1
}

# import_fails DESC WANT_RC HOME ARGS...: the import exits WANT_RC and stores nothing
import_fails() {
	local desc=$1 want=$2 h=$3
	shift 3
	local before after
	before=$(count "$h")
	run --home "$h" import "$@"
	after=$(count "$h")
	check_rc "$want" "$desc: exit $want"
	check_eq "$after" "$before" "$desc: nothing imported ($before records before and after)"
}

# ---- CSV with quoted fields ----
{
	printf 'product,serial,problem,opened,customer,severity\r\n'
	printf 'DW-200,SN-1,"Pump stops, then restarts",2026-01-05,"Cafe ""Nord""",high\r\n'
	printf 'DW-300,SN-2,"Line one\nline two, with ""quotes""",2026-01-06,Hotel Sol,\r\n'
	printf '\r\n'
	printf '  DW-400 ,"SN-3",plain,2026-01-07,"",low\r\n'
} >"$D/quoted.csv"
run --home "$H" import "$D/quoted.csv" --kind claim
check_rc 0 "CSV with quoted fields imports"
check_eq "$OUT" "imported 3 records from $D/quoted.csv" "import says how many records it imported"
WANT='claim {"customer": "Cafe \"Nord\"", "opened": "2026-01-05", "problem": "Pump stops, then restarts", "product": "DW-200", "serial": "SN-1", "severity": "high"}
claim {"customer": "Hotel Sol", "opened": "2026-01-06", "problem": "Line one\nline two, with \"quotes\"", "product": "DW-300", "serial": "SN-2"}
claim {"opened": "2026-01-07", "problem": "plain", "product": "DW-400", "serial": "SN-3", "severity": "low"}'
check_eq "$(fields_of "$H")" "$WANT" "quoted commas, doubled quotes and line breaks arrive intact; empty cells left out; padding trimmed"
N=3

# a UTF-8 byte order mark before the header
printf '\xef\xbb\xbfProduct,Problem,Opened\nDW-500,with a BOM,2026-01-08\n' >"$D/bom.csv"
run --home "$H" import "$D/bom.csv" --kind claim
check_rc 0 "a CSV starting with a byte order mark imports"
N=$((N + 1))

# ---- a header that needs --map ----
printf 'Product,Serial No,Problem,Opened,Notes,Internal Ref,External ID,Customer Name\n' >"$D/mapped.csv"
printf 'DW-200,SN-77,"Door seal leaks",2026-02-01,call back Monday,IR-5,EXT-1,Cafe Nord\n' >>"$D/mapped.csv"
import_fails "columns that are not fields" 5 "$H" "$D/mapped.csv" --kind claim
check_err_has "$D/mapped.csv:1:9: column \"Serial No\" is not a field of claim" "the first unknown column is named with FILE:1:COLUMN"
check_err_has "$D/mapped.csv:1:34: column \"Notes\"" "the Notes column is named with its column"
check_err_has "--map 'Serial No=x_serial_no'" "the message shows how to keep the column as a custom field"
check_err_lacks "\"External ID\"" "External ID needs no map (it is external_id)"
check_err_has "4 columns not understood; nothing was imported" "the summary counts the columns"
run --home "$H" import "$D/mapped.csv" --kind claim --map 'Serial No=serial' --map 'Notes=' \
	--map 'Internal Ref=x_internal' --map 'customer name=customer'
check_rc 0 "the same file imports with --map"
check_eq "$(fields_of "$H" --product DW-200 --text seal)" \
	'claim {"customer": "Cafe Nord", "external_id": "EXT-1", "opened": "2026-02-01", "problem": "Door seal leaks", "product": "DW-200", "serial": "SN-77", "x_internal": "IR-5"}' \
	"--map renames, keeps (x_) and drops columns"
N=$((N + 1))
run --home "$H" import "$D/mapped.csv" --kind claim --map 'Serial No' --map 'Notes='
check_rc 2 "--map without = is a usage error"

# ---- other delimiters ----
printf 'product;problem;opened;customer\nDW-600;"a; b, and c";2026-03-01;Firm; Inc\nDW-601;plain;2026-03-02;\n' >"$D/semi.csv"
sed -i 's/Firm; Inc/"Firm; Inc"/' "$D/semi.csv"
import_fails "a ;-file read with the default delimiter" 5 "$H" "$D/semi.csv" --kind claim
check_err_has 'column "product;problem;opened;customer" is not a field' "with the default delimiter the header is one column"
run --home "$H" import "$D/semi.csv" --kind claim --delimiter ';'
check_rc 0 "--delimiter ';' imports"
check_eq "$(fields_of "$H" --text 'a; b')" 'claim {"customer": "Firm; Inc", "opened": "2026-03-01", "problem": "a; b, and c", "product": "DW-600"}' \
	"a ;-delimited file keeps quoted semicolons and plain commas"
N=$((N + 2))
printf 'product\tproblem\topened\nDW-700\tx, y\t2026-03-03\n' >"$D/tabs.tsv"
run --home "$H" import "$D/tabs.tsv" --format csv --delimiter tab --kind claim
check_rc 0 "--delimiter tab with --format csv imports a .tsv file"
N=$((N + 1))
run --home "$H" import "$D/tabs.tsv" --kind claim
check_rc 2 "a file name that tells no format is a usage error"
run --home "$H" import "$D/semi.csv" --kind claim --delimiter ':'
check_rc 2 "--delimiter : is a usage error"
check_eq "$(count "$H")" "$N" "$N records so far"

# ---- invalid rows ----
{
	printf 'product,problem,opened\n'
	printf 'DW-800,fine,2026-04-01\n'
	printf 'DW-801,,2026-04-02\n'
	printf 'DW-802,"bad date\non two lines",2026-02-30\n'
	printf 'DW-803,too,2026-04-04,many\n'
	printf 'DW-804,"also fine",2026-04-05\n'
	printf 'DW-805,sev,2026-04-06\n'
	printf 'DW-806,x,2026-13-01\n'
} >"$D/bad.csv"
import_fails "a CSV with invalid rows" 5 "$H" "$D/bad.csv" --kind claim
check_err_has "$D/bad.csv:3: claim records need the field problem" "missing field: FILE:LINE and the problem"
check_err_has "$D/bad.csv:9:10: opened must be a date written YYYY-MM-DD, not \"2026-13-01\"" "bad date: FILE:LINE:COL and the problem"
# the opened cell of the row that starts on line 4 is on line 5, at column 15
check_err_has "$D/bad.csv:5:15: opened must be a date written YYYY-MM-DD, not \"2026-02-30\"" \
	"bad date after a quoted line break: FILE:LINE:COL point at the cell"
check_err_has "$D/bad.csv:6: the row has 4 columns; the header has 3" "a row with too many columns is reported with its line"
check_err_has "4 invalid rows; nothing was imported" "the summary says nothing was imported"
check_eq "$OUT" "" "nothing on standard output when nothing was imported"
run --home "$H" import "$D/bad.csv" --kind claim --skip-invalid
check_rc 0 "--skip-invalid exits 0"
check_eq "$OUT" "imported 3 records from $D/bad.csv; skipped 4 invalid rows (listed above)" "--skip-invalid says what it imported and skipped"
check_err_has "$D/bad.csv:3: claim records need the field problem" "--skip-invalid still reports the bad rows"
check_eq "$(fields_of "$H" --since 2000-01-01 | grep -o '"product": "DW-80[0-9]"' | tr '\n' ' ')" \
	'"product": "DW-800" "product": "DW-804" "product": "DW-805" ' "--skip-invalid imports exactly the valid rows"
N=$((N + 3))

# --start-line: resume from a line
py 'import sys
with open(sys.argv[1], "w") as f:
    f.write("product,problem,opened\n")
    for i in range(10): f.write("SL-%d,row %d,2026-05-01\n" % (i, i))' "$D/ten.csv"
run --home "$H" import "$D/ten.csv" --kind claim --start-line 7
check_rc 0 "--start-line 7 imports"
check_eq "$(fields_of "$H" --text 'row ' | grep -o 'SL-[0-9]' | tr '\n' ' ')" "SL-5 SL-6 SL-7 SL-8 SL-9 " "--start-line 7 skips the rows before line 7"
N=$((N + 5))
check_eq "$(count "$H")" "$N" "$N records so far"

# ---- JSON lines ----
run --home "$H" record list --json --kind claim --limit 1
CLAIM1=$(py 'import json,sys; print(json.loads(sys.argv[1])[0]["id"])' "$OUT" 2>&1)
cat >"$D/new.jsonl" <<EOF
{"kind":"claim","product":"JS-1","problem":"top-level fields","opened":"2026-06-01","x_count":42,"serial":null}
{"kind":"idea","fields":{"title":"Under fields","text":"nested\nwith a line break","x_votes":7}}

{"kind":"assessment","fields":{"text":"refers to a claim","score":9},"refs":["$CLAIM1"],"terms":{"hops":2,"to":["producer"],"private":["text"]}}
{"product":"JS-2","problem":"kind from --kind","opened":"2026-06-02","x_note":"text"}
EOF
run --home "$H" import "$D/new.jsonl" --kind claim
check_rc 0 "JSON lines import"
check_eq "$OUT" "imported 4 records from $D/new.jsonl" "JSON lines: 4 records (the blank line skipped)"
"$T" --home "$H" record list --json --since 2000-01-01 </dev/null >"$TMP/all.json" 2>/dev/null
GOT=$(py 'import json,sys
rs = json.load(open(sys.argv[1]))[-4:]
for r in rs:
    print(r["kind"], json.dumps(r["fields"], sort_keys=True), r["refs"], r["terms"])' "$TMP/all.json" 2>&1)
WANT="claim {\"opened\": \"2026-06-01\", \"problem\": \"top-level fields\", \"product\": \"JS-1\", \"x_count\": 42} [] {'hops': 0, 'to': [], 'private': []}
idea {\"text\": \"nested\\nwith a line break\", \"title\": \"Under fields\", \"x_votes\": 7} [] {'hops': 0, 'to': [], 'private': []}
assessment {\"score\": 9, \"text\": \"refers to a claim\"} ['$CLAIM1'] {'hops': 2, 'to': ['producer'], 'private': ['text']}
claim {\"opened\": \"2026-06-02\", \"problem\": \"kind from --kind\", \"product\": \"JS-2\", \"x_note\": \"text\"} [] {'hops': 0, 'to': [], 'private': []}"
check_eq "$GOT" "$WANT" "JSON lines: top-level and nested fields, integer x_ fields, null left out, refs and terms"
N=$((N + 4))

cat >"$D/badjson.jsonl" <<'EOF'
{"kind":"claim","product":"BJ-1","problem":"fine","opened":"2026-06-01"}
{"kind":"claim","product":"BJ-2","problem":"fine too","opened":"2026-06-01"}
{"kind":"claim","product":"BJ-3","problem":"cut short",
{"kind":"claim","product":"BJ-4","problem":5,"opened":"2026-06-01"}
{"kind":"claim","product":"BJ-5","problem":"x","opened":"2026-06-01","product":"dup"}
["not","an","object"]
{"kind":"gizmo","name":"x"}
EOF
import_fails "JSON lines with bad lines" 5 "$H" "$D/badjson.jsonl"
check_err_has "$D/badjson.jsonl:3:" "a line that is not JSON is reported with its line"
check_err_has "$D/badjson.jsonl:4: field problem must be text, not a number" "a number for a text field is reported"
check_err_has "$D/badjson.jsonl:5:" "a member given twice is reported"
check_err_has "$D/badjson.jsonl:6:1: expected a JSON object" "an array line is reported"
check_err_has "$D/badjson.jsonl:7: unknown kind \"gizmo\"" "an unknown kind is reported"
check_err_has "5 invalid rows; nothing was imported" "JSON lines: the summary says nothing was imported"

# references are checked in the first pass too (trestle(1): "and that the records a new
# record refers to are in the store"): a bad reference anywhere means nothing imported
ZERO64=$(printf '0%.0s' $(seq 64))
py 'import sys
with open(sys.argv[1], "w") as f:
    for i in range(1500):
        f.write("{\"kind\":\"claim\",\"product\":\"REF-%d\",\"problem\":\"p\",\"opened\":\"2026-07-01\"}\n" % i)
    f.write("{\"kind\":\"status\",\"state\":\"note\",\"refs\":[\"%s\"]}\n" % sys.argv[2])' "$D/badref.jsonl" "$ZERO64"
import_fails "a reference to a record not in the store, on line 1501" 5 "$H" "$D/badref.jsonl"
check_err_has "$D/badref.jsonl:1501:" "the bad reference is reported with its line"
N=$(count "$H") # go on from whatever is there
run --home "$H" import "$D/badref.jsonl" --skip-invalid
check_rc 0 "--skip-invalid skips a row with a bad reference"
check_eq "$(count "$H")" "$((N + 1500))" "--skip-invalid imports the 1500 valid rows"
N=$(count "$H")
printf '{"kind":"status","state":"note","refs":["%s"]}\n' "$CLAIM1" >"$D/okref.jsonl"
run --home "$H" import "$D/okref.jsonl"
check_rc 0 "a reference to a record in the store imports"
check_eq "$(count "$H")" "$((N + 1))" "the status referring to a claim is stored"
# a contact may refer only to an account: point one at a claim
printf '{"kind":"claim","product":"WK","problem":"p","opened":"2026-07-01"}\n{"kind":"contact","name":"x","refs":["%s"]}\n' "$CLAIM1" >"$D/wrongkind.jsonl"
import_fails "a reference to a record of the wrong kind" 5 "$H" "$D/wrongkind.jsonl"
check_err_has "$D/wrongkind.jsonl:2: a contact cannot refer to a claim" "the wrong-kind reference is reported with its line"
N=$(count "$H")

# ---- export, and import on a second node ----
run --home "$H" export -o "$D/all.jsonl"
check_rc 0 "export -o exits 0"
check_eq "$OUT" "exported $N records to $D/all.jsonl" "export says how many records it wrote"
check_eq "$(wc -l <"$D/all.jsonl" | tr -d ' ')" "$N" "the export has one line per record"
check "export leaves no .tmp file" test ! -e "$D/all.jsonl.tmp"
run --home "$H" export --kind idea
check_eq "$(grep -c '"kind":"idea"' <<<"$OUT")" "$(wc -l <<<"$OUT" | tr -d ' ')" "export --kind idea writes only ideas"

run --home "$H2" import "$D/all.jsonl"
check_rc 0 "the export imports on a second node"
check_eq "$OUT" "imported $N records from $D/all.jsonl" "the second node imports every record"
"$T" --home "$H" record list --json </dev/null >"$TMP/l1.json" 2>/dev/null
"$T" --home "$H2" record list --json </dev/null >"$TMP/l2.json" 2>/dev/null
CMP=$(py 'import json,sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
src = sorted(set(r.pop("source") for r in b))
for r in a: r.pop("source")
print(len(a), len(b), [r["id"] for r in a] == [r["id"] for r in b], a == b, src)' "$TMP/l1.json" "$TMP/l2.json" 2>&1)
check_eq "$CMP" "$N $N True True ['import']" "same ids, same records (apart from source, which is import)"
run --home "$H2" import "$D/all.jsonl"
check_rc 0 "importing the same export again exits 0"
check_eq "$OUT" "imported 0 records from $D/all.jsonl ($N already present)" "the second import says they are already present"
check_eq "$(count "$H2")" "$N" "the second import adds nothing"
run --home "$H2" audit
check_out_has "import     $D/all.jsonl: 0 new, $N present, 0 invalid skipped" "the audit log records the second import"
run --home "$H2" record show "$CLAIM1"
check_rc 0 "an imported record shows on the second node"
check "it is not marked as the second node's own" test "${OUT/\[this node\]/}" == "$OUT"
run --home "$H2" record list --author self
check_eq "$OUT" "" "the second node authored none of them"

# a changed signed record is refused
py 'import json,sys,base64
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[0])
b = bytearray(base64.b64decode(o["record"]))
b[len(b) // 2] ^= 0x01
o["record"] = base64.b64encode(bytes(b)).decode()
open(sys.argv[2], "w").write(json.dumps(o) + "\n")' "$D/all.jsonl" "$D/tampered.jsonl"
H3=$TMP/third
new_node "$H3"
import_fails "a signed record with one bit changed" 5 "$H3" "$D/tampered.jsonl"
check_err_has "$D/tampered.jsonl:1:" "the changed record is reported with its line"

run --home "$H" verify
check_rc 0 "verify passes on the first node"
check_eq "$OUT" "$N records checked: all signatures and fields verify, indexes consistent" "verify on the first node checks $N records"
run --home "$H2" verify
check_rc 0 "verify passes on the second node"
check_eq "$OUT" "$N records checked: all signatures and fields verify, indexes consistent" "verify on the second node checks $N records"

finish
