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

# free_port: a TCP port on 127.0.0.1 nobody listens on now
free_port() {
	py 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
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
	local a=$1 b=$2 ida idb port kind
	shift 2
	ida=$(node_id "$a")
	idb=$(node_id "$b")
	eval "port=\$PORT_$b"
	"$T" --home "$TMP/$a" partner add "$b" "$idb" --relation upstream \
		--endpoint "tcp://127.0.0.1:$port" >/dev/null || not_ok "pair: $a adds $b"
	"$T" --home "$TMP/$b" partner add "$a" "$ida" --relation downstream >/dev/null ||
		not_ok "pair: $b adds $a"
	for kind in "$@"; do
		"$T" --home "$TMP/$a" policy allow "$b" "$kind" >/dev/null || not_ok "allow $a->$b $kind"
		"$T" --home "$TMP/$b" policy allow "$a" "$kind" >/dev/null || not_ok "allow $b->$a $kind"
	done
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
