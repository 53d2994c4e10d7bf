/* sync_bench.c: `trestle-bench sync`: partner sync between real daemons on loopback,
 * beside this machine's Ed25519 verify rate measured in the same run (issue 3,
 * "Speed and memory"). It starts trestled processes, each with its own home in a work
 * directory, and prints, each with its target and PASS or MISS:
 *  1. Ed25519 verify per second on one core: the limit the sync rate is held to;
 *  2. initial sync: node a holds N records of about 500 bytes (99% claims, 1% ideas,
 *     written in-process, 1000 per transaction); node b dials a with both kinds allowed
 *     a->b; the time from b's daemon start to b holding all N, as records/s and as a
 *     multiple of the single-core verify rate; the peak RssAnon of both daemons;
 *  3. 1% shared: a node c dials a with only `idea` allowed (N/100 records): c's sync
 *     time, against a node f syncing as many ideas from node e that holds only them;
 *     three runs of each, alternating, each with a new node; the medians count;
 *  4. one-hop latency a->b of single records: write at a (one transaction), kick a's
 *     daemon, until b's control socket answers "wait" for the record: p50/p90/p99/max;
 *  5. two-hop latency a->b->d, d dialing b with `idea` allowed b->d: p50/p99;
 *  6. idle: RssAnon, VmRSS and CPU ticks of the daemons left idle for 10 s.
 * Then issue 4's sharing rules ("Speed"), on node h holding N claims, 1% of product
 * DW-X and 1% DW-Y, beside node i holding only as many DW-X claims:
 *  7. 1% shared by a rule's condition: g1..g3 dial h, j1..j3 dial i, each with the rule
 *     `claim --where product=DW-X --fields product,problem,opened`; sync times as in 3
 *     (ratio of medians), the fields each g holds (serial withheld), and the time
 *     tr_txn_rule_add takes at h and at i;
 *  8. widening: a rule for DW-Y for g1 (its queue must grow by the DW-Y claims only,
 *     then g1's incremental sync), a rule for DW-X with serial too (only the DW-X
 *     claims queued again, then g1 pulls them and holds serial for those only), and
 *     the DW-Y rule removed (those counted as narrowed, and no longer served);
 *  9. the decision on the sync path: tr_txn_out_read per record at h, for g2 (fields
 *     withheld: each record re-encoded) and for w (whole records, same claims).
 * Beside the figures, where the time goes: the daemons' per-thread CPU during the sync,
 * what else kept the machine busy meanwhile (the VM may be shared), the parts of each
 * record's latency, and, when the sync rate misses its target (or with --profile), the
 * store work of a batch (serve at a, verify and commit at b) replayed in-process with
 * the daemons' own library calls.
 * Daemons are stopped (SIGTERM, then wait) on every way out; the work directory is
 * removed unless --keep DIR names it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>
#include <zmq.h>

#include "bench.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "error.h"
#include "keyfile.h"
#include "record.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

#define MAX_NODES 32
#define SHARE_RUNS 3
#define LAT_RECORDS 1000
#define LAT_GAP_MS 10 /* one record per 10 ms at most: below the daemon's 200 requests/s */
#define IDLE_SECONDS 10
#define SAMPLE_MS 100
#define STALL_SECONDS 60 /* no progress for this long: the sync is stuck */
#define PROFILE_MAX 204800

typedef struct node {
	char name[8];
	char home[PATH_MAX];
	int port;
	pid_t pid;
	int exited, status;
	uint8_t pk[TR_PK_BYTES];
	char id[TR_NODEID_TEXT_SIZE];
	void *ctl; /* DEALER on its control socket, for "wait" */
} node;

static struct {
	char work[PATH_MAX];
	int keep, profile, only_rules;
	char trestle[PATH_MAX], trestled[PATH_MAX];
	node nodes[MAX_NODES];
	int nnodes;
	void *zctx;
	long hz;
	int misses;
} S;

/* ---- failing, cleaning up ---- */

static void log_tails(void)
{
	for (int i = 0; i < S.nnodes; i++) {
		char path[PATH_MAX + 32], line[512];
		snprintf(path, sizeof(path), "%s/trestled.log", S.nodes[i].home);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		long lines = 0;
		while (fgets(line, sizeof(line), f))
			lines++;
		rewind(f);
		fprintf(stderr, "--- %s (last lines)\n", path);
		for (long n = 0; fgets(line, sizeof(line), f); n++)
			if (n >= lines - 8)
				fputs(line, stderr);
		fclose(f);
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "trestle-bench sync: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	log_tails();
	exit(1);
}

/* SIGTERM, then wait up to 10 s, then SIGKILL. Async-signal-safe. Returns the status. */
static int reap(pid_t pid)
{
	int st = 0;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return st;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static void stop_all_daemons(void)
{
	for (int i = 0; i < S.nnodes; i++)
		if (S.nodes[i].pid > 0) {
			pid_t p = S.nodes[i].pid;
			S.nodes[i].pid = 0;
			reap(p);
		}
}

static void remove_work(void)
{
	if (S.keep || !S.work[0])
		return;
	pid_t p = fork();
	if (p == 0) {
		char *argv[] = {"/bin/rm", "-rf", S.work, NULL};
		execv(argv[0], argv);
		_exit(127);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

static void cleanup(void)
{
	stop_all_daemons();
	for (int i = 0; i < S.nnodes; i++)
		if (S.nodes[i].ctl) {
			zmq_close(S.nodes[i].ctl);
			S.nodes[i].ctl = NULL;
		}
	if (S.zctx) {
		zmq_ctx_term(S.zctx);
		S.zctx = NULL;
	}
	remove_work();
}

static void on_signal(int sig)
{
	stop_all_daemons();
	remove_work();
	_exit(128 + sig);
}

/* ---- /proc ---- */

struct pmem {
	double anon_mb, rss_mb, file_mb;
};

static int proc_mem(pid_t pid, struct pmem *m)
{
	char path[64], line[256];
	unsigned long kb;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %lu", &kb) == 1)
			m->anon_mb = kb / 1024.0;
		else if (sscanf(line, "VmRSS: %lu", &kb) == 1)
			m->rss_mb = kb / 1024.0;
		else if (sscanf(line, "RssFile: %lu", &kb) == 1)
			m->file_mb = kb / 1024.0;
	}
	fclose(f);
	return 0;
}

/* utime + stime of a process or thread (a /proc/.../stat file), its stime in *sys if
 * sys, and its comm. */
static long stat_ticks(const char *path, char *comm, size_t commlen, long *sys)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	if (!open || !close)
		return -1;
	if (comm) {
		size_t cl = (size_t)(close - open - 1);
		if (cl >= commlen)
			cl = commlen - 1;
		memcpy(comm, open + 1, cl);
		comm[cl] = '\0';
	}
	/* after ") ": state(3) ... utime is field 14, stime 15 */
	char *p = close + 2;
	unsigned long ut = 0, st = 0;
	for (int field = 3; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%lu %lu", &ut, &st) != 2)
		return -1;
	if (sys)
		*sys = (long)st;
	return (long)(ut + st);
}

static long proc_ticks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_ticks(path, NULL, 0, NULL);
}

/* CPU ticks of the bench and of every daemon it runs now */
static long ours_ticks(void)
{
	long t = proc_ticks(getpid());
	for (int i = 0; i < S.nnodes; i++)
		if (S.nodes[i].pid > 0) {
			long d = proc_ticks(S.nodes[i].pid);
			t += d > 0 ? d : 0;
		}
	return t;
}

/* Per-thread CPU of a process, to tell the event loop from the verify worker and
 * ZeroMQ's I/O thread. */
#define MAX_THREADS 16
struct threads {
	int n;
	int tid[MAX_THREADS];
	char comm[MAX_THREADS][32];
	long ticks[MAX_THREADS], sys[MAX_THREADS];
};

static void proc_threads(pid_t pid, struct threads *t)
{
	char path[64];
	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && t->n < MAX_THREADS) {
		if (e->d_name[0] == '.')
			continue;
		char sp[400];
		snprintf(sp, sizeof(sp), "%s/%.255s/stat", path, e->d_name);
		long ticks = stat_ticks(sp, t->comm[t->n], sizeof(t->comm[0]), &t->sys[t->n]);
		if (ticks < 0)
			continue;
		t->tid[t->n] = (int)strtol(e->d_name, NULL, 10);
		t->ticks[t->n++] = ticks;
	}
	closedir(d);
}

/* bytes the process caused to be written to storage (/proc/PID/io write_bytes) */
static long long proc_write_bytes(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The whole machine's CPU (/proc/stat, all cores) and that of the processes of this run
 * (the bench and its daemons), to tell what else ran meanwhile: the VM may be shared. */
struct cpu_snap {
	unsigned long long busy, total;
	long ours;
};

static long ours_ticks(void);

static void cpu_snap(struct cpu_snap *c)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	memset(c, 0, sizeof(*c));
	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
	                &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		c->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		c->total = c->busy + v[3] + v[4];
	}
	if (f)
		fclose(f);
	c->ours = ours_ticks();
}

/* the share of all cores that processes other than this run's used between c0 and c1 */
static double others(const struct cpu_snap *c0, const struct cpu_snap *c1)
{
	double total = (double)(c1->total - c0->total);
	double o = (double)(c1->busy - c0->busy) - (double)(c1->ours - c0->ours);
	return total > 0 && o > 0 ? o / total : 0;
}

static void print_machine(const struct cpu_snap *c0, const struct cpu_snap *c1, long cores)
{
	double total = (double)(c1->total - c0->total);
	if (total <= 0)
		return;
	double busy = (double)(c1->busy - c0->busy) / total;
	double ours = (double)(c1->ours - c0->ours) / total;
	printf("  the machine meanwhile: its %ld cores %.0f%% busy; this run's processes %.0f%%, "
	       "other processes %.0f%% (of all cores)\n",
	       cores, 100 * busy, 100 * ours, busy > ours ? 100 * (busy - ours) : 0.0);
}

/* ---- nodes, the CLI, daemons ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		fail("no free loopback port: %s", strerror(errno));
	close(fd);
	return ntohs(sa.sin_port);
}

/* trestle --home HOME args... (quiet); fails the run on a non-zero exit. */
static void cli(node *n, ...)
{
	char *argv[16];
	int i = 0;
	va_list ap;
	argv[i++] = S.trestle;
	argv[i++] = "--home";
	argv[i++] = n->home;
	va_start(ap, n);
	for (char *a; i < 15 && (a = va_arg(ap, char *)) != NULL;)
		argv[i++] = a;
	va_end(ap);
	argv[i] = NULL;
	struct rusage ru;
	int rc = run(argv, &ru, 1);
	if (rc != 0)
		fail("`trestle --home %s %s %s` exited %d", n->home, argv[3], i > 4 ? argv[4] : "",
		     rc);
}

static tr_key *node_key(const node *n)
{
	char path[PATH_MAX + 32], why[256];
	tr_key *k = NULL;
	snprintf(path, sizeof(path), "%s/%s", n->home, TR_KEY_FILE);
	int rc = tr_keyfile_load(path, &k, why, sizeof(why));
	if (rc)
		fail("%s: %s", path, rc == TR_EKEY ? why : tr_strerror(rc));
	return k;
}

