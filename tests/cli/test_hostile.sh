#!/usr/bin/env bash
# test_hostile.sh: input from outside the process that once broke the node: names and
# paths that are not UTF-8, NUL bytes in JSON lines, a node's own records coming back
# after a restore, and the modes of the files that leave the store.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
new_node "$H" --name "Nordic Dish" --role distributor

# a file name in Latin-1 goes into the audit log; the log must stay readable
LATIN=$TMP/$'M\xe4rz.csv'
printf 'product,problem,opened\nDW-1,leak,2026-01-01\n' >"$LATIN"
run --home "$H" import --kind claim "$LATIN"
check_rc 0 "import from a file whose name is not UTF-8"
run --home "$H" audit --json
check_rc 0 "the audit log still reads back"
check_out_has 'M\\xe4rz.csv' "the odd byte is written as \\xNN"

# names that are not UTF-8 are refused where they come in
run --home "$TMP/latin" init --name $'Caf\xe9'
check_rc 2 "init refuses a name that is not UTF-8"
BID=$("$T" --home "$TMP/b" init >/dev/null 2>&1; "$T" --home "$TMP/b" id --json | py 'import json,sys; print(json.load(sys.stdin)["id"])')
run --home "$H" partner add b "$BID" --relation upstream --endpoint $'tcp://h\xff:1'
check_rc 2 "partner add refuses an endpoint that is not plain ASCII"
run --home "$H" partner add "$BID" "$BID" --relation upstream
check_rc 2 "a partner name may not be a node id"
run --home "$H" partner list
check_rc 0 "partner list still works"

# NUL bytes in JSON lines are reported with line and column, never read past
printf '{"kind":"idea","title":"a","text":"b"}\n\0{"x":1}\n{"kind":"idea","ti\0tle":"a"}\n' >"$TMP/nul.jsonl"
run --home "$H" import "$TMP/nul.jsonl"
check_rc 5 "JSON lines with NUL bytes: exit 5"
check_err_has "nul.jsonl:2:1: NUL byte" "a line starting with NUL: line and column"
check_err_has "nul.jsonl:3:19: NUL byte" "a NUL inside a line: line and column"

# this node's own records coming back after a restore must not make it reuse a seq
run --home "$H" backup "$TMP/bk"
check_rc 0 "backup"
check_eq "$(stat -c %a "$TMP/bk/data.mdb")" 600 "the backup copy is private (0600)"
"$T" --home "$H" record create idea title=one text=x >/dev/null
"$T" --home "$H" record create idea title=two text=x >/dev/null
run --home "$H" export -o "$TMP/out.jsonl"
check_rc 0 "export"
check_eq "$(stat -c %a "$TMP/out.jsonl")" 600 "the export is private (0600)"
cp "$TMP/bk/data.mdb" "$H/store/data.mdb"
run --home "$H" import "$TMP/out.jsonl"
check_rc 0 "the export imports into the restored store"
run --home "$H" record create idea title=three text=x --json
SEQ=$(py 'import json,sys; print(json.loads(sys.argv[1])["seq"])' "$OUT")
run --home "$H" record list --author self --json
MAXSEQ=$(py 'import json,sys; print(max(r["seq"] for r in json.loads(sys.argv[1]) if r["fields"].get("title") != "three"))' "$OUT")
check "the next record's seq ($SEQ) comes after every own record imported back ($MAXSEQ)" test "$SEQ" -gt "$MAXSEQ"

# --private: too many names is an error, not a silent cut
NAMES=$(for i in $(seq 1 33); do printf 'x_f%d,' "$i"; done)
run --home "$H" record create idea title=a text=b --private "${NAMES%,}"
check_rc 2 "--private with more than 32 names is a usage error"

finish
