#!/usr/bin/env bash
# test_init.sh: trestle init and id: files and their modes, the id's form, refusing to
# overwrite a node, --force moving the old node aside, key file permissions, bad roles,
# and homes without a node.
set -u
. "$(dirname "$0")/lib.sh"

H=$TMP/node
ID_RE='^([a-z0-9]{7}-){7}[a-z0-9]{7}$'
FPR_RE='^[a-z0-9]{4}-[a-z0-9]{4}$'

# ---- init ----
run --home "$H" init --name "Nordic Dish AB" --role distributor
check_rc 0 "init exits 0"
check_out_has 'created node "Nordic Dish AB" (distributor)' "init says what it created"
INIT_ID=$(sed -n 's/^node id: *//p' <<<"$OUT")
check_match "$INIT_ID" "$ID_RE" "init prints the node id"

check_eq "$(stat -c %a "$H/node.key" 2>&1)" 600 "node.key has mode 0600"
check_eq "$(stat -c %F "$H/node.key" 2>&1)" "regular file" "node.key is a regular file"
check "the store exists" test -s "$H/store/data.mdb"
check_eq "$(stat -c %a "$H/store" 2>&1)" 700 "the store directory has mode 0700"
CONF=$(cat "$H/trestle.conf" 2>/dev/null)
check_match "$CONF" $'(^|\n)# ' "trestle.conf has comments"
check_match "$CONF" $'(^|\n)name = "Nordic Dish AB"(\n|$)' "trestle.conf has the name"
check_match "$CONF" $'(^|\n)role = "distributor"(\n|$)' "trestle.conf has the role"
check_match "$CONF" $'(^|\n)listen = "tcp://127.0.0.1:7700"(\n|$)' "trestle.conf has the default listen endpoint"
NCOMMENTS=$(grep -c '^#' "$H/trestle.conf")
check "trestle.conf explains each setting ($NCOMMENTS comment lines)" test "$NCOMMENTS" -ge 4

# ---- id ----
run --home "$H" id
check_rc 0 "id exits 0"
ID=$(sed -n 's/^node id: *//p' <<<"$OUT")
FPR=$(sed -n 's/^fingerprint: *//p' <<<"$OUT")
check_eq "${#ID}" 63 "the node id is 63 characters"
check_match "$ID" "$ID_RE" "the node id is 8 groups of 7 separated by -"
check_match "$FPR" "$FPR_RE" "the fingerprint is xxxx-xxxx"
check_eq "$ID" "$INIT_ID" "id shows the id init printed"
check_match "$OUT" $'(^|\n)name: +Nordic Dish AB(\n|$)' "id shows the name"
check_match "$OUT" $'(^|\n)role: +distributor(\n|$)' "id shows the role"
SEED=$(sed -n 's/^ed25519-seed //p' "$H/node.key")
check "node.key holds a seed line" test -n "$SEED"
if [ -n "$SEED" ] && has "$OUT" "$SEED"; then not_ok "id does not print the secret seed"; else ok "id does not print the secret seed"; fi

