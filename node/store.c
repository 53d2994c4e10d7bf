/* store.c: the node's LMDB store. Owns the env; maps LMDB's errors where they enter;
 * grows the map when it is full. Must never: use data from a transaction after it
 * ended, open a file that is not a trestle store read-write, print, or exit. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <sodium.h>

#include "error.h"
#include "kind.h"
#include "store_int.h"
#include "lifecycle.h"
#include "banned.h"

#define STORE_MAGIC "trestle-store"
#define INITIAL_MAP (64ull << 20)

static const struct {
	const char *name;
	unsigned flags;
} db_def[DB_COUNT] = {
    [DB_META] = {"meta", 0},
    [DB_REC] = {"rec", 0},
    [DB_ID] = {"id", 0},
    [DB_KIND] = {"by_kind", MDB_DUPSORT | MDB_DUPFIXED},
    [DB_AUTHOR] = {"by_author", MDB_DUPSORT | MDB_DUPFIXED},
    [DB_REF] = {"by_ref", MDB_DUPSORT | MDB_DUPFIXED},
    [DB_PRODUCT] = {"by_product", MDB_DUPSORT | MDB_DUPFIXED},
    [DB_PARTNERS] = {"partners", 0},
    [DB_POLICIES] = {"policies", 0},
    [DB_AUDIT] = {"audit", 0},
    [DB_OUTQ] = {"outq", 0},
    [DB_OUTSET] = {"outset", 0},
    [DB_SYNC] = {"sync", 0},
    [DB_PENDING] = {"pending", 0},
    [DB_RULES] = {"rules", 0},
    [DB_GRANTS] = {"grants", 0},
    [DB_INBOX] = {"inbox", 0},
    [DB_CONSENT] = {"consent", 0},
};

/* LMDB codes become trestle's where they enter. */
int store_map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return TR_ENOTFOUND;
	case MDB_KEYEXIST:
		return TR_EEXIST;
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		return TR_ESTORE;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_PANIC:
	case MDB_BAD_TXN:
		return TR_ECORRUPT;
	case MDB_READERS_FULL:
		return TR_EBUSY;
	case MDB_MAP_FULL:
		/* kept as it is inside a transaction, so that tr_store_write can grow the map
		 * and run the callback again; final_err() makes it ENOSPC for the caller */
		return MDB_MAP_FULL;
	}
	if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
		return TR_ECORRUPT; /* LMDB's other codes: a broken store or environment */
	return rc; /* errno values, TR_E* codes, and callbacks' own values pass through */
}

/* What a tr_store_* call returns: a full map that could not grow is a full disk. */
static int final_err(int rc)
{
	rc = store_map_err(rc);
	return rc == MDB_MAP_FULL ? ENOSPC : rc;
}

__attribute__((format(printf, 2, 3))) static void detail(tr_store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
}

const char *tr_store_detail(const tr_store *s)
{
	return s ? s->detail : "";
}

/* A store file shorter than the pages LMDB says are in use would fault when read. */
static int check_file_size(tr_store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	struct stat fs;
	char file[4200];
	if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
		return TR_ECORRUPT;
	snprintf(file, sizeof(file), "%s/data.mdb", s->path);
	if (stat(file, &fs) != 0)
		return errno;
	if ((uint64_t)fs.st_size < ((uint64_t)info.me_last_pgno + 1) * st.ms_psize) {
		detail(s, "%s/data.mdb is shorter than its own index says: the file was truncated",
		       s->path);
		return TR_ECORRUPT;
	}
	return 0;
}

/* 1 if file starts with an LMDB meta page (its magic 0xBEEFC0DE after the page header) */
static int looks_like_lmdb(const char *file)
{
	uint8_t b[20];
	FILE *f = fopen(file, "rb");
	if (!f)
		return 0;
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	uint32_t magic =
	    (uint32_t)b[16] | (uint32_t)b[17] << 8 | (uint32_t)b[18] << 16 | (uint32_t)b[19] << 24;
	return n == sizeof(b) && magic == 0xBEEFC0DEu;
}