static node *node_new(const char *name, const char *role)
{
	if (S.nnodes == MAX_NODES)
		fail("too many nodes");
	node *n = &S.nodes[S.nnodes++];
	char listen[64];
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (strlen(S.work) + 1 + strlen(name) >= sizeof(n->home))
		fail("the work directory's path is too long");
	memcpy(n->home, S.work, strlen(S.work));
	n->home[strlen(S.work)] = '/';
	memcpy(n->home + strlen(S.work) + 1, name, strlen(name) + 1);
	n->port = free_port();
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", n->port);
	cli(n, "init", "--name", n->name, "--role", role, "--listen", listen, NULL);
	tr_key *k = node_key(n);
	memcpy(n->pk, tr_key_public(k), TR_PK_BYTES);
	tr_nodeid_format(n->pk, n->id);
	tr_key_destroy(&k);
	/* the control socket, for "wait": connected before the daemon binds it, so a wait
	 * sent at once is delivered as soon as the daemon listens */
	char ep[PATH_MAX + 32];
	int zero = 0, ivl = 10;
	snprintf(ep, sizeof(ep), "ipc://%s/%s", n->home, TR_CONTROL_SOCK);
	n->ctl = zmq_socket(S.zctx, ZMQ_DEALER);
	if (!n->ctl)
		fail("zmq_socket: %s", zmq_strerror(errno));
	zmq_setsockopt(n->ctl, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(n->ctl, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	if (zmq_connect(n->ctl, ep) != 0)
		fail("connect %s: %s", ep, zmq_strerror(errno));
	return n;
}

/* `trestle policy allow`, which queues the records of that kind already there in one
 * transaction. When that transaction fills LMDB's map, the store reports a full disk
 * instead of growing the map (tr_txn_policy_allow maps MDB_MAP_FULL to ENOSPC inside
 * the transaction, so tr_store_write's grow-and-retry never sees it): say so, and go
 * on with a map made large enough up front (the store's TRESTLE_INITIAL_MAP). Returns
 * the seconds the successful command took. */
static double allow(node *server, node *dialer, const char *kind)
{
	char *argv[] = {S.trestle, "--home",     server->home, "policy",
	                "allow",   dialer->name, (char *)kind, NULL};
	struct rusage ru;
	double t0 = now();
	int rc = run(argv, &ru, 1);
	if (rc == 0)
		return now() - t0;
	char db[PATH_MAX + 32], map[32];
	struct stat st;
	snprintf(db, sizeof(db), "%s/%s/data.mdb", server->home, TR_STORE_DIR);
	if (stat(db, &st) != 0)
		fail("`trestle policy allow %s %s` at %s exited %d", dialer->name, kind,
		     server->name, rc);
	snprintf(map, sizeof(map), "%lld", 4 * (long long)st.st_size + (64ll << 20));
	printf("note           `trestle policy allow %s %s` at %s failed (exit %d) with a store "
	       "of %.0f MB: LMDB's map was full, reported as a full disk; again with "
	       "TRESTLE_INITIAL_MAP=%s\n",
	       dialer->name, kind, server->name, rc, st.st_size / 1e6, map);
	setenv("TRESTLE_INITIAL_MAP", map, 1);
	t0 = now();
	rc = run(argv, &ru, 1);
	unsetenv("TRESTLE_INITIAL_MAP");
	if (rc != 0)
		fail("`trestle policy allow %s %s` at %s exited %d", dialer->name, kind,
		     server->name, rc);
	return now() - t0;
}

/* dialer dials server: each adds the other; server allows each of kinds to dialer.
 * Returns the seconds the `policy allow` commands took. */
static double pair(node *dialer, node *server, const char *const *kinds)
{
	char ep[64];
	double secs = 0;
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", server->port);
	cli(dialer, "partner", "add", server->name, server->id, "--relation", "upstream",
	    "--endpoint", ep, NULL);
	cli(server, "partner", "add", dialer->name, dialer->id, "--relation", "downstream", NULL);
	for (; *kinds; kinds++)
		secs += allow(server, dialer, *kinds);
	return secs;
}

static void daemon_start(node *n)
{
	char logp[PATH_MAX + 32];
	snprintf(logp, sizeof(logp), "%s/trestled.log", n->home);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the bench */
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, 2);
		if (nul >= 0)
			dup2(nul, 1);
		char *argv[] = {S.trestled, "--home", n->home, NULL};
		execv(argv[0], argv);
		_exit(127);
	}
	n->pid = pid;
	n->exited = 0;
}

/* Fails the run if n's daemon has exited. */
static void daemon_check(node *n)
{
	int st;
	if (n->pid > 0 && waitpid(n->pid, &st, WNOHANG) == n->pid) {
		n->pid = 0;
		fail("trestled of node %s exited (%s %d)", n->name,
		     WIFEXITED(st) ? "status" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

static void daemon_stop(node *n)
{
	if (n->pid <= 0)
		return;
	pid_t p = n->pid;
	n->pid = 0;
	int st = reap(p);
	n->exited = 1;
	n->status = st;
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("note           trestled of %s did not stop cleanly on SIGTERM (%s %d)\n",
		       n->name,
		       st == -1        ? "killed after 10 s,"
		       : WIFEXITED(st) ? "status"
		                       : "signal",
		       st == -1        ? 9
		       : WIFEXITED(st) ? WEXITSTATUS(st)
		                       : WTERMSIG(st));
}

/* ["status"] as parsed JSON (the caller decrefs), or NULL if the daemon does not answer. */
static json_t *status(node *n, int timeout_ms)
{
	tr_mpw w;
	static char text[1 << 16];
	int ok = 0;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 1);
	tr_mpw_str(&w, "status", 6);
	int rc = tr_control_call(n->home, tr_mpw_data(&w), tr_mpw_size(&w), timeout_ms, &ok, text,
	                         sizeof(text));
	tr_mpw_release(&w);
	if (rc || !ok)
		return NULL;
	return json_loads(text, 0, NULL);
}

/* The partner named partner in a status document, or NULL. Borrowed. */
static json_t *status_partner(json_t *st, const char *partner)
{
	json_t *arr = json_object_get(st, "partners"), *p;
	size_t i;
	json_array_foreach(arr, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		if (name && !strcmp(name, partner))
			return p;
	}
	return NULL;
}

static uint64_t partner_count(node *n, const char *partner, const char *field)
{
	json_t *st = status(n, 5000);
	json_t *p = st ? status_partner(st, partner) : NULL;
	uint64_t v = p ? (uint64_t)json_integer_value(json_object_get(p, field)) : 0;
	json_decref(st);
	return v;
}

/* Waits until n's daemon answers "status" and, if partner, is connected to it. */
static void daemon_ready(node *n, const char *partner)
{
	double end = now() + 15;
	for (;;) {
		daemon_check(n);
		json_t *st = status(n, 1000);
		json_t *p = st && partner ? status_partner(st, partner) : NULL;
		int ready =
		    st && (!partner || (p && json_is_true(json_object_get(p, "connected"))));
		json_decref(st);
		if (ready)
			return;
		if (now() > end)
			fail("trestled of node %s not ready%s%s within 15 s", n->name,
			     partner ? ", or not connected to " : "", partner ? partner : "");
		sleep_ms(20);
	}
}

/* ["wait", id, ms] on n's control socket; the answer comes with wait_reply. */
static void wait_send(node *n, const uint8_t id[TR_ID_BYTES], uint64_t ms)
{
	tr_mpw w;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 3);
	tr_mpw_str(&w, "wait", 4);
	tr_mpw_bin(&w, id, TR_ID_BYTES);
	tr_mpw_uint(&w, ms);
	if (tr_mpw_error(&w) || zmq_send(n->ctl, tr_mpw_data(&w), tr_mpw_size(&w), 0) < 0)
		fail("cannot send wait to %s: %s", n->name, zmq_strerror(errno));
	tr_mpw_release(&w);
}

/* Reads one control reply [ok, text] waiting on sock: 1 if there was one. */
static int ctl_read(void *sock, const char *who, int *ok, char *text, size_t textlen)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return 0;
	}
	tr_mpr r;
	size_t cnt;
	uint64_t okv = 0;
	tr_str t = {"", 0};
	tr_mpr_init(&r, zmq_msg_data(&m), zmq_msg_size(&m));
	if (tr_mpr_array(&r, &cnt, 2) || cnt != 2 || tr_mpr_uint(&r, &okv) ||
	    tr_mpr_str(&r, &t, 1u << 20))
		fail("a malformed control reply from %s", who);
	*ok = okv == 1;
	snprintf(text, textlen, "%.*s", (int)t.n, t.p);
	zmq_msg_close(&m);
	return 1;
}

