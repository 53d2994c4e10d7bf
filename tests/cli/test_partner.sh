#!/usr/bin/env bash
# test_partner.sh: trestle partner add/list/show/suspend/resume/remove: pairing by node
# id with its check, local names, relation and endpoint validation, the audit log.
set -u
. "$(dirname "$0")/lib.sh"

A=$TMP/distributor
B=$TMP/producer
new_node "$A" --name "Nordic Dish" --role distributor
new_node "$B" --name "Acme" --role producer
BID=$("$T" --home "$B" id --json | py 'import json,sys; print(json.load(sys.stdin)["id"])')
AID=$("$T" --home "$A" id --json | py 'import json,sys; print(json.load(sys.stdin)["id"])')
BFPR=$("$T" --home "$B" id --json | py 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')

run --home "$A" partner list --json
check_rc 0 "an empty partner list exits 0"
check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 0 "no partners at first"

run --home "$A" partner add acme "$BID" --relation upstream --endpoint tcp://127.0.0.1:7701
check_rc 0 "partner add exits 0"
check_out_has "fingerprint $BFPR" "add shows the partner's fingerprint to compare"
check_out_has "partner add NAME $AID --relation downstream" "add tells what the other admin runs"

# the id's check catches a typo; malformed ids, names, relations and endpoints are usage errors
TYPO=${BID:0:10}$([ "${BID:10:1}" = a ] && echo b || echo a)${BID:11}
run --home "$A" partner add other "$TYPO" --relation upstream
check_rc 2 "a mistyped node id is a usage error"
check_err_has "check does not match" "the typo is named as such"
run --home "$A" partner add other abc --relation upstream
check_rc 2 "a malformed node id is a usage error"
run --home "$A" partner add "bad name" "$BID" --relation upstream
check_rc 2 "a name with a space is a usage error"
run --home "$A" partner add other "$BID"
check_rc 2 "--relation is required"
run --home "$A" partner add other "$BID" --relation sideways
check_rc 2 "an unknown relation is a usage error"
run --home "$A" partner add other "$BID" --relation upstream --endpoint http://x
check_rc 2 "an endpoint that is not tcp://HOST:PORT is a usage error"

# ids are the identity: the same node cannot be added twice, nor this node itself
run --home "$A" partner add acme-again "$BID" --relation upstream
check_rc 1 "the same node id twice is refused"
check_err_has "already a partner" "and says so"
run --home "$A" partner add me "$AID" --relation upstream
check_rc 1 "a node cannot pair with itself"
check_err_has "this node's own id" "and says so"

# list, show by name and by id
run --home "$A" partner list
check_rc 0 "partner list exits 0"
check_out_has "acme" "list shows the partner"
check_out_has "tcp://127.0.0.1:7701" "list shows the endpoint"
run --home "$A" partner show "$BID" --json
check_rc 0 "show by node id exits 0"
check_eq "$(py 'import json,sys; d=json.loads(sys.argv[1]); print(d["name"], d["relation"], d["state"])' "$OUT")" \
	"acme upstream active" "show --json gives name, relation and state"
run --home "$A" partner show nosuch
check_rc 1 "show of an unknown partner exits 1"
check_err_has "no partner named nosuch" "and names it"

# a partner that dials in has no endpoint
CID=$("$T" --home "$TMP/c" init --role user >/dev/null 2>&1; "$T" --home "$TMP/c" id --json | py 'import json,sys; print(json.load(sys.stdin)["id"])')
run --home "$A" partner add cafe-nord "$CID" --relation downstream
check_rc 0 "a downstream partner without endpoint is added"
run --home "$A" partner list --json
check_eq "$(py 'import json,sys; print(" ".join(p["name"] for p in json.loads(sys.argv[1])))' "$OUT")" \
	"acme cafe-nord" "list is sorted by name"

# suspend, resume, remove
run --home "$A" partner suspend acme
check_rc 0 "suspend exits 0"
run --home "$A" partner show acme --json
check_eq "$(py 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$OUT")" suspended "the partner is suspended"
run --home "$A" partner resume acme
run --home "$A" partner show acme --json
check_eq "$(py 'import json,sys; print(json.loads(sys.argv[1])["state"])' "$OUT")" active "resume makes it active again"
run --home "$A" partner remove acme
check_rc 0 "remove exits 0"
run --home "$A" partner list --json
check_eq "$(py 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT")" 1 "one partner left"
run --home "$A" partner add acme "$BID" --relation upstream
check_rc 0 "a removed partner can be added again"

# every change is in the audit log
run --home "$A" audit --json
check_eq "$(py 'import json,sys; print(" ".join(json.loads(l)["action"] for l in sys.argv[1].splitlines() if "partner" in json.loads(l)["action"]))' "$OUT")" \
	"partner-add partner-add partner-suspend partner-resume partner-remove partner-add" \
	"the audit log has every partner change, in order"

finish