static int open_dbs(tr_store *s, MDB_txn *txn, int create, int count)
{
	for (int i = 0; i < count; i++) {
		int rc = mdb_dbi_open(txn, db_def[i].name,
		                      db_def[i].flags | (create ? MDB_CREATE : 0), &s->dbi[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int meta_get(tr_store *s, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val k = {strlen(key), (void *)key};
	return mdb_get(txn, s->dbi[DB_META], &k, v);
}

static int meta_put(tr_store *s, MDB_txn *txn, const char *key, const void *val, size_t n)
{
	MDB_val k = {strlen(key), (void *)key}, v = {n, (void *)val};
	return mdb_put(txn, s->dbi[DB_META], &k, &v, 0);
}

int store_meta_get(tr_txn *t, const char *key, MDB_val *v)
{
	return meta_get(t->s, t->txn, key, v);
}

int store_meta_put(tr_txn *t, const char *key, const void *val, size_t n)
{
	return meta_put(t->s, t->txn, key, val, n);
}

/* Checks a store is ours before anything writes to it: the unnamed database of a
 * trestle store holds exactly our sub-database names, and meta says who and which
 * version. */
static int check_identity(tr_store *s, MDB_txn *txn, const uint8_t node[TR_PK_BYTES])
{
	MDB_dbi main_db;
	MDB_val k = {4, "meta"}, v;
	int rc = mdb_dbi_open(txn, NULL, 0, &main_db);
	if (rc)
		return rc;
	rc = mdb_get(txn, main_db, &k, &v);
	if (rc == MDB_NOTFOUND) {
		detail(s,
		       "%s holds an LMDB database that is not a trestle store; it was not changed",
		       s->path);
		return TR_ESTORE;
	}
	if (rc)
		return rc;
	rc = open_dbs(s, txn, 0, DB_COUNT_V1);
	if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
		detail(s, "%s is not a complete trestle store; it was not changed", s->path);
		return TR_ESTORE;
	}
	if (rc)
		return rc;
	if (meta_get(s, txn, "magic", &v) || v.mv_size != strlen(STORE_MAGIC) ||
	    memcmp(v.mv_data, STORE_MAGIC, v.mv_size) != 0) {
		detail(s, "%s is not a trestle store; it was not changed", s->path);
		return TR_ESTORE;
	}
	if (meta_get(s, txn, "schema", &v) || v.mv_size != 8) {
		detail(s, "%s has no schema version; it was not changed", s->path);
		return TR_ESTORE;
	}
	uint64_t schema = get_be64(v.mv_data);
	if (schema == 1 || schema == 2)
		s->upgrade = (int)schema; /* upgraded on open: see upgrade() */
	else if (schema != TR_STORE_SCHEMA) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%" PRIu64, schema);
		snprintf(s->detail, sizeof(s->detail),
		         "%s has store schema version %s; this trestle reads version %d (upgrade "
		         "trestle, or use the trestle that wrote it)",
		         s->path, buf, TR_STORE_SCHEMA);
		return TR_ESTORE;
	}
	if (meta_get(s, txn, "node", &v) || v.mv_size != TR_PK_BYTES)
		return TR_ESTORE;
	memcpy(s->node, v.mv_data, TR_PK_BYTES);
	if (node && memcmp(s->node, node, TR_PK_BYTES) != 0) {
		detail(s, "%s belongs to another node key than this node's key file", s->path);
		return TR_EKEY;
	}
	if (meta_get(s, txn, "epoch", &v) == 0 && v.mv_size == 8)
		s->epoch = get_be64(v.mv_data);
	s->scrub = meta_get(s, txn, "scrub", &v) == 0; /* retracted bytes await compaction */
	if (!s->upgrade && (rc = open_dbs(s, txn, 0, DB_COUNT)) != 0) {
		detail(s, "%s is not a complete trestle store; it was not changed", s->path);
		return TR_ESTORE;
	}
	return 0;
}

/* A fresh random queue epoch (never 0: 0 means "none yet" to a puller). */
static int put_epoch(tr_store *s, MDB_txn *txn)
{
	uint8_t b[8];
	do
		randombytes_buf(b, sizeof(b));
	while (get_be64(b) == 0);
	s->epoch = get_be64(b);
	return meta_put(s, txn, "epoch", b, 8);
}

static int init_new(tr_store *s, MDB_txn *txn, const uint8_t node[TR_PK_BYTES])
{
	MDB_stat st;
	MDB_dbi main_db;
	int rc = mdb_dbi_open(txn, NULL, 0, &main_db);
	if (!rc)
		rc = mdb_stat(txn, main_db, &st);
	if (rc)
		return rc;
	if (st.ms_entries != 0) {
		detail(s, "%s already holds a database; it was not changed", s->path);
		return TR_EEXIST;
	}
	uint8_t schema[8], seq[8];
	put_be64(schema, TR_STORE_SCHEMA);
	put_be64(seq, 0);
	rc = open_dbs(s, txn, 1, DB_COUNT);
	if (!rc)
		rc = meta_put(s, txn, "magic", STORE_MAGIC, strlen(STORE_MAGIC));
	if (!rc)
		rc = meta_put(s, txn, "schema", schema, 8);
	if (!rc)
		rc = meta_put(s, txn, "node", node, TR_PK_BYTES);
	memcpy(s->node, node, TR_PK_BYTES);
	if (!rc)
		rc = meta_put(s, txn, "seq", seq, 8);
	if (!rc)
		rc = put_epoch(s, txn);
	return rc;
}

/* Depth of a record stored before schema 3 (which did not keep it): 0 if this node
 * wrote it, 1 if it came from its author, 2 if from another partner (schema 2 relayed
 * those as "at least one hop further"), unknown if imported from a file. */
static int upgrade_depths(tr_txn *t)
{
	struct partner_list l;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = store_partner_load_all(t, &l);
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi[DB_REC], &c)) != 0) {
		free(l.v);
		return rc;
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		tr_record *rec = &t->scratch_rec;
		if (v.mv_size < REC_PREFIX ||
		    tr_record_decode((const uint8_t *)v.mv_data + REC_PREFIX,
		                     v.mv_size - REC_PREFIX, rec) != 0)
			continue; /* `trestle verify` reports it */
		uint32_t source = get_be32((const uint8_t *)v.mv_data + 1);
		unsigned depth = 0;
		if (memcmp(rec->author, t->s->node, TR_PK_BYTES) != 0) {
			depth = source == TR_SOURCE_LOCAL || source == TR_SOURCE_IMPORT
			            ? TR_DEPTH_MAX
			            : 2;
			for (size_t i = 0; i < l.n; i++)
				if (l.v[i].index == source &&
				    !memcmp(l.v[i].id, rec->author, TR_PK_BYTES))
					depth = 1;
		}
		if (depth == 0)
			continue;
		uint8_t *copy = malloc(v.mv_size);
		if (!copy) {
			rc = ENOMEM;
			break;
		}
		memcpy(copy, v.mv_data, v.mv_size);
		copy[0] = (uint8_t)depth;
		MDB_val nv = {v.mv_size, copy};
		rc = mdb_cursor_put(c, &k, &nv, MDB_CURRENT); /* same size: the cursor stays */
		free(copy);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	free(l.v);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Schema 1 -> 2 added the sync tables and a queue epoch; 2 -> 3 adds the tables of
 * rules, grants, the inbox and consents, turns each (partner, kind) policy into a rule
 * that forwards all fields, and writes each record's depth. */
static int upgrade_once(tr_store *s);

static int grow(tr_store *s);

/* The upgrade rewrites every record received: it may need more map than the store had
 * (grown and run again, as tr_store_write does). */
static int upgrade(tr_store *s)
{
	uint64_t epoch = s->epoch; /* put_epoch sets it before the commit */
	for (int tries = 0;; tries++) {
		int rc = upgrade_once(s);
		if (rc)
			s->epoch = epoch;
		if (rc != MDB_MAP_FULL || tries == 16)
			return rc;
		if ((rc = grow(s)) != 0)
			return rc;
	}
}

static int upgrade_once(tr_store *s)
{
	MDB_txn *txn;
	uint8_t schema[8];
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return rc;
	put_be64(schema, TR_STORE_SCHEMA);
	rc = open_dbs(s, txn, 1, DB_COUNT);
	if (!rc && s->upgrade) {
		tr_txn t;
		memset(&t, 0, offsetof(tr_txn, scratch_rec));
		t.s = s;
		t.txn = txn;
		rc = share_upgrade_policies(&t);
		if (!rc)
			rc = upgrade_depths(&t);
		share_rules_free(&t);
	}
	if (!rc)
		rc = meta_put(s, txn, "schema", schema, 8);
	if (!rc && !s->epoch)
		rc = put_epoch(s, txn);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int tr_store_open(const char *dir, int flags, const uint8_t node[TR_PK_BYTES], tr_store **out)
{
	int rc;
	MDB_txn *txn = NULL;
	struct stat st;
	tr_store *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	*out = s; /* so the caller can read the detail even on failure */
	s->lockfd = -1;
	snprintf(s->path, sizeof(s->path), "%s", dir);
	char file[4200];
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	if ((flags & TR_STORE_CREATE) && !node)
		return TR_EINVAL;
	/* an empty data.mdb (an init cut short) counts as no store: LMDB would write into it */
	int exists = stat(file, &st) == 0 && st.st_size > 0;
	if (!(flags & TR_STORE_CREATE) && !exists && stat(file, &st) == 0) {
		detail(s,
		       "%s/data.mdb is empty: an init was cut short? Run `trestle init --force` "
		       "(it moves the old files aside)",
		       dir);
		return TR_ESTORE;
	}
	if (!(flags & TR_STORE_CREATE) && !exists) {
		detail(s, "no store at %s (run `trestle init` first)", dir);
		return TR_ENOTFOUND;
	}
	if (exists && (uint64_t)st.st_size < 2 * 4096 && looks_like_lmdb(file)) {
		detail(s, "%s/data.mdb is shorter than LMDB's own header: the file was truncated",
		       dir);
		return TR_ECORRUPT;
	}
	if ((flags & TR_STORE_CREATE) && exists) {
		detail(s, "%s already holds a store", dir);
		return TR_EEXIST;
	}
	/* held shared while the store is open in this process: `compact` swaps the file
	 * only when it gets it exclusive, that is when no other process has it open */
	char lockf[4200];
	snprintf(lockf, sizeof(lockf), "%s/compact.lock", dir);
	s->lockfd = open(lockf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0)
		s->lockfd = open(lockf, O_RDONLY | O_CLOEXEC); /* flock needs no write access */
	if (s->lockfd >= 0 && flock(s->lockfd, LOCK_SH) != 0) {
		close(s->lockfd);
		s->lockfd = -1;
	}
	if (s->lockfd < 0 && !(flags & TR_STORE_RDONLY)) {
		/* without it a compaction could swap the file under this process */
		detail(s, "cannot lock %s: %s", lockf, strerror(errno));
		return errno ? errno : TR_EBUSY;
	}
	if ((rc = mdb_env_create(&s->env)) != 0)
		goto fail;
	mdb_env_set_maxdbs(s->env, DB_COUNT + 2);
	mdb_env_set_maxreaders(s->env, 126);
	uint64_t map = INITIAL_MAP;
	const char *m = getenv("TRESTLE_INITIAL_MAP"); /* tests: exercise map growth */
	if (m && strtoull(m, NULL, 10) >= 65536)
		map = strtoull(m, NULL, 10);
	mdb_env_set_mapsize(s->env, map);
	/* NORDAHEAD: index pages are read at random; readahead would only fill the page
	 * cache with neighbours (LMDB recommends it for stores that may outgrow RAM) */
	unsigned envflags =
	    MDB_NOTLS | MDB_NORDAHEAD | ((flags & TR_STORE_RDONLY) ? MDB_RDONLY : 0);
	s->envflags = envflags;
	rc = mdb_env_open(s->env, dir, envflags, 0600);
	if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
		detail(s,
		       "%s/data.mdb is not an LMDB file of this format: not a trestle store, or "
		       "damaged; it was not changed",
		       dir);
		rc = TR_ESTORE;
		goto fail;
	}
	if (rc)
		goto fail;
	if (exists && (rc = check_file_size(s)) != 0)
		goto fail;

	if (flags & TR_STORE_CREATE) {
		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
			goto fail;
		if ((rc = init_new(s, txn, node)) != 0)
			goto fail;
		rc = mdb_txn_commit(txn);
		txn = NULL;
		if (rc)
			goto fail;
	} else {
		/* a read transaction first: a foreign file is refused before any write */
		if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
			goto fail;
		if ((rc = check_identity(s, txn, node)) != 0)
			goto fail;
		/* committing (not aborting) keeps the dbi handles opened in it */
		rc = mdb_txn_commit(txn);
		txn = NULL;
		if (rc)
			goto fail;
		if ((s->upgrade || !s->epoch) && !(flags & TR_STORE_RDONLY) &&
		    (rc = upgrade(s)) != 0)
			goto fail;
	}
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	rc = final_err(rc);
	if (!s->detail[0])
		snprintf(s->detail, sizeof(s->detail), "cannot open the store at %s: %s", dir,
		         tr_strerror(rc));
	return rc;
}

void tr_store_close(tr_store **s)
{
	if (!s || !*s)
		return;
	if ((*s)->env)
		mdb_env_close((*s)->env);
	if ((*s)->lockfd >= 0)
		close((*s)->lockfd);
	free(*s);
	*s = NULL;
}

static int grow(tr_store *s)
{
	MDB_envinfo info;
	int rc = mdb_env_info(s->env, &info);
	if (rc)
		return rc;
	size_t next = info.me_mapsize * 2;
	if (next < info.me_mapsize)
		return ENOSPC;
	return mdb_env_set_mapsize(s->env, next);
}

static int run(tr_store *s, int (*fn)(tr_txn *t, void *ctx), void *ctx, int write)
{
	for (;;) {
		tr_txn t;
		memset(&t, 0, offsetof(tr_txn, scratch_rec));
		t.s = s;
		int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t.txn);
		if (rc == MDB_MAP_RESIZED) { /* another process grew it: adopt its size */
			rc = mdb_env_set_mapsize(s->env, 0);
			if (rc)
				return final_err(rc);
			continue;
		}
		if (rc)
			return final_err(rc);
		rc = fn(&t, ctx);
		share_rules_free(&t);
		if (rc == 0 && write)
			rc = mdb_txn_commit(t.txn);
		else
			mdb_txn_abort(t.txn);
		if (rc == MDB_MAP_FULL && write) {
			rc = grow(s); /* no transaction is open in this process now */
			if (rc)
				return final_err(rc);
			continue;
		}
		return final_err(rc);
	}
}

