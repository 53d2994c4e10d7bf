#define _GNU_SOURCE /* memmem, mkdtemp, nftw */
/* test_store: the LMDB store against real files in a fresh temporary directory:
 * creating and opening (keys, foreign and truncated files), creating records (sequence
 * numbers, schema and reference checks, whole-transaction rollback), idempotent adding,
 * id prefixes, queries, map growth, the consistency check (also on damaged copies), the
 * audit log and backups. */
#include "tests/tr_test.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "node/store.h"
#include "proto/error.h"
#include "proto/key.h"
#include "proto/record.h"

/* ---- files ---- */

static char base[256];

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
	int w = snprintf(out, n, "%s/%s", dir, name);
	CHECK(w > 0 && (size_t)w < n);
}

static void make_dir(char *out, size_t n, const char *name)
{
	path_in(out, n, base, name);
	if (mkdir(out, 0700) != 0) {
		perror(out);
		exit(2);
	}
}

/* The whole file, malloc'd; NULL if it cannot be read. */
static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		fclose(f);
		return NULL;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!buf || got != (size_t)st.st_size) {
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

static int write_all(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t put = fwrite(p, 1, len, f);
	return fclose(f) != 0 || put != len ? -1 : 0;
}

/* 1 if the file at path holds exactly these bytes. */
static int same_bytes(const char *path, const uint8_t *want, size_t wlen)
{
	size_t len;
	uint8_t *got = read_all(path, &len);
	int same = got && len == wlen && memcmp(got, want, len) == 0;
	free(got);
	return same;
}

static int copy_data_file(const char *from_dir, const char *to_dir)
{
	char from[512], to[512];
	size_t len;
	path_in(from, sizeof(from), from_dir, "data.mdb");
	path_in(to, sizeof(to), to_dir, "data.mdb");
	uint8_t *b = read_all(from, &len);
	int rc = b ? write_all(to, b, len) : -1;
	free(b);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* ---- creating records ---- */

#define MAXF 6

/* One record to create: kind, name/value pairs, refs, time; id and seq come back. */
struct mk {
	const char *kind;
	const char *f[2 * MAXF + 1];
	size_t nrefs;
	uint8_t refs[TR_MAX_REFS][TR_ID_BYTES];
	uint64_t now;
	uint8_t id[TR_ID_BYTES];
	uint64_t seq;
};

/* mk_set(m, kind, now, name, value, ..., NULL) */
static void mk_set(struct mk *m, const char *kind, uint64_t now, ...)
{
	va_list ap;
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->now = now;
	va_start(ap, now);
	for (size_t i = 0; i < 2 * MAXF; i++) {
		const char *s = va_arg(ap, const char *);
		if (!s)
			break;
		m->f[i] = s;
	}
	va_end(ap);
}

static void mk_ref(struct mk *m, const uint8_t id[TR_ID_BYTES])
{
	memcpy(m->refs[m->nrefs++], id, TR_ID_BYTES);
}

struct create_ctx {
	const tr_key *key;
	struct mk *m;
	size_t n;
	size_t done; /* records created in the last run of the callback */
	int calls;
	tr_mpw scratch;
	tr_record rec;
	char why[256];
};

static int build(tr_record *r, const struct mk *m)
{
	tr_record_init(r);
	r->kind.p = m->kind;
	r->kind.n = strlen(m->kind);
	for (size_t j = 0; m->f[j]; j += 2)
		if (tr_record_add_str(r, m->f[j], m->f[j + 1], strlen(m->f[j + 1])) != 0)
			return TR_EINVAL;
	r->nrefs = m->nrefs;
	memcpy(r->refs, m->refs, sizeof(m->refs));
	return 0;
}

static int create_fn(tr_txn *t, void *ctx)
{
	struct create_ctx *c = ctx;
	c->calls++;
	c->done = 0;
	c->why[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		struct mk *m = &c->m[i];
		int rc = build(&c->rec, m);
		if (!rc)
			rc = tr_txn_create(t, c->key, &c->rec, m->now, &c->scratch, c->why,
			                   sizeof(c->why));
		if (rc)
			return rc;
		memcpy(m->id, c->rec.id, TR_ID_BYTES);
		m->seq = c->rec.seq;
		c->done++;
	}
	return 0;
}

static struct create_ctx cc;

/* Creates m[0..n) in one write transaction; why gets the store's sentence. */
static int create(tr_store *s, const tr_key *key, struct mk *m, size_t n, char *why, size_t whylen)
{
	cc.key = key;
	cc.m = m;
	cc.n = n;
	cc.calls = 0;
	tr_mpw_init(&cc.scratch);
	int rc = tr_store_write(s, create_fn, &cc);
	tr_mpw_release(&cc.scratch);
	if (why)
		snprintf(why, whylen, "%s", cc.why);
	return rc;
}

/* ---- reading ---- */

static int count_fn(tr_txn *t, void *ctx)
{
	return tr_txn_count(t, ctx);
}

static uint64_t count(tr_store *s)
{
	uint64_t n = 0;
	int rc = tr_store_read(s, count_fn, &n);
	CHECK_INT(rc, 0);
	return rc ? UINT64_MAX : n;
}

struct get_ctx {
	const uint8_t *id;
	uint8_t *copy; /* malloc'd */
	size_t len;
	uint64_t pos;
};

static int get_fn(tr_txn *t, void *ctx)
{
	struct get_ctx *g = ctx;
	const uint8_t *env;
	int rc = tr_txn_get(t, g->id, &env, &g->len, &g->pos, NULL);
	if (rc)
		return rc;
	g->copy = malloc(g->len);
	if (!g->copy)
		return ENOMEM;
	memcpy(g->copy, env, g->len);
	return 0;
}

/* Position of a stored record (0 if it cannot be read). */
static uint64_t pos_of(tr_store *s, const uint8_t id[TR_ID_BYTES])
{
	struct get_ctx g = {id, NULL, 0, 0};
	int rc = tr_store_read(s, get_fn, &g);
	free(g.copy);
	return rc ? 0 : g.pos;
}

struct resolve_ctx {
	const char *prefix;
	uint8_t id[TR_ID_BYTES];
};

static int resolve_fn(tr_txn *t, void *ctx)
{
	struct resolve_ctx *r = ctx;
	return tr_txn_resolve(t, r->prefix, r->id);
}

static int resolve(tr_store *s, const char *prefix, uint8_t id[TR_ID_BYTES])
{
	struct resolve_ctx r;
	r.prefix = prefix;
	memset(r.id, 0, sizeof(r.id));
	int rc = tr_store_read(s, resolve_fn, &r);
	memcpy(id, r.id, TR_ID_BYTES);
	return rc;
}

#define MAXHITS 64

struct scan_ctx {
	size_t n;
	uint64_t pos[MAXHITS];
	uint32_t source[MAXHITS];
	uint8_t id[MAXHITS][TR_ID_BYTES];
	int bad_hit;       /* a hit whose bytes do not decode to its record */
	size_t stop_after; /* return 42 after this many hits; 0: never (kept by scan()) */
};

static int scan_cb(void *ctx, const tr_hit *h)
{
	struct scan_ctx *c = ctx;
	tr_record r;
	if (tr_record_decode(h->env, h->len, &r) != 0 || memcmp(r.id, h->rec->id, TR_ID_BYTES) != 0)
		c->bad_hit = 1;
	if (c->n < MAXHITS) {
		c->pos[c->n] = h->pos;
		c->source[c->n] = h->source;
		memcpy(c->id[c->n], h->rec->id, TR_ID_BYTES);
	}
	c->n++;
	return c->stop_after && c->n >= c->stop_after ? 42 : 0;
}

struct scan_run {
	const tr_query *q;
	struct scan_ctx *c;
};

static int scan_fn(tr_txn *t, void *ctx)
{
	struct scan_run *r = ctx;
	return tr_txn_scan(t, r->q, scan_cb, r->c);
}

static int scan(tr_store *s, const tr_query *q, struct scan_ctx *c)
{
	struct scan_run r = {q, c};
	memset(c, 0, offsetof(struct scan_ctx, stop_after));
	return tr_store_read(s, scan_fn, &r);
}

/* ids[p] is the id of the record at log position p. */
static uint8_t ids[32][TR_ID_BYTES];

/* Checks that q finds exactly the records at positions want[0..n), in that order. */
static void expect_scan(tr_store *s, const tr_query *q, const uint64_t *want, size_t n, int line)
{
	struct scan_ctx c;
	int before = tr_test_failed;
	c.stop_after = 0;
	CHECK_INT(scan(s, q, &c), 0);
	CHECK_INT(c.n, n);
	CHECK(!c.bad_hit);
	for (size_t i = 0; i < n && i < c.n; i++) {
		CHECK_INT(c.pos[i], want[i]);
		CHECK(memcmp(c.id[i], ids[want[i]], TR_ID_BYTES) == 0);
	}
	if (tr_test_failed != before)
		fprintf(stderr, "  (the query at line %d)\n", line);
}

#define EXPECT_SCAN(s, q, ...)                                                                     \
	do {                                                                                       \
		static const uint64_t want_[] = {__VA_ARGS__};                                     \
		expect_scan(s, q, want_, sizeof(want_) / sizeof(want_[0]), __LINE__);              \
	} while (0)
#define EXPECT_NONE(s, q) expect_scan(s, q, NULL, 0, __LINE__)

/* ---- consistency check ---- */

struct check_ctx {
	size_t n;
	char msg[16][300];
	uint64_t records;
};

static void problem_cb(void *ctx, const char *problem)
{
	struct check_ctx *c = ctx;
	if (c->n < 16)
		snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", problem);
	c->n++;
}

static int check_fn(tr_txn *t, void *ctx)
{
	struct check_ctx *c = ctx;
	return tr_txn_check(t, problem_cb, c, &c->records);
}

static int run_check(tr_store *s, struct check_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->records = UINT64_MAX;
	return tr_store_read(s, check_fn, c);
}

/* 1 if some problem reported contains word. */
static int problem_says(const struct check_ctx *c, const char *word)
{
	for (size_t i = 0; i < c->n && i < 16; i++)
		if (strstr(c->msg[i], word))
			return 1;
	return 0;
}

/* ---- 1-3: creating and opening ---- */

static void test_open(const tr_key *key, const tr_key *other, const char *dir)
{
	const uint8_t *pk = tr_key_public(key);
	tr_store *s = NULL;
	char file[512], empty[512];

	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, pk, &s), 0);
	CHECK_STR(tr_store_detail(s), "");
	CHECK_INT(count(s), 0);
	tr_store_close(&s);
	CHECK(s == NULL);
	tr_store_close(&s); /* NULL-safe */

	path_in(file, sizeof(file), dir, "data.mdb");
	size_t len;
	uint8_t *before = read_all(file, &len);
	CHECK(before != NULL);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, pk, &s), TR_EEXIST);
	CHECK(strlen(tr_store_detail(s)) > 0);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(other), &s), TR_EEXIST);
	tr_store_close(&s);
	CHECK(before && same_bytes(file, before, len));
	free(before);

	make_dir(empty, sizeof(empty), "empty");
	CHECK_INT(tr_store_open(empty, 0, pk, &s), TR_ENOTFOUND);
	CHECK(strstr(tr_store_detail(s), "trestle init") != NULL);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(empty, TR_STORE_RDONLY, NULL, &s), TR_ENOTFOUND);
	tr_store_close(&s);
	path_in(file, sizeof(file), empty, "data.mdb");
	CHECK(access(file, F_OK) != 0); /* nothing was created */

	/* 2: the node key */
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(other), &s), TR_EKEY);
	CHECK(strlen(tr_store_detail(s)) > 0);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, TR_STORE_RDONLY, tr_key_public(other), &s), TR_EKEY);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, NULL, &s), 0);
	CHECK_INT(count(s), 0);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, pk, &s), 0);
	tr_store_close(&s);

	/* read-only: reading works, a write transaction is refused before the callback */
	CHECK_INT(tr_store_open(dir, TR_STORE_RDONLY, pk, &s), 0);
	CHECK_INT(count(s), 0);
	struct mk m;
	mk_set(&m, "account", 1, "name", "Cafe Nord", NULL);
	CHECK(create(s, key, &m, 1, NULL, 0) != 0);
	CHECK_INT(cc.calls, 0);
	tr_store_close(&s);
}

