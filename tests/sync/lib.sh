# lib.sh: helpers for the multi-process sync tests. Run a test as
#   bash tests/sync/test_x.sh /path/to/trestle /path/to/trestled [/path/to/hostile_peer]
# It sources tests/cli/lib.sh (checks, TMP, run, py ...) and adds:
#   D      the trestled binary;  HP  the hostile peer binary ("" if not built)
#   node_init NAME ROLE    a node at $TMP/NAME listening on a free loopback port
#                          (its port in PORT_NAME, e.g. PORT_a)
#   node_start NAME [ARGS] starts its daemon in the background (log: $TMP/NAME.log),
#                          and waits until `trestle status` answers
#   node_stop NAME         SIGTERM and wait (node_kill NAME: SIGKILL)
#   node_id NAME           prints its node id
#   pair A B KIND...       A dials B: each adds the other; A allows KINDs to B and B to A
#   wait_until SECS CMD... runs CMD every 50 ms until it succeeds (0) or SECS pass (1)
#   count NAME [KIND]      records in NAME's store (of KIND)
#   ids NAME [KIND]        sorted record ids in NAME's store

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$2
HP=${3:-}
# shellcheck source=../cli/lib.sh
source "$_lib_dir/../cli/lib.sh" "$1"
case $D in
/*) ;;
*) D=$(cd "$(dirname "$D")" && pwd)/$(basename "$D") ;;
esac
if [ ! -x "$D" ]; then
	not_ok "the trestled binary $D is not executable"
	finish
fi
declare -A DPID

# free_port: a TCP port on 127.0.0.1 nobody listens on now, and none this test handed out
# before (the kernel may give a closed port out again: two nodes must not get the same).
# The ports handed out are kept in a file, since callers run it in a subshell.
free_port() {
	local p
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$(py 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
		grep -qx "$p" "$TMP/.ports" 2>/dev/null && continue
		echo "$p" >>"$TMP/.ports"
		break
	done
	echo "$p"
}

node_init() {
	local name=$1 role=$2 port
	port=$(free_port)
	eval "PORT_$name=$port"
	"$T" --home "$TMP/$name" init --name "$name" --role "$role" \
		--listen "tcp://127.0.0.1:$port" >/dev/null 2>"$TMP/.err" ||
		{ not_ok "init $name"; note "$(cat "$TMP/.err")"; }
}

node_start() {
	local name=$1
	shift
	"$D" --home "$TMP/$name" "$@" 2>>"$TMP/$name.log" &
	DPID[$name]=$!
	BG_PIDS+=("$!")
	if ! wait_until 10 "$T" --home "$TMP/$name" status; then
		not_ok "trestled $name started"
		note "$(tail -5 "$TMP/$name.log")"
	fi
}

node_stop() {
	local pid=${DPID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	DPID[$1]=
}

node_kill() {
	local pid=${DPID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	DPID[$1]=
}

node_id() {
	"$T" --home "$TMP/$1" id --json 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin)["id"])' ||
		"$T" --home "$TMP/$1" id | awk 'NR==1 {print $NF}'
}

pair() {
	local a=$1 b=$2 port
	shift 2
	eval "port=\$PORT_$b"
	pair_via "$a" "$b" "tcp://127.0.0.1:$port" "$@"
}

wait_until() {
	local secs=$1 end
	shift
	end=$((SECONDS + secs))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

count() {
	if [ -n "${2:-}" ]; then
		"$T" --home "$TMP/$1" record list --kind "$2" --json 2>/dev/null |
			py 'import json,sys; print(len(json.load(sys.stdin)))'
	else
		"$T" --home "$TMP/$1" record list --json 2>/dev/null |
			py 'import json,sys; print(len(json.load(sys.stdin)))'
	fi
}

ids() {
	"$T" --home "$TMP/$1" record list ${2:+--kind "$2"} --json 2>/dev/null |
		py 'import json,sys; [print(r["id"]) for r in sorted(json.load(sys.stdin), key=lambda r: r["id"])]'
}

# ---- appended for test_basic.sh / test_auth.sh ----
#   now_ms                   milliseconds since the epoch
#   wait_ms MS CMD...        as wait_until, with a deadline in milliseconds (polls every
#                            20 ms); sets WAITED_MS to how long it took
#   has_rec NAME ID          0 if record ID is in NAME's store
#   has_recs NAME ID...      0 if all of them are
#   pstat NAME PARTNER FIELD NAME's daemon's status of PARTNER: FIELD as JSON
#                            (true/false/null/number; strings unquoted); "none" if
#                            there is no such partner, "error" if status fails
#   is_connected NAME PARTNER / is_down NAME PARTNER: status says connected or not
#   notify_listen SOCK OUT   a UNIX datagram socket at SOCK (the $NOTIFY_SOCKET of
#                            systemd): every datagram it gets is appended to OUT
#   node_term NAME           SIGTERM and wait; NODE_RC gets the daemon's exit status

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

wait_ms() {
	local ms=$1 start end
	shift
	start=$(now_ms)
	end=$((start + ms))
	while :; do
		if "$@" >/dev/null 2>&1; then
			WAITED_MS=$(($(now_ms) - start))
			return 0
		fi
		if [ "$(now_ms)" -ge "$end" ]; then
			WAITED_MS=$(($(now_ms) - start))
			return 1
		fi
		sleep 0.02
	done
}

has_rec() {
	"$T" --home "$TMP/$1" record show "$2" >/dev/null 2>&1
}

has_recs() {
	local name=$1 id
	shift
	for id in "$@"; do
		has_rec "$name" "$id" || return 1
	done
}

pstat() {
	"$T" --home "$TMP/$1" status --json 2>/dev/null | py 'import json,sys
try:
    d = json.load(sys.stdin)
except Exception:
    print("error"); sys.exit(0)
for p in d.get("partners", []):
    if p.get("name") == sys.argv[1]:
        v = p.get(sys.argv[2])
        print(v if isinstance(v, str) else json.dumps(v))
        break
else:
    print("none")' "$2" "$3"
}

is_connected() {
	[ "$(pstat "$1" "$2" connected)" = true ]
}

is_down() {
	[ "$(pstat "$1" "$2" connected)" = false ]
}

notify_listen() {
	local sock=$1 out=$2
	rm -f "$sock"
	: >"$out"
	"$PY" -c 'import socket,sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    data = s.recv(4096)
    with open(sys.argv[2], "ab") as f:
        f.write(data + b"\n")' "$sock" "$out" &
	BG_PIDS+=("$!")
	wait_until 5 test -S "$sock" || not_ok "the notify socket $sock is there"
}

node_term() {
	local pid=${DPID[$1]:-}
	NODE_RC=none
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	NODE_RC=$?
	DPID[$1]=
}

# ---- appended for test_hostile.sh ----
#   node_alive NAME          0 if NAME's daemon still runs (kill -0)
#   log_mark NAME            prints how many lines NAME's log has now
#   log_since NAME MARK      the lines NAME's log got after log_mark printed MARK
#   log_clean NAME           0 if NAME's log holds no sanitizer report (ASan, UBSan, LSan)
#   count_by NAME AUTHOR     records in NAME's store by AUTHOR (a node id, or self)

node_alive() {
	local pid=${DPID[$1]:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

log_mark() {
	wc -l <"$TMP/$1.log" | tr -d ' '
}

log_since() {
	tail -n +"$(($2 + 1))" "$TMP/$1.log"
}

log_clean() {
	! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' \
		"$TMP/$1.log"
}

count_by() {
	"$T" --home "$TMP/$1" record list --author "$2" --json 2>/dev/null |
		py 'import json,sys; print(len(json.load(sys.stdin)))'
}
#   rss_anon NAME            kB of anonymous memory NAME's daemon holds (RssAnon)

rss_anon() {
	awk '$1 == "RssAnon:" {print $2}' "/proc/${DPID[$1]:-0}/status" 2>/dev/null
}

# ---- appended for test_crash.sh / test_netcut.sh ----
#   gen_claims FILE N TAG    a CSV of N claims (product,problem,opened), every problem
#                            unique (TAG in it tells sets apart)
#   export_ids NAME FILE [KIND]  the ids in NAME's store (of KIND), in arrival order, one
#                            a line, from `trestle export`; 1 if export fails
#   id_diff A B              compares two id lists (files): 0 and no output if they hold
#                            the same ids, each once; else says what differs, 1
#   check_same_ids A B DESC  a check of id_diff
#   rand_in VAR LO HI        sets VAR to a random integer in [LO, HI] (from bash's
#                            $RANDOM in this shell, not a subshell, which bash reseeds:
#                            so RANDOM=SEED repeats the choices)
#   rand_sleep MAXMS         sleeps a random 0..MAXMS milliseconds
#   wait_rec SECS NAME ID    until record ID is in NAME's store, polling every 5 ms
#   nrecs NAME [KIND]        records in NAME's store (of KIND): lines of `trestle export`
#                            ("error" if export fails)
#   pair_via A B ENDPOINT KIND...  as pair, but A dials B at ENDPOINT (a fault proxy)
#   fp_start NAME PORT [OPTION...]  a fault proxy (tests/tools/faultproxy.py) on a free
#                            loopback port, forwarding to 127.0.0.1:PORT (OPTIONs passed
#                            on, e.g. --on-restore resume); its port in FP_PORT_NAME, its
#                            log in $TMP/fp-NAME.log
#   fp NAME COMMAND          sends COMMAND (cut, blackhole, restore, stats) to it; prints
#                            the reply

gen_claims() {
	py 'import sys
n, tag = int(sys.argv[2]), sys.argv[3]
with open(sys.argv[1], "w") as f:
    f.write("product,problem,opened\n")
    for i in range(n):
        f.write("DW-%d,%s claim %d: the drain pump stops after about %d cycles,2026-%02d-%02d\n"
                % (i % 40, tag, i, 100 + i % 900, 1 + i % 12, 1 + i % 28))' "$1" "$2" "$3"
}

export_ids() {
	local st
	"$T" --home "$TMP/$1" export ${3:+--kind "$3"} 2>"$TMP/.export.err" </dev/null |
		py 'import json,sys
with open(sys.argv[1], "w") as f:
    for line in sys.stdin:
        f.write(json.loads(line)["id"] + "\n")' "$2"
	st=("${PIPESTATUS[@]}")
	[ "${st[0]}" = 0 ] && [ "${st[1]}" = 0 ]
}

id_diff() {
	py 'import sys
from collections import Counter
a = open(sys.argv[1]).read().split()
b = open(sys.argv[2]).read().split()
ca, cb = Counter(a), Counter(b)
out = []
for name, c in (("first", ca), ("second", cb)):
    d = sorted(i for i, n in c.items() if n > 1)
    if d:
        out.append("%d ids more than once in the %s list, e.g. %s" % (len(d), name, d[0]))
only_a, only_b = sorted(set(ca) - set(cb)), sorted(set(cb) - set(ca))
if only_a:
    out.append("%d ids only in the first list, e.g. %s" % (len(only_a), only_a[0]))
if only_b:
    out.append("%d ids only in the second list, e.g. %s" % (len(only_b), only_b[0]))
if out:
    out.append("lines: %d and %d" % (len(a), len(b)))
    print("\n".join(out))
sys.exit(1 if out else 0)' "$1" "$2"
}

check_same_ids() {
	local d
	if d=$(id_diff "$1" "$2"); then
		ok "$3"
	else
		not_ok "$3"
		note "$d"
	fi
}

rand_in() {
	printf -v "$1" '%s' $(($2 + (RANDOM * 32768 + RANDOM) % ($3 - $2 + 1)))
}

rand_sleep() {
	local ms
	rand_in ms 0 "$1"
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

wait_rec() {
	local end=$((SECONDS + $1))
	while ! "$T" --home "$TMP/$2" record show "$3" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.005
	done
}

nrecs() {
	local n
	if n=$("$T" --home "$TMP/$1" export ${2:+--kind "$2"} </dev/null 2>/dev/null | wc -l
		exit "${PIPESTATUS[0]}"); then
		echo "$n" | tr -d ' '
	else
		echo error
	fi
}

pair_via() {
	local a=$1 b=$2 ep=$3 ida idb kind
	shift 3
	ida=$(node_id "$a")
	idb=$(node_id "$b")
	"$T" --home "$TMP/$a" partner add "$b" "$idb" --relation upstream \
		--endpoint "$ep" >/dev/null || not_ok "pair: $a adds $b at $ep"
	"$T" --home "$TMP/$b" partner add "$a" "$ida" --relation downstream >/dev/null ||
		not_ok "pair: $b adds $a"
	for kind in "$@"; do
		"$T" --home "$TMP/$a" policy allow "$b" "$kind" >/dev/null || not_ok "allow $a->$b $kind"
		"$T" --home "$TMP/$b" policy allow "$a" "$kind" >/dev/null || not_ok "allow $b->$a $kind"
	done
}

fp_start() {
	local name=$1 port
	"$PY" "$_lib_dir/../tools/faultproxy.py" --listen 127.0.0.1:0 --target "127.0.0.1:$2" \
		--control "$TMP/fp-$name.sock" "${@:3}" >"$TMP/fp-$name.out" 2>"$TMP/fp-$name.log" &
	BG_PIDS+=("$!")
	if ! wait_until 10 grep -qx ready "$TMP/fp-$name.out"; then
		not_ok "fault proxy $name started"
		note "$(cat "$TMP/fp-$name.log")"
		return 1
	fi
	port=$(fp "$name" stats | py 'import json,sys; print(json.load(sys.stdin)["listen"].rsplit(":", 1)[1])')
	eval "FP_PORT_$name=\$port"
}

fp() {
	"$PY" "$_lib_dir/../tools/faultproxy.py" ctl "$TMP/fp-$1.sock" "$2"
}

# stable_nrecs NAME KIND: NAME's record count once it stops changing (a daemon whose
# partner died may still commit the batch it was verifying)
stable_nrecs() {
	local a b _
	a=$(nrecs "$1" "$2")
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.3
		b=$(nrecs "$1" "$2")
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

# launch NAME: starts NAME's daemon as node_start does, without waiting for its status
# to answer (that wait would let much of a running sync pass); the caller checks it
launch() {
	"$D" --home "$TMP/$1" 2>>"$TMP/$1.log" &
	DPID[$1]=$!
	BG_PIDS+=("$!")
}

# mk VAR NAME KIND ARGS...: creates a record at NAME; its id goes into VAR (empty on
# failure, which is a failed check)
mk() {
	local var=$1 name=$2 out
	shift 2
	if out=$("$T" --home "$TMP/$name" record create "$@" 2>"$TMP/.mk.err" </dev/null); then
		printf -v "$var" '%s' "$out"
	else
		printf -v "$var" '%s' ""
		not_ok "record create $* at $name"
		note "$(cat "$TMP/.mk.err")"
	fi
}

# logs_clean NAME...: a check per daemon that its log holds no sanitizer report (the
# ASan/UBSan build) and no crash
logs_clean() {
	local n
	for n in "$@"; do
		if log_clean "$n"; then
			ok "no sanitizer report in $n's log"
		else
			not_ok "no sanitizer report in $n's log"
			note "$(grep -E 'runtime error|ERROR: |SUMMARY: ' "$TMP/$n.log" | head -6)"
		fi
	done
}

# ---- appended for test_model.sh ----
#   quiet_sig NAME...        one line per NAME: a digest of its `record list --json`;
#                            prints nothing (status 1) unless every NAME's daemon has all
#                            its partners connected and nothing left to send to any
#   quiesce SECS NAME...     until quiet_sig is the same for a second on end (0), or SECS
#                            pass (1)
#   tap_merge FILE           prints FILE's lines and counts its "ok - " / "not ok - " lines
#                            into the score

quiet_sig() {
	local n sig
	for n in "$@"; do
		"$T" --home "$TMP/$n" status --json 2>/dev/null | py 'import json,sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(1)
sys.exit(0 if all(p.get("connected") and p.get("to_send") == 0
                  for p in d.get("partners", [])) else 1)' || return 1
		sig=$("$T" --home "$TMP/$n" record list --json 2>/dev/null | md5sum) || return 1
		echo "$n $sig"
	done
}

quiesce() {
	local end last="" since sig
	end=$((SECONDS + $1))
	shift
	since=$(now_ms)
	while [ $SECONDS -lt $end ]; do
		if sig=$(quiet_sig "$@") && [ -n "$sig" ]; then
			if [ "$sig" = "$last" ]; then
				[ $(($(now_ms) - since)) -ge 1000 ] && return 0
			else
				last=$sig
				since=$(now_ms)
			fi
		else
			last=""
		fi
		sleep 0.1
	done
	return 1
}

tap_merge() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok - "*) PASS=$((PASS + 1)) ;;
		"not ok - "*) FAIL=$((FAIL + 1)) ;;
		esac
		printf '%s\n' "$line"
	done <"$1"
}

# ---- shared by the flow tests ----
#   arrives SECS NAME DESC ID...  ok if every ID reaches NAME within SECS (notes the missing)
#   not_there NAME ID DESC        ok if NAME does not hold ID
#   rule_ok NAME ARGS...          `policy add ARGS` at NAME; a failed check only if it fails

arrives() {
	local secs=$1 name=$2 desc=$3 id
	shift 3
	if wait_until "$secs" has_recs "$name" "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
		for id in "$@"; do has_rec "$name" "$id" || note "$name lacks ${id:0:16}"; done
	fi
}

not_there() {
	if has_rec "$1" "$2"; then not_ok "$3"; else ok "$3"; fi
}

rule_ok() {
	local name=$1
	shift
	run --home "$TMP/$name" policy add "$@"
	if [ "$RC" != 0 ]; then
		not_ok "policy add $* at $name"
		show_run
	fi
}
