#!/usr/bin/env bash
# deploy/demo.sh: the main command. Sets up and builds trestle, then runs a live network
# of four firms on this machine, each its own node (key, store, daemon):
#
#   acme        producer of dishwashing machines
#   nordic      its distributor, reachable on a port
#   cafe-nord   a user firm: dials nordic (behind a firewall, it only dials out)
#   hotel-sol   another user firm, likewise
#
# It pairs them by node id, sets what each shares with whom, and plays the flows: a
# user firm's idea goes up to the producer without the firm's contact fields, the
# distributor's claims go up, and the producer's status on the idea comes back down.
# It prints what each firm holds at each step, and stops the daemons at the end
# (--keep leaves them running and says how to reach each one).
# Nodes live in demo/net/; a re-run moves the last network to demo/net.previous.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		echo "usage: deploy/demo.sh [--keep]"
		exit 0
		;;
	*)
		echo "demo.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
	./deploy/install-deps.sh
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" --target trestle trestled >/dev/null
BIN=$(pwd)/build/release
NET=$(pwd)/demo/net
FIRMS=(acme nordic cafe-nord hotel-sol)
declare -A PID PORT
declare -A NAME=([acme]="Acme Dishwashers GmbH" [nordic]="Nordic Dish Service AB"
	[cafe-nord]="Cafe Nord" [hotel-sol]="Hotel Sol")
declare -A ROLE=([acme]=producer [nordic]=distributor [cafe-nord]=user [hotel-sol]=user)

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
# t FIRM ARGS...: trestle on that firm's node, shown as the admin would type it
t() {
	local firm=$1
	shift
	bold "[$firm] \$ trestle $*"
	"$BIN/tools/trestle" --home "$NET/$firm" "$@"
}
# q FIRM ARGS...: the same, not shown
q() {
	local firm=$1
	shift
	"$BIN/tools/trestle" --home "$NET/$firm" "$@"
}
say() { printf '\n== %s\n' "$*"; }

stop_all() {
	local f
	for f in "${FIRMS[@]}"; do
		if [ -n "${PID[$f]:-}" ]; then
			kill -TERM "${PID[$f]}" 2>/dev/null || true
			wait "${PID[$f]}" 2>/dev/null || true
		fi
	done
}

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for FIRM ID: until the record is in that firm's store (10 s at most); prints ms
wait_for() {
	local start end
	start=$(date +%s%N)
	for _ in $(seq 1 1000); do
		if q "$1" record show "$2" >/dev/null 2>&1; then
			end=$(date +%s%N)
			echo "$(((end - start) / 1000000))"
			return 0
		fi
		sleep 0.01
	done
	echo "the record did not reach $1 within 10 s; see $NET/$1.log" >&2
	return 1
}

if [ -e "$NET" ]; then
	rm -rf "$NET.previous"
	mv "$NET" "$NET.previous"
fi
mkdir -p "$NET"

say "Four firms, four nodes: each has its own key, store and daemon"
for f in "${FIRMS[@]}"; do
	PORT[$f]=$(free_port)
	q "$f" init --name "${NAME[$f]}" --role "${ROLE[$f]}" \
		--listen "tcp://127.0.0.1:${PORT[$f]}" >/dev/null
	id=$(q "$f" id)
	printf '%-10s %-24s %-12s %s\n' "$f" "${NAME[$f]}" "${ROLE[$f]}" "${id%%$'\n'*}"
done
id_of() { q "$1" id | awk 'NR == 1 {print $NF}'; }

say "Pairing by node id, as WireGuard does: each admin adds the other"
out=$(t nordic partner add acme "$(id_of acme)" --relation upstream \
	--endpoint "tcp://127.0.0.1:${PORT[acme]}")
printf '%s\n' "$out" | sed -n '1,2p' 
q acme partner add nordic "$(id_of nordic)" --relation downstream >/dev/null
for u in cafe-nord hotel-sol; do
	q "$u" partner add nordic "$(id_of nordic)" --relation upstream \
		--endpoint "tcp://127.0.0.1:${PORT[nordic]}" >/dev/null
	q nordic partner add "$u" "$(id_of "$u")" --relation downstream >/dev/null
done
t nordic partner list

say "What each firm shares with whom (nothing leaves a node unless a rule allows it)"
for u in cafe-nord hotel-sol; do
	q "$u" policy add nordic idea >/dev/null
	q "$u" policy add nordic claim >/dev/null
done
# a user firm's records go beyond its distributor only with its consent
t cafe-nord consent grant nordic --for ideas --until 2027-12-31
# the distributor passes ideas on without the user firm's contact fields, its own
# claims without the customer's identity, and the producer's answers back down the way
# the idea came
t nordic policy add acme idea --fields title,text,product,category --forward
t nordic policy add acme claim --fields product,serial,problem,opened,closed,severity,resolution
for u in cafe-nord hotel-sol; do
	q nordic policy add "$u" status --forward --replies >/dev/null
