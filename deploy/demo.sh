#!/usr/bin/env bash
# deploy/demo.sh: the main command. Sets up and builds trestle, then runs a live network
# of six firms of the dishwashing-machine trade on this machine (loopback), each its own
# node (key, store, daemon):
#
#   acme        Acme Dishwashers GmbH, the producer; it sells only through distributors
#   nordic      Nordic Dish Service AB, its distributor for Scandinavia; dials acme
#   iberia      Iberia Lavado S.L., its distributor for Spain and Portugal; dials acme
#   cafe-nord   Cafe Nord, a user firm of nordic; dials nordic (it only dials out)
#   hotel-sol   Hotel Sol, a user firm of nordic; dials nordic
#   hospital    Hospital San Juan's kitchen, a user firm of iberia; dials iberia
#
# It pairs them by node id, sets what each firm shares with whom, and plays the six
# flows of the design: user firms' ideas go up through their distributors without
# contact fields, with a distributor's assessment; the producer sees them grouped; its
# decisions come back down to the firms that wrote them, though it never learns who
# they are; the distributors' claims go up without their customers' identity; a test
# request for a prototype goes down, each distributor choosing its user firms, and the
# answers and a trial report come back up; and the producer has no path to a user firm
# but through its distributor. It prints what each firm sees at each step, ends with
# the producer's grouped view and HTML report, and stops the daemons it started
# (--keep leaves them running and says how to reach each one). A step that fails (a
# record that does not arrive within 10 s, say) stops the demo with a message and a
# non-zero exit status. Nodes live in demo/net/; a re-run moves the last network to
# demo/net.previous.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

KEEP=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
		echo "usage: deploy/demo.sh [--keep]"
		exit 0
		;;
	*)
		echo "demo.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

T0=$(date +%s%N)
if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
	./deploy/install-deps.sh
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" --target trestle trestled >/dev/null
BIN=$(pwd)/build/release
NET=$(pwd)/demo/net
SAMPLE=$(pwd)/deploy/sample
FIRMS=(acme nordic iberia cafe-nord hotel-sol hospital)
USERS=(cafe-nord hotel-sol hospital)
declare -A PID PORT ID
declare -A NAME=([acme]="Acme Dishwashers GmbH" [nordic]="Nordic Dish Service AB"
	[iberia]="Iberia Lavado S.L." [cafe-nord]="Cafe Nord" [hotel-sol]="Hotel Sol"
	[hospital]="Hospital San Juan, kitchen")
declare -A ROLE=([acme]=producer [nordic]=distributor [iberia]=distributor
	[cafe-nord]=user [hotel-sol]=user [hospital]=user)
declare -A WHERE=([acme]="Stuttgart; sells only through distributors"
	[nordic]="Scandinavia" [iberia]="Spain and Portugal" [cafe-nord]="Stockholm, via nordic"
	[hotel-sol]="Gothenburg, via nordic" [hospital]="Valencia, via iberia")
# each user firm's distributor
declare -A DIST=([cafe-nord]=nordic [hotel-sol]=nordic [hospital]=iberia)