static void test_foreign(const uint8_t *pk)
{
	tr_store *s = NULL;
	char dir[512], file[512];
	uint8_t text[8192];

	/* a text file where data.mdb should be */
	make_dir(dir, sizeof(dir), "text");
	path_in(file, sizeof(file), dir, "data.mdb");
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)("this is not a database, just some text\n"[i % 40]);
	CHECK_INT(write_all(file, text, sizeof(text)), 0);
	CHECK_INT(tr_store_open(dir, 0, pk, &s), TR_ESTORE);
	CHECK(strstr(tr_store_detail(s), "not changed") != NULL);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, NULL, &s), TR_ESTORE);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, TR_STORE_RDONLY, pk, &s), TR_ESTORE);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, pk, &s), TR_EEXIST);
	tr_store_close(&s);
	CHECK(same_bytes(file, text, sizeof(text)));

	/* an LMDB file of someone else's: one key in its main database */
	make_dir(dir, sizeof(dir), "lmdb");
	path_in(file, sizeof(file), dir, "data.mdb");
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = {5, "hello"}, v = {5, "world"};
	int rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_mapsize(env, 1 << 20);
	if (!rc)
		rc = mdb_env_open(env, dir, 0, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	if (!rc)
		rc = mdb_put(txn, dbi, &k, &v, 0);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	CHECK_INT(rc, 0);
	mdb_env_close(env); /* one env per file per process: closed before the store opens it */

	size_t len;
	uint8_t *before = read_all(file, &len);
	CHECK(before != NULL && len > 0);
	CHECK_INT(tr_store_open(dir, 0, pk, &s), TR_ESTORE);
	CHECK(strstr(tr_store_detail(s), "not a trestle store") != NULL);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, NULL, &s), TR_ESTORE);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, pk, &s), TR_EEXIST);
	tr_store_close(&s);
	CHECK(before && same_bytes(file, before, len));
	free(before);

	/* an LMDB file whose main database has a plain value under "meta" */
	make_dir(dir, sizeof(dir), "lmdb-meta");
	path_in(file, sizeof(file), dir, "data.mdb");
	MDB_val meta_key = {4, "meta"};
	env = NULL;
	txn = NULL;
	rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_mapsize(env, 1 << 20);
	if (!rc)
		rc = mdb_env_open(env, dir, 0, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	if (!rc)
		rc = mdb_put(txn, dbi, &meta_key, &v, 0);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	CHECK_INT(rc, 0);
	mdb_env_close(env);
	before = read_all(file, &len);
	CHECK(before != NULL);
	CHECK_INT(tr_store_open(dir, 0, pk, &s), TR_ESTORE);
	tr_store_close(&s);
	CHECK(before && same_bytes(file, before, len));
	free(before);
}

/* ---- 4-7, 9, 11, 12: one store's records ---- */

struct add_ctx {
	const uint8_t *env;
	size_t len;
	uint32_t source;
	unsigned depth; /* 0: 1 if it came from a partner */
	int added;
	int open_rc;
	uint8_t id[TR_ID_BYTES];
};

static int add_fn(tr_txn *t, void *ctx)
{
	struct add_ctx *a = ctx;
	tr_record rec;
	a->added = -1;
	a->open_rc = tr_record_open(a->env, a->len, &rec);
	if (a->open_rc)
		return a->open_rc;
	memcpy(a->id, rec.id, TR_ID_BYTES);
	return tr_txn_add(t, a->env, a->len, &rec, a->source, a->depth, &a->added);
}

static int add_depth(tr_store *s, const uint8_t *env, size_t len, uint32_t source, unsigned depth,
                     struct add_ctx *a)
{
	a->env = env;
	a->len = len;
	a->source = source;
	a->depth = depth;
	return tr_store_write(s, add_fn, a);
}

static int add(tr_store *s, const uint8_t *env, size_t len, uint32_t source, struct add_ctx *a)
{
	return add_depth(s, env, len, source, 0, a);
}

struct audit_ctx {
	size_t n;
	uint64_t seq[8], time[8];
	char action[8][32], detail[8][64];
};

static int audit_cb(void *ctx, const tr_audit_entry *e)
{
	struct audit_ctx *a = ctx;
	if (a->n < 8) {
		a->seq[a->n] = e->seq;
		a->time[a->n] = e->time_ms;
		snprintf(a->action[a->n], sizeof(a->action[0]), "%.*s", (int)e->action.n,
		         e->action.p);
		snprintf(a->detail[a->n], sizeof(a->detail[0]), "%.*s", (int)e->detail.n,
		         e->detail.p);
	}
	a->n++;
	return 0;
}

static int audit_scan_fn(tr_txn *t, void *ctx)
{
	return tr_txn_audit_scan(t, audit_cb, ctx);
}

static int audit_two_fn(tr_txn *t, void *ctx)
{
	(void)ctx;
	int rc = tr_txn_audit(t, 100, "create", "claim 1234abcd");
	if (!rc)
		rc = tr_txn_audit(t, 200, "import", "5 records from claims.csv");
	return rc;
}

static int audit_one_fn(tr_txn *t, void *ctx)
{
	(void)ctx;
	return tr_txn_audit(t, 300, "backup", "to /srv/backup");
}

static int audit_fail_fn(tr_txn *t, void *ctx)
{
	(void)ctx;
	int rc = tr_txn_audit(t, 400, "lost", "in an aborted transaction");
	return rc ? rc : TR_EINVAL;
}

static void test_audit(tr_store *s)
{
	struct audit_ctx a;
	memset(&a, 0, sizeof(a));
	CHECK_INT(tr_store_read(s, audit_scan_fn, &a), 0);
	CHECK_INT(a.n, 0);
	CHECK_INT(tr_store_write(s, audit_two_fn, NULL), 0);
	CHECK_INT(tr_store_write(s, audit_fail_fn, NULL), TR_EINVAL);
	CHECK_INT(tr_store_write(s, audit_one_fn, NULL), 0);
	memset(&a, 0, sizeof(a));
	CHECK_INT(tr_store_read(s, audit_scan_fn, &a), 0);
	CHECK_INT(a.n, 3);
	CHECK_INT(a.seq[0], 1);
	CHECK_INT(a.seq[1], 2);
	CHECK_INT(a.seq[2], 3);
	CHECK_INT(a.time[0], 100);
	CHECK_INT(a.time[1], 200);
	CHECK_INT(a.time[2], 300);
	CHECK_STR(a.action[0], "create");
	CHECK_STR(a.detail[0], "claim 1234abcd");
	CHECK_STR(a.action[1], "import");
	CHECK_STR(a.detail[1], "5 records from claims.csv");
	CHECK_STR(a.action[2], "backup");
	CHECK_STR(a.detail[2], "to /srv/backup");
}