int tr_store_write(tr_store *s, int (*fn)(tr_txn *t, void *ctx), void *ctx)
{
	s->detail[0] = '\0';
	return run(s, fn, ctx, 1);
}

int tr_store_read(tr_store *s, int (*fn)(tr_txn *t, void *ctx), void *ctx)
{
	return run(s, fn, ctx, 0);
}

int tr_store_backup(tr_store *s, const char *dir)
{
	char file[4200];
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	/* our own descriptor: the copy is private (0600) from its first byte, and an
	 * existing file is never overwritten */
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? TR_EEXIST : errno;
	int rc = store_map_err(mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT));
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (rc)
		unlink(file);
	return rc;
}

void tr_store_trim(tr_store *s)
{
	/* LMDB maps the file read-only and shared (no MDB_WRITEMAP): dropping the mapping's
	 * pages loses nothing, a later access maps them again from the page cache. LMDB
	 * does not say where its map is (mdb_env_info's address is FIXEDMAP's only), so
	 * find it the way the kernel lists it. */
	char file[4200], real[PATH_MAX], line[PATH_MAX + 128];
	snprintf(file, sizeof(file), "%s/data.mdb", s->path);
	if (!realpath(file, real))
		return;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	size_t rlen = strlen(real);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		unsigned long lo, hi;
		if (n < rlen || strcmp(line + n - rlen, real) != 0 ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2 || hi <= lo)
			continue;
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	fclose(f);
}

uint64_t tr_store_epoch(const tr_store *s)
{
	return s->epoch;
}

int tr_store_new_epoch(tr_store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return final_err(rc);
	if ((rc = put_epoch(s, txn)) != 0) {
		mdb_txn_abort(txn);
		return final_err(rc);
	}
	return final_err(mdb_txn_commit(txn));
}

int tr_store_needs_compact(const tr_store *s)
{
	return s->scrub;
}

/* Reopens the environment on the (new) file, as tr_store_open left it. */
static int reopen(tr_store *s, size_t mapsize)
{
	MDB_txn *txn;
	int rc = mdb_env_create(&s->env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(s->env, DB_COUNT + 2);
	mdb_env_set_maxreaders(s->env, 126);
	mdb_env_set_mapsize(s->env, mapsize);
	if ((rc = mdb_env_open(s->env, s->path, s->envflags, 0600)) != 0 ||
	    (rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return rc;
	if ((rc = open_dbs(s, txn, 0, DB_COUNT)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn); /* keeps the dbi handles */
}

int tr_store_compact(tr_store *s, int *done)
{
	char file[4200], tmp[4200];
	MDB_envinfo info;
	*done = 0;
	if (s->lockfd < 0 || (s->envflags & MDB_RDONLY))
		return TR_EBUSY;
	/* one compaction at a time (compact.intent): converting the shared lock lets go of
	 * it for a moment, which only another compaction could use */
	char intent[4200];
	snprintf(intent, sizeof(intent), "%s/compact.intent", s->path);
	int ifd = open(intent, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ifd < 0)
		return errno;
	if (flock(ifd, LOCK_EX | LOCK_NB) != 0) {
		close(ifd);
		return TR_EBUSY;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		flock(s->lockfd, LOCK_SH);
		close(ifd);
		return e == EWOULDBLOCK ? TR_EBUSY : e;
	}
	snprintf(file, sizeof(file), "%s/data.mdb", s->path);
	snprintf(tmp, sizeof(tmp), "%s/data.mdb.compact", s->path);
	unlink(tmp); /* a copy a crash left behind */
	int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = errno;
	if (!rc)
		rc = store_map_err(mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT));
	if (fd >= 0 && !rc && fsync(fd) != 0)
		rc = errno;
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && (rc = mdb_env_info(s->env, &info)) == 0) {
		/* the copy holds every committed record and none of the freed pages; nothing
		 * else has the store open, and this process writes nothing until it returns */
		mdb_env_close(s->env);
		s->env = NULL;
		if (rename(tmp, file) != 0)
			rc = errno;
		else {
			int dfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
			*done = 1;
			s->scrub = 0;
		}
		int r2 = reopen(s, info.me_mapsize);
		if (!rc)
			rc = r2;
		MDB_txn *txn;
		MDB_val k = {5, "scrub"};
		if (!rc && (rc = mdb_txn_begin(s->env, NULL, 0, &txn)) == 0) {
			int d = mdb_del(txn, s->dbi[DB_META], &k, NULL);
			rc = d && d != MDB_NOTFOUND ? d : mdb_txn_commit(txn);
			if (d && d != MDB_NOTFOUND)
				mdb_txn_abort(txn);
		}
	}
	if (rc)
		unlink(tmp);
	flock(s->lockfd, LOCK_SH);
	close(ifd); /* lets go of the intent */
	return final_err(rc);
}

void tr_store_set_key(tr_store *s, const tr_key *key)
{
	s->key = key;
}

int tr_store_size(tr_store *s, uint64_t *bytes)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(s->env, &info);
	if (!rc)
		rc = mdb_env_stat(s->env, &st);
	if (rc)
		return store_map_err(rc);
	*bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	return 0;
}

/* ---- records ---- */

static int next_pos(tr_txn *t, uint64_t *pos)
{
	if (!t->next_pos) {
		MDB_cursor *c;
		MDB_val k, v;
		int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_REC], &c);
		if (rc)
			return rc;
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			t->next_pos = 1;
		else if (rc)
			return rc;
		else if (k.mv_size != 8)
			return TR_ECORRUPT;
		else
			t->next_pos = get_be64(k.mv_data) + 1;
	}
	*pos = t->next_pos++;
	return 0;
}

int store_index_put(tr_txn *t, int db, const void *key, size_t klen, const uint8_t pos[8])
{
	MDB_val k = {klen, (void *)key}, v = {8, (void *)pos};
	if (klen == 0 || klen > 511)
		return 0; /* LMDB's key limit; such a value is not indexed */
	return mdb_put(t->txn, t->s->dbi[db], &k, &v, MDB_NODUPDATA);
}

static int load_seq(tr_txn *t);

/* The record is here already: keep the shorter path it came by, and the union of the
 * disclosures (both copies verified against the same signed digests). Either may let
 * it go to more partners, or with more fields. */
static int merge(tr_txn *t, const uint8_t posb[8], const tr_record *rec, unsigned depth)
{
	const uint8_t *env0;
	size_t len0;
	uint32_t source;
	uint8_t flags;
	int rc = store_rec_at(t, posb, &env0, &len0, &source, &flags);
	if (rc)
		return rc == MDB_NOTFOUND ? TR_ECORRUPT : rc;
	/* decoded from a copy: the rewrite below may move the map's bytes under it */
	tr_record *old = malloc(sizeof(*old));
	uint8_t *copy = malloc(len0 ? len0 : 1);
	if (!old || !copy) {
		free(old);
		free(copy);
		return ENOMEM;
	}
	memcpy(copy, env0, len0);
	int more = 0, nearer = depth < (flags & REC_DEPTH_MASK);
	if (tr_record_decode(copy, len0, old) != 0 || old->nfields != rec->nfields) {
		free(old);
		free(copy);
		return TR_ECORRUPT;
	}
	for (size_t i = 0; i < rec->nfields; i++)
		if (!old->fields[i].disclosed && rec->fields[i].disclosed) {
			old->fields[i] = rec->fields[i]; /* borrows rec's bytes until we return */
			more = 1;
		}
	if (nearer)
		flags = (uint8_t)((flags & ~REC_DEPTH_MASK) | depth);
	if (more || nearer) {
		tr_mpw w;
		tr_mpw_init(&w);
		rc = tr_record_encode(old, &w);
		if (!rc)
			rc = store_rec_rewrite(t, posb, tr_mpw_data(&w), tr_mpw_size(&w), flags);
		const tr_field *prod = tr_record_field(rec, "product");
		if (!rc && more && prod && prod->disclosed && prod->value.type == TR_VAL_STR)
			rc = store_index_put(t, DB_PRODUCT, prod->value.s.p, prod->value.s.n, posb);
		if (rc == MDB_KEYEXIST)
			rc = 0;
		tr_mpw_release(&w);
		if (!rc)
			rc = share_stored(t, posb, old, source, flags & REC_DEPTH_MASK, 0);
	}
	free(old);
	free(copy);
	return rc;
}