STEP="setting up"
LAST=""
bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() {
	STEP=$*
	printf '\n'
	bold "== $*"
}
# shown ARGS...: the arguments as an admin would type them, quoted where needed
shown() {
	local a out=()
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:,=@+*|-]*$ ]]; then
			out+=("$a")
		elif [[ $a =~ ^[a-z_]+= ]]; then
			out+=("${a%%=*}=\"${a#*=}\"")
		else
			out+=("\"$a\"")
		fi
	done
	printf '%s' "${out[*]}"
}
# t FIRM ARGS...: trestle on that firm's node, shown as its admin would type it
t() {
	local firm=$1
	shift
	bold "[$firm] \$ trestle $(shown "$@")"
	LAST="trestle $(shown "$@") at $firm"
	"$BIN/tools/trestle" --home "$NET/$firm" "$@"
}
# q FIRM ARGS...: the same, not shown
q() {
	local firm=$1
	shift
	LAST="trestle $(shown "$@") at $firm"
	"$BIN/tools/trestle" --home "$NET/$firm" "$@"
}
fail() {
	printf '\ndemo.sh: FAILED in step "%s": %s\n' "$STEP" "$*" >&2
	printf 'demo.sh: the nodes and their daemons'"'"' logs are in %s (FIRM.log)\n' "$NET" >&2
	exit 1
}
on_err() {
	# in a subshell ($(...)) the command's own message is enough; the caller reports
	[ "$BASHPID" = "$$" ] || return 0
	local what="line $1: $2"
	[[ $2 == *'/tools/trestle"'* ]] && what=$LAST
	printf '\ndemo.sh: FAILED in step "%s": %s (exit status %s)\n' "$STEP" "$what" "$3" >&2
	printf 'demo.sh: the nodes and their daemons'"'"' logs are in %s (FIRM.log)\n' "$NET" >&2
}
trap 'on_err $LINENO "$BASH_COMMAND" $?' ERR

