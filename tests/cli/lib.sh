# lib.sh: helpers for the trestle CLI end-to-end tests. Source it from a test script
# that was run as `bash tests/cli/test_x.sh /path/to/trestle`.
#
# It sets:
#   T      the trestle binary (absolute path)
#   TMP    a private temporary directory, removed on exit (with any background job
#          started through bg_start)
#   OUT, ERR, RC   after `run`: the command's stdout, stderr and exit status
# and it keeps the score: every check prints "ok - ..." or "not ok - ...", and `finish`
# prints "N passed, M failed" and exits 1 if anything failed.
#
# TRESTLE_HOME, XDG_STATE_HOME and HOME are pointed into TMP so that a test that forgets
# --home can never touch a real node.

if [ $# -lt 1 ] || [ -z "$1" ]; then
	echo "usage: bash $0 /path/to/trestle" >&2
	exit 2
fi
T=$1
case $T in
/*) ;;
*) T=$(cd "$(dirname "$T")" && pwd)/$(basename "$T") ;;
esac
if [ ! -x "$T" ]; then
	echo "not ok - the trestle binary $T is not executable"
	echo "0 passed, 1 failed"
	exit 1
fi

PASS=0
FAIL=0
BG_PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/trestle-cli.XXXXXX") || exit 1

_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

ulimit -c 0 2>/dev/null # a crash must show as an exit status, not leave a core

# the real python3 binary: a version manager's shim can cost most of a second per call
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -x "${PY:-}" ] || PY=python3
export HOME="$TMP/no-home"
export XDG_STATE_HOME="$TMP/no-home/state"
unset TRESTLE_HOME
export LC_ALL=C

ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}

not_ok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $*"
}

# note TEXT: extra detail after a failed check (indented, so it is not a result line)
note() {
	printf '%s\n' "$@" | head -n 12 | sed 's/^/    # /'
}

# run ARGS...: runs trestle with ARGS (stdin from /dev/null); sets OUT, ERR and RC.
run() {
	"$T" "$@" </dev/null >"$TMP/.out" 2>"$TMP/.err"
	RC=$?
	OUT=$(cat "$TMP/.out")
	ERR=$(cat "$TMP/.err")
}

# run_t SECS ARGS...: as run, but killed after SECS seconds (RC 124 then)
run_t() {
	local secs=$1
	shift
	timeout -k 5 "$secs" "$T" "$@" </dev/null >"$TMP/.out" 2>"$TMP/.err"
	RC=$?
	OUT=$(cat "$TMP/.out")
	ERR=$(cat "$TMP/.err")
}

# run_in FILE ARGS...: as run, with stdin from FILE.
run_in() {
	local in=$1
	shift
	"$T" "$@" <"$in" >"$TMP/.out" 2>"$TMP/.err"
	RC=$?
	OUT=$(cat "$TMP/.out")
	ERR=$(cat "$TMP/.err")
}

# show_run: detail of the last run, after a failed check
show_run() {
	note "exit status: $RC" "stdout: ${OUT:0:600}" "stderr: ${ERR:0:600}"
}

# check DESC CMD...: ok if CMD succeeds
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_eq GOT WANT DESC
check_eq() {
	if [ "$1" == "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		note "got:  ${1:0:300}" "want: ${2:0:300}"
	fi
}

# check_rc WANT DESC: the last run's exit status is exactly WANT
check_rc() {
	if [ "$RC" == "$1" ]; then
		ok "$2"
	else
		not_ok "$2 (exit status $RC, want $1)"
		show_run
	fi
}

# has HAYSTACK NEEDLE: fixed-string containment
has() {
	case $1 in
	*"$2"*) return 0 ;;
	esac
	return 1
}

# check_out_has TEXT DESC / check_err_has TEXT DESC: fixed string in the last run's output
check_out_has() {
	if has "$OUT" "$1"; then
		ok "$2"
	else
		not_ok "$2 (stdout lacks \"$1\")"
		show_run
	fi
}

check_err_has() {
	if has "$ERR" "$1"; then
		ok "$2"
	else
		not_ok "$2 (stderr lacks \"$1\")"
		show_run
	fi
}

check_err_lacks() {
	if has "$ERR" "$1"; then
		not_ok "$2 (stderr has \"$1\")"
		show_run
	else
		ok "$2"
	fi
}

# check_match STRING REGEX DESC (bash ERE)
check_match() {
	if [[ $1 =~ $2 ]]; then
		ok "$3"
	else
		not_ok "$3"
		note "\"${1:0:300}\" does not match /$2/"
	fi
}

# check_no_crash DESC: the last run ended by itself (not killed by a signal)
check_no_crash() {
	if [ "$RC" -lt 128 ]; then
		ok "$1"
	else
		not_ok "$1 (exit status $RC: killed by signal $((RC - 128)))"
		show_run
	fi
}

# py CODE ARGS...: runs python3 code (sys.argv[1:] = ARGS); prints what it prints
py() {
	local code=$1
	shift
	"$PY" -c "$code" "$@"
}

# json_len FILE: length of the JSON array in FILE (or "invalid")
json_len() {
	py 'import json,sys
try:
    v = json.load(open(sys.argv[1]))
    print(len(v) if isinstance(v, list) else "not-a-list")
except Exception as e:
    print("invalid")' "$1"
}

# count HOME: number of records stored at HOME (lines of `trestle export`); "error" if
# export fails
count() {
	if "$T" --home "$1" export </dev/null >"$TMP/.count.jsonl" 2>/dev/null; then
		wc -l <"$TMP/.count.jsonl" | tr -d ' '
	else
		echo error
	fi
}

# new_node DIR [init options]: a fresh node; fails the test script if init fails
new_node() {
	local h=$1
	shift
	if ! "$T" --home "$h" init "$@" </dev/null >"$TMP/.init.out" 2>&1; then
		not_ok "init $h"
		note "$(cat "$TMP/.init.out")"
		finish
	fi
}

# bg_start VAR ARGS...: starts trestle ARGS in the background (stdout/stderr to
# $TMP/bg.out, $TMP/bg.err); puts its pid in VAR; it is killed on exit if still running
bg_start() {
	local var=$1
	shift
	"$T" "$@" </dev/null >"$TMP/bg.out" 2>"$TMP/bg.err" &
	local pid=$!
	BG_PIDS+=("$pid")
	printf -v "$var" '%s' "$pid"
}

# bg_wait PID: waits for a job bg_start started; sets BG_RC to its exit status
bg_wait() {
	local p=$1 i
	wait "$p" 2>/dev/null
	BG_RC=$? # read by the caller
	for i in "${!BG_PIDS[@]}"; do
		[ "${BG_PIDS[$i]}" = "$p" ] && unset 'BG_PIDS[i]'
	done
	return 0
}

# mtime FILE: modification time with nanoseconds (empty if missing)
mtime() {
	stat -c '%y' "$1" 2>/dev/null
}

# now_s: seconds since the epoch, with fractions
now_s() {
	date +%s.%N
}

# elapsed_ms START: milliseconds since START (from now_s)
elapsed_ms() {
	py 'import sys,time; print(int((time.time()-float(sys.argv[1]))*1000))' "$1"
}

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ] && exit 0
	exit 1
}