static void test_scan(tr_store *s, const uint8_t *pk, const uint8_t *opk)
{
	tr_query q;
	struct scan_ctx c;

	memset(&q, 0, sizeof(q));
	EXPECT_SCAN(s, &q, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
	/* by kind */
	q.kind = "claim";
	EXPECT_SCAN(s, &q, 1, 2, 3, 8, 9);
	q.kind = "status";
	EXPECT_SCAN(s, &q, 6, 7);
	q.kind = "clai";
	EXPECT_NONE(s, &q);
	q.kind = "test_request";
	EXPECT_NONE(s, &q);
	/* by product (exact) */
	memset(&q, 0, sizeof(q));
	q.product = "DW-200";
	EXPECT_SCAN(s, &q, 1, 3, 4, 9);
	q.product = "DW-300";
	EXPECT_SCAN(s, &q, 2, 8);
	q.product = "DW-2";
	EXPECT_NONE(s, &q);
	q.product = "DW-200";
	q.kind = "claim";
	EXPECT_SCAN(s, &q, 1, 3, 9);
	/* by author */
	memset(&q, 0, sizeof(q));
	q.author = pk;
	EXPECT_SCAN(s, &q, 1, 2, 3, 4, 5, 6, 7, 8, 10);
	q.author = opk;
	EXPECT_SCAN(s, &q, 9);
	memset(&c, 0, sizeof(c));
	CHECK_INT(scan(s, &q, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.source[0], TR_SOURCE_IMPORT);
	q.author = pk;
	CHECK_INT(scan(s, &q, &c), 0);
	CHECK_INT(c.source[0], TR_SOURCE_LOCAL);
	/* by ref */
	memset(&q, 0, sizeof(q));
	q.ref = ids[4];
	EXPECT_SCAN(s, &q, 6, 7);
	q.ref = ids[1];
	EXPECT_SCAN(s, &q, 7);
	q.ref = ids[5];
	EXPECT_SCAN(s, &q, 8);
	q.ref = ids[3];
	EXPECT_SCAN(s, &q, 10);
	q.ref = ids[2];
	EXPECT_NONE(s, &q);
	q.ref = ids[4];
	q.kind = "claim";
	EXPECT_NONE(s, &q);
	/* by text: any disclosed string field, case-insensitive; withheld text is not seen */
	memset(&q, 0, sizeof(q));
	q.text = "pump";
	EXPECT_SCAN(s, &q, 1, 8, 9);
	q.text = "water";
	EXPECT_SCAN(s, &q, 2, 8);
	q.text = "PLANNED";
	EXPECT_SCAN(s, &q, 6);
	q.text = "cafe nord";
	EXPECT_SCAN(s, &q, 5);
	q.text = "secret"; /* disclosed by the full copy added after the withheld one */
	EXPECT_SCAN(s, &q, 9);
	q.text = "no such words";
	EXPECT_NONE(s, &q);
	q.text = "rinse";
	q.product = "DW-200";
	EXPECT_SCAN(s, &q, 3, 4);
	/* created in [since, until) */
	memset(&q, 0, sizeof(q));
	q.since_ms = 3000;
	q.until_ms = 7000;
	EXPECT_SCAN(s, &q, 3, 4, 5, 6);
	q.until_ms = 0;
	q.since_ms = 8000;
	EXPECT_SCAN(s, &q, 8, 9, 10);
	q.since_ms = 0;
	q.until_ms = 2000;
	EXPECT_SCAN(s, &q, 1);
	q.since_ms = 1001;
	q.until_ms = 2001;
	EXPECT_SCAN(s, &q, 2);
	q.since_ms = 2001;
	q.until_ms = 2999;
	EXPECT_NONE(s, &q);
	q.since_ms = 1000;
	q.until_ms = 11000;
	q.kind = "claim";
	EXPECT_SCAN(s, &q, 1, 2, 3, 8, 9);
	/* after_pos, on the log and on every index */
	memset(&q, 0, sizeof(q));
	q.after_pos = 7;
	EXPECT_SCAN(s, &q, 8, 9, 10);
	q.after_pos = 10;
	EXPECT_NONE(s, &q);
	q.after_pos = 3;
	q.kind = "claim";
	EXPECT_SCAN(s, &q, 8, 9);
	q.kind = NULL;
	q.product = "DW-200";
	EXPECT_SCAN(s, &q, 4, 9);
	q.product = NULL;
	q.author = pk;
	q.after_pos = 8;
	EXPECT_SCAN(s, &q, 10);
	q.author = NULL;
	q.ref = ids[4];
	q.after_pos = 6;
	EXPECT_SCAN(s, &q, 7);
	/* limit */
	memset(&q, 0, sizeof(q));
	q.limit = 2;
	EXPECT_SCAN(s, &q, 1, 2);
	q.kind = "claim";
	q.limit = 3;
	q.after_pos = 1;
	EXPECT_SCAN(s, &q, 2, 3, 8);
	q.kind = NULL;
	q.after_pos = 0;
	q.text = "pump";
	q.limit = 2;
	EXPECT_SCAN(s, &q, 1, 8);
	q.limit = 100;
	EXPECT_SCAN(s, &q, 1, 8, 9);
	/* the callback stops the scan, and its value comes back */
	memset(&q, 0, sizeof(q));
	q.kind = "claim";
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	CHECK_INT(scan(s, &q, &c), 42);
	CHECK_INT(c.n, 2);
	CHECK_INT(c.pos[1], 2);
}

static void test_resolve(tr_store *s)
{
	char hex[TR_ID_HEX_SIZE], prefix[TR_ID_HEX_SIZE + 1];
	uint8_t id[TR_ID_BYTES];

	tr_id_hex(ids[1], hex);
	snprintf(prefix, sizeof(prefix), "%.8s", hex);
	CHECK_INT(resolve(s, prefix, id), 0);
	CHECK(memcmp(id, ids[1], TR_ID_BYTES) == 0);
	tr_id_hex(ids[7], hex);
	CHECK_INT(resolve(s, hex, id), 0); /* all 64 digits */
	CHECK(memcmp(id, ids[7], TR_ID_BYTES) == 0);
	snprintf(prefix, sizeof(prefix), "%.7s", hex); /* odd length */
	CHECK_INT(resolve(s, prefix, id), 0);
	CHECK(memcmp(id, ids[7], TR_ID_BYTES) == 0);
	CHECK_INT(resolve(s, "zz12", id), TR_EINVAL);
	CHECK_INT(resolve(s, "12g4", id), TR_EINVAL);
	CHECK_INT(resolve(s, "123", id), TR_EINVAL);
	CHECK_INT(resolve(s, "", id), TR_EINVAL);
	snprintf(prefix, sizeof(prefix), "%s0", hex); /* 65 digits */
	CHECK_INT(resolve(s, prefix, id), TR_EINVAL);

	/* an 8-digit prefix that none of the ten ids starts with */
	for (unsigned v = 0;; v++) {
		int used = 0;
		snprintf(prefix, sizeof(prefix), "%08x", v * 0x9e3779b1u);
		for (int p = 1; p <= 10; p++) {
			tr_id_hex(ids[p], hex);
			used |= strncmp(hex, prefix, 8) == 0;
		}
		if (!used)
			break;
	}
	CHECK_INT(resolve(s, prefix, id), TR_ENOTFOUND);
	/* a full id one digit off from a stored one */
	tr_id_hex(ids[2], hex);
	hex[63] = hex[63] == '0' ? '1' : '0';
	CHECK_INT(resolve(s, hex, id), TR_ENOTFOUND);
}

static void test_records(const tr_key *key, const tr_key *other, const char *dir,
                         const char *backup)
{
	const uint8_t *pk = tr_key_public(key), *opk = tr_key_public(other);
	tr_store *s = NULL;
	char why[256];
	struct mk m[6];

	CHECK_INT(tr_store_open(dir, 0, pk, &s), 0);

	/* 4: several records in one transaction: seq and positions in order */
	mk_set(&m[0], "claim", 1000, "product", "DW-200", "problem",
	       "Drain pump stops after 300 cycles", "opened", "2026-01-05", "serial", "SN-1001",
	       NULL);
	mk_set(&m[1], "claim", 2000, "product", "DW-300", "problem",
	       "Door seal leaks WATER (UNIQUE-MARKER-TEXT)", "opened", "2026-01-06", NULL);
	mk_set(&m[2], "claim", 3000, "product", "DW-200", "problem", "Rinse arm is noisy", "opened",
	       "2026-01-07", "severity", "low", NULL);
	mk_set(&m[3], "idea", 4000, "title", "Quieter rinse", "text",
	       "A quieter rinse arm for night shifts", "product", "DW-200", NULL);
	mk_set(&m[4], "account", 5000, "name", "Cafe Nord", "city", "Aarhus", NULL);
	CHECK_INT(create(s, key, m, 5, why, sizeof(why)), 0);
	CHECK_INT(cc.calls, 1);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(m[i].seq, i + 1);
		CHECK_INT(pos_of(s, m[i].id), i + 1);
		memcpy(ids[i + 1], m[i].id, TR_ID_BYTES);
	}
	CHECK_INT(count(s), 5);

	/* a claim without "opened": the whole transaction goes, the good claim before too */
	mk_set(&m[0], "claim", 5500, "product", "DW-200", "problem", "fine", "opened", "2026-01-08",
	       NULL);
	mk_set(&m[1], "claim", 5600, "product", "DW-200", "problem", "no date", NULL);
	CHECK_INT(create(s, key, m, 2, why, sizeof(why)), TR_ESCHEMA);
	CHECK_INT(cc.done, 1);
	CHECK(strlen(why) > 10 && strstr(why, "opened") != NULL);
	CHECK_INT(count(s), 5);
	CHECK_INT(pos_of(s, m[0].id), 0); /* the first claim was not kept */
	/* a claim with a bad date */
	mk_set(&m[0], "claim", 5600, "product", "DW-200", "problem", "bad date", "opened",
	       "2026-02-30", NULL);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "opened") != NULL);
	/* an unknown kind */
	mk_set(&m[0], "gossip", 5600, "text", "hello", NULL);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_ESCHEMA);
	CHECK(strstr(why, "gossip") != NULL);

	/* a status referring to nothing stored */
	uint8_t missing[TR_ID_BYTES];
	randombytes_buf(missing, sizeof(missing));
	mk_set(&m[0], "status", 5700, "state", "planned", NULL);
	mk_ref(&m[0], missing);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_EREF);
	CHECK(strlen(why) > 10);
	/* ... to an account (a status refers to ideas, claims, test requests ...) */
	mk_set(&m[0], "status", 5700, "state", "planned", NULL);
	mk_ref(&m[0], ids[5]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_EREF);
	CHECK(strstr(why, "account") != NULL);
	/* ... to an idea and an account */
	mk_set(&m[0], "status", 5700, "state", "planned", NULL);
	mk_ref(&m[0], ids[4]);
	mk_ref(&m[0], ids[5]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_EREF);
	/* a claim refers to accounts only */
	mk_set(&m[0], "claim", 5700, "product", "DW-200", "problem", "x", "opened", "2026-01-08",
	       NULL);
	mk_ref(&m[0], ids[4]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_EREF);
	/* a status refers to one or two records */
	mk_set(&m[0], "status", 5700, "state", "planned", NULL);
	mk_ref(&m[0], ids[1]);
	mk_ref(&m[0], ids[2]);
	mk_ref(&m[0], ids[3]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_ESCHEMA);
	mk_set(&m[0], "status", 5700, "state", "planned", NULL);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_ESCHEMA);
	CHECK_INT(count(s), 5);

	/* valid references; the failed transactions used no sequence numbers or positions */
	mk_set(&m[0], "status", 6000, "state", "planned", NULL);
	mk_ref(&m[0], ids[4]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), 0);
	CHECK_INT(m[0].seq, 6);
	memcpy(ids[6], m[0].id, TR_ID_BYTES);
	mk_set(&m[0], "status", 7000, "state", "in_progress", "message", "Q3 release", NULL);
	mk_ref(&m[0], ids[4]);
	mk_ref(&m[0], ids[1]);
	mk_set(&m[1], "claim", 8000, "product", "DW-300", "problem", "Pump water leak", "opened",
	       "2026-01-09", NULL);
	mk_ref(&m[1], ids[5]);
	CHECK_INT(create(s, key, m, 2, why, sizeof(why)), 0);
	CHECK_INT(m[0].seq, 7);
	CHECK_INT(m[1].seq, 8);
	memcpy(ids[7], m[0].id, TR_ID_BYTES);
	memcpy(ids[8], m[1].id, TR_ID_BYTES);
	for (int p = 6; p <= 8; p++)
		CHECK_INT(pos_of(s, ids[p]), p);
	CHECK_INT(count(s), 8);

	/* another node's claim, passed on with the customer withheld */
	tr_record rec, opened;
	tr_mpw full, part;
	tr_mpw_init(&full);
	tr_mpw_init(&part);
	tr_record_init(&rec);
	rec.kind.p = "claim";
	rec.kind.n = 5;
	rec.seq = 1;
	rec.created_ms = 9000;
	tr_record_add_str(&rec, "product", "DW-200", 6);
	tr_record_add_str(&rec, "problem", "Pump hums at night", 18);
	tr_record_add_str(&rec, "opened", "2026-02-01", 10);
	tr_record_add_str(&rec, "customer", "Secret Cafe", 11);
	CHECK_INT(tr_record_seal(&rec, other, &full), 0);
	memcpy(ids[9], rec.id, TR_ID_BYTES);
	CHECK_INT(tr_record_open(tr_mpw_data(&full), tr_mpw_size(&full), &opened), 0);
	CHECK_INT(tr_record_withhold(&opened, "customer"), 0);
	CHECK_INT(tr_record_encode(&opened, &part), 0);
	CHECK(tr_mpw_size(&part) < tr_mpw_size(&full));
	struct add_ctx a;
	CHECK_INT(add(s, tr_mpw_data(&part), tr_mpw_size(&part), TR_SOURCE_IMPORT, &a), 0);
	CHECK_INT(a.added, 1);
	CHECK(memcmp(a.id, ids[9], TR_ID_BYTES) == 0);
	CHECK_INT(count(s), 9);
	struct get_ctx g = {ids[9], NULL, 0, 0};
	CHECK_INT(tr_store_read(s, get_fn, &g), 0);
	CHECK_INT(g.pos, 9);
	CHECK(g.copy && g.len == tr_mpw_size(&part) &&
	      memcmp(g.copy, tr_mpw_data(&part), g.len) == 0); /* stored as given */
	free(g.copy);
	/* the same id again, withheld or in full: already there; in full, the store keeps
	 * the union of what it was shown, which is the full record */
	CHECK_INT(add(s, tr_mpw_data(&part), tr_mpw_size(&part), TR_SOURCE_IMPORT, &a), 0);
	CHECK_INT(a.added, 0);
	CHECK_INT(add(s, tr_mpw_data(&full), tr_mpw_size(&full), TR_SOURCE_IMPORT, &a), 0);
	CHECK_INT(a.added, 0);
	CHECK_INT(count(s), 9);
	g = (struct get_ctx){ids[9], NULL, 0, 0};
	CHECK_INT(tr_store_read(s, get_fn, &g), 0);
	CHECK(g.copy && g.len == tr_mpw_size(&full) &&
	      memcmp(g.copy, tr_mpw_data(&full), g.len) == 0);
	free(g.copy);
	tr_mpw_release(&full);
	tr_mpw_release(&part);

	/* retractions: only of one's own records, exactly one */
	mk_set(&m[0], "retraction", 9500, "reason", "not ours to withdraw", NULL);
	mk_ref(&m[0], ids[9]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_EREF);
	CHECK(strstr(why, "retract") != NULL);
	mk_set(&m[0], "retraction", 9500, "reason", "nothing", NULL);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), TR_ESCHEMA);
	mk_set(&m[0], "retraction", 10000, "reason", "duplicate of the first claim", NULL);
	mk_ref(&m[0], ids[3]);
	CHECK_INT(create(s, key, m, 1, why, sizeof(why)), 0);
	CHECK_INT(m[0].seq, 9);
	memcpy(ids[10], m[0].id, TR_ID_BYTES);
	CHECK_INT(pos_of(s, ids[10]), 10);
	CHECK_INT(count(s), 10);

	/* 5: a stored record's own bytes, added again: nothing changes */
	g = (struct get_ctx){ids[1], NULL, 0, 0};
	CHECK_INT(tr_store_read(s, get_fn, &g), 0);
	CHECK_INT(g.pos, 1);
	CHECK(g.copy != NULL);
	if (g.copy) {
		CHECK_INT(add(s, g.copy, g.len, TR_SOURCE_IMPORT, &a), 0);
		CHECK_INT(a.open_rc, 0);
		CHECK_INT(a.added, 0);
		CHECK(memcmp(a.id, ids[1], TR_ID_BYTES) == 0);
	}
	free(g.copy);
	CHECK_INT(count(s), 10);
	CHECK_INT(pos_of(s, ids[1]), 1);

	/* 7, 6 */
	test_scan(s, pk, opk);
	test_resolve(s);

	/* 11 */
	test_audit(s);

	/* 9: a healthy store */
	struct check_ctx ck;
	CHECK_INT(run_check(s, &ck), 0);
	CHECK_INT(ck.n, 0);
	CHECK_INT(ck.records, 10);
	if (ck.n)
		fprintf(stderr, "  first problem: %s\n", ck.msg[0]);

	uint64_t size = 0;
	CHECK_INT(tr_store_size(s, &size), 0);
	CHECK(size > 0);

	/* 12: backup into an empty directory, then not over it */
	char bfile[512];
	size_t blen;
	CHECK_INT(tr_store_backup(s, backup), 0);
	path_in(bfile, sizeof(bfile), backup, "data.mdb");
	uint8_t *bbytes = read_all(bfile, &blen);
	CHECK(bbytes != NULL);
	CHECK(tr_store_backup(s, backup) != 0);
	CHECK(bbytes && same_bytes(bfile, bbytes, blen));
	free(bbytes);
	tr_store_close(&s);

	tr_store *b = NULL;
	CHECK_INT(tr_store_open(backup, 0, opk, &b), TR_EKEY);
	tr_store_close(&b);
	CHECK_INT(tr_store_open(backup, 0, pk, &b), 0);
	CHECK_INT(count(b), 10);
	CHECK_INT(run_check(b, &ck), 0);
	CHECK_INT(ck.n, 0);
	CHECK_INT(ck.records, 10);
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.product = "DW-200";
	EXPECT_SCAN(b, &q, 1, 3, 4, 9);
	q.product = NULL;
	q.ref = ids[4];
	EXPECT_SCAN(b, &q, 6, 7);
	struct audit_ctx au;
	memset(&au, 0, sizeof(au));
	CHECK_INT(tr_store_read(b, audit_scan_fn, &au), 0);
	CHECK_INT(au.n, 3);
	/* the copy goes on: the next record is seq 10 at position 11 */
	mk_set(&m[0], "idea", 11000, "title", "Backups work", "text", "yes", NULL);
	CHECK_INT(create(b, key, m, 1, why, sizeof(why)), 0);
	CHECK_INT(m[0].seq, 10);
	CHECK_INT(pos_of(b, m[0].id), 11);
	tr_store_close(&b);
}

