/* trestle_bench.c: trestle's speed and memory figures, each printed beside this
 * machine's own limit measured in the same run (issue 2's targets):
 *  - Ed25519 sign and verify per second on one core: the ceiling of everything below;
 *  - the simplest possible durable loop (sign + one LMDB put, 1000 per transaction)
 *    against trestle's record creation (validate, digest every field, sign, store with
 *    all indexes, 1000 per transaction): target at least 60% of the simple loop;
 *  - `trestle import` of a generated claims CSV, run as a separate process: rows per
 *    second and its peak RSS (target under 100 MB for 1,000,000 rows);
 *  - store bytes per record against the record's own encoded size (target under 2x).
 * It is a program, not a test: figures vary by machine, the ratios are what count.
 * usage: trestle-bench [--records N] [--rows N] [--keep]
 *        trestle-bench sync [--records N] [--keep DIR] [--trestled PATH] (sync_bench.c)
 *        trestle-bench group [--ideas N] (group_bench.c) */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "bench.h"
#include "error.h"
#include "kind.h"
#include "record.h"
#include "store.h"

double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void die(const char *what, int rc)
{
	fprintf(stderr, "trestle-bench: %s: %s\n", what, rc ? tr_strerror(rc) : strerror(errno));
	exit(1);
}

double bench_sign(uint64_t n, double *verify_rate)
{
	uint8_t pk[32], sk[64], sig[64], msg[50];
	crypto_sign_keypair(pk, sk);
	randombytes_buf(msg, sizeof(msg));
	double t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		msg[0] = (uint8_t)i;
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	}
	double sign_rate = (double)n / (now() - t0);
	t0 = now();
	int bad = 0;
	for (uint64_t i = 0; i < n; i++)
		bad |= crypto_sign_verify_detached(sig, msg, sizeof(msg), pk);
	*verify_rate = (double)n / (now() - t0);
	if (bad)
		die("verify failed", TR_ESIG);
	return sign_rate;
}

/* The floor trestle is held to: sign a 32-byte id and put a ~450-byte value under it,
 * 1000 puts per durable transaction. */
static double bench_baseline(const char *dir, uint64_t n)
{
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;
	uint8_t pk[32], sk[64], val[450];
	crypto_sign_keypair(pk, sk);
	randombytes_buf(val, sizeof(val));
	mkdir(dir, 0700);
	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 4ull << 30) ||
	    mdb_env_open(env, dir, 0, 0600))
		die("baseline env", TR_ESTORE);
	double t0 = now();
	for (uint64_t i = 0; i < n;) {
		if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
			die("baseline txn", TR_ESTORE);
		for (int j = 0; j < 1000 && i < n; j++, i++) {
			uint8_t id[32];
			crypto_generichash(id, 32, (uint8_t *)&i, sizeof(i), NULL, 0);
			crypto_sign_detached(val, NULL, id, 32, sk);
			MDB_val k = {32, id}, v = {sizeof(val), val};
			if (mdb_put(txn, dbi, &k, &v, 0))
				die("baseline put", TR_ESTORE);
		}
		if (mdb_txn_commit(txn))
			die("baseline commit", TR_ESTORE);
	}
	double rate = (double)n / (now() - t0);
	mdb_env_close(env);
	return rate;
}

struct create_ctx {
	tr_key *key;
	uint64_t base, n;
	tr_record rec;
	tr_mpw scratch;
	char why[256];
	uint64_t bytes;
};

static const char *problems[] = {
    "Drain pump stops after about 300 cycles; the error light blinks twice and the "
    "machine needs a restart before the next rinse.",
    "Door seal leaks on the left side when the tank is full; water collects under the "
    "machine. Replaced the seal once already.",
    "Rinse arm cracked near the hub, loose fitting; the customer reports poor results on "
    "trays in the upper rack since the last service.",
};