int tr_txn_add(tr_txn *t, const uint8_t *env, size_t len, const tr_record *rec, uint32_t source,
               unsigned depth, int *added)
{
	MDB_val k = {TR_ID_BYTES, (void *)rec->id}, v;
	char why[8];
	int rc = mdb_get(t->txn, t->s->dbi[DB_ID], &k, &v);
	*added = 0;
	int own = !memcmp(rec->author, t->s->node, TR_PK_BYTES);
	if (own)
		depth = 0;
	else if (depth == 0 || depth > TR_DEPTH_MAX || source == TR_SOURCE_IMPORT)
		depth = source == TR_SOURCE_IMPORT ? TR_DEPTH_MAX : depth ? TR_DEPTH_MAX : 1;
	if (rc == 0) {
		if (v.mv_size != 8)
			return TR_ECORRUPT;
		uint8_t posb[8];
		memcpy(posb, v.mv_data, 8);
		return merge(t, posb, rec, depth); /* adding is idempotent */
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	/* the store holds only records valid for their kind, whoever checked before */
	if (tr_kind_validate(rec, why, sizeof(why)) != 0)
		return TR_ESCHEMA;
	/* one of this node's own records coming back (a restore, an import of an export):
	 * the next record this node writes must not reuse its sequence number */
	if (own) {
		if (!t->next_seq && (rc = load_seq(t)) != 0)
			return rc;
		if (rec->seq >= t->next_seq) {
			uint8_t seqb[8];
			put_be64(seqb, rec->seq);
			if ((rc = meta_put(t->s, t->txn, "seq", seqb, 8)) != 0)
				return rc;
			t->next_seq = rec->seq + 1;
		}
	}
	uint64_t pos;
	uint8_t posb[8];
	if ((rc = next_pos(t, &pos)) != 0)
		return rc;
	put_be64(posb, pos);

	MDB_val rk = {8, posb}, rv = {REC_PREFIX + len, NULL};
	/* MDB_RESERVE: LMDB hands out the space and we write straight into it */
	rc = mdb_put(t->txn, t->s->dbi[DB_REC], &rk, &rv, MDB_APPEND | MDB_RESERVE);
	if (rc)
		return rc;
	uint8_t *p = rv.mv_data;
	p[0] = (uint8_t)depth;
	put_be32(p + 1, source);
	memcpy(p + REC_PREFIX, env, len);

	v.mv_size = 8;
	v.mv_data = posb;
	if ((rc = mdb_put(t->txn, t->s->dbi[DB_ID], &k, &v, MDB_NOOVERWRITE)) != 0)
		return rc;
	if ((rc = store_index_put(t, DB_KIND, rec->kind.p, rec->kind.n, posb)) != 0)
		return rc;
	if ((rc = store_index_put(t, DB_AUTHOR, rec->author, TR_PK_BYTES, posb)) != 0)
		return rc;
	for (size_t i = 0; i < rec->nrefs; i++)
		if ((rc = store_index_put(t, DB_REF, rec->refs[i], TR_ID_BYTES, posb)) != 0)
			return rc;
	const tr_field *prod = tr_record_field(rec, "product");
	if (prod && prod->disclosed && prod->value.type == TR_VAL_STR &&
	    (rc = store_index_put(t, DB_PRODUCT, prod->value.s.p, prod->value.s.n, posb)) != 0)
		return rc;
	if ((rc = share_stored(t, posb, rec, source, depth, 1)) != 0)
		return rc;
	*added = 1;
	return 0;
}

int store_rec_at(tr_txn *t, const uint8_t posb[8], const uint8_t **env, size_t *len,
                 uint32_t *source, uint8_t *flags)
{
	MDB_val k = {8, (void *)posb}, v;
	int rc = mdb_get(t->txn, t->s->dbi[DB_REC], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size < REC_PREFIX)
		return TR_ECORRUPT;
	const uint8_t *p = v.mv_data;
	if (source)
		*source = get_be32(p + 1);
	if (flags)
		*flags = p[0];
	if (env)
		*env = p + REC_PREFIX;
	if (len)
		*len = v.mv_size - REC_PREFIX;
	return 0;
}

int store_rec_rewrite(tr_txn *t, const uint8_t posb[8], const uint8_t *env, size_t len,
                      uint8_t flags)
{
	uint32_t source;
	size_t oldlen;
	int rc = store_rec_at(t, posb, NULL, &oldlen, &source, NULL);
	if (rc)
		return rc;
	MDB_val k = {8, (void *)posb}, v = {REC_PREFIX + oldlen, NULL};
	/* first zero the old value where it lies: a page written earlier in this
	 * transaction is changed in place, and shrinking a value would leave its old tail
	 * in the page, where a compacted copy would keep it (a retraction must not) */
	if ((rc = mdb_put(t->txn, t->s->dbi[DB_REC], &k, &v, MDB_RESERVE)) != 0)
		return rc;
	memset(v.mv_data, 0, v.mv_size);
	v.mv_size = REC_PREFIX + len;
	v.mv_data = NULL;
	if ((rc = mdb_put(t->txn, t->s->dbi[DB_REC], &k, &v, MDB_RESERVE)) != 0)
		return rc;
	uint8_t *p = v.mv_data;
	p[0] = flags;
	put_be32(p + 1, source);
	memcpy(p + REC_PREFIX, env, len);
	return 0;
}

int store_del_prefix(tr_txn *t, int db, const uint8_t *prefix, size_t n)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
	if (rc)
		return rc;
	for (;;) {
		/* seek again after each delete: a cursor's position after mdb_cursor_del is
		 * not something to lean on */
		k.mv_size = n;
		k.mv_data = (void *)prefix;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc || k.mv_size < n || memcmp(k.mv_data, prefix, n))
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int tr_txn_get(tr_txn *t, const uint8_t id[TR_ID_BYTES], const uint8_t **env, size_t *len,
               uint64_t *pos, uint32_t *source)
{
	MDB_val k = {TR_ID_BYTES, (void *)id}, v;
	int rc = mdb_get(t->txn, t->s->dbi[DB_ID], &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 8)
		return TR_ECORRUPT;
	if (pos)
		*pos = get_be64(v.mv_data);
	rc = store_rec_at(t, v.mv_data, env, len, source, NULL);
	return rc == MDB_NOTFOUND ? TR_ECORRUPT : store_map_err(rc);
}

int tr_txn_resolve(tr_txn *t, const char *prefix, uint8_t id[TR_ID_BYTES])
{
	size_t n = strlen(prefix);
	uint8_t lo[TR_ID_BYTES] = {0};
	if (n < 4 || n > 2 * TR_ID_BYTES)
		return TR_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = prefix[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (d < 0)
			return TR_EINVAL;
		lo[i / 2] |= (uint8_t)(i % 2 ? d : d << 4);
	}
	MDB_cursor *c;
	MDB_val k = {TR_ID_BYTES, lo}, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_ID], &c);
	if (rc)
		return store_map_err(rc);
	int found = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && found < 2) {
		char hex[TR_ID_HEX_SIZE];
		if (k.mv_size != TR_ID_BYTES) {
			rc = TR_ECORRUPT;
			break;
		}
		tr_id_hex(k.mv_data, hex);
		if (strncasecmp(hex, prefix, n) != 0)
			break;
		if (!found)
			memcpy(id, k.mv_data, TR_ID_BYTES);
		found++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return store_map_err(rc);
	return found == 0 ? TR_ENOTFOUND : found > 1 ? TR_EAMBIG : 0;
}

static int load_seq(tr_txn *t)
{
	MDB_val v;
	int rc = meta_get(t->s, t->txn, "seq", &v);
	if (rc)
		return rc;
	if (v.mv_size != 8)
		return TR_ECORRUPT;
	t->next_seq = get_be64(v.mv_data) + 1;
	return 0;
}

/* References must exist here, be of a kind the record's kind may point at, and a
 * retraction may only withdraw a record its author wrote or received from a partner
 * (and so may have passed on). */
struct newest {
	uint64_t created_ms, pos;
	char state[TR_MAX_NAME + 1];
	char target[TR_ID_HEX_SIZE]; /* the record whose state this is */
	const char *kind;            /* its kind */
};

static int newest_cb(void *ctx, const tr_hit *h)
{
	struct newest *n = ctx;
	const tr_field *f = tr_record_field(h->rec, "state");
	char st[TR_MAX_NAME + 1];
	if (!f || !f->disclosed || f->value.type != TR_VAL_STR || tr_str_eq(f->value.s, "note") ||
	    f->value.s.n > TR_MAX_NAME)
		return 0;
	memcpy(st, f->value.s.p, f->value.s.n);
	st[f->value.s.n] = '\0';
	if (!tr_lifecycle_known(n->kind, st))
		return 0; /* received from elsewhere, of no state of this kind: not one here */
	if (h->rec->nrefs != 1) {
		/* two refs: a merge, which is the state of the idea merged, not of the one
		 * it joined (named in "into") */
		const tr_field *into = tr_record_field(h->rec, "into");
		if (!tr_str_eq(f->value.s, "merged") || !into || !into->disclosed ||
		    into->value.type != TR_VAL_STR || tr_str_eq(into->value.s, n->target))
			return 0;
	}
	/* the one that arrived last: a creation time is the writer's word, and one far in
	 * the future (a skewed clock, a hostile partner) must not freeze the state */
	if (h->pos > n->pos) {
		n->pos = h->pos;
		memcpy(n->state, f->value.s.p, f->value.s.n);
		n->state[f->value.s.n] = '\0';
	}
	return 0;
}

int tr_txn_state(tr_txn *t, const uint8_t id[TR_ID_BYTES], const char *kind, char *out, size_t n)
{
	struct newest nw;
	tr_query q;
	memset(&nw, 0, sizeof(nw));
	memset(&q, 0, sizeof(q));
	tr_id_hex(id, nw.target);
	nw.kind = kind;
	q.kind = "status";
	q.ref = id;
	const char *first = tr_lifecycle_first(kind);
	int rc = tr_txn_scan(t, &q, newest_cb, &nw);
	if (rc)
		return rc;
	/* after() maps "reopened" to where it leads */
	snprintf(out, n, "%s",
	         nw.state[0] ? tr_lifecycle_after(kind, NULL, nw.state)
	         : first     ? first
	                     : "");
	return 0;
}

/* A claim with lines is decided by them: every line decided, and the claim approved
 * when all are, rejected when none is, partly approved otherwise. */