/* ---- 9, 10: damaged copies ---- */

static void test_damage(const uint8_t *pk, const char *dir)
{
	tr_store *s = NULL;
	struct check_ctx ck;
	char cdir[512], cfile[512];
	size_t len;

	/* one byte of a record's text changed in the file */
	make_dir(cdir, sizeof(cdir), "corrupt");
	CHECK_INT(copy_data_file(dir, cdir), 0);
	path_in(cfile, sizeof(cfile), cdir, "data.mdb");
	uint8_t *b = read_all(cfile, &len);
	CHECK(b != NULL);
	if (!b)
		return;
	static const char marker[] = "UNIQUE-MARKER-TEXT";
	size_t found = 0;
	for (uint8_t *p = b; (p = memmem(p, len - (size_t)(p - b), marker, strlen(marker)));
	     p++, found++)
		p[2] ^= 0x03; /* 'I' -> 'J': still printable text; every copy, stale pages too */
	CHECK(found >= 1);
	CHECK_INT(write_all(cfile, b, len), 0);
	free(b);
	CHECK_INT(tr_store_open(cdir, 0, pk, &s), 0);
	CHECK_INT(run_check(s, &ck), 0);
	CHECK(ck.n >= 1);
	CHECK_INT(ck.records, 10);
	CHECK(problem_says(&ck, "digest") || problem_says(&ck, "signature"));
	/* a record that decodes but does not verify still owns its index entries */
	CHECK(!problem_says(&ck, "index"));
	tr_store_close(&s);

	/* an id index entry deleted behind the store's back */
	make_dir(cdir, sizeof(cdir), "noid");
	CHECK_INT(copy_data_file(dir, cdir), 0);
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = {TR_ID_BYTES, ids[2]};
	int rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_maxdbs(env, 16);
	if (!rc)
		rc = mdb_env_open(env, cdir, 0, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, "id", 0, &dbi);
	if (!rc)
		rc = mdb_del(txn, dbi, &k, NULL);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	CHECK_INT(rc, 0);
	mdb_env_close(env);
	CHECK_INT(tr_store_open(cdir, 0, pk, &s), 0);
	CHECK_INT(run_check(s, &ck), 0);
	CHECK(ck.n >= 1);
	CHECK_INT(ck.records, 10);
	CHECK(problem_says(&ck, "id index"));
	tr_store_close(&s);

	/* 10: half the file cut off */
	make_dir(cdir, sizeof(cdir), "trunc");
	CHECK_INT(copy_data_file(dir, cdir), 0);
	path_in(cfile, sizeof(cfile), cdir, "data.mdb");
	struct stat st;
	CHECK_INT(stat(cfile, &st), 0);
	CHECK(st.st_size >= 4 * 4096);
	CHECK_INT(truncate(cfile, st.st_size / 2), 0);
	CHECK_INT(tr_store_open(cdir, 0, pk, &s), TR_ECORRUPT);
	CHECK(strstr(tr_store_detail(s), "truncated") != NULL);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(cdir, TR_STORE_RDONLY, pk, &s), TR_ECORRUPT);
	tr_store_close(&s);
	CHECK_INT(stat(cfile, &st), 0);
	CHECK(st.st_size > 0);
}

/* ---- regressions found in review ---- */

static int minus_one_fn(tr_txn *t, void *ctx)
{
	(void)t;
	(void)ctx;
	return -1;
}

static void test_regressions(const uint8_t *pk, const char *dir)
{
	tr_store *s = NULL;
	char edir[512], efile[512];
	struct stat st;

	/* an empty data.mdb (an init cut short) is refused, not written into */
	make_dir(edir, sizeof(edir), "reg-empty");
	path_in(efile, sizeof(efile), edir, "data.mdb");
	CHECK_INT(write_all(efile, "", 0), 0);
	CHECK_INT(tr_store_open(edir, 0, pk, &s), TR_ESTORE);
	CHECK(strstr(tr_store_detail(s), "empty") != NULL);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(edir, TR_STORE_RDONLY, pk, &s), TR_ESTORE);
	tr_store_close(&s);
	CHECK_INT(stat(efile, &st), 0);
	CHECK_INT(st.st_size, 0);
	/* and init may create over it */
	CHECK_INT(tr_store_open(edir, TR_STORE_CREATE, pk, &s), 0);
	tr_store_close(&s);

	/* creating needs the node's key */
	make_dir(edir, sizeof(edir), "reg-nokey");
	CHECK_INT(tr_store_open(edir, TR_STORE_CREATE, NULL, &s), TR_EINVAL);
	tr_store_close(&s);

	/* cut shorter than LMDB's two header pages: truncated, not foreign */
	make_dir(edir, sizeof(edir), "reg-short");
	CHECK_INT(copy_data_file(dir, edir), 0);
	path_in(efile, sizeof(efile), edir, "data.mdb");
	CHECK_INT(truncate(efile, 4096), 0);
	CHECK_INT(tr_store_open(edir, 0, pk, &s), TR_ECORRUPT);
	CHECK(strstr(tr_store_detail(s), "truncated") != NULL);
	tr_store_close(&s);

	CHECK_INT(tr_store_open(dir, 0, pk, &s), 0);
	/* a callback's own value comes back as it is */
	CHECK_INT(tr_store_read(s, minus_one_fn, NULL), -1);
	CHECK_INT(tr_store_write(s, minus_one_fn, NULL), -1);
	/* nothing comes after the last position */
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.after_pos = UINT64_MAX;
	expect_scan(s, &q, NULL, 0, __LINE__);
	q.kind = "claim";
	expect_scan(s, &q, NULL, 0, __LINE__);
	tr_store_close(&s);
}