run --home "$H" id --json
check_rc 0 "id --json exits 0"
JS=$(py 'import json,sys
o = json.loads(sys.argv[1])
print(o["id"], o["fingerprint"], o["role"], o["name"], sep="|")' "$OUT" 2>&1)
check_eq "$JS" "$ID|$FPR|distributor|Nordic Dish AB" "id --json parses and agrees with id"

# TRESTLE_HOME and --home
OUT=$(TRESTLE_HOME="$H" "$T" id 2>&1 </dev/null)
check_eq "$(sed -n 's/^node id: *//p' <<<"$OUT")" "$ID" "TRESTLE_HOME selects the node"
mkdir -p "$TMP/empty"
OUT=$(TRESTLE_HOME="$TMP/empty" "$T" --home "$H" id 2>&1 </dev/null)
check_eq "$(sed -n 's/^node id: *//p' <<<"$OUT")" "$ID" "--home wins over TRESTLE_HOME"
OUT=$(TRESTLE_HOME="$TMP/empty" "$T" id --home="$H" 2>&1 </dev/null)
check_eq "$(sed -n 's/^node id: *//p' <<<"$OUT")" "$ID" "--home=DIR after the command works too"

# ---- a second init refuses ----
KEYSUM=$(sha256sum <"$H/node.key")
CONFSUM=$(sha256sum <"$H/trestle.conf")
run --home "$H" init --name Other
check_rc 1 "a second init exits 1"
check_err_has "--force" "a second init tells about --force"
check_eq "$(sha256sum <"$H/node.key")" "$KEYSUM" "a second init leaves node.key alone"
check_eq "$(sha256sum <"$H/trestle.conf")" "$CONFSUM" "a second init leaves trestle.conf alone"
run --home "$H" id
check_eq "$(sed -n 's/^node id: *//p' <<<"$OUT")" "$ID" "the node id is unchanged after a refused init"

# ---- init --force ----
run --home "$H" record create account name="Old Firm"
check_rc 0 "a record in the old node"
OLD_REC=$OUT
run --home "$H" init --force --name "New Name" --role producer
check_rc 0 "init --force exits 0"
check_err_has "$H/replaced-" "init --force says where the old files went"
NEW_ID=$(sed -n 's/^node id: *//p' <<<"$OUT")
check_match "$NEW_ID" "$ID_RE" "init --force prints a node id"
if [ "$NEW_ID" != "$ID" ]; then ok "init --force gives a new id"; else not_ok "init --force gives a new id"; fi
shopt -s nullglob
REPL=("$H"/replaced-*/)
shopt -u nullglob
check_eq "${#REPL[@]}" 1 "one replaced-* directory"
R=${REPL[0]:-$TMP/none}
check_eq "$(sha256sum <"$R/node.key" 2>&1)" "$KEYSUM" "the old node.key is in replaced-*/"
check_eq "$(sha256sum <"$R/trestle.conf" 2>&1)" "$CONFSUM" "the old trestle.conf is in replaced-*/"
check "the old store is in replaced-*/" test -s "$R/store/data.mdb"
check_eq "$(stat -c %a "$R/node.key" 2>&1)" 600 "the old node.key keeps mode 0600"
run --home "$R" record list --json
check_rc 0 "the replaced directory still opens as a node"
check_eq "$(py 'import json,sys; print(",".join(r["id"] for r in json.loads(sys.argv[1])))' "$OUT" 2>&1)" "$OLD_REC" "the old node's record is kept in replaced-*/"
run --home "$R" id
check_eq "$(sed -n 's/^node id: *//p' <<<"$OUT")" "$ID" "the replaced node keeps its old id"
run --home "$H" id --json
check_eq "$(py 'import json,sys; o=json.loads(sys.argv[1]); print(o["id"], o["name"], o["role"], sep="|")' "$OUT" 2>&1)" "$NEW_ID|New Name|producer" "id shows the new node"
check_eq "$(stat -c %a "$H/node.key" 2>&1)" 600 "the new node.key has mode 0600"
check_eq "$(count "$H")" 0 "the new node's store is empty"

# --force again, several times in a row (each within a second or so of the last): every
# run must succeed and keep each old node in its own directory
FORCE_RCS=""
for i in 1 2 3; do
	run --home "$H" init --force --name "Again $i"
	FORCE_RCS="$FORCE_RCS$RC"
	[ "$RC" = 0 ] || LAST_FORCE_ERR=$ERR
done
check_eq "$FORCE_RCS" 000 "init --force three times in a row succeeds every time"
[ "$FORCE_RCS" = 000 ] || note "stderr: ${LAST_FORCE_ERR:-}"
shopt -s nullglob
REPL=("$H"/replaced-*/)
shopt -u nullglob
check_eq "${#REPL[@]}" 4 "each replaced node has its own replaced-* directory"
run --home "$H" id
check_rc 0 "the node works after repeated --force"

# ---- key file permissions ----
K=$TMP/k
new_node "$K" --name K
run --home "$K" record create account name=Before
check_rc 0 "a record before the key is opened up"
chmod 644 "$K/node.key"
printf 'product,problem,opened\nP,x,2026-01-01\n' >"$TMP/one.csv"
CMDS=("id" "id --json" "record list" "record search x" "record show abcd"
	"record create account name=After" "verify" "export" "audit"
	"import $TMP/one.csv --kind claim" "backup $TMP/kbackup")
for c in "${CMDS[@]}"; do
	# shellcheck disable=SC2086
	run --home "$K" $c
	if [ "$RC" = 1 ] && has "$ERR" "chmod 600" && has "$ERR" "$K/node.key"; then
		ok "key mode 0644: '$c' exits 1 and says chmod 600"
	else
		not_ok "key mode 0644: '$c' exits 1 and says chmod 600"
		show_run
	fi
done
check "no backup was written with a world-readable key" test ! -e "$TMP/kbackup/data.mdb"
chmod 640 "$K/node.key"
run --home "$K" id
check_rc 1 "key mode 0640 (group-readable): id exits 1"
check_err_has "chmod 600" "key mode 0640: the message says chmod 600"
chmod 600 "$K/node.key"
run --home "$K" id
check_rc 0 "after chmod 600, id works again"
check_eq "$(count "$K")" 1 "nothing was written while the key was open to others"

# ---- usage errors ----
for role in boss Producer "" "user,producer"; do
	run --home "$TMP/r-$RANDOM" init --role "$role"
	check_rc 2 "init --role '$role' exits 2"
done
check_err_has "role" "the message names the role"
run --home "$TMP/badrole" init --role admin
check "a bad role creates no node" test ! -e "$TMP/badrole/node.key" -a ! -e "$TMP/badrole/trestle.conf"
run --home "$TMP/badname" init --name $'two\nlines'
check_rc 2 "init --name with a line break exits 2"
run --home "$TMP/badlisten" init --listen http://x
check_rc 2 "init --listen with a bad endpoint exits 2"
run --home "$TMP/x" init --bogus
check_rc 2 "init with an unknown option exits 2"
run --home "$TMP/a/b/c" init --role user
check_rc 0 "init creates missing parent directories"
check_eq "$(stat -c %a "$TMP/a/b/c" 2>&1)" 700 "a home init creates has mode 0700"
run --home "$TMP/a/b/c" id --json
check_eq "$(py 'import json,sys; o=json.loads(sys.argv[1]); print(o["role"], o["name"])' "$OUT" 2>&1)" "user unnamed firm" "default name and role"

# ---- no node ----
for c in "id" "record list" "verify" "export" "audit"; do
	# shellcheck disable=SC2086
	run --home "$TMP/empty" $c
	if [ "$RC" = 1 ] && has "$ERR" "trestle init"; then
		ok "no node: '$c' exits 1 and says trestle init"
	else
		not_ok "no node: '$c' exits 1 and says trestle init"
		show_run
	fi
done
OUT=$(TRESTLE_HOME="$TMP/nowhere" "$T" id 2>&1 </dev/null)
RC=$?
check_eq "$RC" 1 "no node at TRESTLE_HOME: exit 1"
check "no node at TRESTLE_HOME: says trestle init" has "$OUT" "trestle init"
check "a command on a missing home does not create it" test ! -e "$TMP/nowhere"
# a home with config and key but no store
mkdir -p "$TMP/nostore"
cp -p "$K/trestle.conf" "$K/node.key" "$TMP/nostore/"
run --home "$TMP/nostore" record list
check_rc 1 "a node without a store: exit 1"
check_err_has "trestle init" "a node without a store: says trestle init"

finish