static int check_lines(tr_txn *t, const uint8_t claim[TR_ID_BYTES], const char *next, char *why,
                       size_t whylen)
{
	uint8_t(*ids)[TR_ID_BYTES] = NULL;
	size_t nids = 0;
	tr_query q;
	memset(&q, 0, sizeof(q));
	q.kind = "claim_line";
	q.ref = claim;
	int rc = tr_txn_scan_ids(t, &q, &ids, &nids);
	size_t yes = 0, no = 0, open = 0;
	for (size_t i = 0; !rc && i < nids; i++) {
		char st[TR_MAX_NAME + 1];
		if ((rc = tr_txn_state(t, ids[i], "claim_line", st, sizeof(st))) != 0)
			break;
		yes += !strcmp(st, "approved");
		no += !strcmp(st, "rejected");
		open += !strcmp(st, "pending");
	}
	free(ids);
	if (rc || nids == 0)
		return rc; /* a claim without lines is decided as a whole */
	const char *follows = open   ? NULL
	                      : !no  ? "approved"
	                      : !yes ? "rejected"
	                             : "partly_approved";
	if (open) {
		snprintf(
		    why, whylen,
		    "%zu of the claim's %zu lines are undecided: decide each (a status approved "
		    "or rejected on the line) before the claim",
		    open, nids);
		return TR_ESCHEMA;
	}
	if (strcmp(follows, next)) {
		snprintf(
		    why, whylen,
		    "the claim's state follows from its lines: %zu approved and %zu rejected make "
		    "it %s, not %s",
		    yes, no, follows, next);
		return TR_ESCHEMA;
	}
	return 0;
}

/* A status this node writes about rec's one ref (of kind): the move must be allowed
 * from the ref's state now (proto/lifecycle.c). Kinds without states take any. */
static int check_state(tr_txn *t, const tr_record *rec, const char *kind, char *why, size_t whylen)
{
	const tr_field *f = tr_record_field(rec, "state");
	char now[TR_MAX_NAME + 1], next[TR_MAX_NAME + 1];
	uint8_t id[TR_ID_BYTES];
	if (!tr_lifecycle_first(kind) || !f || !f->disclosed || f->value.type != TR_VAL_STR ||
	    f->value.s.n > TR_MAX_NAME)
		return 0;
	memcpy(id, rec->refs[0], TR_ID_BYTES);
	memcpy(next, f->value.s.p, f->value.s.n);
	next[f->value.s.n] = '\0';
	int rc = tr_txn_state(t, id, kind, now, sizeof(now));
	if (rc)
		return rc;
	if (tr_lifecycle_check(kind, now, next, why, whylen))
		return TR_ESCHEMA;
	if (!strcmp(kind, "claim") && (!strcmp(next, "approved") || !strcmp(next, "rejected") ||
	                               !strcmp(next, "partly_approved")))
		return check_lines(t, id, next, why, whylen);
	return 0;
}

struct accept_ctx {
	const uint8_t *author;
	int found;
};

static int accept_cb(void *ctx, const tr_hit *h)
{
	struct accept_ctx *a = ctx;
	const tr_field *f = tr_record_field(h->rec, "answer");
	if (!memcmp(h->rec->author, a->author, TR_PK_BYTES) && f && f->disclosed &&
	    f->value.type == TR_VAL_STR && tr_str_eq(f->value.s, "accept"))
		a->found = 1;
	return a->found;
}

/* A trial report comes from a firm that accepted the trial: this node must have
 * written an answer "accept" to the test request (or the answer it refers to must be
 * its own "accept"). Checked once per report, before its refs are looked at. */
static int check_trial(tr_txn *t, const tr_record *rec, const uint8_t author[TR_PK_BYTES],
                       char *why, size_t whylen)
{
	struct accept_ctx a = {author, 0};
	for (size_t i = 0; i < rec->nrefs && !a.found; i++) {
		tr_query q;
		uint8_t id[TR_ID_BYTES];
		memcpy(id, rec->refs[i], TR_ID_BYTES);
		memset(&q, 0, sizeof(q));
		q.kind = "test_response";
		q.ref = id; /* answers to it, if it is the request */
		int rc = tr_txn_scan(t, &q, accept_cb, &a);
		if (rc && rc != 1)
			return rc;
		const uint8_t *env;
		size_t len;
		tr_record r;
		if (!a.found && tr_txn_get(t, id, &env, &len, NULL, NULL) == 0 &&
		    tr_record_decode(env, len, &r) == 0 && tr_str_eq(r.kind, "test_response")) {
			struct tr_hit h = {0, 0, env, len, &r};
			accept_cb(&a, &h); /* it is the answer itself */
		}
	}
	if (a.found)
		return 0;
	snprintf(why, whylen,
	         "a trial report comes from a firm that accepted the trial: this "
	         "node has no answer \"accept\" to that test request (write one "
	         "with `trestle record create test_response answer=accept --ref "
	         "REQUEST`)");
	return TR_EREF;
}

int tr_txn_check_refs(tr_txn *t, const tr_record *rec, const uint8_t author[TR_PK_BYTES], char *why,
                      size_t whylen)
{
	const tr_kind_spec *k = tr_kind_find(rec->kind.p, rec->kind.n);
	for (size_t i = 0; i < rec->nrefs; i++) {
		const uint8_t *env;
		size_t len;
		char hex[TR_ID_HEX_SIZE];
		tr_id_hex(rec->refs[i], hex);
		uint32_t source;
		int rc = tr_txn_get(t, rec->refs[i], &env, &len, NULL, &source);
		if (rc == TR_ENOTFOUND) {
			snprintf(why, whylen, "referenced record %.16s... is not in this store",
			         hex);
			return TR_EREF;
		}
		if (rc)
			return rc;
		tr_record *target = &t->scratch_rec;
		if (tr_record_decode(env, len, target) != 0)
			return TR_ECORRUPT;
		if (!tr_kind_ref_allowed(k, target->kind)) {
			snprintf(why, whylen, "a %s cannot refer to a %.*s (record %.16s...)",
			         k->name, (int)target->kind.n, target->kind.p, hex);
			return TR_EREF;
		}
		if (tr_str_eq(rec->kind, "status") && rec->nrefs == 1) {
			/* a state change: it must follow from the record's state now */
			char kind[TR_MAX_NAME + 1];
			snprintf(kind, sizeof(kind), "%.*s", (int)target->kind.n, target->kind.p);
			if ((rc = check_state(t, rec, kind, why, whylen)) != 0)
				return rc;
			continue;
		}
		if (tr_str_eq(rec->kind, "retraction") &&
		    memcmp(target->author, author, TR_PK_BYTES) != 0 &&
		    (source == TR_SOURCE_LOCAL || source == TR_SOURCE_IMPORT)) {
			snprintf(why, whylen,
			         "a node can only retract its own records and records it received "
			         "from a partner; %.16s... was written by another node and "
			         "imported from a file",
			         hex);
			return TR_EREF;
		}
	}
	/* once every ref is known to be here */
	if (tr_str_eq(rec->kind, "trial_report"))
		return check_trial(t, rec, author, why, whylen);
	return 0;
}

int tr_txn_create(tr_txn *t, const tr_key *key, tr_record *rec, uint64_t now_ms, tr_mpw *scratch,
                  char *why, size_t whylen)
{
	int rc = tr_kind_validate(rec, why, whylen);
	if (rc)
		return rc;
	if ((rc = tr_txn_check_refs(t, rec, tr_key_public(key), why, whylen)) != 0)
		return rc;
	if (!t->next_seq && (rc = load_seq(t)) != 0)
		return rc;
	rec->seq = t->next_seq;
	rec->created_ms = now_ms;
	if ((rc = tr_record_seal(rec, key, scratch)) != 0)
		return rc;
	uint8_t seqb[8];
	put_be64(seqb, rec->seq);
	if ((rc = meta_put(t->s, t->txn, "seq", seqb, 8)) != 0)
		return rc;
	t->next_seq++;
	int added;
	/* rec's header pointers are unset after sealing; the index needs only rec's fields */
	return tr_txn_add(t, tr_mpw_data(scratch), tr_mpw_size(scratch), rec, TR_SOURCE_LOCAL, 0,
	                  &added);
}

/* ---- queries ---- */

static int contains_ci(tr_str hay, const char *needle, size_t nn)
{
	if (nn == 0)
		return 1;
	for (size_t i = 0; i + nn <= hay.n; i++)
		if (strncasecmp(hay.p + i, needle, nn) == 0)
			return 1;
	return 0;
}

static int matches(const tr_query *q, const tr_record *r)
{
	if (q->kind && !tr_str_eq(r->kind, q->kind))
		return 0;
	if (q->author && memcmp(r->author, q->author, TR_PK_BYTES) != 0)
		return 0;
	if (q->since_ms && r->created_ms < q->since_ms)
		return 0;
	if (q->until_ms && r->created_ms >= q->until_ms)
		return 0;
	if (q->ref) {
		int hit = 0;
		for (size_t i = 0; i < r->nrefs; i++)
			hit |= memcmp(r->refs[i], q->ref, TR_ID_BYTES) == 0;
		if (!hit)
			return 0;
	}
	if (q->product) {
		const tr_field *f = tr_record_field(r, "product");
		if (!f || !f->disclosed || f->value.type != TR_VAL_STR ||
		    !tr_str_eq(f->value.s, q->product))
			return 0;
	}
	if (q->text) {
		size_t nn = strlen(q->text);
		int hit = 0;
		for (size_t i = 0; i < r->nfields && !hit; i++)
			if (r->fields[i].disclosed && r->fields[i].value.type == TR_VAL_STR)
				hit = contains_ci(r->fields[i].value.s, q->text, nn);
		if (!hit)
			return 0;
	}
	return 1;
}