/* ---- 8, 6: map growth, ambiguous prefixes ---- */

#define GROW_TOTAL 3000
#define GROW_BATCH 500

struct grow_ctx {
	const tr_key *key;
	unsigned base;
	int calls;
	unsigned done;
	tr_mpw scratch;
	tr_record rec;
	char problem[400];
	char why[256];
};

static int grow_fn(tr_txn *t, void *ctx)
{
	struct grow_ctx *g = ctx;
	g->calls++;
	g->done = 0;
	for (unsigned i = 0; i < GROW_BATCH; i++) {
		unsigned k = g->base + i;
		int n = snprintf(g->problem, sizeof(g->problem),
		                 "Claim %05u: the drain pump stops after a few hundred cycles, "
		                 "the display shows E24, the customer reset it twice and the "
		                 "error came back; water stays in the sump and the door seal "
		                 "smells. Technician visit requested, spare pump ordered from "
		                 "the central warehouse, machine out of service meanwhile.",
		                 k);
		tr_record *r = &g->rec;
		tr_record_init(r);
		r->kind.p = "claim";
		r->kind.n = 5;
		tr_record_add_str(r, "product", k % 2 ? "DW-200" : "DW-300", 6);
		tr_record_add_str(r, "problem", g->problem, (size_t)n);
		tr_record_add_str(r, "opened", "2026-03-01", 10);
		int rc =
		    tr_txn_create(t, g->key, r, 100000 + k, &g->scratch, g->why, sizeof(g->why));
		if (rc)
			return rc;
		g->done++;
	}
	return 0;
}

struct ids_ctx {
	size_t n, cap;
	uint8_t (*id)[TR_ID_BYTES];
};

static int ids_cb(void *ctx, const tr_hit *h)
{
	struct ids_ctx *c = ctx;
	if (c->n == c->cap)
		return ENOMEM;
	memcpy(c->id[c->n++], h->rec->id, TR_ID_BYTES);
	return 0;
}

static int ids_fn(tr_txn *t, void *ctx)
{
	tr_query q;
	memset(&q, 0, sizeof(q));
	return tr_txn_scan(t, &q, ids_cb, ctx);
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, TR_ID_BYTES);
}

static void test_grow(const tr_key *key)
{
	char dir[512];
	tr_store *s = NULL;
	static struct grow_ctx g;

	make_dir(dir, sizeof(dir), "grow");
	CHECK_INT(setenv("TRESTLE_INITIAL_MAP", "131072", 1), 0);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	unsetenv("TRESTLE_INITIAL_MAP");
	if (!s)
		return;
	g.key = key;
	g.calls = 0;
	tr_mpw_init(&g.scratch);
	int ok = 1;
	for (unsigned b = 0; b < GROW_TOTAL; b += GROW_BATCH) {
		g.base = b;
		int rc = tr_store_write(s, grow_fn, &g);
		CHECK_INT(rc, 0);
		CHECK_INT(g.done, GROW_BATCH);
		if (rc) {
			fprintf(stderr, "  batch at %u: %s (%s)\n", b, tr_strerror(rc), g.why);
			ok = 0;
			break;
		}
	}
	tr_mpw_release(&g.scratch);
	CHECK(ok);
	CHECK_INT(count(s), GROW_TOTAL);
	/* the map was full at least once, so some batch ran again on a bigger map */
	CHECK(g.calls > GROW_TOTAL / GROW_BATCH);
	uint64_t size = 0;
	CHECK_INT(tr_store_size(s, &size), 0);
	CHECK(size > 131072);

	struct check_ctx ck;
	CHECK_INT(run_check(s, &ck), 0);
	CHECK_INT(ck.n, 0);
	CHECK_INT(ck.records, GROW_TOTAL);
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "claim";
	q.product = "DW-200";
	q.text = "claim 00077:";
	struct scan_ctx sc;
	memset(&sc, 0, sizeof(sc));
	CHECK_INT(scan(s, &q, &sc), 0);
	CHECK_INT(sc.n, 1);
	CHECK_INT(sc.pos[0], 78);

	/* 6: with 3000 random ids two share their first 4 hex digits (all but certain) */
	struct ids_ctx ic = {0, GROW_TOTAL, calloc(GROW_TOTAL, TR_ID_BYTES)};
	CHECK(ic.id != NULL);
	if (!ic.id) {
		tr_store_close(&s);
		return;
	}
	CHECK_INT(tr_store_read(s, ids_fn, &ic), 0);
	CHECK_INT(ic.n, GROW_TOTAL);
	qsort(ic.id, ic.n, TR_ID_BYTES, id_cmp);
	size_t shared = ic.n, alone = ic.n;
	for (size_t i = 0; i + 1 < ic.n; i++)
		if (shared == ic.n && memcmp(ic.id[i], ic.id[i + 1], 2) == 0)
			shared = i;
	for (size_t i = 0; i < ic.n; i++)
		if (alone == ic.n && (i == 0 || memcmp(ic.id[i - 1], ic.id[i], 2) != 0) &&
		    (i + 1 == ic.n || memcmp(ic.id[i], ic.id[i + 1], 2) != 0))
			alone = i;
	char hex[TR_ID_HEX_SIZE], prefix[8];
	uint8_t id[TR_ID_BYTES];
	CHECK(shared < ic.n);
	if (shared < ic.n) {
		tr_id_hex(ic.id[shared], hex);
		snprintf(prefix, sizeof(prefix), "%.4s", hex);
		CHECK_INT(resolve(s, prefix, id), TR_EAMBIG);
		CHECK_INT(resolve(s, hex, id), 0);
		CHECK(memcmp(id, ic.id[shared], TR_ID_BYTES) == 0);
		tr_id_hex(ic.id[shared + 1], hex);
		CHECK_INT(resolve(s, hex, id), 0);
		CHECK(memcmp(id, ic.id[shared + 1], TR_ID_BYTES) == 0);
	}
	CHECK(alone < ic.n);
	if (alone < ic.n) {
		tr_id_hex(ic.id[alone], hex);
		snprintf(prefix, sizeof(prefix), "%.4s", hex);
		CHECK_INT(resolve(s, prefix, id), 0);
		CHECK(memcmp(id, ic.id[alone], TR_ID_BYTES) == 0);
	}
	free(ic.id);
	tr_store_close(&s);
}

/* Another process grows the map while this one has the store open with the small map:
 * this process's next transactions adopt the new size (the CLI and the daemon share a
 * store). */
static void test_two_processes(const tr_key *key)
{
	char dir[512];
	tr_store *s = NULL;
	static struct grow_ctx g;
	int go[2];

	make_dir(dir, sizeof(dir), "shared");
	CHECK_INT(setenv("TRESTLE_INITIAL_MAP", "131072", 1), 0);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	tr_store_close(&s);
	CHECK_INT(pipe(go), 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) { /* the child opens its own env only after the fork */
		char c;
		int ok = read(go[0], &c, 1) == 1;
		ok = ok && tr_store_open(dir, 0, tr_key_public(key), &s) == 0;
		g.key = key;
		tr_mpw_init(&g.scratch);
		for (unsigned b = 0; ok && b < 3 * GROW_BATCH; b += GROW_BATCH) {
			g.base = b;
			ok = tr_store_write(s, grow_fn, &g) == 0;
		}
		tr_mpw_release(&g.scratch);
		tr_store_close(&s);
		_exit(ok ? 0 : 1);
	}
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	unsetenv("TRESTLE_INITIAL_MAP");
	CHECK_INT(count(s), 0);
	uint64_t before = 0, after = 0;
	CHECK_INT(tr_store_size(s, &before), 0);
	CHECK_INT(write(go[1], "g", 1), 1);
	int status = -1;
	CHECK_INT(pid > 0 ? waitpid(pid, &status, 0) : -1, pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(go[0]);
	close(go[1]);
	CHECK_INT(count(s), 3 * GROW_BATCH);
	CHECK_INT(tr_store_size(s, &after), 0);
	CHECK(after > 131072 && after > before);
	/* and writes here go on at the next position */
	struct mk m;
	mk_set(&m, "account", 1, "name", "Cafe Nord", NULL);
	CHECK_INT(create(s, key, &m, 1, NULL, 0), 0);
	CHECK_INT(m.seq, 3 * GROW_BATCH + 1);
	CHECK_INT(pos_of(s, m.id), 3 * GROW_BATCH + 1);
	struct check_ctx ck;
	CHECK_INT(run_check(s, &ck), 0);
	CHECK_INT(ck.n, 0);
	CHECK_INT(ck.records, 3 * GROW_BATCH + 1);
	tr_store_close(&s);
}

/* ---- sharing: outbound queues, policies, cursors, pending nodes ---- */

struct share_ctx {
	uint32_t partner;
	const char *kind;
	uint64_t backfilled, head, after, next;
	size_t max, n, withheld;
	int more;
	tr_sync_state st;
	tr_partner p;
	const uint8_t *curve;
	uint64_t now;
};

static int allow_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	return tr_txn_policy_allow(t, c->partner, c->kind, 1000, &c->backfilled);
}

static int deny_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	return tr_txn_policy_deny(t, c->partner, c->kind);
}

static int head_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	return tr_txn_out_head(t, c->partner, &c->head);
}

static int read_cb(void *ctx, unsigned depth, const uint8_t *env, size_t len)
{
	struct share_ctx *c = ctx;
	(void)depth;
	tr_record rec;
	CHECK_INT(tr_record_open(env, len, &rec), 0);
	const tr_field *serial = tr_record_field(&rec, "serial");
	if (serial && !serial->disclosed)
		c->withheld++;
	CHECK(!memmem(env, len, "SN-SECRET", 9));
	c->n++;
	return 0;
}