/* 1: the answer came (ok in *ok, the daemon's text in why); 0: nothing within timeout. */
static int wait_reply(node *n, long timeout_ms, int *ok, char *why, size_t whylen)
{
	zmq_pollitem_t it = {n->ctl, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return 0;
	return ctl_read(n->ctl, n->name, ok, why, whylen);
}

/* ---- records: about 500 bytes each, 99% claims and 1% ideas ---- */

static const char *const troubles[] = {
    "Drain pump hums but does not empty the tank; the error light blinks twice.",
    "Door seal leaks at the lower left corner after the hot rinse cycle ends.",
    "Rinse arm bearing worn; trays in the upper rack come out with white spots.",
    "Heater relay clicks on and off; the final rinse stays below 80 degrees C.",
};

static const char *const notions[] = {
    "Show the remaining pump cycles on the display so staff can order a spare pump before "
    "the machine stops in the lunch rush; the firmware already counts them.",
    "Offer a rack for tall trays that fits the upper basket without removing the rinse arm; "
    "bakeries now load sheet pans sideways and half come out dirty.",
};

/* GEN_MIXED: 99% claims (DW-200 and DW-300), 1% ideas; GEN_IDEAS: ideas only;
 * GEN_CLAIMS: claims only, 1% product DW-X (k % 100 == 37), 1% DW-Y (k % 100 == 73), the
 * rest DW-200 and DW-300; GEN_CLAIMS_X: claims only, all DW-X (issue 4's cases) */
enum { GEN_MIXED, GEN_IDEAS, GEN_CLAIMS, GEN_CLAIMS_X };

struct gen {
	tr_key *key;
	int mode;
	uint64_t base, n;
	tr_record rec;
	tr_mpw scratch;
	char why[256];
	/* of the latest transaction (reset when the store runs the callback again) */
	uint64_t bytes, ideas, xs, ys;
	uint8_t last[TR_ID_BYTES], last_idea[TR_ID_BYTES], last_x[TR_ID_BYTES], last_y[TR_ID_BYTES];
	/* one envelope of each kind, for the single-core verify figure */
	uint8_t claim_env[2048], idea_env[2048];
	size_t claim_len, idea_len;
};

static int gen_fn(tr_txn *t, void *ctx)
{
	struct gen *g = ctx;
	g->bytes = g->ideas = g->xs = g->ys = 0;
	for (uint64_t i = 0; i < g->n; i++) {
		uint64_t k = g->base + i;
		int idea = g->mode == GEN_IDEAS || (g->mode == GEN_MIXED && k % 100 == 99);
		char serial[32], title[96];
		const char *product = k % 2 ? "DW-200" : "DW-300";
		int x = g->mode == GEN_CLAIMS_X || (g->mode == GEN_CLAIMS && k % 100 == 37),
		    y = g->mode == GEN_CLAIMS && k % 100 == 73;
		if (x || y)
			product = x ? "DW-X" : "DW-Y";
		/* name, value: 4 claim fields or 3 idea fields, about 500-byte envelopes */
		const char *fields[4][2] = {{"product", product}};
		size_t nf = 1;
		tr_record *r = &g->rec;
		tr_record_init(r);
		if (idea) {
			snprintf(title, sizeof(title),
			         "Suggestion %" PRIu64 " from the service desk", k);
			r->kind = (tr_str){"idea", 4};
			fields[nf][0] = "title";
			fields[nf++][1] = title;
			fields[nf][0] = "text";
			fields[nf++][1] = notions[k % 2];
			r->terms.hops = 1; /* may go one partner further: a->b->d */
			r->terms.roles = TR_ROLE_ALL;
		} else {
			snprintf(serial, sizeof(serial), "SN-%08" PRIu64, k);
			r->kind = (tr_str){"claim", 5};
			fields[nf][0] = "serial";
			fields[nf++][1] = serial;
			fields[nf][0] = "problem";
			fields[nf++][1] = troubles[k % 4];
			fields[nf][0] = "opened";
			fields[nf++][1] = "2026-03-14";
		}
		for (size_t f = 0; f < nf; f++)
			tr_record_add_str(r, fields[f][0], fields[f][1], strlen(fields[f][1]));
		int rc = tr_txn_create(t, g->key, r, 1772000000000ull + k, &g->scratch, g->why,
		                       sizeof(g->why));
		if (rc != 0)
			return rc;
		size_t len = tr_mpw_size(&g->scratch);
		g->bytes += len;
		memcpy(g->last, r->id, TR_ID_BYTES);
		if (x || y) {
			memcpy(x ? g->last_x : g->last_y, r->id, TR_ID_BYTES);
			*(x ? &g->xs : &g->ys) += 1;
		}
		if (idea) {
			g->ideas++;
			memcpy(g->last_idea, r->id, TR_ID_BYTES);
			if (!g->idea_len && len <= sizeof(g->idea_env)) {
				memcpy(g->idea_env, tr_mpw_data(&g->scratch), len);
				g->idea_len = len;
			}
		} else if (!g->claim_len && len <= sizeof(g->claim_env)) {
			memcpy(g->claim_env, tr_mpw_data(&g->scratch), len);
			g->claim_len = len;
		}
	}
	return 0;
}

static tr_store *store_open(node *n, const tr_key *key)
{
	char dir[PATH_MAX + 32];
	tr_store *s = NULL;
	snprintf(dir, sizeof(dir), "%s/%s", n->home, TR_STORE_DIR);
	int rc = tr_store_open(dir, 0, tr_key_public(key), &s);
	if (rc)
		fail("%s: %s", dir, tr_store_detail(s));
	return s;
}

struct written {
	uint64_t records, ideas, xs, ys; /* xs, ys: claims of product DW-X, DW-Y */
	double avg_bytes, secs;
	uint8_t last_idea[TR_ID_BYTES], last_x[TR_ID_BYTES], last_y[TR_ID_BYTES];
};

/* Writes count records into n's store in-process, 1000 per transaction. */
static void write_records(node *n, struct gen *g, int mode, uint64_t count, struct written *w)
{
	g->key = node_key(n);
	g->mode = mode;
	tr_store *s = store_open(n, g->key);
	uint64_t bytes = 0;
	memset(w, 0, sizeof(*w));
	double t0 = now();
	for (uint64_t i = 0; i < count; i += 1000) {
		g->base = i;
		g->n = count - i < 1000 ? count - i : 1000;
		int rc = tr_store_write(s, gen_fn, g);
		if (rc)
			fail("writing records at %s: %s", n->name,
			     g->why[0] ? g->why : tr_strerror(rc));
		bytes += g->bytes;
		w->ideas += g->ideas;
		if (g->ideas)
			memcpy(w->last_idea, g->last_idea, TR_ID_BYTES);
		w->xs += g->xs;
		w->ys += g->ys;
		if (g->xs)
			memcpy(w->last_x, g->last_x, TR_ID_BYTES);
		if (g->ys)
			memcpy(w->last_y, g->last_y, TR_ID_BYTES);
	}
	w->secs = now() - t0;
	w->records = count;
	w->avg_bytes = (double)bytes / (double)count;
	tr_store_close(&s);
	tr_key_destroy(&g->key);
}

/* Ed25519 verify on every core at once (bench_sign in one thread per core): the sum. */
static void *verify_thread(void *arg)
{
	(void)bench_sign(20000, arg);
	return NULL;
}

static double verify_rate_all(long cores)
{
	pthread_t th[64];
	double rate[64], sum = 0;
	if (cores > 64)
		cores = 64;
	for (long i = 0; i < cores; i++)
		if (pthread_create(&th[i], NULL, verify_thread, &rate[i]) != 0)
			fail("pthread_create: %s", strerror(errno));
	for (long i = 0; i < cores; i++) {
		pthread_join(th[i], NULL);
		sum += rate[i];
	}
	return sum;
}

/* decode + verify (id, signature, every disclosed field) of one envelope, one core */
static double record_verify_rate(const uint8_t *env, size_t len, int n)
{
	static tr_record rec;
	double t0 = now();
	for (int i = 0; i < n; i++)
		if (tr_record_open(env, len, &rec) != 0)
			fail("a generated record does not verify");
	return n / (now() - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* q-quantile of n sorted values (nearest rank) */
static double quantile(const double *v, size_t n, double q)
{
	size_t r = (size_t)ceil(q * (double)n);
	return v[r ? r - 1 : 0];
}

/* The latency floor: single durable commits (one ~500-byte put each) on this file
 * system, raw LMDB; a record crossing one hop is committed twice. p50 and p99 in ms. */
static void commit_floor(double *p50, double *p99)
{
	enum { COMMITS = 500 };
	static double ms[COMMITS];
	char dir[PATH_MAX + 32];
	uint8_t val[500];
	MDB_env *env = NULL;
	snprintf(dir, sizeof(dir), "%s/commit-probe", S.work);
	randombytes_buf(val, sizeof(val));
	int rc = mkdir(dir, 0700) ? errno : mdb_env_create(&env);
	rc = rc ? rc : mdb_env_set_mapsize(env, 64u << 20);
	rc = rc ? rc : mdb_env_open(env, dir, 0, 0600);
	for (uint32_t i = 0; i < COMMITS && !rc; i++) {
		MDB_txn *txn;
		MDB_dbi dbi;
		double t0 = now();
		MDB_val k = {sizeof(i), &i}, v = {sizeof(val), val};
		rc = mdb_txn_begin(env, NULL, 0, &txn);
		rc = rc ? rc : mdb_dbi_open(txn, NULL, 0, &dbi);
		rc = rc ? rc : mdb_put(txn, dbi, &k, &v, 0);
		rc = rc ? rc : mdb_txn_commit(txn);
		ms[i] = (now() - t0) * 1e3;
	}
	if (rc)
		fail("commit probe in %s: %s", dir, mdb_strerror(rc));
	mdb_env_close(env);
	qsort(ms, COMMITS, sizeof(double), cmp_double);
	*p50 = quantile(ms, COMMITS, .5);
	*p99 = quantile(ms, COMMITS, .99);
}

/* ---- figures ---- */

static const char *verdict(int pass)
{
	if (!pass)
		S.misses++;
	return pass ? "PASS" : "MISS";
}

/* ---- 2: the initial sync ---- */

struct timeline {
	size_t n, cap;
	double *t, *wait; /* when each status answer came, and how long it took */
	uint64_t *received;
};

struct sync_result {
	double secs, peak_a, peak_b;
	uint64_t received;
	struct threads a0, a1, b1;
	long long b_written;
	struct timeline tl;
	struct cpu_snap cpu0, cpu1;
};

/* Starts b's daemon and times it until the record last in its queue at a is committed
 * at b (the "wait" for that id answers), sampling both daemons' memory every 100 ms
 * and, with poll_status, b's received count: a "status" request goes out every 100 ms
 * whenever the previous one has been answered (on a socket of its own, so that a slow
 * answer delays neither the memory samples nor the end time). */
static void timed_sync(node *a, node *b, const uint8_t last[TR_ID_BYTES], uint64_t expect,
                       int poll_status, struct sync_result *r)
{
	static char text[1 << 16];
	struct pmem m;
	int ok, asked = 0;
	double asked_at = 0;
	memset(r, 0, sizeof(*r));
	if (S.profile || poll_status)
		proc_threads(a->pid, &r->a0);
	void *st = NULL;
	if (poll_status) {
		char ep[PATH_MAX + 32];
		int zero = 0, ivl = 10;
		snprintf(ep, sizeof(ep), "ipc://%s/%s", b->home, TR_CONTROL_SOCK);
		st = zmq_socket(S.zctx, ZMQ_DEALER);
		if (!st || zmq_connect(st, ep) != 0)
			fail("status socket for %s: %s", b->name, zmq_strerror(errno));
		zmq_setsockopt(st, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_setsockopt(st, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	}
	wait_send(b, last, 600000);
	cpu_snap(&r->cpu0);
	double t0 = now(), next = t0, last_progress = t0;
	uint64_t prev = 0;
	daemon_start(b);
	for (;;) {
		zmq_pollitem_t it[2] = {{b->ctl, 0, ZMQ_POLLIN, 0}, {st, 0, ZMQ_POLLIN, 0}};
		long wait = (long)((next - now()) * 1000);
		zmq_poll(it, st ? 2 : 1, wait > 0 ? wait : 0);
		if (it[0].revents && ctl_read(b->ctl, b->name, &ok, text, sizeof(text))) {
			r->secs = now() - t0;
			cpu_snap(&r->cpu1);
			if (!ok)
				fail("%s did not receive the records: %s", b->name, text);
			break;
		}
		if (st && it[1].revents && ctl_read(st, b->name, &ok, text, sizeof(text))) {
			json_t *doc = ok ? json_loads(text, 0, NULL) : NULL;
			json_t *p = doc ? status_partner(doc, a->name) : NULL;
			uint64_t got =
			    p ? (uint64_t)json_integer_value(json_object_get(p, "received")) : 0;
			json_decref(doc);
			asked = 0;
			if (r->tl.n == r->tl.cap) {
				r->tl.cap = r->tl.cap ? 2 * r->tl.cap : 1024;
				r->tl.t = realloc(r->tl.t, r->tl.cap * sizeof(double));
				r->tl.received =
				    realloc(r->tl.received, r->tl.cap * sizeof(uint64_t));
				r->tl.wait = realloc(r->tl.wait, r->tl.cap * sizeof(double));
				if (!r->tl.t || !r->tl.received || !r->tl.wait)
					fail("out of memory");
			}
			r->tl.t[r->tl.n] = now() - t0;
			r->tl.wait[r->tl.n] = now() - asked_at;
			r->tl.received[r->tl.n++] = got;
			if (got != prev)
				last_progress = now();
			prev = got;
		}
		if (now() < next)
			continue;
		next += SAMPLE_MS / 1000.0;
		daemon_check(a);
		daemon_check(b);
		if (proc_mem(a->pid, &m) == 0 && m.anon_mb > r->peak_a)
			r->peak_a = m.anon_mb;
		if (proc_mem(b->pid, &m) == 0 && m.anon_mb > r->peak_b)
			r->peak_b = m.anon_mb;
		if (st && !asked) {
			tr_mpw req;
			tr_mpw_init(&req);
			tr_mpw_array(&req, 1);
			tr_mpw_str(&req, "status", 6);
			if (!tr_mpw_error(&req) &&
			    zmq_send(st, tr_mpw_data(&req), tr_mpw_size(&req), ZMQ_DONTWAIT) >= 0) {
				asked = 1;
				asked_at = now();
			}
			tr_mpw_release(&req);
		}
		if (now() - last_progress > STALL_SECONDS)
			fail("%s's sync from %s stalled at %" PRIu64 " of %" PRIu64
			     " records for %d s",
			     b->name, a->name, prev, expect, STALL_SECONDS);
	}
	if (st)
		zmq_close(st);
	/* memory once more at the end, then what b holds */
	if (proc_mem(a->pid, &m) == 0 && m.anon_mb > r->peak_a)
		r->peak_a = m.anon_mb;
	if (proc_mem(b->pid, &m) == 0 && m.anon_mb > r->peak_b)
		r->peak_b = m.anon_mb;
	proc_threads(a->pid, &r->a1);
	proc_threads(b->pid, &r->b1);
	r->b_written = proc_write_bytes(b->pid);
	r->received = partner_count(b, a->name, "received");
	if (r->received != expect)
		fail("%s holds %" PRIu64 " records from %s, not %" PRIu64, b->name, r->received,
		     a->name, expect);
}

/* CPU seconds per thread of process pid between two snapshots (t0 NULL: since it
 * started). The main thread runs the event loop; the other "trestled" threads verify. */
static void print_threads(const char *who, pid_t pid, const struct threads *t0,
                          const struct threads *t1, double secs)
{
	printf("  %-5s CPU during the sync:", who);
	double total = 0;
	for (int i = 0; i < t1->n; i++) {
		long base = 0, sbase = 0;
		for (int j = 0; t0 && j < t0->n; j++)
			if (t0->tid[j] == t1->tid[i]) {
				base = t0->ticks[j];
				sbase = t0->sys[j];
			}
		double s = (double)(t1->ticks[i] - base) / (double)S.hz;
		double sys = (double)(t1->sys[i] - sbase) / (double)S.hz;
		total += s;
		const char *role = t1->tid[i] == pid                  ? "event loop"
		                   : !strcmp(t1->comm[i], "trestled") ? "verify worker"
		                                                      : t1->comm[i];
		if (s >= 0.01)
			printf(" %s %.1f s (%.1f s in the kernel);", role, s, sys);
	}
	printf(" total %.1f s = %.0f%% of one core over %.1f s\n", total, 100.0 * total / secs,
	       secs);
}

static void print_timeline(const struct timeline *tl, double secs)
{
	if (tl->n < 2)
		return;
	double *w = malloc(tl->n * sizeof(double));
	if (w) {
		memcpy(w, tl->wait, tl->n * sizeof(double));
		qsort(w, tl->n, sizeof(double), cmp_double);
		printf("  b answered %zu \"status\" requests during the sync (one asked 100 ms "
		       "after the last answer): answer time p50 %.0f ms, max %.0f ms\n",
		       tl->n, quantile(w, tl->n, .5) * 1e3, w[tl->n - 1] * 1e3);
		free(w);
	}
	if (tl->n < 10)
		return;
	printf("  b's received count, rate per fifth of the sync:");
	size_t j = 0;
	double tprev = 0;
	uint64_t rprev = 0;
	for (int f = 1; f <= 5; f++) {
		double edge = secs * f / 5.0;
		while (j + 1 < tl->n && tl->t[j + 1] <= edge)
			j++;
		double dt = tl->t[j] - tprev;
		printf(" %.0f/s", dt > 0 ? (double)(tl->received[j] - rprev) / dt : 0.0);
		tprev = tl->t[j];
		rprev = tl->received[j];
	}
	printf("\n");
}

/* ---- where the time goes: one batch's store work, replayed in-process ---- */

struct prof_ctx {
	uint32_t partner;
	uint64_t after, next;
	int more;
	size_t n;
	tr_mpw buf;
	const uint8_t *env[TR_BATCH_MAX_RECORDS];
	size_t len[TR_BATCH_MAX_RECORDS];
	uint8_t *copy; /* the batch's envelopes, copied out of a's map */
	size_t copylen;
};

static int prof_collect(void *ctx, unsigned depth, const uint8_t *env, size_t len)
{
	struct prof_ctx *c = ctx;
	(void)depth;
	tr_mpw_raw(&c->buf, env, len);
	c->len[c->n++] = len;
	return 0;
}

static int prof_serve(tr_txn *t, void *ctx)
{
	struct prof_ctx *c = ctx;
	tr_mpw_reset(&c->buf);
	c->n = 0;
	return tr_txn_out_read(t, c->partner, c->after, TR_BATCH_MAX_RECORDS, TR_BATCH_MAX_BYTES,
	                       prof_collect, c, &c->next, &c->more);
}

static int prof_partner(tr_txn *t, void *ctx)
{
	tr_partner p;
	int rc = tr_txn_partner_find(t, "b", &p);
	if (!rc)
		*(uint32_t *)ctx = p.index;
	return rc;
}

static tr_record *prof_recs;

static int prof_commit(tr_txn *t, void *ctx)
{
	struct prof_ctx *c = ctx;
	for (size_t i = 0; i < c->n; i++) {
		int added, rc = tr_txn_add(t, c->env[i], c->len[i], &prof_recs[i], 1, 1, &added);
		if (rc)
			return rc;
	}
	return 0;
}

/* Replays, with the calls the daemons make, what one batch costs: a reads it from b's
 * queue (serve_pull), b verifies it (on one core here) and commits it to a store that
 * grows from empty as b's did. Up to PROFILE_MAX records. */
static void profile_batches(node *a, uint64_t n)
{
	static struct prof_ctx c;
	tr_key *ka = node_key(a), *kp = NULL;
	tr_store *sa = store_open(a, ka), *sp = NULL;
	char dir[PATH_MAX + 32];
	int rc;
	if (n > PROFILE_MAX)
		n = PROFILE_MAX;
	if ((rc = tr_store_read(sa, prof_partner, &c.partner)) != 0)
		fail("profile: b is no partner of a: %s", tr_strerror(rc));
	snprintf(dir, sizeof(dir), "%s/profile-store", S.work);
	mkdir(dir, 0700);
	if (tr_key_new(&kp) || tr_store_open(dir, TR_STORE_CREATE, tr_key_public(kp), &sp))
		fail("profile: cannot create %s", dir);
	prof_recs = calloc(TR_BATCH_MAX_RECORDS, sizeof(*prof_recs));
	if (!prof_recs)
		fail("out of memory");
	tr_mpw_init(&c.buf);
	double serve = 0, verify = 0, commit = 0;
	long long wb0 = proc_write_bytes(getpid());
	uint64_t done = 0, batches = 0, bytes = 0;
	for (c.after = 0; done < n;) {
		double t0 = now();
		if ((rc = tr_store_read(sa, prof_serve, &c)) != 0)
			fail("profile: serve: %s", tr_strerror(rc));
		double t1 = now();
		if (!c.n)
			break;
		const uint8_t *p = tr_mpw_data(&c.buf);
		for (size_t i = 0; i < c.n; i++) {
			c.env[i] = p;
			p += c.len[i];
			bytes += c.len[i];
		}
		double t2 = now();
		for (size_t i = 0; i < c.n; i++)
			if (tr_record_open(c.env[i], c.len[i], &prof_recs[i]) != 0)
				fail("profile: a record does not verify");
		double t3 = now();
		if ((rc = tr_store_write(sp, prof_commit, &c)) != 0)
			fail("profile: commit: %s", tr_strerror(rc));
		double t4 = now();
		serve += t1 - t0;
		verify += t3 - t2;
		commit += t4 - t3;
		done += c.n;
		batches++;
		c.after = c.next;
		if (!c.more)
			break;
	}
	long long written = proc_write_bytes(getpid()) - wb0;
	tr_store_close(&sa);
	tr_store_close(&sp);
	tr_key_destroy(&ka);
	tr_key_destroy(&kp);
	tr_mpw_release(&c.buf);
	free(prof_recs);
	if (!done)
		return;
	double per = 1e6 / (double)done;
	printf("  replayed in-process, the first %" PRIu64 " records of b's queue at a, in %" PRIu64
	       " batches of up to %d (avg %.0f B), per record on one core:\n",
	       done, batches, TR_BATCH_MAX_RECORDS, (double)bytes / (double)done);
	printf("    a  serve (tr_txn_out_read: queue, log, decode, policy)   %6.1f us\n",
	       serve * per);
	printf("    b  verify (tr_record_open: decode, id, signature, digests) %6.1f us\n",
	       verify * per);
	printf("    b  commit (tr_txn_add x batch + sync commit, fsync)       %6.1f us, %.0f B "
	       "written to storage per record\n",
	       commit * per, (double)written / (double)done);
	double cpu = (serve + verify + commit) * per;
	printf("    all three: %.1f us of CPU and disk per record: on 2 cores at best %.0f/s;"
	       " b's event loop alone (verify shared by 2 threads, then commit) at best %.0f/s\n",
	       cpu, 2e6 / cpu, 1e6 / (verify * per / 2 + commit * per));
}

/* ---- 4 and 5: latency of single records ---- */

struct lat {
	/* per record, in ms: all of it, the write at a, the kick of a's daemon */
	double total[LAT_RECORDS], write[LAT_RECORDS], kick[LAT_RECORDS];
	double sorted[LAT_RECORDS]; /* total, sorted */
};

/* LAT_RECORDS times: write one idea at a (one transaction), ask `to` to wait for it,
 * kick a's daemon as the CLI does, and time from before the write to `to`'s answer. */
static void latency(node *a, node *to, struct gen *g, uint64_t *seq, struct lat *L)
{
	g->key = node_key(a);
	g->mode = GEN_IDEAS;
	g->n = 1;
	tr_store *s = store_open(a, g->key);
	double next = now();
	for (int i = 0; i < LAT_RECORDS; i++) {
		while (now() < next)
			sleep_ms(1);
		next = now() + LAT_GAP_MS / 1000.0;
		g->base = (*seq)++;
		int ok = 0;
		char why[256];
		double t0 = now();
		int rc = tr_store_write(s, gen_fn, g);
		if (rc)
			fail("writing at %s: %s", a->name, tr_strerror(rc));
		double t1 = now();
		/* the id is known only once the record is sealed; the wait goes out before the
		 * kick, so the record cannot reach `to` first but through a's 1 s tick (then
		 * the wait answers at once, which is still right) */
		wait_send(to, g->last, 5000);
		tr_control_kick(a->home);
		double t2 = now();
		if (!wait_reply(to, 10000, &ok, why, sizeof(why)) || !ok) {
			for (int j = 0; j < S.nnodes; j++)
				daemon_check(&S.nodes[j]); /* a daemon that died says so first */
			fail("record %d did not reach %s within 10 s: %s", i, to->name,
			     ok ? "no answer" : why);
		}
		double t3 = now();
		L->total[i] = L->sorted[i] = (t3 - t0) * 1e3;
		L->write[i] = (t1 - t0) * 1e3;
		L->kick[i] = (t2 - t1) * 1e3;
	}
	tr_store_close(&s);
	tr_key_destroy(&g->key);
	memcpy(g->last_idea, g->last, TR_ID_BYTES);
	qsort(L->sorted, LAT_RECORDS, sizeof(double), cmp_double);
}

/* Where the time of a typical record and of the slowest 1% goes. */
static void latency_breakdown(const struct lat *L, const char *far)
{
	static double w[LAT_RECORDS], k[LAT_RECORDS], r[LAT_RECORDS];
	double cut = quantile(L->sorted, LAT_RECORDS, .99), tw = 0, tk = 0, tr = 0;
	int slow = 0;
	for (int i = 0; i < LAT_RECORDS; i++) {
		w[i] = L->write[i];
		k[i] = L->kick[i];
		r[i] = L->total[i] - L->write[i] - L->kick[i];
		if (L->total[i] >= cut) {
			slow++;
			tw += w[i];
			tk += k[i];
			tr += r[i];
		}
	}
	qsort(w, LAT_RECORDS, sizeof(double), cmp_double);
	qsort(k, LAT_RECORDS, sizeof(double), cmp_double);
	qsort(r, LAT_RECORDS, sizeof(double), cmp_double);
	printf("  parts, p50 / p99 / mean over the slowest %d: write at a with its commit "
	       "%.2f / %.2f / %.2f ms;  kick of a's daemon as the CLI does (a ZeroMQ context of "
	       "its own, reload, notify) %.2f / %.2f / %.2f ms;  the rest (pull, serve, verify, "
	       "commit at %s, answer) %.2f / %.2f / %.2f ms\n",
	       slow, quantile(w, LAT_RECORDS, .5), quantile(w, LAT_RECORDS, .99), tw / slow,
	       quantile(k, LAT_RECORDS, .5), quantile(k, LAT_RECORDS, .99), tk / slow, far,
	       quantile(r, LAT_RECORDS, .5), quantile(r, LAT_RECORDS, .99), tr / slow);
}

/* Any last_error a daemon shows for a partner: worth knowing after a benchmark. */
static void report_errors(node *n)
{
	json_t *st = status(n, 2000), *p;
	size_t i;
	if (!st)
		return;
	json_array_foreach(json_object_get(st, "partners"), i, p)
	{
		const char *e = json_string_value(json_object_get(p, "last_error"));
		if (e)
			printf("note           %s reports for partner %s: %s\n", n->name,
			       json_string_value(json_object_get(p, "name")), e);
	}
	json_decref(st);
}

/* Warnings and errors in a daemon's log (journald prefixes <0> to <4>): the first few. */
static void report_log(node *n)
{
	char path[PATH_MAX + 32], line[512];
	int count = 0;
	snprintf(path, sizeof(path), "%s/trestled.log", n->home);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (line[0] == '<' && line[1] >= '0' && line[1] <= '4' && line[2] == '>' &&
		    ++count <= 3)
			printf("note           %s's log: %s", n->name, line);
	if (count > 3)
		printf("note           %s's log: %d more warnings\n", n->name, count - 3);
	fclose(f);
}

/* ---- issue 4: sharing rules ---- */

#define RULE_FIELDS "product,problem,opened"        /* rule 1 and 2: serial withheld */
#define WIDE_FIELDS "product,serial,problem,opened" /* rule 3: serial too */

/* claims by product, and by what of them is disclosed */
struct tally {
	uint64_t n, x, y, other;
	uint64_t x_serial, y_serial; /* of x, y: with serial disclosed */
	uint64_t bad; /* not the 4 claim fields, or product, problem or opened withheld */
};

static void tally_add(struct tally *c, const tr_record *rec)
{
	const tr_field *p = tr_record_field(rec, "product"), *s = tr_record_field(rec, "serial"),
	               *pr = tr_record_field(rec, "problem"), *o = tr_record_field(rec, "opened");
	c->n++;
	if (rec->nfields != 4 || !p || !s || !pr || !o || !p->disclosed || !pr->disclosed ||
	    !o->disclosed || p->value.type != TR_VAL_STR) {
		c->bad++;
		return;
	}
	if (tr_str_eq(p->value.s, "DW-X")) {
		c->x++;
		c->x_serial += s->disclosed != 0;
	} else if (tr_str_eq(p->value.s, "DW-Y")) {
		c->y++;
		c->y_serial += s->disclosed != 0;
	} else
		c->other++;
}

static int partner_index(tr_txn *t, const char *name, uint32_t *index)
{
	tr_partner p;
	int rc = tr_txn_partner_find(t, name, &p);
	if (!rc)
		*index = p.index;
	return rc;
}

struct rule_job {
	const char *partner;
	tr_rule rule;
	uint64_t head0, head1, backfilled; /* the partner's queue head before and after */
	double call;                       /* seconds in tr_txn_rule_add */
	char why[256];
};

static int rule_job_fn(tr_txn *t, void *ctx)
{
	struct rule_job *j = ctx;
	int rc = partner_index(t, j->partner, &j->rule.partner);
	if (!rc)
		rc = tr_txn_out_head(t, j->rule.partner, &j->head0);
	if (rc)
		return rc;
	double t0 = now();
	rc = tr_txn_rule_add(t, &j->rule, tr_wall_ms(), &j->backfilled, j->why, sizeof(j->why));
	j->call = now() - t0;
	return rc ? rc : tr_txn_out_head(t, j->rule.partner, &j->head1);
}

/* At server, for partner, the rule `claim --where product=PRODUCT [--fields FIELDS]`
 * (own records only, as `trestle policy add` without --forward), added in-process with
 * tr_txn_rule_add (no audit entry), then a kick of server's daemon as the CLI does.
 * Returns the seconds of the whole transaction, commit included. */
static double rule_add(node *server, node *partner, const char *product, const char *fields,
                       struct rule_job *j)
{
	char cond[64], why[256];
	memset(j, 0, sizeof(*j));
	j->partner = partner->name;
	tr_rule *r = &j->rule;
	snprintf(r->kind, sizeof(r->kind), "claim");
	snprintf(cond, sizeof(cond), "product=%s", product);
	if (tr_cond_parse(cond, &r->conds[r->nconds++], why, sizeof(why)))
		fail("%s: %s", cond, why);
	r->all_fields = !fields;
	for (const char *f = fields; f && *f;) {
		size_t n = strcspn(f, ",");
		if (r->nfields == TR_MAX_FIELDS || n > TR_MAX_NAME)
			fail("bad field list %s", fields);
		memcpy(r->fields[r->nfields], f, n);
		r->fields[r->nfields++][n] = '\0';
		f += n + (f[n] == ',');
	}
	tr_key *k = node_key(server);
	tr_store *s = store_open(server, k);
	double t0 = now();
	int rc = tr_store_write(s, rule_job_fn, j);
	double secs = now() - t0;
	tr_store_close(&s);
	tr_key_destroy(&k);
	if (rc)
		fail("adding a rule for %s at %s: %s", partner->name, server->name,
		     j->why[0] ? j->why : tr_strerror(rc));
	tr_control_kick(server->home);
	return secs;
}

/* The records of partner's queue at a node after position after, as a pull reads them
 * (tr_txn_out_read, in batches): tallied by product and disclosed fields. */
struct qscan {
	const char *partner;
	uint64_t after;
	struct tally c;
};

static int qscan_cb(void *ctx, unsigned depth, const uint8_t *env, size_t len)
{
	static tr_record rec;
	(void)depth;
	if (tr_record_decode(env, len, &rec) != 0)
		return TR_ECORRUPT;
	tally_add(&((struct qscan *)ctx)->c, &rec);
	return 0;
}

static int qscan_fn(tr_txn *t, void *ctx)
{
	struct qscan *q = ctx;
	uint32_t index;
	memset(&q->c, 0, sizeof(q->c));
	int rc = partner_index(t, q->partner, &index);
	for (uint64_t after = q->after, next; !rc; after = next) {
		int more = 0;
		rc = tr_txn_out_read(t, index, after, TR_BATCH_MAX_RECORDS, TR_BATCH_MAX_BYTES,
		                     qscan_cb, q, &next, &more);
		if (!more)
			break;
	}
	return rc;
}

static void queue_tally(node *server, node *partner, uint64_t after, struct tally *c)
{
	struct qscan q = {partner->name, after, {0}};
	tr_key *k = node_key(server);
	tr_store *s = store_open(server, k);
	int rc = tr_store_read(s, qscan_fn, &q);
	tr_store_close(&s);
	tr_key_destroy(&k);
	if (rc)
		fail("reading %s's queue at %s: %s", partner->name, server->name, tr_strerror(rc));
	*c = q.c;
}

/* The claims n holds (its daemon stopped), tallied. */
static int held_cb(void *ctx, const tr_hit *h)
{
	tally_add(ctx, h->rec);
	return 0;
}

static int held_fn(tr_txn *t, void *ctx)
{
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "claim";
	return tr_txn_scan(t, &q, held_cb, ctx);
}

static void held(node *n, struct tally *c)
{
	char dir[PATH_MAX + 32];
	tr_store *s = NULL;
	memset(c, 0, sizeof(*c));
	snprintf(dir, sizeof(dir), "%s/%s", n->home, TR_STORE_DIR);
	int rc = tr_store_open(dir, TR_STORE_RDONLY, n->pk, &s);
	if (!rc)
		rc = tr_store_read(s, held_fn, c);
	if (rc)
		fail("%s: %s", dir,
		     s && tr_store_detail(s)[0] ? tr_store_detail(s) : tr_strerror(rc));
	tr_store_close(&s);
}

/* Starts n's daemon and times it until its cursor at server (as its "status" says,
 * asked every 5 ms) reaches head: for records n holds already, whose "wait" would
 * answer at once. */
static double timed_catchup(node *server, node *n, uint64_t head)
{
	double t0 = now(), last_progress = t0;
	uint64_t prev = 0;
	daemon_start(n);
	for (;;) {
		daemon_check(server);
		daemon_check(n);
		json_t *st = status(n, 1000);
		json_t *p = st ? status_partner(st, server->name) : NULL;
		uint64_t cursor =
		    p ? (uint64_t)json_integer_value(json_object_get(p, "cursor")) : 0;
		json_decref(st);
		if (cursor >= head)
			return now() - t0;
		if (cursor != prev) {
			prev = cursor;
			last_progress = now();
		}
		if (now() - last_progress > STALL_SECONDS)
			fail("%s's pull from %s stalled at queue position %" PRIu64 " of %" PRIu64,
			     n->name, server->name, prev, head);
		sleep_ms(5);
	}
}

/* Serving cost: partner's whole queue read as the daemon serves a pull, one read
 * transaction per batch of up to TR_BATCH_MAX_RECORDS (tr_txn_out_read: queue, log,
 * decode, the decision with the rules' conditions, re-encoding without the fields
 * withheld). */
struct serve {
	const char *partner;
	uint32_t index;
	uint64_t after, next, n, bytes;
	int more;
};

static int serve_cb(void *ctx, unsigned depth, const uint8_t *env, size_t len)
{
	struct serve *c = ctx;
	(void)depth;
	(void)env;
	c->n++;
	c->bytes += len;
	return 0;
}

static int serve_fn(tr_txn *t, void *ctx)
{
	struct serve *c = ctx;
	int rc = c->index ? 0 : partner_index(t, c->partner, &c->index);
	return rc ? rc
	          : tr_txn_out_read(t, c->index, c->after, TR_BATCH_MAX_RECORDS, TR_BATCH_MAX_BYTES,
	                            serve_cb, c, &c->next, &c->more);
}

/* One pass over partner's queue: microseconds per record served; *n, *bytes. */
static double serve_pass(tr_store *s, node *partner, uint64_t *n, double *avg)
{
	struct serve c = {partner->name, 0, 0, 0, 0, 0, 0};
	double t0 = now();
	do {
		int rc = tr_store_read(s, serve_fn, &c);
		if (rc)
			fail("serving %s: %s", partner->name, tr_strerror(rc));
		c.after = c.next;
	} while (c.more);
	double secs = now() - t0;
	*n = c.n;
	*avg = c.n ? (double)c.bytes / (double)c.n : 0;
	return c.n ? secs * 1e6 / (double)c.n : 0;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[n / 2];
}

#define SERVE_PASSES 7

struct rule_rm {
	uint32_t id;
	uint64_t narrowed, retracted;
	double call; /* seconds in tr_txn_rule_remove */
};

static int rule_rm_fn(tr_txn *t, void *ctx)
{
	struct rule_rm *r = ctx;
	double t0 = now();
	int rc = tr_txn_rule_remove(t, r->id, 0, tr_wall_ms(), &r->narrowed, &r->retracted);
	r->call = now() - t0;
	return rc;
}

/* Issue 4 ("Speed"): 1% shared by a rule's condition; widening backfills only the
 * newly allowed; the cost of the decision on the sync path. */
/* ---- many partners: storing a record decides it for each of them ---- */

struct many_ctx {
	tr_key *key;
	tr_mpw w;
	int from, to;
	uint64_t serial;
};

static int many_partners_fn(tr_txn *t, void *ctx)
{
	struct many_ctx *c = ctx;
	for (int i = c->from; i < c->to; i++) {
		tr_partner p;
		tr_rule r;
		uint64_t bf;
		char why[200];
		memset(&p, 0, sizeof(p));
		memset(&r, 0, sizeof(r));
		randombytes_buf(p.id, sizeof(p.id));
		snprintf(p.name, sizeof(p.name), "u%05d", i);
		p.relation = TR_REL_DOWNSTREAM;
		p.role = TR_ROLE_USER;
		int rc = tr_txn_partner_put(t, &p, 0);
		if (rc)
			return rc;
		/* a rule of the same kind with a condition: each must be looked at */
		r.partner = p.index;
		snprintf(r.kind, sizeof(r.kind), "claim");
		r.all_fields = 1;
		if ((rc = tr_cond_parse("product=DW-9*", &r.conds[0], why, sizeof(why))) != 0)
			return rc;
		r.nconds = 1;
		if ((rc = tr_txn_rule_add(t, &r, 1, &bf, why, sizeof(why))) != 0)
			return rc;
	}
	return 0;
}

static int many_write_fn(tr_txn *t, void *ctx)
{
	struct many_ctx *c = ctx;
	static tr_record rec;
	char why[200], serial[32];
	for (int i = 0; i < 1000; i++) {
		tr_record_init(&rec);
		rec.kind.p = "claim";
		rec.kind.n = 5;
		snprintf(serial, sizeof(serial), "SN-M%08" PRIu64, c->serial++);
		tr_record_add_str(&rec, "product", "DW-200", 6);
		tr_record_add_str(&rec, "serial", serial, strlen(serial));
		tr_record_add_str(&rec, "problem", "Door seal leaks after the hot rinse.", 35);
		tr_record_add_str(&rec, "opened", "2026-03-14", 10);
		int rc = tr_txn_create(t, c->key, &rec, 1772000000000ull, &c->w, why, sizeof(why));
		if (rc)
			return rc;
	}
	return 0;
}

/* Writing 1000 claims (validate, sign, store, index, decide for every partner) at a
 * node with 0, 100 and 1000 partners, each with a claim rule that does not match: what
 * deciding for 1000 partners adds per record, against verifying one claim on one core
 * (a node that receives records verifies each; deciding must not cost more). */
static void many_partners(double claim_verify)
{
	char dir[PATH_MAX + 8];
	tr_store *s = NULL;
	struct many_ctx c;
	memset(&c, 0, sizeof(c));
	snprintf(dir, sizeof(dir), "%s/many", S.work);
	if (mkdir(dir, 0700) != 0 || tr_key_new(&c.key) != 0 ||
	    tr_store_open(dir, TR_STORE_CREATE, tr_key_public(c.key), &s) != 0) {
		printf("partners       cannot make a store in %s\n", dir);
		tr_store_close(&s);
		tr_key_destroy(&c.key);
		return;
	}
	tr_mpw_init(&c.w);
	static const int steps[] = {0, 100, 1000};
	double us[3] = {0, 0, 0};
	int have = 0, failed = 0;
	tr_store_write(s, many_write_fn, &c); /* warm-up */
	for (int i = 0; i < 3 && !failed; i++) {
		c.from = have;
		c.to = steps[i];
		failed |= tr_store_write(s, many_partners_fn, &c) != 0;
		have = steps[i];
		double best = 1e9;
		for (int pass = 0; pass < 3 && !failed; pass++) {
			double t0 = now();
			failed |= tr_store_write(s, many_write_fn, &c) != 0;
			double u = (now() - t0) * 1e3; /* ms per 1000 = us per record */
			if (u < best)
				best = u;
		}
		us[i] = best;
		printf("partners       %4d partners with a claim rule each: writing a claim %.1f "
		       "us/record\n",
		       steps[i], us[i]);
	}
	double limit = 1e6 / claim_verify;
	if (!failed)
		printf("partners       deciding for 1000 partners adds %.1f us/record (%.2f us per "
		       "partner) (target: less than verifying the record once on one core, %.1f us)"
		       "   %s\n",
		       us[2] - us[0], (us[2] - us[0]) / 1000, limit,
		       verdict(us[2] - us[0] < limit));
	else
		printf("partners       the store refused a write   %s\n", verdict(0));
	tr_mpw_release(&c.w);
	tr_store_close(&s);
	tr_key_destroy(&c.key);
}

static void rules(uint64_t records)
{
	static struct gen g;
	struct written wh, wi;
	char desc[512];
	tr_mpw_init(&g.scratch);
	printf("\n");

	/* h: N claims, 1% DW-X, 1% DW-Y; i: only as many DW-X claims */
	node *h = node_new("h", "producer");
	write_records(h, &g, GEN_CLAIMS, records, &wh);
	double claim_verify = record_verify_rate(g.claim_env, g.claim_len, 20000);
	node *in = node_new("i", "producer");
	write_records(in, &g, GEN_CLAIMS_X, wh.xs, &wi);
	printf("rules setup    h holds %" PRIu64 " claims (%" PRIu64 " of product DW-X, %" PRIu64
	       " DW-Y), envelopes %.0f B on average, written in-process at %.0f /s; i holds only "
	       "%" PRIu64 " DW-X claims; a claim verifies at %.0f /s on 1 core (%.1f us)\n",
	       wh.records, wh.xs, wh.ys, wh.avg_bytes, (double)wh.records / wh.secs, wi.records,
	       claim_verify, 1e6 / claim_verify);

	/* g1..g3 dial h, j1..j3 dial i, w dials h: no kind allowed, one rule each */
	static const char *const none[] = {NULL};
	node *gs[SHARE_RUNS], *js[SHARE_RUNS];
	struct rule_job rj;
	double gadd[SHARE_RUNS], jadd[SHARE_RUNS], gtx = 0;
	for (int i = 0; i < SHARE_RUNS; i++) {
		char nm[8];
		snprintf(nm, sizeof(nm), "g%d", i + 1);
		gs[i] = node_new(nm, "distributor");
		pair(gs[i], h, none);
		snprintf(nm, sizeof(nm), "j%d", i + 1);
		js[i] = node_new(nm, "distributor");
		pair(js[i], in, none);
	}
	for (int i = 0; i < SHARE_RUNS; i++) {
		gtx += rule_add(h, gs[i], "DW-X", RULE_FIELDS, &rj);
		gadd[i] = rj.call;
		if (rj.backfilled != wh.xs || rj.head1 - rj.head0 != wh.xs)
			fail("the rule for %s at h queued %" PRIu64 " (queue +%" PRIu64
			     "), not the %" PRIu64 " DW-X claims",
			     gs[i]->name, rj.backfilled, rj.head1 - rj.head0, wh.xs);
		rule_add(in, js[i], "DW-X", RULE_FIELDS, &rj);
		jadd[i] = rj.call;
	}
	tr_rule_describe(&rj.rule, desc, sizeof(desc));
	double gadd_med = median(gadd, SHARE_RUNS), jadd_med = median(jadd, SHARE_RUNS);
	printf("rules setup    g1..g%d dial h, j1..j%d dial i; each gets one rule (`%s`): "
	       "tr_txn_rule_add queued %" PRIu64 " claims for each, median %.3f s at h (its "
	       "transaction with the commit %.3f s on average), %.3f s at i\n",
	       SHARE_RUNS, SHARE_RUNS, desc, wh.xs, gadd_med, gtx / SHARE_RUNS, jadd_med);
	node *w = node_new("w", "distributor");
	pair(w, h, none);
	rule_add(h, w, "DW-X", NULL, &rj);
	tr_rule_describe(&rj.rule, desc, sizeof(desc));
	printf("rules setup    w dials h with the rule `%s` (whole records): queued %" PRIu64
	       " in %.3f s\n",
	       desc, rj.backfilled, rj.call);
	daemon_start(h);
	daemon_start(in);
	daemon_ready(h, NULL);
	daemon_ready(in, NULL);

	/* 1. 1% shared by a rule's condition, against a store holding only those records */
	double gsecs[SHARE_RUNS], jsecs[SHARE_RUNS], gpeak = 0;
	printf("\n");
	for (int i = 0; i < SHARE_RUNS; i++) {
		struct sync_result gr, jr;
		timed_sync(h, gs[i], wh.last_x, wh.xs, 0, &gr);
		daemon_stop(gs[i]);
		timed_sync(in, js[i], wi.last_x, wi.records, 0, &jr);
		daemon_stop(js[i]);
		gsecs[i] = gr.secs;
		jsecs[i] = jr.secs;
		if (gr.peak_b > gpeak)
			gpeak = gr.peak_b;
		printf("rule where     run %d: %s pulls h's %" PRIu64
		       " DW-X claims in %.3f s (other "
		       "processes %.0f%% of the machine); %s pulls i's in %.3f s (others %.0f%%)\n",
		       i + 1, gs[i]->name, wh.xs, gr.secs, 100 * others(&gr.cpu0, &gr.cpu1),
		       js[i]->name, jr.secs, 100 * others(&jr.cpu0, &jr.cpu1));
	}
	double gmed = median(gsecs, SHARE_RUNS), jmed = median(jsecs, SHARE_RUNS),
	       ratio = gmed / jmed;
	printf("rule where     g pulls the %" PRIu64 " DW-X claims of h's %" PRIu64
	       ": median %.3f s (%.0f /s), peak RssAnon %.1f MB\n",
	       wh.xs, records, gmed, (double)wh.xs / gmed, gpeak);
	printf("rule where     baseline: j pulls %" PRIu64
	       " claims from i, which holds only them: median %.3f s (%.0f /s)\n",
	       wi.records, jmed, (double)wi.records / jmed);
	printf("rule where     ratio of the medians g/baseline %.2f (target: tracks the 1%%, g at "
	       "most 25%% slower whatever h holds besides)   %s\n",
	       ratio, verdict(ratio <= 1.25));
	struct tally t, all = {0};
	for (int i = 0; i < SHARE_RUNS; i++) {
		held(gs[i], &t);
		all.n += t.n;
		all.x += t.x;
		all.y += t.y;
		all.other += t.other;
		all.x_serial += t.x_serial;
		all.bad += t.bad;
	}
	uint64_t want = SHARE_RUNS * wh.xs;
	int fields_ok = all.n == want && all.x == want && !all.x_serial && !all.bad;
	printf("rule where     fields at g1..g%d: %" PRIu64 " claims, %" PRIu64
	       " of them DW-X with "
	       "product, problem, opened disclosed and serial withheld (digest only), %" PRIu64
	       " with serial, %" PRIu64 " of other products, %" PRIu64
	       " otherwise (target: %" PRIu64 " DW-X, serial withheld, nothing else)   %s\n",
	       SHARE_RUNS, all.n, all.x - all.x_serial, all.x_serial, all.y + all.other, all.bad,
	       want, verdict(fields_ok));
	double add_ratio = gadd_med / jadd_med;
	printf("rule where     tr_txn_rule_add of that rule: median %.3f s at h's %" PRIu64
	       " claims vs %.3f s at i holding only the %" PRIu64 ": %.1fx (target: tracks the "
	       "newly allowed, not the store: within 3x while h holds 100x the records)   %s\n",
	       gadd_med, records, jadd_med, wi.records, add_ratio, verdict(add_ratio <= 3));

	/* 2. widening: rule 2 (DW-Y) for g1, then rule 3 (DW-X with serial) */
	node *g1 = gs[0];
	double tx = rule_add(h, g1, "DW-Y", RULE_FIELDS, &rj);
	uint64_t grew = rj.head1 - rj.head0;
	uint32_t rule_y = rj.rule.id;
	struct tally q;
	queue_tally(h, g1, rj.head0, &q);
	tr_rule_describe(&rj.rule, desc, sizeof(desc));
	add_ratio = rj.call / jadd_med;
	printf("\nwiden          rule 2 for g1 (`%s`): tr_txn_rule_add %.3f s (its transaction "
	       "%.3f s) = %.1fx the rule of as many records at i (target: tracks the newly "
	       "allowed, within 3x)   %s\n",
	       desc, rj.call, tx, add_ratio, verdict(add_ratio <= 3));
	int queue_ok = grew == wh.ys && rj.backfilled == wh.ys && q.n == wh.ys && q.y == wh.ys &&
	               !q.y_serial && !q.bad;
	printf("widen          g1's queue at h grew by %" PRIu64 " (backfilled %" PRIu64
	       "): %" PRIu64 " DW-Y, %" PRIu64 " DW-X, %" PRIu64 " other, %" PRIu64
	       " with serial (target: exactly "
	       "the %" PRIu64 " newly allowed DW-Y, not the %" PRIu64 " DW-X sent)   %s\n",
	       grew, rj.backfilled, q.y, q.x, q.other + q.bad, q.x_serial + q.y_serial, wh.ys,
	       wh.xs, verdict(queue_ok));
	struct sync_result yr;
	timed_sync(h, g1, wh.last_y, wh.xs + wh.ys, 0, &yr);
	daemon_stop(g1);
	ratio = yr.secs / jmed;
	printf("widen          g1's incremental sync of the %" PRIu64 " DW-Y claims: %.3f s (%.0f "
	       "/s, other processes %.0f%%) = %.2fx the baseline's %" PRIu64 " (target: at most "
	       "25%% slower)   %s\n",
	       wh.ys, yr.secs, (double)wh.ys / yr.secs, 100 * others(&yr.cpu0, &yr.cpu1), ratio,
	       wi.records, verdict(ratio <= 1.25));

	tx = rule_add(h, g1, "DW-X", WIDE_FIELDS, &rj);
	grew = rj.head1 - rj.head0;
	queue_tally(h, g1, rj.head0, &q);
	tr_rule_describe(&rj.rule, desc, sizeof(desc));
	add_ratio = rj.call / jadd_med;
	printf("widen fields   rule 3 for g1 (`%s`): tr_txn_rule_add %.3f s (its transaction "
	       "%.3f s) = %.1fx the rule of as many records at i (target: within 3x)   %s\n",
	       desc, rj.call, tx, add_ratio, verdict(add_ratio <= 3));
	queue_ok = grew == wh.xs && rj.backfilled == wh.xs && q.n == wh.xs && q.x == wh.xs &&
	           q.x_serial == wh.xs && !q.bad;
	printf(
	    "widen fields   g1's queue at h grew by %" PRIu64 " (backfilled %" PRIu64 "): %" PRIu64
	    " DW-X of which %" PRIu64 " with serial now, %" PRIu64 " DW-Y, %" PRIu64
	    " other (target: the %" PRIu64 " DW-X again with serial, no DW-Y)   %s\n",
	    grew, rj.backfilled, q.x, q.x_serial, q.y, q.other + q.bad, wh.xs, verdict(queue_ok));
	uint64_t head = rj.head1;
	double secs = timed_catchup(h, g1, head);
	daemon_stop(g1);
	held(g1, &t);
	ratio = secs / jmed;
	int held_ok = t.n == wh.xs + wh.ys && t.x_serial == wh.xs && t.y == wh.ys && !t.y_serial &&
	              !t.other && !t.bad;
	printf("widen fields   g1 pulls them again: %.3f s = %.2fx the baseline (target: at most "
	       "25%% slower)   %s\n",
	       secs, ratio, verdict(ratio <= 1.25));
	printf("widen fields   g1 then holds %" PRIu64 " claims: %" PRIu64 " DW-X, %" PRIu64
	       " of them with serial; %" PRIu64 " DW-Y, %" PRIu64 " with serial; %" PRIu64
	       " other (target: serial added to the %" PRIu64 " DW-X only)   %s\n",
	       t.n, t.x, t.x_serial, t.y, t.y_serial, t.other + t.bad, wh.xs, verdict(held_ok));

	/* and back: rule 2 goes; what only it allowed is counted as narrowed, and a pull
	 * from the start of g1's queue no longer gets the DW-Y claims */
	struct rule_rm rm = {rule_y, 0, 0, 0};
	{
		tr_key *k = node_key(h);
		tr_store *s = store_open(h, k);
		int rc = tr_store_write(s, rule_rm_fn, &rm);
		tr_store_close(&s);
		tr_key_destroy(&k);
		if (rc)
			fail("removing rule %" PRIu32 " at h: %s", rule_y, tr_strerror(rc));
		tr_control_kick(h->home);
	}
	queue_tally(h, g1, 0, &q);
	queue_ok = rm.narrowed == wh.ys && q.y == 0 && q.x == 2 * wh.xs && q.x_serial == q.x &&
	           !q.other && !q.bad;
	printf("narrow         rule 2 removed: tr_txn_rule_remove %.3f s, %" PRIu64 " records "
	       "narrowed; a pull of g1's whole queue (%" PRIu64 " entries) now gets %" PRIu64
	       " DW-X (all with serial), %" PRIu64 " DW-Y (target: the %" PRIu64 " DW-Y narrowed, "
	       "none served)   %s\n",
	       rm.call, rm.narrowed, head, q.x, q.y, wh.ys, verdict(queue_ok));

	/* 3. the decision on the sync path: serving the same 10,000 DW-X claims to g2
	 * (narrowed: serial withheld, the record re-encoded) and to w (whole records) */
	{
		tr_key *k = node_key(h);
		tr_store *s = store_open(h, k);
		double narrow[SERVE_PASSES], whole[SERVE_PASSES], navg = 0, wavg = 0;
		uint64_t nn = 0, wn = 0;
		for (int i = 0; i < SERVE_PASSES; i++) {
			narrow[i] = serve_pass(s, gs[1], &nn, &navg);
			whole[i] = serve_pass(s, w, &wn, &wavg);
		}
		tr_store_close(&s);
		tr_key_destroy(&k);
		if (nn != wh.xs || wn != wh.xs)
			fail("serving: %" PRIu64 " and %" PRIu64 " records, not %" PRIu64, nn, wn,
			     wh.xs);
		double nmed = median(narrow, SERVE_PASSES), wmed = median(whole, SERVE_PASSES),
		       limit = 0.1 * 1e6 / claim_verify;
		printf("\nserve          tr_txn_out_read at h, %" PRIu64
		       " DW-X claims per pass, median "
		       "of %d: narrowed (serial withheld, %.0f B) %.2f us/record, whole (%.0f B) "
		       "%.2f us/record: %.2fx\n",
		       wh.xs, SERVE_PASSES, navg, nmed, wavg, wmed, nmed / wmed);
		printf("serve          narrowed %.2f us/record (target: under 10%% of one claim's "
		       "verify at the partner, %.2f us, so serving never limits a sync)   %s\n",
		       nmed, limit, verdict(nmed < limit));
	}
	report_errors(h);
	report_errors(in);
	daemon_stop(h);
	daemon_stop(in);
	node *logs[] = {h, in, gs[0], gs[1], gs[2], js[0], js[1], js[2], w};
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++)
		report_log(logs[i]);
	tr_mpw_release(&g.scratch);
	printf("\n");
	many_partners(claim_verify);
}

/* ---- main ---- */

/* Issue 3's cases: 2 to 6 of the list at the top. */
static void issue3(uint64_t records, double verify_rate, long cores)
{
	uint64_t shared = records / 100;
	/* setup: a holds the records; b and c pair with it before its daemon starts */
	static struct gen g;
	struct written wa, we;
	tr_mpw_init(&g.scratch);
	node *a = node_new("a", "producer");
	write_records(a, &g, GEN_MIXED, records, &wa);
	printf("machine limit  record verify (decode, id, signature, digests), 1 core: claim "
	       "%.0f /s (%zu B), idea %.0f /s (%zu B)\n",
	       record_verify_rate(g.claim_env, g.claim_len, 20000), g.claim_len,
	       record_verify_rate(g.idea_env, g.idea_len, 20000), g.idea_len);
	printf("setup          a holds %" PRIu64 " records (%" PRIu64 " claims, %" PRIu64
	       " ideas), envelopes %.0f B on average, written in-process at %.0f /s\n",
	       wa.records, wa.records - wa.ideas, wa.ideas, wa.avg_bytes,
	       (double)wa.records / wa.secs);
	node *b = node_new("b", "distributor");
	static const char *const both[] = {"claim", "idea", NULL}, *const ideas[] = {"idea", NULL};
	double backfill = pair(b, a, both);
	printf("setup          b dials a; `trestle policy allow` claim, idea a->b queued %" PRIu64
	       " records in %.1f s\n",
	       records, backfill);
	node *cs[SHARE_RUNS];
	backfill = 0;
	for (int i = 0; i < SHARE_RUNS; i++) {
		char nm[8];
		snprintf(nm, sizeof(nm), "c%d", i + 1);
		cs[i] = node_new(nm, "user");
		backfill += pair(cs[i], a, ideas);
	}
	printf("setup          c1..c%d dial a; `trestle policy allow` idea a->c queued %" PRIu64
	       " records for each in %.2f s on average\n",
	       SHARE_RUNS, wa.ideas, backfill / SHARE_RUNS);
	daemon_start(a);
	daemon_ready(a, NULL);

	/* 2. initial sync a -> b; b's queue at a ends with the last idea */
	struct sync_result sr;
	timed_sync(a, b, wa.last_idea, records, 1, &sr);
	double rate = (double)records / sr.secs;
	printf("\ninitial sync   b pulls %" PRIu64 " records from a: %9.0f /s (%.1f s) = %.2fx the "
	       "1-core verify rate (target >= 1x)   %s\n",
	       records, rate, sr.secs, rate / verify_rate, verdict(rate >= verify_rate));
	printf("initial sync   peak RssAnon: a %.1f MB, b %.1f MB (target < 64 MB each)   %s\n",
	       sr.peak_a, sr.peak_b, verdict(sr.peak_a < 64 && sr.peak_b < 64));
	int sync_missed = rate < verify_rate;
	print_timeline(&sr.tl, sr.secs);
	print_threads("a", a->pid, &sr.a0, &sr.a1, sr.secs);
	print_threads("b", b->pid, NULL, &sr.b1, sr.secs);
	print_machine(&sr.cpu0, &sr.cpu1, cores);
	if (sr.b_written >= 0)
		printf("  b wrote %.0f MB to storage (%.0f B per record)\n", sr.b_written / 1e6,
		       (double)sr.b_written / (double)records);

	/* 3. 1% shared: c pulls only the ideas of a's store; f pulls as many ideas from e,
	 * which holds nothing else. Each SHARE_RUNS times with a new node, alternating, so
	 * that what else runs on the machine weighs on both alike; the medians count. */
	node *e = node_new("e", "producer"), *fs[SHARE_RUNS];
	write_records(e, &g, GEN_IDEAS, shared, &we);
	for (int i = 0; i < SHARE_RUNS; i++) {
		char nm[8];
		snprintf(nm, sizeof(nm), "f%d", i + 1);
		fs[i] = node_new(nm, "user");
		pair(fs[i], e, ideas);
	}
	daemon_start(e);
	daemon_ready(e, NULL);
	double csecs[SHARE_RUNS], fsecs[SHARE_RUNS], cpeak = 0;
	printf("\n");
	for (int i = 0; i < SHARE_RUNS; i++) {
		struct sync_result cr, fr;
		timed_sync(a, cs[i], wa.last_idea, wa.ideas, 0, &cr);
		daemon_stop(cs[i]);
		timed_sync(e, fs[i], we.last_idea, we.records, 0, &fr);
		daemon_stop(fs[i]);
		csecs[i] = cr.secs;
		fsecs[i] = fr.secs;
		if (cr.peak_b > cpeak)
			cpeak = cr.peak_b;
		printf("1%% shared      run %d: %s pulls a's %" PRIu64 " ideas in %.3f s (other "
		       "processes %.0f%% of the machine); %s pulls e's in %.3f s (others %.0f%%)\n",
		       i + 1, cs[i]->name, wa.ideas, cr.secs, 100 * others(&cr.cpu0, &cr.cpu1),
		       fs[i]->name, fr.secs, 100 * others(&fr.cpu0, &fr.cpu1));
	}
	daemon_stop(e);
	qsort(csecs, SHARE_RUNS, sizeof(double), cmp_double);
	qsort(fsecs, SHARE_RUNS, sizeof(double), cmp_double);
	double cmed = csecs[SHARE_RUNS / 2], fmed = fsecs[SHARE_RUNS / 2], ratio = cmed / fmed;
	printf("1%% shared      c pulls the %" PRIu64 " ideas of a's %" PRIu64
	       " records: median %.3f s (%.0f /s), peak RssAnon %.1f MB\n",
	       wa.ideas, records, cmed, (double)wa.ideas / cmed, cpeak);
	printf("1%% shared      baseline: f pulls %" PRIu64
	       " ideas from e, which holds only them: median %.3f s (%.0f /s)\n",
	       we.records, fmed, (double)we.records / fmed);
	printf("1%% shared      ratio of the medians c/baseline %.2f (target close to 1: c at most "
	       "25%% slower, whatever a's store holds besides)   %s\n",
	       ratio, verdict(ratio <= 1.25));
	/* the c's are done: they go as a's partners, so that a and b alone are connected for
	 * the latency runs. (Before commit 6cbf9b9 they also had to go because a could not
	 * store a record shared with b while their queues held anything: outq was appended
	 * to with MDB_APPEND.) */
	for (int i = 0; i < SHARE_RUNS; i++)
		cli(a, "partner", "remove", cs[i]->name, NULL);

	/* 4. one hop a -> b */
	static struct lat L;
	uint64_t seq = records;
	daemon_ready(b, "a");
	sleep_ms(1000);
	struct cpu_snap l0, l1;
	cpu_snap(&l0);
	latency(a, b, &g, &seq, &L);
	cpu_snap(&l1);
	double p50 = quantile(L.sorted, LAT_RECORDS, .5),
	       p99 = quantile(L.sorted, LAT_RECORDS, .99);
	printf(
	    "\none hop        a -> b, %d single records, one every %d ms or slower: p50 %.2f ms, "
	    "p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	    LAT_RECORDS, LAT_GAP_MS, p50, quantile(L.sorted, LAT_RECORDS, .9), p99,
	    L.sorted[LAT_RECORDS - 1]);
	printf("one hop        p50 %.2f ms (target < 2 ms) %s;  p99 %.2f ms (target < 8 ms) %s\n",
	       p50, verdict(p50 < 2), p99, verdict(p99 < 8));
	latency_breakdown(&L, "b");
	print_machine(&l0, &l1, cores);

	/* 5. two hops a -> b -> d. Since issue 4 b passes a's ideas on only with a's
	 * consent, a signed record a sends b: granted here, and d pairs with b (which
	 * queues the ideas b holds for d) once b holds it */
	uint64_t got = partner_count(b, "a", "received");
	cli(a, "consent", "grant", "b", "--for", "ideas", NULL);
	for (double end = now() + 15; partner_count(b, "a", "received") <= got; sleep_ms(10))
		if (now() > end)
			fail("b did not receive a's consent within 15 s");
	node *d = node_new("d", "user");
	pair(d, b, ideas);
	uint64_t d_expect = wa.ideas + LAT_RECORDS;
	struct sync_result dr;
	timed_sync(b, d, g.last_idea, d_expect, 0, &dr);
	daemon_ready(d, "b");
	sleep_ms(1000);
	cpu_snap(&l0);
	latency(a, d, &g, &seq, &L);
	cpu_snap(&l1);
	p50 = quantile(L.sorted, LAT_RECORDS, .5);
	p99 = quantile(L.sorted, LAT_RECORDS, .99);
	printf("\ntwo hops       a -> b -> d (d first synced b's %" PRIu64 " ideas in %.2f s): p50 "
	       "%.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       d_expect, dr.secs, p50, quantile(L.sorted, LAT_RECORDS, .9), p99,
	       L.sorted[LAT_RECORDS - 1]);
	printf("two hops       p99 %.2f ms (target < 15 ms)   %s\n", p99, verdict(p99 < 15));
	latency_breakdown(&L, "b and d");
	print_machine(&l0, &l1, cores);

	/* 6. idle */
	node *idle[] = {a, b, d};
	long t0[3];
	for (int i = 0; i < 3; i++)
		t0[i] = proc_ticks(idle[i]->pid);
	sleep_ms(IDLE_SECONDS * 1000);
	printf("\n");
	for (int i = 0; i < 3; i++) {
		struct pmem m;
		daemon_check(idle[i]);
		long used = proc_ticks(idle[i]->pid) - t0[i];
		proc_mem(idle[i]->pid, &m);
		int cpu_ok = used * 100 < S.hz * IDLE_SECONDS; /* under 1% of a core */
		printf(
		    "idle %2d s      %s: RssAnon %.1f MB (target < 16 MB) %s;  VmRSS %.1f MB, of "
		    "it LMDB's file-backed map %.1f MB (target < 16 MB) %s;  CPU %ld ticks of "
		    "1/%ld s (target ~0: < 1%% of a core) %s\n",
		    IDLE_SECONDS, idle[i]->name, m.anon_mb, verdict(m.anon_mb < 16), m.rss_mb,
		    m.file_mb, verdict(m.rss_mb < 16), used, S.hz, verdict(cpu_ok));
	}
	for (int i = 0; i < 3; i++)
		report_errors(idle[i]);
	for (int i = 0; i < S.nnodes; i++)
		report_log(&S.nodes[i]);
	for (int i = 0; i < 3; i++)
		daemon_stop(idle[i]);

	if (sync_missed || S.profile) {
		printf("\nwhere the initial sync's time goes (the daemons' CPU above; the store "
		       "work below):\n");
		profile_batches(a, records);
	}
}

static int usage(FILE *f, int code)
{
	fprintf(
	    f,
	    "usage: trestle-bench sync [--records N] [--keep DIR] [--trestled PATH] [--profile]\n"
	    "                          [--only rules]\n"
	    "\n"
	    "Starts trestle daemons on loopback and measures partner sync: initial sync of N\n"
	    "records, a 1%% shared subset, one- and two-hop latency, idle cost; then sharing\n"
	    "rules: 1%% shared by a rule's condition, widening, the decision's serving cost.\n"
	    "  --records N      records at the first node (1000000; at least 10000)\n"
	    "  --keep DIR       work in DIR (created; must not exist) and keep it\n"
	    "  --trestled PATH  the daemon (default: trestled next to this binary or in ..)\n"
	    "  --profile        always show where the sync time goes (else only on a miss)\n"
	    "  --only rules     the machine's limits and the sharing-rule cases only\n");
	return code;
}

static void find_binaries(const char *trestled)
{
	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0)
		fail("readlink /proc/self/exe: %s", strerror(errno));
	self[sl] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(S.trestle, sizeof(S.trestle), "%.*s/trestle", PATH_MAX - 16, self);
	if (trestled)
		snprintf(S.trestled, sizeof(S.trestled), "%s", trestled);
	else {
		snprintf(S.trestled, sizeof(S.trestled), "%.*s/trestled", PATH_MAX - 16, self);
		if (access(S.trestled, X_OK) != 0)
			snprintf(S.trestled, sizeof(S.trestled), "%.*s/../trestled", PATH_MAX - 16,
			         self);
	}
	if (access(S.trestle, X_OK) != 0)
		fail("no trestle CLI at %s", S.trestle);
	if (access(S.trestled, X_OK) != 0)
		fail("no trestled at %s (build it, or give --trestled PATH)", S.trestled);
}

int sync_main(int argc, char **argv)
{
	uint64_t records = 1000000;
	const char *keepdir = NULL, *trestled = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--records") && i + 1 < argc)
			records = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
			keepdir = argv[++i];
		else if (!strcmp(argv[i], "--trestled") && i + 1 < argc)
			trestled = argv[++i];
		else if (!strcmp(argv[i], "--profile"))
			S.profile = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc &&
		         !strcmp(argv[i + 1], "rules")) {
			S.only_rules = 1;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout, 0);
		else
			return usage(stderr, 2);
	}
	if (records < 10000 || records > 100000000)
		return usage(stderr, 2);
	if (sodium_init() < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	S.hz = sysconf(_SC_CLK_TCK);
	find_binaries(trestled);
	if (keepdir) {
		if (mkdir(keepdir, 0700) != 0)
			fail("--keep %s: %s (give a directory that does not exist yet)", keepdir,
			     strerror(errno));
		if (!realpath(keepdir, S.work))
			fail("%s: %s", keepdir, strerror(errno));
		S.keep = 1;
	} else {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(S.work, sizeof(S.work), "%s/trestle-sync.XXXXXX", tmp);
		if (!mkdtemp(S.work))
			fail("mkdtemp %s: %s", S.work, strerror(errno));
	}
	S.zctx = zmq_ctx_new();
	if (!S.zctx)
		fail("zmq_ctx_new: %s", zmq_strerror(errno));
	atexit(cleanup);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	printf("trestle-bench sync: work directory %s, %" PRIu64 " records, daemon %s\n\n", S.work,
	       records, S.trestled);

	/* 1. the limit */
	double verify_rate;
	(void)bench_sign(20000, &verify_rate);
	printf("machine limit  Ed25519 verify, 1 core                 %9.0f /s\n", verify_rate);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	double all = verify_rate_all(cores);
	printf(
	    "machine limit  Ed25519 verify, %ld threads at once       %9.0f /s = %.2fx one core\n",
	    cores, all, all / verify_rate);
	double floor50, floor99;
	commit_floor(&floor50, &floor99);
	printf("machine limit  durable LMDB commit of one 500-B put: p50 %.2f ms, p99 %.2f ms "
	       "(a record is committed once per node it reaches)\n",
	       floor50, floor99);

	if (!S.only_rules)
		issue3(records, verify_rate, cores);
	rules(records);
	printf("\n%d figure%s missed %s target\n", S.misses, S.misses == 1 ? "" : "s",
	       S.misses == 1 ? "its" : "their");
	return 0;
}