static int visit(tr_txn *t, const tr_query *q, const uint8_t posb[8], uint64_t *count,
                 int (*cb)(void *ctx, const tr_hit *h), void *ctx)
{
	tr_hit h;
	int rc = store_rec_at(t, posb, &h.env, &h.len, &h.source, NULL);
	if (rc)
		return rc == MDB_NOTFOUND ? TR_ECORRUPT : rc;
	h.pos = get_be64(posb);
	h.rec = &t->scratch_rec;
	if (tr_record_decode(h.env, h.len, h.rec) != 0)
		return TR_ECORRUPT;
	if (!matches(q, h.rec))
		return 0;
	(*count)++;
	return cb(ctx, &h);
}

int tr_txn_scan(tr_txn *t, const tr_query *q, int (*cb)(void *ctx, const tr_hit *h), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t after[8];
	uint64_t count = 0;
	int db = DB_REC;
	if (q->after_pos == UINT64_MAX)
		return 0; /* nothing comes after the last position */
	put_be64(after, q->after_pos);
	/* the narrowest index the query allows; every index lists positions in order */
	if (q->ref) {
		db = DB_REF;
		k = (MDB_val){TR_ID_BYTES, (void *)q->ref};
	} else if (q->author) {
		db = DB_AUTHOR;
		k = (MDB_val){TR_PK_BYTES, (void *)q->author};
	} else if (q->product) {
		db = DB_PRODUCT;
		k = (MDB_val){strlen(q->product), (void *)q->product};
	} else if (q->kind) {
		db = DB_KIND;
		k = (MDB_val){strlen(q->kind), (void *)q->kind};
	}
	int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
	if (rc)
		return store_map_err(rc);
	if (db == DB_REC) {
		uint8_t first[8];
		put_be64(first, q->after_pos + 1);
		k = (MDB_val){8, first};
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (rc == 0) {
			if (k.mv_size != 8) {
				rc = TR_ECORRUPT;
				break;
			}
			rc = visit(t, q, k.mv_data, &count, cb, ctx);
			if (rc || (q->limit && count >= q->limit))
				break;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
	} else if (k.mv_size > 0 && k.mv_size <= 511) {
		uint8_t first[8];
		put_be64(first, q->after_pos + 1);
		v = (MDB_val){8, first};
		rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
		while (rc == 0) {
			if (v.mv_size != 8) {
				rc = TR_ECORRUPT;
				break;
			}
			uint8_t posb[8];
			memcpy(posb, v.mv_data, 8);
			rc = visit(t, q, posb, &count, cb, ctx);
			if (rc || (q->limit && count >= q->limit))
				break;
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP);
		}
	} else {
		rc = MDB_NOTFOUND;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
}

struct ids_ctx {
	uint8_t (*ids)[TR_ID_BYTES];
	size_t n, cap;
};

static int id_cb(void *ctx, const tr_hit *h)
{
	struct ids_ctx *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint8_t(*nv)[TR_ID_BYTES] = realloc(l->ids, cap * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		l->ids = nv;
		l->cap = cap;
	}
	memcpy(l->ids[l->n++], h->rec->id, TR_ID_BYTES);
	return 0;
}

int tr_txn_scan_ids(tr_txn *t, const tr_query *q, uint8_t (**ids)[TR_ID_BYTES], size_t *n)
{
	struct ids_ctx l = {NULL, 0, 0};
	int rc = tr_txn_scan(t, q, id_cb, &l);
	*ids = l.ids;
	*n = rc ? 0 : l.n;
	return rc;
}

int tr_txn_count(tr_txn *t, uint64_t *records)
{
	MDB_stat st;
	int rc = mdb_stat(t->txn, t->s->dbi[DB_REC], &st);
	if (rc)
		return store_map_err(rc);
	*records = st.ms_entries;
	return 0;
}

/* ---- notes ---- */

static int note_key(const char *name, char *key, size_t n)
{
	int w = snprintf(key, n, "note:%s", name);
	return w < 0 || (size_t)w >= n ? TR_EINVAL : 0;
}

int tr_txn_note_put(tr_txn *t, const char *name, const void *val, size_t len)
{
	char key[80];
	int rc = note_key(name, key, sizeof(key));
	return rc ? rc : meta_put(t->s, t->txn, key, val, len);
}

int tr_txn_note_get(tr_txn *t, const char *name, const void **val, size_t *len)
{
	char key[80];
	MDB_val v;
	int rc = note_key(name, key, sizeof(key));
	if (rc)
		return rc;
	if ((rc = meta_get(t->s, t->txn, key, &v)) != 0)
		return store_map_err(rc);
	*val = v.mv_data;
	*len = v.mv_size;
	return 0;
}

/* ---- audit ---- */

int tr_txn_audit(tr_txn *t, uint64_t now_ms, const char *action, const char *detail_)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t seq = 1;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_AUDIT], &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == 0 && k.mv_size == 8)
		seq = get_be64(k.mv_data) + 1;
	else if (rc && rc != MDB_NOTFOUND)
		return rc;
	/* details carry names from outside (file names, directories): bytes that are not
	 * UTF-8 are written as \xNN so that the log stays readable */
	size_t dn = strlen(detail_);
	char *clean = malloc(4 * dn + 1);
	if (!clean)
		return ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < dn;) {
		size_t n = 1;
		while (n <= 4 && i + n <= dn && !tr_utf8_valid(detail_ + i, n))
			n++;
		if (n <= 4 && i + n <= dn) {
			memcpy(clean + o, detail_ + i, n);
			o += n;
			i += n;
		} else {
			o += (size_t)snprintf(clean + o, 5, "\\x%02x", (unsigned char)detail_[i]);
			i++;
		}
	}
	tr_mpw w;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 3);
	tr_mpw_uint(&w, now_ms);
	tr_mpw_str(&w, action, strlen(action));
	tr_mpw_str(&w, clean, o);
	free(clean);
	rc = tr_mpw_error(&w);
	if (!rc) {
		uint8_t kb[8];
		put_be64(kb, seq);
		k = (MDB_val){8, kb};
		v = (MDB_val){tr_mpw_size(&w), (void *)tr_mpw_data(&w)};
		rc = mdb_put(t->txn, t->s->dbi[DB_AUDIT], &k, &v, MDB_APPEND);
	}
	tr_mpw_release(&w);
	return rc;
}

int tr_txn_audit_scan(tr_txn *t, int (*cb)(void *ctx, const tr_audit_entry *e), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_AUDIT], &c);
	if (rc)
		return store_map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		tr_audit_entry e;
		tr_mpr r;
		size_t n;
		tr_mpr_init(&r, v.mv_data, v.mv_size);
		if (k.mv_size != 8 || tr_mpr_array(&r, &n, 3) || n != 3 ||
		    tr_mpr_uint(&r, &e.time_ms) || tr_mpr_str(&r, &e.action, 4096) ||
		    tr_mpr_str(&r, &e.detail, 65536)) {
			rc = TR_ECORRUPT;
			break;
		}
		e.seq = get_be64(k.mv_data);
		if ((rc = cb(ctx, &e)) != 0)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
}

/* ---- consistency check ---- */

static int audit_ok(void *ctx, const tr_audit_entry *e)
{
	(void)ctx;
	(void)e;
	return 0;
}

#define PROBLEM(...)                                                                               \
	do {                                                                                       \
		char msg_[300];                                                                    \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                         \
		cb(ctx, msg_);                                                                     \
	} while (0)