static int out_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	c->n = 0;
	return tr_txn_out_read(t, c->partner, c->after, c->max, 1u << 20, read_cb, c, &c->next,
	                       &c->more);
}

static int partner_put_fn(tr_txn *t, void *ctx)
{
	return tr_txn_partner_put(t, ctx, 0);
}

static int partner_del_fn(tr_txn *t, void *ctx)
{
	return tr_txn_partner_del(t, ((tr_partner *)ctx)->id);
}

static int sync_put_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	return tr_txn_sync_put(t, c->partner, &c->st);
}

static int sync_get_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	return tr_txn_sync_get(t, c->partner, &c->st);
}

static int pending_seen_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	return tr_txn_pending_seen(t, c->curve, "127.0.0.1", c->now);
}

static int pending_count_cb(void *ctx, const tr_pending *p)
{
	struct share_ctx *c = ctx;
	if (!memcmp(p->curve, c->curve, TR_PK_BYTES))
		c->backfilled = p->count; /* attempts of the key asked about */
	c->n++;
	return 0;
}

static int pending_scan_fn(tr_txn *t, void *ctx)
{
	struct share_ctx *c = ctx;
	c->n = 0;
	return tr_txn_pending_scan(t, pending_count_cb, c);
}

static uint64_t head_of(tr_store *s, uint32_t partner)
{
	struct share_ctx c = {.partner = partner};
	CHECK_INT(tr_store_read(s, head_fn, &c), 0);
	return c.head;
}

/* A record by author key, stored as if received from partner source. */
/* hops: the author's onward terms; a claim keeps "serial" private when hops > 0 */
static void receive(tr_store *s, const tr_key *author, uint64_t seq, const char *kind,
                    uint32_t source, uint64_t hops)
{
	tr_record rec;
	tr_mpw w;
	struct add_ctx a;
	tr_record_init(&rec);
	rec.kind.p = kind;
	rec.kind.n = strlen(kind);
	rec.seq = seq;
	rec.created_ms = 5000;
	rec.terms.hops = hops;
	rec.terms.roles = hops ? TR_ROLE_ALL : 0;
	if (!strcmp(kind, "claim")) {
		if (hops) {
			tr_record_add_str(&rec, "serial", "SN-SECRET", 9);
			rec.terms.nprivate = 1;
			rec.terms.private_fields[0].p = "serial";
			rec.terms.private_fields[0].n = 6;
		}
		tr_record_add_str(&rec, "product", "DW-1", 4);
		tr_record_add_str(&rec, "problem", "leak", 4);
		tr_record_add_str(&rec, "opened", "2026-01-02", 10);
	} else {
		tr_record_add_str(&rec, "title", "t", 1);
		tr_record_add_str(&rec, "text", "x", 1);
	}
	tr_mpw_init(&w);
	CHECK_INT(tr_record_seal(&rec, author, &w), 0);
	/* every caller passes records on through another partner: depth 2 */
	CHECK_INT(add_depth(s, tr_mpw_data(&w), tr_mpw_size(&w), source, 2, &a), 0);
	CHECK_INT(a.added, 1);
	tr_mpw_release(&w);
}