static int create_fn(tr_txn *t, void *ctx)
{
	struct create_ctx *c = ctx;
	c->bytes = 0;
	for (uint64_t i = 0; i < c->n; i++) {
		char serial[32], cust[64];
		uint64_t k = c->base + i;
		snprintf(serial, sizeof(serial), "SN-%08" PRIu64, k);
		snprintf(cust, sizeof(cust), "Customer %" PRIu64 " Restaurant GmbH", k % 5000);
		const char *pr = problems[k % 3];
		tr_record *r = &c->rec;
		tr_record_init(r);
		r->kind.p = "claim";
		r->kind.n = 5;
		tr_record_add_str(r, "product", k % 2 ? "DW-200" : "DW-300", 6);
		tr_record_add_str(r, "serial", serial, strlen(serial));
		tr_record_add_str(r, "problem", pr, strlen(pr));
		tr_record_add_str(r, "opened", "2026-01-05", 10);
		tr_record_add_str(r, "customer", cust, strlen(cust));
		tr_record_add_str(r, "responsible", "J. Lindqvist", 12);
		int rc = tr_txn_create(t, c->key, r, 1767225600000ull + k, &c->scratch, c->why,
		                       sizeof(c->why));
		if (rc)
			return rc;
		c->bytes += tr_mpw_size(&c->scratch);
	}
	return 0;
}

static double bench_create(const char *dir, uint64_t n, double *avg_env, double *store_per_rec)
{
	static struct create_ctx c;
	tr_store *s = NULL;
	int rc = tr_key_new(&c.key);
	if (rc)
		die("key", rc);
	mkdir(dir, 0700);
	if ((rc = tr_store_open(dir, TR_STORE_CREATE, tr_key_public(c.key), &s)) != 0)
		die(tr_store_detail(s), rc);
	tr_mpw_init(&c.scratch);
	uint64_t bytes = 0;
	double t0 = now();
	for (uint64_t i = 0; i < n; i += 1000) {
		c.base = i;
		c.n = n - i < 1000 ? n - i : 1000;
		if ((rc = tr_store_write(s, create_fn, &c)) != 0)
			die(c.why[0] ? c.why : "create", rc);
		bytes += c.bytes;
	}
	double rate = (double)n / (now() - t0);
	uint64_t size;
	if ((rc = tr_store_size(s, &size)) != 0)
		die("size", rc);
	*avg_env = (double)bytes / (double)n;
	*store_per_rec = (double)size / (double)n;
	tr_mpw_release(&c.scratch);
	tr_store_close(&s);
	tr_key_destroy(&c.key);
	return rate;
}

/* Peak anonymous and file-backed RSS of a running child, sampled from /proc. */
struct mem_peak {
	double anon_mb, file_mb;
};

static void sample(pid_t pid, struct mem_peak *m)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long kb;
		if (sscanf(line, "RssAnon: %lu", &kb) == 1 && kb / 1024.0 > m->anon_mb)
			m->anon_mb = kb / 1024.0;
		if (sscanf(line, "RssFile: %lu", &kb) == 1 && kb / 1024.0 > m->file_mb)
			m->file_mb = kb / 1024.0;
	}
	fclose(f);
}

static int run_sampled(char *const argv[], struct rusage *ru, int quiet, struct mem_peak *m);

int run(char *const argv[], struct rusage *ru, int quiet)
{
	return run_sampled(argv, ru, quiet, NULL);
}

