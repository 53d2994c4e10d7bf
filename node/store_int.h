/* store_int.h: what store.c (records, indexes, partners, audit) and share.c (who may
 * have which record: rules, grants, queues, consent, retraction) share inside the
 * store. Not for use outside node/store*.c and node/share.c. */
#ifndef TR_STORE_INT_H
#define TR_STORE_INT_H

#include <stdint.h>

#include <lmdb.h>

#include "store.h"

/* The rec value: 1 byte of flags, 4 bytes of source (big-endian), the envelope. */
#define REC_PREFIX 5
#define REC_DEPTH_MASK 0x1f /* how far the record travelled to get here (TR_DEPTH_MAX) */
#define REC_RETRACTED 0x80  /* disclosures were deleted on a retraction */

enum {
	DB_META,
	DB_REC,
	DB_ID,
	DB_KIND,
	DB_AUTHOR,
	DB_REF,
	DB_PRODUCT,
	DB_PARTNERS,
	DB_POLICIES, /* schema 2 only (partner + kind); emptied into DB_RULES on upgrade */
	DB_AUDIT,
	DB_OUTQ,    /* partner(4) + queue position(8) -> log position: what it may pull */
	DB_OUTSET,  /* partner(4) + log position(8) -> queue position(8) + fields given(4) */
	DB_SYNC,    /* partner(4) -> how far this node has pulled from it */
	DB_PENDING, /* X25519 key -> a node that dialed in and is no partner */
	DB_RULES,   /* rule id(4) -> the rule */
	DB_GRANTS,  /* partner(4) + log position(8) -> fields granted(4) */
	DB_INBOX,   /* log position(8) -> source(4): received, not passed on or declined */
	DB_CONSENT, /* author(32) + grantee(32) + purpose -> consent id(32) + until-ms(8) */
	DB_COUNT
};
#define DB_COUNT_V1 DB_OUTQ  /* schema 1 stores end here */
#define DB_COUNT_V2 DB_RULES /* schema 2 stores end here */

struct tr_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	uint8_t node[TR_PK_BYTES]; /* this node's key, from meta */
	int upgrade;               /* the schema on open when older than this one, else 0 */
	uint64_t epoch;            /* of the outbound queues, from meta */
	const tr_key *key;         /* signs the records the store writes itself (receipts) */
	int lockfd;                /* dir/compact.lock: shared while open, exclusive to compact */
	int scrub;                 /* data was deleted (a retraction): compact to erase it */
	unsigned envflags;
	char path[4096];
	char detail[4096 + 512];
};

struct share_rules;

struct tr_txn {
	tr_store *s;
	MDB_txn *txn;
	uint64_t next_pos; /* 0 until first needed */
	uint64_t next_seq;
	struct share_rules *rules; /* partners and rules, loaded when first needed */
	int reacting;              /* writing the store's own answers (no answers to those) */
	tr_record scratch_rec;
};

static inline void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* store.c */
int store_map_err(int rc);
int store_meta_get(tr_txn *t, const char *key, MDB_val *v);
int store_meta_put(tr_txn *t, const char *key, const void *val, size_t n);
/* The record at log position posb: envelope, source, flags (any may be NULL). */
int store_rec_at(tr_txn *t, const uint8_t posb[8], const uint8_t **env, size_t *len,
                 uint32_t *source, uint8_t *flags);
/* Replaces the envelope at posb (same record, other disclosures) and its flags. */
int store_rec_rewrite(tr_txn *t, const uint8_t posb[8], const uint8_t *env, size_t len,
                      uint8_t flags);
int store_del_prefix(tr_txn *t, int db, const uint8_t *prefix, size_t n);
struct partner_list {
	tr_partner *v;
	size_t n, cap;
};
int store_partner_load_all(tr_txn *t, struct partner_list *l);
int store_index_put(tr_txn *t, int db, const void *key, size_t klen, const uint8_t pos[8]);

/* share.c */
void share_rules_free(tr_txn *t);
/* A record was stored at posb (added: new; else more of it disclosed or a shorter path):
 * queue it for the partners that may have it now, and act on what it means (a consent,
 * a retraction: share.c). */
int share_stored(tr_txn *t, const uint8_t posb[8], const tr_record *rec, uint32_t source,
                 unsigned depth, int added);
/* Schema 2 -> 3: policies (partner, kind) become rules that forward all fields. */
int share_upgrade_policies(tr_txn *t);
/* Deletes the rules of a partner being removed. */
int share_partner_gone(tr_txn *t, uint32_t partner);
/* verify: queues, grants and rules read back and name records that exist. */
int share_check(tr_txn *t, void (*cb)(void *ctx, const char *problem), void *ctx);

#endif