static void test_sharing(const tr_key *key, const tr_key *other)
{
	char dir[512];
	tr_store *s = NULL;
	tr_key *third = NULL;
	make_dir(dir, sizeof(dir), "share");
	CHECK_INT(tr_key_new(&third), 0);
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	if (!s || !third)
		return;
	static tr_partner p1, p2;
	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	memcpy(p1.id, tr_key_public(other), TR_PK_BYTES);
	snprintf(p1.name, sizeof(p1.name), "one");
	p1.relation = TR_REL_UPSTREAM;
	p1.role = TR_ROLE_PRODUCER;
	memcpy(p2.id, tr_key_public(third), TR_PK_BYTES);
	snprintf(p2.name, sizeof(p2.name), "two");
	p2.relation = TR_REL_DOWNSTREAM;
	p2.role = TR_ROLE_USER;
	CHECK_INT(tr_store_write(s, partner_put_fn, &p1), 0);
	CHECK_INT(tr_store_write(s, partner_put_fn, &p2), 0);
	CHECK_INT(p1.index, 1);
	CHECK_INT(p2.index, 2);

	/* default deny: records written before any policy are queued for no one */
	struct mk m[5];
	mk_set(&m[0], "claim", 1, "product", "DW-1", "problem", "a", "opened", "2026-01-01", NULL);
	mk_set(&m[1], "claim", 2, "product", "DW-1", "problem", "b", "opened", "2026-01-01", NULL);
	mk_set(&m[2], "idea", 3, "title", "i", "text", "x", NULL);
	mk_set(&m[3], "claim", 4, "product", "DW-2", "problem", "c", "opened", "2026-01-01", NULL);
	mk_set(&m[4], "idea", 5, "title", "j", "text", "y", NULL);
	CHECK_INT(create(s, key, m, 5, NULL, 0), 0);
	CHECK_INT(head_of(s, 1), 0);

	/* allowing a kind backfills what is there, once */
	struct share_ctx c = {.partner = 1, .kind = "claim"};
	CHECK_INT(tr_store_write(s, allow_fn, &c), 0);
	CHECK_INT(c.backfilled, 3);
	CHECK_INT(head_of(s, 1), 3);
	CHECK_INT(tr_store_write(s, allow_fn, &c), TR_EEXIST);
	c.kind = "no_such_kind";
	CHECK_INT(tr_store_write(s, allow_fn, &c), TR_EINVAL);
	c.kind = "claim";
	c.partner = 99;
	CHECK_INT(tr_store_write(s, allow_fn, &c), TR_ENOTFOUND);
	CHECK_INT(head_of(s, 2), 0);

	/* a new record joins the queue in its own transaction */
	mk_set(&m[0], "claim", 6, "product", "DW-3", "problem", "d", "opened", "2026-01-01", NULL);
	CHECK_INT(create(s, key, m, 1, NULL, 0), 0);
	CHECK_INT(head_of(s, 1), 4);

	/* reading in batches: bounded by max, next and more say where to go on */
	c.partner = 1;
	c.after = 0;
	c.max = 3;
	CHECK_INT(tr_store_read(s, out_fn, &c), 0);
	CHECK_INT(c.n, 3);
	CHECK_INT(c.next, 3);
	CHECK_INT(c.more, 1);
	c.after = c.next;
	CHECK_INT(tr_store_read(s, out_fn, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.next, 4);
	CHECK_INT(c.more, 0);
	c.after = 4;
	CHECK_INT(tr_store_read(s, out_fn, &c), 0);
	CHECK_INT(c.n, 0);
	CHECK_INT(c.next, 4);

	/* never back to its author, never back to where it came from; relayed otherwise */
	receive(s, other, 1, "claim", 2, 1); /* by partner one, from partner two */
	CHECK_INT(head_of(s, 1), 4);
	receive(s, third, 1, "claim", 1, 1); /* by partner two, from partner one */
	CHECK_INT(head_of(s, 1), 4);
	tr_key *fourth = NULL;
	CHECK_INT(tr_key_new(&fourth), 0);
	receive(s, fourth, 1, "claim", 2, 0); /* a stranger's, for its first partner only */
	CHECK_INT(head_of(s, 1), 4);
	receive(s, fourth, 2, "claim", 2, 1); /* it came via two: we are hop 2; 1 allowed */
	CHECK_INT(head_of(s, 1), 4);
	receive(s, fourth, 3, "claim", 2, 2); /* two hops beyond the first allowed... */
	CHECK_INT(head_of(s, 1), 4);          /* ...but its author did not consent */
	/* its author becomes a partner and consents: what waited goes */
	static tr_partner p3;
	memset(&p3, 0, sizeof(p3));
	memcpy(p3.id, tr_key_public(fourth), TR_PK_BYTES);
	snprintf(p3.name, sizeof(p3.name), "three");
	p3.relation = TR_REL_DOWNSTREAM;
	p3.role = TR_ROLE_USER;
	CHECK_INT(tr_store_write(s, partner_put_fn, &p3), 0);
	char me[TR_NODEID_TEXT_SIZE];
	tr_nodeid_format(tr_key_public(key), me);
	{
		tr_record cr;
		tr_mpw cw;
		struct add_ctx ca;
		memset(&ca, 0, sizeof(ca));
		tr_record_init(&cr);
		cr.kind.p = "consent";
		cr.kind.n = 7;
		cr.seq = 4;
		cr.created_ms = 6000;
		tr_record_add_str(&cr, "scope", "claims", 6);
		tr_record_add_str(&cr, "grantee", me, strlen(me));
		tr_mpw_init(&cw);
		CHECK_INT(tr_record_seal(&cr, fourth, &cw), 0);
		CHECK_INT(add_depth(s, tr_mpw_data(&cw), tr_mpw_size(&cw), p3.index, 1, &ca), 0);
		tr_mpw_release(&cw);
	}
	CHECK_INT(head_of(s, 1), 5);
	/* relayed without the author's private field, and still verifying */
	c.partner = 1;
	c.after = 4;
	c.max = 10;
	c.withheld = 0;
	CHECK_INT(tr_store_read(s, out_fn, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.withheld, 1);
	c.partner = 2;
	c.kind = "claim";
	CHECK_INT(tr_store_write(s, allow_fn, &c), 0);
	/* 4 own claims + the one by partner one from partner two... which came from two:
	 * no; the one by two: no; the stranger's from two: no */
	CHECK_INT(c.backfilled, 4);

	/* narrowing holds at read time: a pull while denied moves past the records... */
	c.partner = 1;
	CHECK_INT(tr_store_write(s, deny_fn, &c), 0);
	CHECK_INT(tr_store_write(s, deny_fn, &c), TR_ENOTFOUND);
	c.after = 0;
	c.max = 100;
	CHECK_INT(tr_store_read(s, out_fn, &c), 0);
	CHECK_INT(c.n, 0);
	CHECK_INT(c.next, 5);
	/* ...so allowing again queues them again, after that point */
	CHECK_INT(tr_store_write(s, allow_fn, &c), 0);
	CHECK_INT(c.backfilled, 5);
	c.after = 5;
	CHECK_INT(tr_store_read(s, out_fn, &c), 0);
	CHECK_INT(c.n, 5);

	/* both partners take claims: a new one joins both queues (the first partner's
	 * entries sort before the second's, so this is no append to the table) */
	mk_set(&m[0], "claim", 7, "product", "DW-4", "problem", "e", "opened", "2026-01-01", NULL);
	CHECK_INT(create(s, key, m, 1, NULL, 0), 0);
	CHECK_INT(head_of(s, 1), 11);
	CHECK_INT(head_of(s, 2), 5);

	/* cursors */
	c.partner = 1;
	c.st.cursor = 77;
	c.st.epoch = 0x1234567890abcdefull;
	c.st.received = 12;
	CHECK_INT(tr_store_write(s, sync_put_fn, &c), 0);
	memset(&c.st, 0, sizeof(c.st));
	CHECK_INT(tr_store_read(s, sync_get_fn, &c), 0);
	CHECK_INT(c.st.cursor, 77);
	CHECK(c.st.epoch == 0x1234567890abcdefull);
	CHECK_INT(c.st.received, 12);

	/* removing a partner takes its queue, policies and cursor with it */
	CHECK_INT(tr_store_write(s, partner_del_fn, &p1), 0);
	CHECK_INT(tr_store_read(s, head_fn, &c), TR_ENOTFOUND);
	CHECK_INT(tr_store_read(s, sync_get_fn, &c), 0);
	CHECK_INT(c.st.cursor, 0);
	CHECK_INT(head_of(s, 2), 5);
	struct check_ctx ck;
	CHECK_INT(run_check(s, &ck), 0);
	CHECK_INT(ck.n, 0);

	/* pending nodes: counted per key, bounded in number */
	uint8_t curve[TR_PK_BYTES];
	memset(curve, 7, sizeof(curve));
	c.curve = curve;
	c.now = 10;
	CHECK_INT(tr_store_write(s, pending_seen_fn, &c), 0);
	c.now = 20;
	CHECK_INT(tr_store_write(s, pending_seen_fn, &c), 0);
	CHECK_INT(tr_store_read(s, pending_scan_fn, &c), 0);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.backfilled, 2);
	for (int i = 0; i < 300; i++) {
		uint8_t k[TR_PK_BYTES];
		memset(k, 0, sizeof(k));
		k[0] = (uint8_t)(i >> 8);
		k[1] = (uint8_t)i;
		c.curve = k;
		c.now = 100 + (uint64_t)i;
		CHECK_INT(tr_store_write(s, pending_seen_fn, &c), 0);
	}
	c.curve = curve;
	CHECK_INT(tr_store_read(s, pending_scan_fn, &c), 0);
	CHECK_INT(c.n, 256);

	tr_store_close(&s);
	tr_key_destroy(&third);
	tr_key_destroy(&fourth);
}

/* A schema-1 store (issue 2's) is upgraded on open: the sync tables are added, its
 * records stay, and sharing works on it. */
static void test_upgrade(const tr_key *key)
{
	char dir[512];
	tr_store *s = NULL;
	make_dir(dir, sizeof(dir), "upgrade");
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	struct mk m[1];
	mk_set(&m[0], "idea", 1, "title", "old", "text", "from schema 1", NULL);
	CHECK_INT(create(s, key, m, 1, NULL, 0), 0);
	tr_store_close(&s);

	/* make it what schema 1 wrote: no sync tables, schema 1 */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	CHECK_INT(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, 0, &txn), 0);
	static const char *const gone[] = {"outq", "outset", "sync", "pending"};
	for (int i = 0; i < 4; i++) {
		CHECK_INT(mdb_dbi_open(txn, gone[i], 0, &dbi), 0);
		CHECK_INT(mdb_drop(txn, dbi, 1), 0);
	}
	CHECK_INT(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	MDB_val k = {6, "schema"}, v = {8, one};
	CHECK_INT(mdb_put(txn, dbi, &k, &v, 0), 0);
	CHECK_INT(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	CHECK_INT(count(s), 1);
	CHECK_INT(pos_of(s, m[0].id), 1);
	/* the queue epoch: made on upgrade, kept across opens, new on demand */
	uint64_t epoch = tr_store_epoch(s);
	CHECK(epoch != 0);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	CHECK(tr_store_epoch(s) == epoch);
	CHECK_INT(tr_store_new_epoch(s), 0);
	CHECK(tr_store_epoch(s) != epoch && tr_store_epoch(s) != 0);
	epoch = tr_store_epoch(s);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	CHECK(tr_store_epoch(s) == epoch);
	static tr_partner p;
	memset(&p, 0, sizeof(p));
	memset(p.id, 0, sizeof(p.id));
	memcpy(p.id, tr_key_public(key), TR_PK_BYTES);
	p.id[0] ^= 1; /* any other key will do for the store */
	snprintf(p.name, sizeof(p.name), "up");
	p.relation = TR_REL_UPSTREAM;
	CHECK_INT(tr_store_write(s, partner_put_fn, &p), 0);
	struct share_ctx c = {.partner = p.index, .kind = "idea"};
	CHECK_INT(tr_store_write(s, allow_fn, &c), 0);
	CHECK_INT(c.backfilled, 1);
	tr_store_close(&s);
	/* and it says so */
	CHECK_INT(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CHECK_INT(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
	CHECK(v.mv_size == 8 && ((uint8_t *)v.mv_data)[7] == TR_STORE_SCHEMA);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* Allowing a kind on a full map grows the map like any other write (it once said the
 * disk was full). Written in one transaction (so no freed pages to reuse) and reopened
 * asking for a tiny map, the store's map is exactly its data: the backfill must grow. */
static int allow_calls;

static int allow_count_fn(tr_txn *t, void *ctx)
{
	allow_calls++;
	return allow_fn(t, ctx);
}

static void test_allow_grows(const tr_key *key, const tr_key *other)
{
	char dir[512];
	tr_store *s = NULL;
	make_dir(dir, sizeof(dir), "allowgrow");
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	if (!s)
		return;
	static struct mk m[2000];
	for (int i = 0; i < 2000; i++)
		mk_set(&m[i], "claim", (uint64_t)(i + 1), "product", "DW-1", "problem",
		       "a pump that failed after a long while in a busy kitchen", "opened",
		       "2026-01-01", NULL);
	CHECK_INT(create(s, key, m, 2000, NULL, 0), 0);
	static tr_partner p;
	memset(&p, 0, sizeof(p));
	memcpy(p.id, tr_key_public(other), TR_PK_BYTES);
	snprintf(p.name, sizeof(p.name), "big");
	p.relation = TR_REL_UPSTREAM;
	CHECK_INT(tr_store_write(s, partner_put_fn, &p), 0);
	tr_store_close(&s);
	CHECK_INT(setenv("TRESTLE_INITIAL_MAP", "65536", 1), 0);
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	unsetenv("TRESTLE_INITIAL_MAP");
	if (!s)
		return;
	struct share_ctx c = {.partner = p.index, .kind = "claim"};
	allow_calls = 0;
	CHECK_INT(tr_store_write(s, allow_count_fn, &c), 0);
	CHECK(allow_calls > 1); /* the map was full, grew, and the backfill ran again */
	CHECK_INT(c.backfilled, 2000);
	CHECK_INT(head_of(s, p.index), 2000);
	tr_store_close(&s);
}

/* ---- rules: fields, conditions, widening sends only what is new ---- */

struct rule_ctx {
	tr_rule r;
	uint64_t backfilled, narrowed, retracted, tested;
	uint32_t remove;
	int rc;
	char why[400];
	uint8_t id[TR_ID_BYTES];
	uint32_t partner;
	size_t disclosed[16], n;
};

static int rule_add_fn(tr_txn *t, void *ctx)
{
	struct rule_ctx *c = ctx;
	return tr_txn_rule_add(t, &c->r, 1000, &c->backfilled, c->why, sizeof(c->why));
}

static int rule_remove_fn(tr_txn *t, void *ctx)
{
	struct rule_ctx *c = ctx;
	return tr_txn_rule_remove(t, c->remove, 0, 1000, &c->narrowed, &c->retracted);
}

static int tested_cb(void *ctx, const tr_hit *h, uint32_t give, int queued, uint32_t had)
{
	(void)h;
	(void)give;
	(void)queued;
	(void)had;
	((struct rule_ctx *)ctx)->tested++;
	return 0;
}

static int rule_test_fn(tr_txn *t, void *ctx)
{
	struct rule_ctx *c = ctx;
	c->tested = 0;
	return tr_txn_policy_test(t, c->partner, NULL, tested_cb, c);
}

static int fields_cb(void *ctx, unsigned depth, const uint8_t *env, size_t len)
{
	struct rule_ctx *c = ctx;
	tr_record rec;
	(void)depth;
	CHECK_INT(tr_record_open(env, len, &rec), 0);
	size_t d = 0;
	for (size_t i = 0; i < rec.nfields; i++)
		d += rec.fields[i].disclosed != 0;
	if (c->n < 16)
		c->disclosed[c->n++] = d;
	CHECK(!memmem(env, len, "Customer", 8) || d == rec.nfields);
	return 0;
}

static int fields_fn(tr_txn *t, void *ctx)
{
	struct rule_ctx *c = ctx;
	uint64_t next;
	int more;
	c->n = 0;
	return tr_txn_out_read(t, c->partner, 0, 100, 1u << 20, fields_cb, c, &next, &more);
}

static int grant_fn(tr_txn *t, void *ctx)
{
	struct rule_ctx *c = ctx;
	return tr_txn_grant(t, c->partner, c->id, NULL, 0, c->why, sizeof(c->why));
}

static void test_rules(const tr_key *key, const tr_key *other)
{
	char dir[512];
	tr_store *s = NULL;
	make_dir(dir, sizeof(dir), "rules");
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	if (!s)
		return;
	static tr_partner acme, cafe;
	memset(&acme, 0, sizeof(acme));
	memset(&cafe, 0, sizeof(cafe));
	tr_key *third = NULL;
	CHECK_INT(tr_key_new(&third), 0);
	memcpy(acme.id, tr_key_public(other), TR_PK_BYTES);
	snprintf(acme.name, sizeof(acme.name), "acme");
	acme.relation = TR_REL_UPSTREAM;
	acme.role = TR_ROLE_PRODUCER;
	memcpy(cafe.id, tr_key_public(third), TR_PK_BYTES);
	snprintf(cafe.name, sizeof(cafe.name), "cafe");
	cafe.relation = TR_REL_DOWNSTREAM;
	cafe.role = TR_ROLE_USER;
	CHECK_INT(tr_store_write(s, partner_put_fn, &acme), 0);
	CHECK_INT(tr_store_write(s, partner_put_fn, &cafe), 0);

	/* five claims of this node: three about DW-X, two about DW-Y */
	struct mk m[5];
	for (int i = 0; i < 5; i++)
		mk_set(&m[i], "claim", (uint64_t)(100 + i), "product", i < 3 ? "DW-X" : "DW-Y",
		       "problem", "leak", "opened", "2026-03-01", "customer", "Customer AB", NULL);
	CHECK_INT(create(s, key, m, 5, NULL, 0), 0);

	/* DW-X claims, product and problem only */
	struct rule_ctx c;
	memset(&c, 0, sizeof(c));
	c.r.partner = acme.index;
	snprintf(c.r.kind, sizeof(c.r.kind), "claim");
	c.r.nfields = 2;
	snprintf(c.r.fields[0], sizeof(c.r.fields[0]), "product");
	snprintf(c.r.fields[1], sizeof(c.r.fields[1]), "problem");
	CHECK_INT(tr_cond_parse("product=DW-X", &c.r.conds[0], c.why, sizeof(c.why)), 0);
	c.r.nconds = 1;
	CHECK_INT(tr_store_write(s, rule_add_fn, &c), 0);
	CHECK_INT(c.backfilled, 3);
	CHECK_INT(c.r.id, 1);
	c.partner = acme.index;
	CHECK_INT(tr_store_read(s, fields_fn, &c), 0);
	CHECK_INT(c.n, 3);
	CHECK_INT(c.disclosed[0], 2); /* customer and opened travel as digests */
	/* DW-Y too: only the two new ones are queued */
	CHECK_INT(tr_cond_parse("product=DW-Y|DW-Z", &c.r.conds[0], c.why, sizeof(c.why)), 0);
	CHECK_INT(tr_store_write(s, rule_add_fn, &c), 0);
	CHECK_INT(c.backfilled, 2);
	CHECK_INT(head_of(s, acme.index), 5);
	/* DW-X and DW-Y with all fields: all five again, now in full */
	c.r.all_fields = 1;
	c.r.nfields = 0;
	CHECK_INT(tr_cond_parse("product=DW-?", &c.r.conds[0], c.why, sizeof(c.why)), 0);
	CHECK_INT(tr_cond_parse("problem=*ea*", &c.r.conds[1], c.why, sizeof(c.why)), 0);
	c.r.nconds = 2;
	CHECK_INT(tr_store_write(s, rule_add_fn, &c), 0);
	CHECK_INT(c.backfilled, 5);
	CHECK_INT(head_of(s, acme.index), 10);
	CHECK_INT(tr_store_read(s, fields_fn, &c), 0);
	CHECK_INT(c.n, 10);
	CHECK_INT(c.disclosed[0], 4);
	/* a dry run lists what acme gets */
	CHECK_INT(tr_store_read(s, rule_test_fn, &c), 0);
	CHECK_INT(c.tested, 5);
	/* removing the wide rule narrows them all at once */
	c.remove = c.r.id;
	CHECK_INT(tr_store_write(s, rule_remove_fn, &c), 0);
	CHECK_INT(c.narrowed, 5);
	CHECK_INT(tr_store_read(s, fields_fn, &c), 0);
	CHECK_INT(c.disclosed[0], 2);
	c.remove = 99;
	CHECK_INT(tr_store_write(s, rule_remove_fn, &c), TR_ENOTFOUND);

	/* bad rules are refused with the reason, and change nothing */
	c.r.nconds = 1;
	CHECK_INT(tr_cond_parse("colour=red", &c.r.conds[0], c.why, sizeof(c.why)), 0);
	CHECK_INT(tr_store_write(s, rule_add_fn, &c), TR_EINVAL);
	CHECK(strstr(c.why, "does not have") != NULL);
	CHECK_INT(tr_cond_parse("product", &c.r.conds[0], c.why, sizeof(c.why)), TR_EINVAL);
	CHECK(strstr(c.why, "FIELD=PATTERN") != NULL);
	CHECK_INT(tr_cond_parse("product=", &c.r.conds[0], c.why, sizeof(c.why)), TR_EINVAL);
	c.r.nconds = 0;
	snprintf(c.r.kind, sizeof(c.r.kind), "receipt");
	CHECK_INT(tr_store_write(s, rule_add_fn, &c), TR_EINVAL);
	CHECK_INT(head_of(s, acme.index), 10);

	/* a user firm's idea for its first partner only: no grant sends it further */
	tr_record rec;
	tr_mpw w;
	struct add_ctx a;
	tr_record_init(&rec);
	rec.kind.p = "idea";
	rec.kind.n = 4;
	rec.seq = 1;
	rec.created_ms = 5000;
	tr_record_add_str(&rec, "title", "t", 1);
	tr_record_add_str(&rec, "text", "x", 1);
	tr_mpw_init(&w);
	CHECK_INT(tr_record_seal(&rec, third, &w), 0);
	CHECK_INT(add_depth(s, tr_mpw_data(&w), tr_mpw_size(&w), cafe.index, 1, &a), 0);
	tr_mpw_release(&w);
	memcpy(c.id, rec.id, TR_ID_BYTES);
	c.partner = acme.index;
	CHECK_INT(tr_store_write(s, grant_fn, &c), TR_EPERM);
	CHECK(strstr(c.why, "travel that far") != NULL);
	CHECK(strstr(c.why, "no other partner") != NULL);
	CHECK_INT(head_of(s, acme.index), 10);

	tr_key_destroy(&third);
	tr_store_close(&s);
}

/* ---- a retraction honoured, then compaction: the bytes are gone from the file ---- */

struct honour_ctx {
	const uint8_t *env[2];
	size_t len[2];
	tr_record *rec[2];
	uint32_t source;
};

static int honour_fn(tr_txn *t, void *ctx)
{
	struct honour_ctx *c = ctx;
	for (int i = 0; i < 2; i++) {
		int added,
		    rc = tr_txn_add(t, c->env[i], c->len[i], c->rec[i], c->source, 1, &added);
		if (rc)
			return rc;
	}
	return 0;
}

static int file_has(const char *dir, const char *what)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	static char buf[1 << 22];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return memmem(buf, n, what, strlen(what)) != NULL;
}

static void test_retract_compact(const tr_key *key, const tr_key *other)
{
	char dir[512];
	tr_store *s = NULL;
	make_dir(dir, sizeof(dir), "scrub");
	CHECK_INT(tr_store_open(dir, TR_STORE_CREATE, tr_key_public(key), &s), 0);
	if (!s)
		return;
	tr_store_set_key(s, key);
	static tr_partner p;
	memset(&p, 0, sizeof(p));
	memcpy(p.id, tr_key_public(other), TR_PK_BYTES);
	snprintf(p.name, sizeof(p.name), "p");
	p.relation = TR_REL_UPSTREAM;
	p.role = TR_ROLE_DISTRIBUTOR;
	CHECK_INT(tr_store_write(s, partner_put_fn, &p), 0);
	/* a claim large enough for LMDB's overflow pages, and its author's retraction of
	 * two fields, in one transaction (the record's pages are changed in place) */
	static char problem[3001];
	memset(problem, 'p', 3000);
	memcpy(problem, "PROBLEM-KEPT", 12);
	tr_record r, x;
	tr_mpw wr, wx;
	tr_mpw_init(&wr);
	tr_mpw_init(&wx);
	tr_record_init(&r);
	r.kind.p = "claim";
	r.kind.n = 5;
	r.seq = 1;
	r.created_ms = 1000;
	tr_record_add_str(&r, "product", "PRODUCT-CANARY", 14);
	tr_record_add_str(&r, "problem", problem, 3000);
	tr_record_add_str(&r, "opened", "2026-01-01", 10);
	tr_record_add_str(&r, "customer", "CUSTOMER-CANARY", 15);
	CHECK_INT(tr_record_seal(&r, other, &wr), 0);
	tr_record_init(&x);
	x.kind.p = "retraction";
	x.kind.n = 10;
	x.seq = 2;
	x.created_ms = 2000;
	x.nrefs = 1;
	memcpy(x.refs[0], r.id, TR_ID_BYTES);
	tr_record_add_str(&x, "fields", "customer,product", 16);
	CHECK_INT(tr_record_seal(&x, other, &wx), 0);
	tr_record ro, xo;
	CHECK_INT(tr_record_open(tr_mpw_data(&wr), tr_mpw_size(&wr), &ro), 0);
	CHECK_INT(tr_record_open(tr_mpw_data(&wx), tr_mpw_size(&wx), &xo), 0);
	struct honour_ctx c = {{tr_mpw_data(&wr), tr_mpw_data(&wx)},
	                       {tr_mpw_size(&wr), tr_mpw_size(&wx)},
	                       {&ro, &xo},
	                       p.index};
	CHECK_INT(tr_store_write(s, honour_fn, &c), 0);
	CHECK_INT(tr_store_needs_compact(s), 1);
	/* the flag survives a restart: compaction is not forgotten */
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	if (!s)
		goto out;
	tr_store_set_key(s, key);
	CHECK_INT(tr_store_needs_compact(s), 1);
	int done = 0;
	CHECK_INT(tr_store_compact(s, &done), 0);
	CHECK_INT(done, 1);
	CHECK_INT(tr_store_needs_compact(s), 0);
	CHECK_INT(file_has(dir, "CUSTOMER-CANARY"), 0);
	CHECK_INT(file_has(dir, "PRODUCT-CANARY"), 0);
	CHECK_INT(file_has(dir, "PROBLEM-KEPT"), 1); /* not retracted: still there */
	/* and the store works on: the record is there, without the two fields */
	struct get_ctx g = {r.id, NULL, 0, 0};
	CHECK_INT(tr_store_read(s, get_fn, &g), 0);
	if (g.copy) {
		tr_record back;
		CHECK_INT(tr_record_open(g.copy, g.len, &back), 0);
		CHECK(!tr_record_field(&back, "customer")->disclosed);
		CHECK(tr_record_field(&back, "problem")->disclosed);
	}
	free(g.copy);
	tr_store_close(&s);
	CHECK_INT(tr_store_open(dir, 0, tr_key_public(key), &s), 0);
	CHECK_INT(s ? tr_store_needs_compact(s) : -1, 0);
out:
	tr_mpw_release(&wr);
	tr_mpw_release(&wx);
	tr_store_close(&s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	snprintf(base, sizeof(base), "/tmp/trestle-test-store-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 2;
	}
	tr_key *key = NULL, *other = NULL;
	CHECK_INT(tr_key_new(&key), 0);
	CHECK_INT(tr_key_new(&other), 0);
	if (!key || !other)
		return tr_test_done();

	char dir[512], backup[512];
	make_dir(dir, sizeof(dir), "node");
	make_dir(backup, sizeof(backup), "backup");
	test_open(key, other, dir);
	test_foreign(tr_key_public(key));
	test_records(key, other, dir, backup);
	test_damage(tr_key_public(key), dir);
	test_regressions(tr_key_public(key), dir);
	test_grow(key);
	test_two_processes(key);
	test_sharing(key, other);
	test_rules(key, other);
	test_retract_compact(key, other);
	test_upgrade(key);
	test_allow_grows(key, other);

	tr_key_destroy(&key);
	tr_key_destroy(&other);
	CHECK_INT(nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	CHECK(access(base, F_OK) != 0);
	return tr_test_done();
}
