#!/usr/bin/env bash
# test_model.sh: the policy-model test of issue 4 ("What must always hold").
#
# For each seed, a network of real daemons on loopback: a producer P, distributors D1
# and D2 that dial it, user firms U1, U2 that dial D1 and U3, U4 that dial D2 (P holds
# no endpoint of a user firm). tests/tools/policy_model.py draws, with random(seed),
# policy rules at every node (field lists, --where conditions, --forward, --replies),
# user firms' consents to their distributor (and some distributors' to the producer),
# records at every node with random onward terms and a unique canary in every text
# field, and applies them with the CLI, in five phases, each run to quiescence (every
# partner connected, nothing left to send, no store changing for a second):
#   1. rules, consents, ideas, claims, test requests, accounts, contacts (daemons off)
#   2. more rules (backfill, more fields), explicit grants (share; refused exactly when
#      the author's terms or consent forbid), test responses, assessments, statuses
#      (reply routing)
#   3. rules removed, trial reports, statuses on test responses
#   4. some user firms withdraw their consents, then write new ideas and claims: none
#      may leave their distributor
#   5. retractions of whole records or some fields, by authors and by relays: they
#      cascade, each answered by a receipt
# Then the model (its own implementation of the decision in the issue-4 design, fed only
# the inputs) says what every node may hold, and exactly which fields of each: every
# node's `record list --json` must equal it field by field (consents, retractions and
# receipts included), `trestle retractions` must list each retraction with its receipt,
# no canary the model forbids at a node may be in its store file, and no value a node
# deleted on a retraction either, once compacted (`trestle compact`: free pages erased).
# The producer holds no id or endpoint of a user firm; every store verifies.
#
# Default 3 seeds, about 9 s each. A failure's detail names the record by its label
# (NODE-N: the N-th thing NODE wrote), its path and the fields expected and shown.
#
# Run: bash tests/sync/test_model.sh TRESTLE TRESTLED [HOSTILE_PEER]
# Environment: TRESTLE_MODEL_SEEDS=N seeds (default 3), TRESTLE_MODEL_SEED=S the first
# one (default 1); TRESTLE_MODEL_KEEP=DIR copies a failing seed's nodes, logs and model
# state (model-state.json: every input drawn, with record ids) to DIR/seed-S.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

MODEL=$_lib_dir/../tools/policy_model.py
NODES=(P D1 D2 U1 U2 U3 U4)
NSEEDS=${TRESTLE_MODEL_SEEDS:-3}
FIRST=${TRESTLE_MODEL_SEED:-1}

# model ARGS...: policy_model.py ARGS, its result lines counted into the score
model() {
	"$PY" "$MODEL" "$@" --dir "$TMP" --trestle "$T" >"$TMP/.model.out" 2>&1 ||
		echo "not ok - policy_model.py $1 exited with status $?" >>"$TMP/.model.out"
	tap_merge "$TMP/.model.out"
}

run --home "$TMP/none" policy add --help
if [ "$RC" != 0 ]; then
	not_ok "trestle policy add --help (the issue-4 CLI is built)"
	show_run
	finish
fi

for ((seed = FIRST; seed < FIRST + NSEEDS; seed++)); do
	t0=$SECONDS
	fail0=$FAIL
	node_init P producer
	node_init D1 distributor
	node_init D2 distributor
	for u in U1 U2 U3 U4; do node_init $u user; done
	pair D1 P # D1 dials P
	pair D2 P
	pair U1 D1 # U1 dials D1
	pair U2 D1
	pair U3 D2
	pair U4 D2

	model phase --seed "$seed" --phase 1
	for n in "${NODES[@]}"; do node_start "$n"; done
	for phase in 1 2 3 4 5; do
		if [ "$phase" -gt 1 ]; then model phase --seed "$seed" --phase "$phase"; fi
		if quiesce 60 "${NODES[@]}"; then
			ok "seed $seed phase $phase: the network quiesces"
		else
			not_ok "seed $seed phase $phase: the network quiesces"
			for n in "${NODES[@]}"; do
				note "$n: $("$T" --home "$TMP/$n" status --json 2>&1 | py 'import json,sys
d = json.load(sys.stdin)
print(" ".join("%s connected=%s to_send=%s error=%s"
               % (p["name"], p["connected"], p["to_send"], p["last_error"])
               for p in d["partners"]))' 2>&1)"
			done
		fi
	done

	# the producer holds no endpoint, and no id, of a user firm
	users=$(for u in U1 U2 U3 U4; do node_id $u; done)
	pp=$("$T" --home "$TMP/P" partner list --json 2>/dev/null | py 'import json,sys
users = set(sys.argv[1].split())
ps = json.load(sys.stdin)
print(" ".join(sorted(p["name"] for p in ps)), sum(p["id"] in users for p in ps))' "$users")
	check_eq "$pp" "D1 D2 0" "seed $seed: the producer's partners are D1 and D2 only"
	leak=
	for u in U1 U2 U3 U4; do
		eval "port=\$PORT_$u"
		if grep -rqa "127.0.0.1:$port" "$TMP/P"; then leak="$leak $u"; fi
	done
	check_eq "$leak" "" "seed $seed: no user firm's endpoint in any file of the producer's"

	model check
	for n in "${NODES[@]}"; do
		run --home "$TMP/$n" verify
		check_rc 0 "seed $seed: verify is clean at $n"
	done
	logs_clean "${NODES[@]}"
	for n in "${NODES[@]}"; do node_term "$n"; done
	echo "# seed $seed: $((SECONDS - t0)) s"

	if [ "$FAIL" -gt "$fail0" ] && [ -n "${TRESTLE_MODEL_KEEP:-}" ]; then
		mkdir -p "$TRESTLE_MODEL_KEEP/seed-$seed"
		cp -a "$TMP"/. "$TRESTLE_MODEL_KEEP/seed-$seed/"
		echo "# seed $seed kept in $TRESTLE_MODEL_KEEP/seed-$seed"
	fi
	for n in "${NODES[@]}"; do rm -rf "${TMP:?}/$n" "$TMP/$n.log"; done
	rm -f "$TMP/model-state.json"
done
finish