static int run_sampled(char *const argv[], struct rusage *ru, int quiet, struct mem_peak *m)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (quiet) {
			FILE *f = freopen("/dev/null", "w", stdout);
			(void)f;
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (pid < 0)
		return -1;
	for (;;) {
		pid_t w = wait4(pid, &status, m ? WNOHANG : 0, ru);
		if (w < 0)
			return -1;
		if (w == pid)
			break;
		sample(pid, m);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static double bench_import(const char *work, const char *trestle, uint64_t rows, double *rss_mb,
                           struct mem_peak *peak, double *secs, double *csv_mb)
{
	char csv[PATH_MAX + 32], home[PATH_MAX + 32];
	snprintf(csv, sizeof(csv), "%s/claims.csv", work);
	snprintf(home, sizeof(home), "%s/import-node", work);
	FILE *f = fopen(csv, "w");
	if (!f)
		die(csv, 0);
	fprintf(f, "Claim ID,Product,Serial,Problem,Opened,Closed,Customer,Severity\n");
	for (uint64_t i = 0; i < rows; i++)
		fprintf(f,
		        "C-%" PRIu64 ",DW-%d00,SN-%08" PRIu64
		        ",\"%s\",2026-%02d-%02d,,Customer %" PRIu64 " Restaurant GmbH,%s\n",
		        i, 2 + (int)(i % 3), i, problems[i % 3], 1 + (int)(i % 12),
		        1 + (int)(i % 28), i % 5000, i % 2 ? "high" : "low");
	if (fclose(f) != 0)
		die(csv, 0);
	struct stat st;
	stat(csv, &st);
	*csv_mb = (double)st.st_size / 1e6;
	struct rusage ru;
	char *init[] = {(char *)trestle, "--home", home, "init", "--name", "bench", NULL};
	if (run(init, &ru, 1) != 0)
		die("trestle init", TR_EINVAL);
	char *imp[] = {
	    (char *)trestle,        "--home", home, "import", "--quiet", "--kind", "claim", "--map",
	    "Claim ID=external_id", csv,      NULL};
	double t0 = now();
	int rc = run_sampled(imp, &ru, 1, peak);
	*secs = now() - t0;
	if (rc != 0) {
		fprintf(stderr, "trestle-bench: trestle import exited %d\n", rc);
		exit(1);
	}
	*rss_mb = (double)ru.ru_maxrss / 1024.0;
	return (double)rows / *secs;
}

int main(int argc, char **argv)
{
	uint64_t records = 100000, rows = 1000000;
	int keep = 0;
	if (argc > 1 && !strcmp(argv[1], "sync"))
		return sync_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "group"))
		return group_main(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--records") && i + 1 < argc)
			records = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
			rows = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--keep"))
			keep = 1;
		else {
			fprintf(
			    stderr,
			    "usage: trestle-bench [--records N] [--rows N] [--keep]\n"
			    "       trestle-bench sync --help   (partner sync between daemons)\n"
			    "       trestle-bench group [--ideas N]   (grouping the producer's "
			    "ideas)\n"
			    "  --records  records for the creation benchmark (100000)\n"
			    "  --rows     CSV rows for the import benchmark (1000000)\n"
			    "  --keep     keep the work directory\n");
			return 2;
		}
	}
	if (sodium_init() < 0 || records < 1000 || rows < 1)
		return 2;
	char self[PATH_MAX], trestle[PATH_MAX + 16];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0)
		die("readlink", 0);
	self[sl] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(trestle, sizeof(trestle), "%s/trestle", self);
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char work[PATH_MAX], dir[PATH_MAX + 32];
	snprintf(work, sizeof(work), "%s/trestle-bench.XXXXXX", tmp);
	if (!mkdtemp(work))
		die("mkdtemp", 0);

	printf("trestle-bench: work directory %s (its file system decides fsync cost)\n\n", work);
	double verify_rate, sign_rate = bench_sign(20000, &verify_rate);
	printf("machine limit  Ed25519 sign, 1 core            %9.0f /s\n", sign_rate);
	printf("machine limit  Ed25519 verify, 1 core          %9.0f /s\n", verify_rate);

	snprintf(dir, sizeof(dir), "%s/baseline", work);
	double base = bench_baseline(dir, records);
	printf("machine limit  sign + 1 LMDB put, 1000/txn     %9.0f /s  (%" PRIu64 " records)\n",
	       base, records);
	double avg_env, per_rec;
	snprintf(dir, sizeof(dir), "%s/create", work);
	double create = bench_create(dir, records, &avg_env, &per_rec);
	printf("trestle        records created, 1000/txn       %9.0f /s  = %.0f%% of the simple "
	       "loop (target >= 60%%)\n",
	       create, 100.0 * create / base);
	printf("trestle        store size per record           %9.0f B   record itself %.0f B: "
	       "%.2fx (target < 2x)\n\n",
	       per_rec, avg_env, per_rec / avg_env);

	double rss, secs, csv_mb;
	struct mem_peak peak = {0, 0};
	double imp = bench_import(work, trestle, rows, &rss, &peak, &secs, &csv_mb);
	printf("trestle        import of %" PRIu64 " CSV rows (%.0f MB)  %9.0f rows/s (%.1f s)\n",
	       rows, csv_mb, imp, secs);
	printf("trestle        import peak memory: anonymous %.1f MB (target < 100 MB); with "
	       "LMDB's file-backed map pages %.1f MB (page cache, reclaimable)\n",
	       peak.anon_mb, rss);
	if (!keep) {
		char *rm[] = {"/bin/rm", "-rf", work, NULL};
		struct rusage ru;
		run(rm, &ru, 0);
	}
	return 0;
}