done
q acme policy add nordic status --replies >/dev/null
t nordic policy list
echo "dry run: what acme would get from nordic now"
t nordic policy test acme | tail -1

say "Starting the four daemons"
for f in "${FIRMS[@]}"; do
	"$BIN/trestled" --home "$NET/$f" 2>>"$NET/$f.log" &
	PID[$f]=$!
done
trap stop_all EXIT
for f in "${FIRMS[@]}"; do
	for _ in $(seq 1 100); do
		q "$f" status >/dev/null 2>&1 && break
		sleep 0.05
	done
done
sleep 0.3 # the user firms dial in
t nordic status

say "The distributor imports its claims export; the claims go up to the producer"
t nordic import deploy/sample/claims.csv --kind claim \
	--map "Claim No=external_id" --map "Serial No=serial"
n=$(q nordic record list --kind claim --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
for _ in $(seq 1 200); do
	got=$(q acme record list --kind claim --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$got" -ge "$n" ] && break
	sleep 0.05
done
echo "acme now holds $got of nordic's $n claims"

say "Cafe Nord records an idea: its distributor may pass it on one hop, to a producer, without the contact fields"
idea=$(t cafe-nord record create idea title="Pump wear warning" product=DW-200 \
	category=reliability text="Warn before the drain pump fails: we lost a lunch service twice." \
	submitter="Karin Berg" account="Cafe Nord" \
	--onward-hops 1 --onward-to producer --private submitter,account | tail -1)
echo "$idea"
ms1=$(wait_for nordic "$idea")
ms2=$(wait_for acme "$idea")
echo "at nordic after $ms1 ms, at acme after $ms2 ms (as seen by polling from this script)"
t acme record show "${idea:0:12}"

say "Acme sets a status on the idea; its distributor passes it one hop down, to the firm that wrote it"
status=$(t acme record create status --ref "${idea:0:12}" state=planned \
	message="Planned for the DW-300 release" --onward-hops 1 --onward-to user | tail -1)
ms3=$(wait_for cafe-nord "$status")
echo "at cafe-nord after $ms3 ms"
t cafe-nord record list

say "Hotel Sol files a claim with its distributor, under default terms: it goes no further"
claim=$(t hotel-sol record create claim product=DW-200 serial=SN-2207 opened=2026-11-28 \
	problem="Rinse arm cracked" customer="Hotel Sol" | tail -1)
ms4=$(wait_for nordic "$claim")
echo "at nordic after $ms4 ms; nordic's rules share claims with acme, but the author's terms do not"
sleep 0.2
if q acme record show "$claim" >/dev/null 2>&1; then
	echo "error: acme holds the claim against its author's terms" >&2
	exit 1
fi
echo "acme does not hold it"

say "Hotel Sol has an idea too, but gave nordic no consent: it waits in nordic's inbox"
idea2=$(t hotel-sol record create idea title="Quieter night cycle" product=DW-200 \
	category=noise text="A slow, quiet cycle for the night shift." \
	--onward-hops 1 --onward-to producer | tail -1)
wait_for nordic "$idea2" >/dev/null
t nordic inbox
if t nordic inbox forward "${idea2:0:12}" --to acme; then
	echo "error: nordic forwarded an idea without its author's consent" >&2
	exit 1
fi
echo "(refused, as it must be)"

say "Hotel Sol consents; its waiting idea goes on, and it raises the pump problem too"
t hotel-sol consent grant nordic --for ideas
idea3=$(t hotel-sol record create idea title="Drain pump wear alarm" product=DW-200 \
	category=reliability text="Warn us before the drain pump wears out, we lost a service to it." \
	--onward-hops 1 --onward-to producer | tail -1)
wait_for acme "$idea2" >/dev/null
wait_for acme "$idea3" >/dev/null
echo "acme now holds both of Hotel Sol's ideas"

say "The producer's view: ideas grouped, near-duplicates from different firms together"
t acme idea groups
t acme report --html "$NET/acme-report.html" --title "Acme: what the field says"

say "What each firm holds now"
for f in "${FIRMS[@]}"; do
	printf '%-10s ' "$f"
	q "$f" record list --json | python3 -c 'import collections, json, sys
c = collections.Counter(r["kind"] for r in json.load(sys.stdin))
print(", ".join("%d %s" % (n, k) for k, n in sorted(c.items())) or "nothing")'
done
t nordic status
t acme verify

if [ $KEEP -eq 1 ]; then
	trap - EXIT
	say "The daemons keep running:"
	for f in "${FIRMS[@]}"; do
		echo "  $f (pid ${PID[$f]}): $BIN/tools/trestle --home $NET/$f status   log: $NET/$f.log"
	done
	echo "Stop them with: kill ${PID[*]}"
else
	stop_all
	trap - EXIT
	say "Stopped the daemons. The nodes stay in $NET (re-run with --keep to keep them running)."
	echo "The producer's report: $NET/acme-report.html (open it in a browser)"
fi