/* Every entry of an index must point at a record that has that key. */
static int check_index(tr_txn *t, int db, void (*cb)(void *ctx, const char *problem), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		const uint8_t *env;
		size_t len;
		uint8_t posb[8];
		if (v.mv_size != 8) {
			PROBLEM("index %s has a malformed entry", db_def[db].name);
		} else {
			memcpy(posb, v.mv_data, 8);
			int r2 = store_rec_at(t, posb, &env, &len, NULL, NULL);
			tr_record *rec = &t->scratch_rec;
			if (r2 || tr_record_decode(env, len, rec) != 0) {
				PROBLEM("index %s points at log position %" PRIu64
				        " which holds no readable record",
				        db_def[db].name, get_be64(posb));
			} else {
				tr_str key = {k.mv_data, k.mv_size};
				int ok = 0;
				if (db == DB_KIND)
					ok = rec->kind.n == key.n &&
					     !memcmp(rec->kind.p, key.p, key.n);
				else if (db == DB_AUTHOR)
					ok = key.n == TR_PK_BYTES &&
					     !memcmp(rec->author, key.p, key.n);
				else if (db == DB_REF)
					for (size_t i = 0; i < rec->nrefs; i++)
						ok |= key.n == TR_ID_BYTES &&
						      !memcmp(rec->refs[i], key.p, key.n);
				else if (db == DB_PRODUCT) {
					const tr_field *f = tr_record_field(rec, "product");
					ok = f && f->disclosed && f->value.type == TR_VAL_STR &&
					     f->value.s.n == key.n &&
					     !memcmp(f->value.s.p, key.p, key.n);
				}
				if (!ok)
					PROBLEM("index %s entry for log position %" PRIu64
					        " does not match the record there",
					        db_def[db].name, get_be64(posb));
			}
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int count_entries(tr_txn *t, int db, uint64_t *n)
{
	MDB_stat st;
	int rc = mdb_stat(t->txn, t->s->dbi[db], &st);
	*n = st.ms_entries;
	return rc;
}

int tr_txn_check(tr_txn *t, void (*cb)(void *ctx, const char *problem), void *ctx,
                 uint64_t *records)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t n = 0, refs = 0, products = 0;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_REC], &c);
	if (rc)
		return store_map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		uint64_t pos = k.mv_size == 8 ? get_be64(k.mv_data) : 0;
		tr_record *rec = &t->scratch_rec;
		n++;
		if (k.mv_size != 8 || v.mv_size < REC_PREFIX) {
			PROBLEM("log entry %" PRIu64 " is malformed", n);
			goto next;
		}
		const uint8_t *env = (const uint8_t *)v.mv_data + REC_PREFIX;
		size_t len = v.mv_size - REC_PREFIX;
		int vr = tr_record_decode(env, len, rec);
		if (vr) {
			PROBLEM("record at log position %" PRIu64 ": %s", pos, tr_strerror(vr));
			goto next;
		}
		/* its index entries exist whether or not it verifies: count them */
		refs += rec->nrefs;
		const tr_field *f = tr_record_field(rec, "product");
		products += f && f->disclosed && f->value.type == TR_VAL_STR && f->value.s.n > 0 &&
		            f->value.s.n <= 511;
		if ((vr = tr_record_verify(rec)) != 0)
			PROBLEM("record at log position %" PRIu64 ": %s", pos, tr_strerror(vr));
		MDB_val ik = {TR_ID_BYTES, rec->id}, iv;
		int ir = mdb_get(t->txn, t->s->dbi[DB_ID], &ik, &iv);
		char hex[TR_ID_HEX_SIZE];
		tr_id_hex(rec->id, hex);
		if (ir || iv.mv_size != 8 || get_be64(iv.mv_data) != pos)
			PROBLEM("record %.16s... at log position %" PRIu64
			        " is missing from the id index",
			        hex, pos);
	next:
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return store_map_err(rc);
	*records = n;
	uint64_t ids, kinds, authors, nrefs, nproducts;
	if ((rc = count_entries(t, DB_ID, &ids)) || (rc = count_entries(t, DB_KIND, &kinds)) ||
	    (rc = count_entries(t, DB_AUTHOR, &authors)) ||
	    (rc = count_entries(t, DB_REF, &nrefs)) ||
	    (rc = count_entries(t, DB_PRODUCT, &nproducts)))
		return store_map_err(rc);
	if (ids != n)
		PROBLEM("the id index has %" PRIu64 " entries for %" PRIu64 " records", ids, n);
	if (kinds != n)
		PROBLEM("the kind index has %" PRIu64 " entries for %" PRIu64 " records", kinds, n);
	if (authors != n)
		PROBLEM("the author index has %" PRIu64 " entries for %" PRIu64 " records", authors,
		        n);
	if (nrefs != refs)
		PROBLEM("the reference index has %" PRIu64 " entries for %" PRIu64 " references",
		        nrefs, refs);
	if (nproducts != products)
		PROBLEM("the product index has %" PRIu64 " entries for %" PRIu64 " records",
		        nproducts, products);
	for (int db = DB_KIND; db <= DB_PRODUCT; db++)
		if ((rc = check_index(t, db, cb, ctx)) != 0)
			return store_map_err(rc);
	/* the admin's tables must read back too */
	if (tr_txn_audit_scan(t, audit_ok, NULL) == TR_ECORRUPT)
		PROBLEM("the audit log has an entry that cannot be read");
	struct partner_list l;
	rc = store_partner_load_all(t, &l);
	if (rc == TR_ECORRUPT)
		PROBLEM("the partner table has an entry that cannot be read");
	else if (rc)
		return store_map_err(rc);
	free(l.v);
	return share_check(t, cb, ctx);
}

/* ---- partners ---- */

int tr_partner_name_valid(const char *name)
{
	size_t n = strlen(name);
	uint8_t id[TR_PK_BYTES];
	if (n == 0 || n > TR_PARTNER_NAME_MAX || name[0] == '-')
		return 0;
	if (tr_nodeid_parse(name, id) == 0)
		return 0; /* `partner remove NAME` must never mean another partner's id */
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int partner_encode(const tr_partner *p, tr_mpw *w)
{
	tr_mpw_array(w, 8);
	tr_mpw_uint(w, 1); /* version of this value's layout */
	tr_mpw_str(w, p->name, strlen(p->name));
	tr_mpw_uint(w, (uint64_t)p->relation);
	tr_mpw_str(w, p->endpoint, strlen(p->endpoint));
	tr_mpw_uint(w, p->suspended ? 1 : 0);
	tr_mpw_uint(w, p->index);
	tr_mpw_uint(w, p->added_ms);
	tr_mpw_uint(w, (uint64_t)p->role);
	return tr_mpw_error(w);
}

static int partner_decode(const MDB_val *k, const MDB_val *v, tr_partner *p)
{
	tr_mpr r;
	size_t n;
	uint64_t version, relation, suspended, index, role = 0;
	tr_str name, endpoint;
	if (k->mv_size != TR_PK_BYTES)
		return TR_ECORRUPT;
	tr_mpr_init(&r, v->mv_data, v->mv_size);
	/* 7 elements: written before partners had a role (schema 2) */
	if (tr_mpr_array(&r, &n, 16) || (n != 7 && n != 8) || tr_mpr_uint(&r, &version) ||
	    version != 1 || tr_mpr_str(&r, &name, TR_PARTNER_NAME_MAX) ||
	    tr_mpr_uint(&r, &relation) || tr_mpr_str(&r, &endpoint, TR_ENDPOINT_MAX) ||
	    tr_mpr_uint(&r, &suspended) || tr_mpr_uint(&r, &index) || index > UINT32_MAX ||
	    tr_mpr_uint(&r, &p->added_ms) || (n == 8 && tr_mpr_uint(&r, &role)) ||
	    role > TR_ROLE_ALL || tr_mpr_done(&r))
		return TR_ECORRUPT;
	memcpy(p->id, k->mv_data, TR_PK_BYTES);
	memcpy(p->name, name.p, name.n);
	p->name[name.n] = '\0';
	memcpy(p->endpoint, endpoint.p, endpoint.n);
	p->endpoint[endpoint.n] = '\0';
	p->relation = (int)relation;
	p->suspended = suspended != 0;
	p->index = (uint32_t)index;
	p->role = (int)role;
	return 0;
}

int store_partner_load_all(tr_txn *t, struct partner_list *l)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_PARTNERS], &c);
	if (rc)
		return rc;
	l->v = NULL;
	l->n = l->cap = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 16;
			tr_partner *nv = realloc(l->v, cap * sizeof(*nv));
			if (!nv) {
				rc = ENOMEM;
				break;
			}
			l->v = nv;
			l->cap = cap;
		}
		if ((rc = partner_decode(&k, &v, &l->v[l->n])) != 0)
			break;
		l->n++;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return 0;
	free(l->v);
	l->v = NULL;
	return rc;
}

int tr_txn_partner_put(tr_txn *t, tr_partner *p, int replace)
{
	if (!tr_partner_name_valid(p->name) ||
	    (p->relation != TR_REL_UPSTREAM && p->relation != TR_REL_DOWNSTREAM) ||
	    (p->role != 0 && p->role != TR_ROLE_USER && p->role != TR_ROLE_DISTRIBUTOR &&
	     p->role != TR_ROLE_PRODUCER) ||
	    strlen(p->endpoint) > TR_ENDPOINT_MAX)
		return TR_EINVAL;
	for (const char *e = p->endpoint; *e; e++)
		if (*e <= ' ' || *e > '~')
			return TR_EINVAL;
	struct partner_list l;
	int rc = store_partner_load_all(t, &l);
	if (rc)
		return store_map_err(rc);
	const tr_partner *old = NULL;
	for (size_t i = 0; i < l.n; i++) {
		if (!memcmp(l.v[i].id, p->id, TR_PK_BYTES))
			old = &l.v[i];
		else if (!strcmp(l.v[i].name, p->name))
			rc = TR_EEXIST; /* the name belongs to another partner */
	}
	if (!rc && old && !replace)
		rc = TR_EEXIST;
	if (!rc && !old && replace)
		rc = TR_ENOTFOUND;
	if (!rc) {
		MDB_val v;
		/* indexes are never reused: a removed partner's records keep their source */
		if (old) {
			p->index = old->index;
			p->added_ms = old->added_ms;
		} else {
			uint64_t next = 1;
			if (meta_get(t->s, t->txn, "partner_next", &v) == 0 && v.mv_size == 8)
				next = get_be64(v.mv_data);
			if (next >= TR_SOURCE_IMPORT)
				rc = TR_ETOOBIG;
			p->index = (uint32_t)next;
			uint8_t nb[8];
			put_be64(nb, next + 1);
			if (!rc)
				rc = meta_put(t->s, t->txn, "partner_next", nb, 8);
		}
	}
	free(l.v);
	if (rc)
		return rc;
	share_rules_free(t);
	tr_mpw w;
	tr_mpw_init(&w);
	rc = partner_encode(p, &w);
	if (!rc) {
		MDB_val k = {TR_PK_BYTES, p->id}, v = {tr_mpw_size(&w), (void *)tr_mpw_data(&w)};
		rc = mdb_put(t->txn, t->s->dbi[DB_PARTNERS], &k, &v, 0);
	}
	tr_mpw_release(&w);
	return rc;
}