# mk VAR FIRM ARGS...: run `trestle ARGS` at FIRM as t does, and put the id it prints
# (its last line: a new record's) into VAR
mk() {
	local var=$1 firm=$2 out
	shift 2
	bold "[$firm] \$ trestle $(shown "$@")"
	out=$(q "$firm" "$@") || fail "trestle $(shown "$@") failed at $firm"
	out=${out##*$'\n'}
	printf -v "$var" '%s' "$out"
	echo "  ${out:0:12}"
}
# idea VAR FIRM PRODUCT CATEGORY TITLE TEXT SUBMITTER: a user firm's idea, which its
# distributor may pass on one hop, to a producer, without the contact fields
IDEA_TERMS=(--onward-hops 1 --onward-to producer --private "submitter,account")
idea() {
	local var=$1 firm=$2 out
	out=$(q "$firm" record create idea product="$3" category="$4" title="$5" text="$6" \
		stage=generation submitter="$7" account="${NAME[$firm]}" "${IDEA_TERMS[@]}") ||
		fail "trestle record create idea failed at $firm"
	printf -v "$var" '%s' "$out"
	printf '  %-10s %s  %-7s %-10s %-44s (%s)\n' "$firm" "${out:0:12}" "$3" "$4" "\"$5\"" "$7"
}
# fields FIRM ID: the fields of a record as that firm holds it, each line marked with the firm
fields() {
	q "$1" record show "$2" | sed -n '/^fields/,/^referred/p' | sed '1d;$d' |
		sed "s/^ */  $(printf '%-7s' "$1:") /"
}

# MS: the milliseconds the last wait took
MS=0
# wait_for FIRM ID: until the record is in that firm's store, 10 s at most
wait_for() {
	local start i
	start=$(date +%s%N)
	for i in $(seq 1 500); do
		if q "$1" record show "$2" >/dev/null 2>&1; then
			MS=$((($(date +%s%N) - start) / 1000000))
			return 0
		fi
		sleep 0.02
	done
	fail "record ${2:0:12} did not reach $1 within 10 s (see $NET/$1.log)"
}
# count FIRM KIND: how many records of KIND the firm holds
count() {
	q "$1" record list --kind "$2" --json | python3 -c 'import json, sys
print(len(json.load(sys.stdin)))'
}
# wait_count FIRM KIND N: until the firm holds at least N records of KIND, 10 s at most
wait_count() {
	local start i got=0
	start=$(date +%s%N)
	for i in $(seq 1 200); do
		got=$(count "$1" "$2")
		if [ "$got" -ge "$3" ]; then
			MS=$((($(date +%s%N) - start) / 1000000))
			return 0
		fi
		sleep 0.05
	done
	fail "$1 holds $got $2 records, not $3, after 10 s (see $NET/$1.log)"
}
# absent FIRM ID WHY: the record must not be at that firm
absent() {
	if q "$1" record show "$2" >/dev/null 2>&1; then
		fail "$1 holds record ${2:0:12}, which it must not: $3"
	fi
}
# state_at FIRM IDEA: the idea's state now, as that firm sees it
state_at() {
	q "$1" idea list --json | python3 -c 'import json, sys
for r in json.load(sys.stdin):
    if r["id"].startswith(sys.argv[1]):
        print(r.get("state", "?")); break
else:
    print("(not held)")' "$2"
}
# wait_state FIRM IDEA STATE: until the firm sees the idea in that state, 10 s at most
wait_state() {
	local i now
	for i in $(seq 1 200); do
		now=$(state_at "$1" "$2")
		[ "$now" = "$3" ] && return 0
		sleep 0.05
	done
	fail "$1 sees idea ${2:0:12} as $now, not $3, after 10 s (see $NET/$1.log)"
}

stop_all() {
	local f
	for f in "${FIRMS[@]}"; do
		if [ -n "${PID[$f]:-}" ]; then
			kill -TERM "${PID[$f]}" 2>/dev/null || true
			wait "${PID[$f]}" 2>/dev/null || true
		fi
	done
}

# free_port: a TCP port free on loopback now, and not given to another firm here
free_port() {
	local p f taken
	while :; do
		p=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
		taken=0
		for f in "${!PORT[@]}"; do
			[ "${PORT[$f]}" = "$p" ] && taken=1
		done
		[ $taken -eq 0 ] && break
	done
	echo "$p"
}

# daemons a previous `demo.sh --keep` left running on these nodes are stopped first
old=()
for h in "$NET"/*/ "$NET.previous"/*/; do
	[ -f "$h/trestle.conf" ] || continue
	p=$("$BIN/tools/trestle" --home "$h" status --json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null) || continue
	[ -n "$p" ] && old+=("$p")
done
if [ ${#old[@]} -gt 0 ]; then
	echo "stopping the daemons a previous demo.sh --keep left running (pids ${old[*]})"
	kill -TERM "${old[@]}" 2>/dev/null || true
	for _ in $(seq 1 100); do
		alive=0
		for p in "${old[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive -eq 0 ] && break
		sleep 0.05
	done
fi
if [ -e "$NET" ]; then
	rm -rf "$NET.previous"
	mv "$NET" "$NET.previous"
fi
mkdir -p "$NET"

step "Six firms, six nodes: each has its own key, store and daemon"
printf '%-10s %-27s %-12s %-10s %s\n' FIRM NAME ROLE FPRINT WHERE
for f in "${FIRMS[@]}"; do
	PORT[$f]=$(free_port)
	q "$f" init --name "${NAME[$f]}" --role "${ROLE[$f]}" \
		--listen "tcp://127.0.0.1:${PORT[$f]}" >/dev/null
	ID[$f]=$(q "$f" id | awk '/^node id/ {print $3}')
	fpr=$(q "$f" id | awk '/^fingerprint/ {print $2}')
	printf '%-10s %-27s %-12s %-10s %s\n' "$f" "${NAME[$f]}" "${ROLE[$f]}" "$fpr" "${WHERE[$f]}"
done

step "Pairing by node id: users dial their distributor, distributors dial the producer"
for d in nordic iberia; do
	q "$d" partner add acme "${ID[acme]}" --relation upstream \
		--endpoint "tcp://127.0.0.1:${PORT[acme]}" >/dev/null
	q acme partner add "$d" "${ID[$d]}" --relation downstream >/dev/null
done
for u in "${USERS[@]}"; do
	d=${DIST[$u]}
	q "$u" partner add "$d" "${ID[$d]}" --relation upstream \
		--endpoint "tcp://127.0.0.1:${PORT[$d]}" >/dev/null
	q "$d" partner add "$u" "${ID[$u]}" --relation downstream >/dev/null
done
t nordic partner list
echo "(acme holds no endpoint: both distributors dial in; it is not paired with any user firm)"

step "What each firm shares with whom: nothing leaves a node unless a rule allows it"
echo "Each user firm shares its ideas, claims and trial answers with its distributor, and"
echo "consents to the distributor passing its ideas and trial answers on (not its claims):"
for u in "${USERS[@]}"; do
	d=${DIST[$u]}
	for k in idea claim test_response trial_report; do
		q "$u" policy add "$d" "$k" >/dev/null
	done
	q "$u" consent grant "$d" --for ideas,trials --until 2027-12-31 >/dev/null
done
t cafe-nord policy list
t cafe-nord consent list
echo
echo "Each distributor passes ideas on without the user firm's contact fields, with its"
echo "assessments; its own claims without the customer's identity; user firms' trial"
echo "answers to the test requests the producer sent; and the producer's statuses down,"
echo "each to the firm whose record it answers (--replies):"
for d in nordic iberia; do
	q "$d" policy add acme idea --fields title,text,product,category,stage --forward >/dev/null
	q "$d" policy add acme assessment >/dev/null
	q "$d" policy add acme claim \
		--fields product,serial,problem,opened,closed,severity,resolution >/dev/null
	q "$d" policy add acme test_response --fields answer,text --forward --replies >/dev/null
	q "$d" policy add acme trial_report --forward --replies >/dev/null
done
for u in "${USERS[@]}"; do
	q "${DIST[$u]}" policy add "$u" status --forward --replies >/dev/null
done
# iberia passes every test request on to its hospital kitchen; nordic decides each time
q iberia policy add hospital test_request --forward >/dev/null
t iberia policy list
echo
echo "The producer sends its statuses back to the distributor the record came from, and"
echo "its test requests to both distributors:"
for d in nordic iberia; do
	q acme policy add "$d" status --replies >/dev/null
	q acme policy add "$d" test_request >/dev/null
done
t acme policy list

step "Starting the six daemons"
for f in "${FIRMS[@]}"; do
	"$BIN/trestled" --home "$NET/$f" </dev/null >>"$NET/$f.log" 2>&1 &
	PID[$f]=$!
done
trap stop_all EXIT
# the daemons ignore a terminal's Ctrl-C (background jobs of a script do): on INT or TERM
# exit, and the EXIT trap stops them
trap 'exit 130' INT
trap 'exit 143' TERM
# every firm's partners connected: the user firms and distributors dial in
for f in "${FIRMS[@]}"; do
	ok=0
	for _ in $(seq 1 200); do
		kill -0 "${PID[$f]}" 2>/dev/null || fail "trestled of $f exited: see $NET/$f.log"
		if q "$f" status --json 2>/dev/null | python3 -c 'import json, sys
p = json.load(sys.stdin)["partners"]
sys.exit(0 if p and all(x.get("connected") for x in p) else 1)'; then
			ok=1
			break
		fi
		sleep 0.05
	done
	[ $ok -eq 1 ] || fail "$f's partners did not all connect within 10 s (see $NET/$f.log)"
done
t acme status

# ---------------------------------------------------------------------------------------
step "Flow 1: user firms' ideas go up through their distributors, without contact fields"
echo "Each user firm writes its ideas as its staff raised them, with the submitter's name."
echo "Their onward terms, signed into each record, let the distributor pass them one hop"
echo "on, to a producer, and keep submitter and account at the first partner:"
bold "[cafe-nord] \$ trestle record create idea product=DW-200 category=cycles title=... \\"
bold "      text=... stage=generation submitter=... account=... $(shown "${IDEA_TERMS[@]}")"
idea I_QUICK1 cafe-nord DW-200 cycles "Quick cycle for the lunch rush" \
	"At lunch the standard cycle is too slow for glasses and cups. A 90-second quick cycle would keep up with the rush." \
	"Karin Berg"
idea I_EMPTY cafe-nord DW-200 detergent "Warn before the detergent runs out" \
	"Show a warning on the panel when the detergent container is nearly empty; one evening we washed without detergent for hours." \
	"Karin Berg"
idea I_RACKS cafe-nord DW-200 usability "Lighter plastic racks" \
	"The steel racks are heavy for our staff; plastic racks would be lighter to lift." \
	"Olle Nyberg"
idea I_DOSE1 hotel-sol DW-300 detergent "Detergent dosing by water hardness" \
	"The machine doses the same amount of detergent in soft and hard water. Dosing by water hardness would save detergent and stop the white film on glasses." \
	"Eva Lind"
idea I_MAIL hotel-sol DW-300 hygiene "Weekly hygiene report by e-mail" \
	"Send the kitchen manager a weekly e-mail with the machine's hygiene and cost report, so nobody has to log in to the web portal." \
	"Eva Lind"
idea I_QUICK2 hospital DW-300 cycles "Rush-hour quick cycle for glasses" \
	"During the lunch rush the standard cycle is too slow; a quick cycle for cups and glasses would keep the trolleys moving." \
	"Lucia Ferrer"
idea I_HACCP hospital DW-300 hygiene "HACCP hygiene log for every cycle" \
	"The food safety inspector wants proof of the final rinse temperature for every cycle. Export a HACCP log from the web control system." \
	"Lucia Ferrer"
idea I_DOSE2 hospital DW-300 detergent "Dose detergent according to water hardness" \
	"Our water is very hard and the glasses come out with a white film; the detergent dosing should follow the water hardness automatically." \
	"Jordi Puig"
wait_for acme "$I_MAIL"
echo "the last one reached acme, two hops up, $MS ms after it was written"
for i in "$I_QUICK1" "$I_EMPTY" "$I_RACKS" "$I_QUICK2" "$I_HACCP" "$I_DOSE2" "$I_DOSE1"; do
	wait_for acme "$i"
done
echo
echo "The distributors judge what they pass on, from what they see in the field:"
mk A_DOSE nordic record create assessment --ref "${I_DOSE1:0:8}" score=8 recommendation=support \
	text="Hard water in half of Sweden: our technicians see overdosing and white film every week."
mk A_QUICK iberia record create assessment --ref "${I_QUICK2:0:8}" score=7 recommendation=support \
	text="Hospital and school kitchens in Spain ask for it; the competitor's machine has a 2-minute cycle."
wait_for acme "$A_DOSE"
wait_for acme "$A_QUICK"
echo
echo "What nordic holds of Cafe Nord's first idea, and what acme holds of it:"
fields nordic "$I_QUICK1"
fields acme "$I_QUICK1"
t acme record show "${I_QUICK1:0:12}" | grep -E '^(author|verified|onward)'
echo "acme verified Cafe Nord's signature on every field it was shown; the submitter and the"
echo "firm's name stopped at nordic. To acme, Cafe Nord is a node key and its fingerprint."

# ---------------------------------------------------------------------------------------
step "Flow 2: the producer's grouped view: near-duplicates from different firms together"
t acme idea groups
q acme idea groups --json | python3 -c '
import json, sys
ids = sys.argv[1:]
groups = json.load(sys.stdin)
def group_of(i):
    return next(g for g in groups if i in g["members"])
for a, b in ((ids[0], ids[1]), (ids[2], ids[3])):
    g = group_of(a)
    if b not in g["members"] or g["firms"] < 2 or g["distributors"] < 2:
        sys.exit("ideas %s and %s are not one group of 2 firms and 2 distributors" % (a[:12], b[:12]))
    print("group %s: %d ideas from %d user firms, via %d distributors, %d assessment(s)"
          % (g["title"], g["ideas"], g["firms"], g["distributors"], g["assessments"]))
' "$I_QUICK1" "$I_QUICK2" "$I_DOSE1" "$I_DOSE2" || fail "the near-duplicate ideas are not grouped"

# ---------------------------------------------------------------------------------------
step "Flow 3: the producer decides; each decision goes back down to the firm that wrote the idea"
echo "acme plans the quick cycle (both ideas of the group), declines the plastic racks, and"
echo "merges the weekly hygiene e-mail into the HACCP log, which the grouping kept apart:"
t acme idea status "${I_QUICK1:0:12}" planned \
	--message "Planned: a 90-second glass cycle in firmware 5.0, spring 2027"
t acme idea status "${I_QUICK2:0:12}" planned \
	--message "Planned: a 90-second glass cycle in firmware 5.0, spring 2027"
t acme idea status "${I_RACKS:0:12}" declined \
	--message "Steel racks are needed for 85 C sanitising; lighter steel racks come in 2027"
t acme idea merge "${I_MAIL:0:12}" --into "${I_HACCP:0:12}" \
	--message "Joined the HACCP log idea: the log will be e-mailed weekly too"
t acme idea status "${I_HACCP:0:12}" under_review --message "Specified with the web control team"
wait_state cafe-nord "$I_QUICK1" planned
wait_state cafe-nord "$I_RACKS" declined
wait_state hospital "$I_QUICK2" planned
wait_state hotel-sol "$I_MAIL" merged
wait_state hospital "$I_HACCP" under_review
echo
echo "What each user firm now sees of the ideas it wrote:"
for u in "${USERS[@]}"; do
	t "$u" idea list
done
echo
echo "The statuses went to the distributor each idea came from, which passed each on to"
echo "the one firm that wrote the idea: Cafe Nord got no status about Hotel Sol's ideas."
echo "The \"merged\" status names both ideas, so it went to both their firms: the hospital"
echo "learns that a like idea joined its HACCP idea, not whose:"
t hospital record list --kind status
absent cafe-nord "$I_MAIL" "an idea of Hotel Sol's"
n=$(q cafe-nord record list --kind status --json | python3 -c 'import json, sys
print(len(json.load(sys.stdin)))')
[ "$n" -eq 2 ] || fail "cafe-nord holds $n statuses, not the 2 about its own ideas"
echo "And acme knows the firms only by their node keys:"
t acme idea list --state planned

# ---------------------------------------------------------------------------------------
step "Flow 4: the distributors' claims go up, without their customers' identity"
t nordic import "$SAMPLE/claims.csv" --kind claim \
	--map "Claim No=external_id" --map "Serial No=serial"
t iberia import "$SAMPLE/claims-iberia.csv" --kind claim --delimiter ';' \
	--map "Ref=external_id" --map "Model=product" --map "Fault=problem" \
	--map "Technician=responsible"
n_nordic=$(count nordic claim)
n_iberia=$(count iberia claim)
wait_count acme claim $((n_nordic + n_iberia))
echo "acme holds all $((n_nordic + n_iberia)) claims ($n_nordic from nordic, $n_iberia from iberia) ${MS} ms after the imports"
echo
echo "What iberia keeps of a claim, and what acme was given:"
c1=$(q iberia record list --kind claim --json | python3 -c 'import json, sys
print(json.load(sys.stdin)[0]["id"])')
fields iberia "$c1"
fields acme "$c1"
echo
echo "The producer's view of the claims (\`trestle report\`), by month, product and problem:"
q acme report --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["claims"]
print("  %d claims, %d open, %d closed; by month opened: %s" % (c["total"], c["open"], c["closed"],
      ", ".join("%s %d" % (m["month"], m["total"]) for m in c["by_month"])))
for p in c["by_product"]:
    print("  %-8s %2d claims, %d open" % (p["product"], p["total"], p["open"]))
print("  problems raised more than once:")
for p in c["by_problem"]:
    if p["total"] > 1:
        print("    %-8s %d x %s" % (p["product"], p["total"], p["problem"]))
print("  machines claimed more than once:")
for r in c["repeats"]:
    print("    %-8s %s: %s" % (r["product"], r["serial"], " / ".join(x["problem"] for x in r["claims"])))
'
for w in pump heater leak; do
	printf '  claims that mention "%s": %s\n' "$w" "$(q acme record list --kind claim --text "$w" --json |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
done

# ---------------------------------------------------------------------------------------
step "Flow 5: a test request for a prototype goes down; each distributor picks its user firms"
mk REQ acme record create test_request product=DW-X1 \
	title="Trial: DW-X1 combined glass and pot washer" \
	text="We swap your machine for a DW-X1 prototype for ten weeks, free of charge; keep it at 30% off or get your own back. Wanted: kitchens with 300+ covers a day." \
	start=2027-01-11 end=2027-03-19 slots=2 x_firm_type="large kitchen, 300+ covers a day" \
	--onward-hops 1 --onward-to user
wait_for nordic "$REQ"
wait_for iberia "$REQ"
wait_for hospital "$REQ"
echo "iberia's rule passed it on to its hospital kitchen at once ($MS ms). nordic has no rule"
echo "for test requests: the request waits in its inbox for its admin to decide."
t nordic inbox
echo "(Cafe Nord is too small for a pot washer: nordic offers the trial to Hotel Sol only.)"
t nordic inbox forward "${REQ:0:12}" --to hotel-sol
wait_for hotel-sol "$REQ"
sleep 0.2
absent cafe-nord "$REQ" "nordic did not forward the test request to it"
t hotel-sol record list --kind test_request
echo
echo "Hotel Sol accepts (its contact person stays at nordic); the hospital declines:"
mk R_HOTEL hotel-sol record create test_response --ref "${REQ:0:12}" answer=accept \
	text="We can swap our DW-300 from 11 January; 450 covers a day." \
	contact="Eva Lind, kitchen manager, +46 31 555 0142" \
	--onward-hops 1 --onward-to producer --private contact
mk R_HOSP hospital record create test_response --ref "${REQ:0:12}" answer=decline \
	text="Not this quarter: our hygiene audit is in February." \
	--onward-hops 1 --onward-to producer
wait_for acme "$R_HOTEL"
wait_for acme "$R_HOSP"
echo "both answers are at acme, each through the distributor the request went by"
echo
echo "acme notes the progress of its request (statuses on its own record: they stay at acme):"
mk S_CAND acme record create status --ref "${REQ:0:12}" state=candidates_proposed \
	message="1 firm via nordic accepted, 1 via iberia declined"
mk S_TRIAL acme record create status --ref "${REQ:0:12}" state=in_trial \
	message="Prototype DW-X1 #3 installed via nordic"
echo
echo "Ten weeks later, Hotel Sol reports on the trial:"
mk TR hotel-sol record create trial_report --ref "${REQ:0:12}" --ref "${R_HOTEL:0:12}" rating=4 \
	outcome=keep text="Pots and glasses in one machine saved a second dishwasher. The pot cycle is loud; the rinse aid door sticks." \
	x_defects="rinse aid door sticks" x_would_buy=yes \
	--onward-hops 1 --onward-to producer
wait_for acme "$TR"
echo "at acme after $MS ms. acme answers the report; the answer goes back the way it came:"
mk S_REP acme record create status --ref "${REQ:0:12}" state=reported message="Trial report in"
mk S_THANKS acme record create status --ref "${TR:0:12}" state=note \
	message="Thank you! The rinse aid door is fixed on prototype #4; we will quiet the pot cycle." \
	--onward-hops 1 --onward-to user
wait_for hotel-sol "$S_THANKS"
t hotel-sol record list --kind status
absent hotel-sol "$S_REP" "acme's own progress notes have no rule to go anywhere"
echo
echo "The producer's view of its test request (\`trestle report\`):"
q acme report --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["test_requests"]:
    print("  %s: %s, %d accepted, %d declined" % (t["title"], t["state"], t["accepted"], t["declined"]))
    for p in t["partners"]:
        print("    via %-7s %d accepted, %d declined, %d trial report(s)"
              % (p["partner"], p["accepted"], p["declined"], p["reports"]))
    for r in t["responses"]:
        print("    answer from firm %s via %s: %s, \"%s\"" % (r["firm"], r["from"], r["answer"], r.get("text", "")))
    for r in t["reports"]:
        print("    report from firm %s via %s: rating %s, %s, \"%s\"" % (r["firm"], r["from"], r.get("rating"), r.get("outcome"), r.get("text", "")))
'

# ---------------------------------------------------------------------------------------
step "Flow 6: the producer has no path to a user firm but through a distributor"
t acme partner list
echo "acme is paired with its two distributors only, and holds no endpoint at all: it"
echo "could dial no user firm, and their nodes admit only their distributor's key."
echo
echo "Hotel Sol files a claim with nordic under default terms (first partner only):"
mk C_HOTEL hotel-sol record create claim product=DW-300 serial=SN-300-0007 opened=2026-11-28 \
	problem="Rinse arm cracked near the hub" customer="Hotel Sol" severity=medium
wait_for nordic "$C_HOTEL"
sleep 0.3
absent acme "$C_HOTEL" "the claim's terms keep it at the first partner"
echo "at nordic after $MS ms; nordic's rules pass claims to acme, but not this one: acme does not hold it"
q acme export | python3 -c '
import json, sys
names = ("submitter", "account", "customer", "contact", "responsible")
n = bad = 0
for line in sys.stdin:
    r = json.loads(line)
    n += 1
    f = r.get("fields") or {}
    for k in names:
        if k in f:
            bad += 1
            print("  %s %s discloses %s" % (r.get("kind"), r.get("id", "")[:12], k))
print("acme holds %d records; fields naming a user firm or a person disclosed to it: %s"
      % (n, bad or "none"))
sys.exit(1 if bad else 0)
' || fail "acme was given a user firm's identity"

# ---------------------------------------------------------------------------------------
step "What each firm holds now"
for f in "${FIRMS[@]}"; do
	printf '%-10s ' "$f"
	q "$f" record list --json | python3 -c 'import collections, json, sys
c = collections.Counter(r["kind"] for r in json.load(sys.stdin))
print(", ".join("%d %s" % (n, k) for k, n in sorted(c.items())) or "nothing")'
done
for f in "${FIRMS[@]}"; do
	q "$f" verify >/dev/null || fail "trestle verify found problems at $f"
done
echo "trestle verify: at every node, every signature, field and index checks out"
t nordic status

step "The producer's grouped view, and its report"
t acme idea groups
t acme report --html "$NET/acme-report.html" --title "Acme: what the field says"

secs=$((($(date +%s%N) - T0) / 1000000))
STEP="finishing"
if [ $KEEP -eq 1 ]; then
	trap - EXIT INT TERM
	step "Done in $((secs / 1000)).$((secs % 1000 / 100)) s. The six daemons keep running:"
	for f in "${FIRMS[@]}"; do
		printf '  %-10s pid %-7s listens on tcp://127.0.0.1:%-6s log %s\n' "$f" "${PID[$f]}" \
			"${PORT[$f]}" "$NET/$f.log"
	done
	echo "Reach a firm's node with its home, e.g.:"
	echo "  $BIN/tools/trestle --home $NET/acme status"
	echo "  $BIN/tools/trestle --home $NET/hotel-sol idea list"
	echo "Stop them with: kill ${PID[*]}"
else
	stop_all
	trap - EXIT INT TERM
	step "Done in $((secs / 1000)).$((secs % 1000 / 100)) s. Stopped the daemons; the nodes stay in $NET"
	echo "(run deploy/demo.sh --keep to keep them running)"
fi
echo "The producer's report: $NET/acme-report.html (open it in a browser)"