int tr_txn_partner_find(tr_txn *t, const char *name_or_id, tr_partner *p)
{
	uint8_t id[TR_PK_BYTES];
	MDB_val k = {TR_PK_BYTES, id}, v;
	if (tr_nodeid_parse(name_or_id, id) == 0) {
		int rc = mdb_get(t->txn, t->s->dbi[DB_PARTNERS], &k, &v);
		if (rc)
			return store_map_err(rc);
		return partner_decode(&k, &v, p);
	}
	struct partner_list l;
	int rc = store_partner_load_all(t, &l);
	if (rc)
		return store_map_err(rc);
	rc = TR_ENOTFOUND;
	for (size_t i = 0; i < l.n && rc; i++)
		if (!strcmp(l.v[i].name, name_or_id)) {
			*p = l.v[i];
			rc = 0;
		}
	free(l.v);
	return rc;
}

int tr_txn_partner_del(tr_txn *t, const uint8_t id[TR_PK_BYTES])
{
	MDB_val k = {TR_PK_BYTES, (void *)id}, v;
	tr_partner p;
	int rc = mdb_get(t->txn, t->s->dbi[DB_PARTNERS], &k, &v);
	if (rc)
		return store_map_err(rc);
	if ((rc = partner_decode(&k, &v, &p)) != 0)
		return rc;
	/* what was queued for it, its rules and grants and its cursor go with it */
	uint8_t pb[4];
	put_be32(pb, p.index);
	static const int dbs[] = {DB_OUTQ, DB_OUTSET, DB_SYNC, DB_GRANTS};
	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((rc = store_del_prefix(t, dbs[i], pb, 4)) != 0)
			return store_map_err(rc);
	if ((rc = share_partner_gone(t, p.index)) != 0)
		return store_map_err(rc);
	share_rules_free(t);
	return store_map_err(mdb_del(t->txn, t->s->dbi[DB_PARTNERS], &k, NULL));
}

static int partner_name_cmp(const void *a, const void *b)
{
	return strcmp(((const tr_partner *)a)->name, ((const tr_partner *)b)->name);
}

int tr_txn_partner_scan(tr_txn *t, int (*cb)(void *ctx, const tr_partner *p), void *ctx)
{
	struct partner_list l;
	int rc = store_partner_load_all(t, &l);
	if (rc)
		return store_map_err(rc);
	if (l.n) /* qsort must not be given the NULL of an empty list */
		qsort(l.v, l.n, sizeof(*l.v), partner_name_cmp);
	for (size_t i = 0; i < l.n && !rc; i++)
		rc = cb(ctx, &l.v[i]);
	free(l.v);
	return rc;
}

/* ---- sync state: how far this node has pulled from each partner ---- */

int tr_txn_sync_get(tr_txn *t, uint32_t partner, tr_sync_state *st)
{
	uint8_t kb[4];
	put_be32(kb, partner);
	MDB_val k = {4, kb}, v;
	memset(st, 0, sizeof(*st));
	int rc = mdb_get(t->txn, t->s->dbi[DB_SYNC], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_map_err(rc);
	if (v.mv_size == 16) { /* written before queue epochs: cursor, received */
		st->cursor = get_be64(v.mv_data);
		st->received = get_be64((const uint8_t *)v.mv_data + 8);
		return 0;
	}
	if (v.mv_size != 24)
		return TR_ECORRUPT;
	st->cursor = get_be64(v.mv_data);
	st->epoch = get_be64((const uint8_t *)v.mv_data + 8);
	st->received = get_be64((const uint8_t *)v.mv_data + 16);
	return 0;
}

int tr_txn_sync_put(tr_txn *t, uint32_t partner, const tr_sync_state *st)
{
	uint8_t kb[4], vb[24];
	put_be32(kb, partner);
	put_be64(vb, st->cursor);
	put_be64(vb + 8, st->epoch);
	put_be64(vb + 16, st->received);
	MDB_val k = {4, kb}, v = {24, vb};
	return store_map_err(mdb_put(t->txn, t->s->dbi[DB_SYNC], &k, &v, 0));
}

uint64_t tr_store_queue_epoch(const tr_store *s, uint32_t partner)
{
	uint64_t e = s->epoch ^ ((uint64_t)partner * 0x9e3779b97f4a7c15ull);
	return e ? e : 1;
}

int tr_txn_acked_get(tr_txn *t, uint32_t partner, uint64_t *pos)
{
	uint8_t kb[5];
	put_be32(kb, partner);
	kb[4] = 'a';
	MDB_val k = {5, kb}, v;
	*pos = 0;
	int rc = mdb_get(t->txn, t->s->dbi[DB_SYNC], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 16)
		return TR_ECORRUPT;
	if (get_be64((const uint8_t *)v.mv_data + 8) == tr_store_queue_epoch(t->s, partner))
		*pos = get_be64(v.mv_data);
	return 0;
}

int tr_txn_acked_put(tr_txn *t, uint32_t partner, uint64_t pos)
{
	uint8_t kb[5], vb[16];
	put_be32(kb, partner);
	kb[4] = 'a';
	put_be64(vb, pos);
	put_be64(vb + 8, tr_store_queue_epoch(t->s, partner));
	MDB_val k = {5, kb}, v = {16, vb};
	return store_map_err(mdb_put(t->txn, t->s->dbi[DB_SYNC], &k, &v, 0));
}

/* ---- nodes that dialed in with a key that is no partner ---- */

#define PENDING_MAX 256

static int pending_decode(const MDB_val *k, const MDB_val *v, tr_pending *p)
{
	tr_mpr r;
	size_t n;
	tr_str addr;
	if (k->mv_size != TR_PK_BYTES)
		return TR_ECORRUPT;
	tr_mpr_init(&r, v->mv_data, v->mv_size);
	if (tr_mpr_array(&r, &n, 8) || n != 4 || tr_mpr_uint(&r, &p->first_ms) ||
	    tr_mpr_uint(&r, &p->last_ms) || tr_mpr_uint(&r, &p->count) ||
	    tr_mpr_str(&r, &addr, sizeof(p->addr) - 1) || tr_mpr_done(&r))
		return TR_ECORRUPT;
	memcpy(p->curve, k->mv_data, TR_PK_BYTES);
	memcpy(p->addr, addr.p, addr.n);
	p->addr[addr.n] = '\0';
	return 0;
}

int tr_txn_pending_scan(tr_txn *t, int (*cb)(void *ctx, const tr_pending *p), void *ctx)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[DB_PENDING], &c);
	if (rc)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		tr_pending p;
		if ((rc = pending_decode(&k, &v, &p)) != 0 || (rc = cb(ctx, &p)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return store_map_err(rc == MDB_NOTFOUND ? 0 : rc);
}

struct oldest {
	uint8_t curve[TR_PK_BYTES];
	uint64_t last_ms, n;
};

static int oldest_cb(void *ctx, const tr_pending *p)
{
	struct oldest *o = ctx;
	if (o->n++ == 0 || p->last_ms < o->last_ms) {
		memcpy(o->curve, p->curve, TR_PK_BYTES);
		o->last_ms = p->last_ms;
	}
	return 0;
}

int tr_txn_pending_seen(tr_txn *t, const uint8_t curve[TR_PK_BYTES], const char *addr,
                        uint64_t now_ms)
{
	MDB_val k = {TR_PK_BYTES, (void *)curve}, v;
	tr_pending p;
	memset(&p, 0, sizeof(p));
	int rc = mdb_get(t->txn, t->s->dbi[DB_PENDING], &k, &v);
	if (rc == 0 && pending_decode(&k, &v, &p) != 0)
		rc = MDB_NOTFOUND; /* a damaged entry is replaced */
	if (rc == MDB_NOTFOUND) {
		/* bounded: a flood of new keys evicts the longest unseen, never grows the
		 * table without end */
		struct oldest o = {{0}, 0, 0};
		if ((rc = tr_txn_pending_scan(t, oldest_cb, &o)) != 0)
			return rc;
		if (o.n >= PENDING_MAX && (rc = tr_txn_pending_del(t, o.curve)) != 0)
			return rc;
		p.first_ms = now_ms;
	} else if (rc)
		return store_map_err(rc);
	p.last_ms = now_ms;
	p.count++;
	tr_mpw w;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 4);
	tr_mpw_uint(&w, p.first_ms);
	tr_mpw_uint(&w, p.last_ms);
	tr_mpw_uint(&w, p.count);
	size_t alen = strnlen(addr, sizeof(p.addr) - 1);
	tr_mpw_str(&w, addr, tr_utf8_valid(addr, alen) ? alen : 0);
	rc = tr_mpw_error(&w);
	if (!rc) {
		v.mv_size = tr_mpw_size(&w);
		v.mv_data = (void *)tr_mpw_data(&w);
		rc = store_map_err(mdb_put(t->txn, t->s->dbi[DB_PENDING], &k, &v, 0));
	}
	tr_mpw_release(&w);
	return rc;
}

int tr_txn_pending_del(tr_txn *t, const uint8_t curve[TR_PK_BYTES])
{
	MDB_val k = {TR_PK_BYTES, (void *)curve};
	return store_map_err(mdb_del(t->txn, t->s->dbi[DB_PENDING], &k, NULL));
}
