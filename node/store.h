/* store.h: one node's LMDB store.
 *
 * Caveats
 * - One tr_store per process (LMDB allows one env per file per process). The CLI and
 *   the daemon open the same store at the same time; LMDB's lock file serialises
 *   writers and readers never block.
 * - All reading and writing happens inside tr_store_read/tr_store_write callbacks.
 *   Pointers handed out inside a callback (record bytes, decoded records) point into
 *   LMDB's map and are valid only until the callback returns.
 * - tr_store_write may run its callback more than once: when the map is full it aborts,
 *   grows the map with no transaction open, and runs the callback again on a fresh
 *   transaction. A callback must therefore keep its effects inside the transaction
 *   (or reset them when it starts).
 * - Nothing here prints or exits. Errors: 0, an errno value (ENOSPC for a full disk),
 *   or TR_E* (TR_ESTORE, TR_ECORRUPT, TR_ENOTFOUND, ...). LMDB's codes are mapped here.
 *
 * Layout (sub-databases): meta, rec (log position -> source + envelope: the append-only
 * arrival log), id (record id -> log position), by_kind, by_author, by_ref, by_product
 * (key -> log positions, in arrival order), partners, policies, audit, and for sync:
 * outq/outset (per-partner outbound queues), sync (pull cursors), pending (unknown
 * nodes that dialed in).
 */
#ifndef TR_STORE_H
#define TR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "record.h"

#define TR_STORE_SCHEMA 2

enum {
	TR_STORE_CREATE = 1, /* create a new store; TR_EEXIST if one is there */
	TR_STORE_RDONLY = 2
};

/* Where a stored record came from. */
enum { TR_SOURCE_LOCAL = 0, TR_SOURCE_IMPORT = 0xffffffffu };

typedef struct tr_store tr_store;
typedef struct tr_txn tr_txn;

/* Opens (or with TR_STORE_CREATE creates) the store in directory dir. node is the
 * node's public key: written into a new store, and checked against an existing one
 * (TR_EKEY if it belongs to another key). A file that is not LMDB, an LMDB file that
 * is not a trestle store, or another schema version gives TR_ESTORE and is not
 * modified; a truncated file gives TR_ECORRUPT. Creating needs node (TR_EINVAL without).
 * *out is the caller's, even on failure (for tr_store_detail). */
int tr_store_open(const char *dir, int flags, const uint8_t node[TR_PK_BYTES], tr_store **out);
void tr_store_close(tr_store **s); /* NULL-safe; sets *s = NULL */

/* A sentence about the last open or write failure, for a person ("" if none). */
const char *tr_store_detail(const tr_store *s);

int tr_store_write(tr_store *s, int (*fn)(tr_txn *t, void *ctx), void *ctx);
int tr_store_read(tr_store *s, int (*fn)(tr_txn *t, void *ctx), void *ctx);

/* Hot copy of the whole store (consistent, while others read and write) into
 * dir/data.mdb, created with mode 0600; dir must exist and hold no store (TR_EEXIST).
 * Compacts free pages away. A failed copy is removed. */
int tr_store_backup(tr_store *s, const char *dir);
/* The epoch of this node's outbound queues: a random number, new when the store is
 * created and when it is restored from a backup (its queue positions go back then, and
 * partners must pull from the start; see tr_store_new_epoch). */
uint64_t tr_store_epoch(const tr_store *s);
int tr_store_new_epoch(tr_store *s);
/* Lets go of the pages of the store's file mapped into this process (they stay in the
 * kernel's page cache and come back on the next read): an idle daemon's resident size
 * then is its own memory, not the store's. Safe at any time. */
void tr_store_trim(tr_store *s);
/* Bytes in use by the store's data file. */
int tr_store_size(tr_store *s, uint64_t *bytes);

/* ---- inside a transaction ---- */

/* Validates rec (built, not sealed) against its kind and its references against the
 * store, gives it this node's next sequence number, seals it with key and stores it
 * with its index entries. rec's borrowed strings need only live until this returns.
 * scratch is a work buffer the caller keeps across calls. why gets a sentence for a
 * person on TR_ESCHEMA or TR_EREF. */
int tr_txn_create(tr_txn *t, const tr_key *key, tr_record *rec, uint64_t now_ms, tr_mpw *scratch,
                  char *why, size_t whylen);

/* Checks rec's references against the store: each must exist and be of a kind rec's
 * kind may refer to, and a retraction may only withdraw author's own record.
 * 0, or TR_EREF with a sentence in why. (tr_txn_create calls it.) */
int tr_txn_check_refs(tr_txn *t, const tr_record *rec, const uint8_t author[TR_PK_BYTES], char *why,
                      size_t whylen);

/* Stores a record that was decoded and verified from env (tr_record_open). Stores it
 * as given (withheld fields stay withheld). *added is 0 if the id was already there:
 * adding is idempotent. A record invalid for its kind is refused (TR_ESCHEMA). One of
 * this node's own records moves the node's sequence number past it. */
int tr_txn_add(tr_txn *t, const uint8_t *env, size_t len, const tr_record *rec, uint32_t source,
               int *added);

/* A stored record by id, with its log position and source (either may be NULL).
 * env is borrowed until the callback returns. 0, TR_ENOTFOUND. */
int tr_txn_get(tr_txn *t, const uint8_t id[TR_ID_BYTES], const uint8_t **env, size_t *len,
               uint64_t *pos, uint32_t *source);
/* The full id of the one record whose hex id starts with prefix (at least 4 hex digits).
 * TR_ENOTFOUND, TR_EAMBIG, TR_EINVAL (not hex). */
int tr_txn_resolve(tr_txn *t, const char *prefix, uint8_t id[TR_ID_BYTES]);

typedef struct tr_query {
	const char *kind;            /* NULL: any */
	const uint8_t *author;       /* TR_PK_BYTES or NULL */
	const uint8_t *ref;          /* records referring to this id, or NULL */
	const char *product;         /* exact product, or NULL */
	const char *text;            /* case-insensitive substring of any disclosed text */
	uint64_t since_ms, until_ms; /* created in [since, until); 0: unbounded */
	uint64_t after_pos;          /* arrival position strictly after this */
	uint64_t limit;              /* 0: no limit */
} tr_query;

typedef struct tr_hit {
	uint64_t pos; /* position in the arrival log */
	uint32_t source;
	const uint8_t *env; /* borrowed until the callback returns */
	size_t len;
	tr_record *rec; /* decoded (not re-verified); borrowed likewise */
} tr_hit;

/* Calls cb for each record matching q, in arrival order, using the narrowest index.
 * cb returns 0 to go on, anything else to stop (that value is returned). */
int tr_txn_scan(tr_txn *t, const tr_query *q, int (*cb)(void *ctx, const tr_hit *h), void *ctx);

/* ---- partners ---- */

#define TR_PARTNER_NAME_MAX 64
#define TR_ENDPOINT_MAX 255

enum { TR_REL_UPSTREAM = 1, TR_REL_DOWNSTREAM = 2 };

/* A node this node has paired with. Names are local; the id (public key) is the
 * identity. index numbers the partner in the arrival log's source field (from 1, never
 * reused). */
typedef struct tr_partner {
	uint8_t id[TR_PK_BYTES];
	char name[TR_PARTNER_NAME_MAX + 1];
	int relation;                       /* TR_REL_* */
	char endpoint[TR_ENDPOINT_MAX + 1]; /* "" when this node does not dial it */
	int suspended;
	uint32_t index;
	uint64_t added_ms;
} tr_partner;

/* 1 if name is a valid partner name: 1 to 64 of [A-Za-z0-9._-], not starting with '-'. */
int tr_partner_name_valid(const char *name);
/* Adds a new partner (p->index is assigned) or, with replace, updates an existing one
 * (same id; its index is kept). TR_EEXIST if the id is already a partner (without
 * replace) or the name is taken by another partner; TR_EINVAL for a bad name, relation
 * or endpoint. */
int tr_txn_partner_put(tr_txn *t, tr_partner *p, int replace);
/* A partner by exact name, or by node id text. TR_ENOTFOUND. */
int tr_txn_partner_find(tr_txn *t, const char *name_or_id, tr_partner *p);
int tr_txn_partner_del(tr_txn *t, const uint8_t id[TR_PK_BYTES]);
/* Calls cb for each partner, in name order. cb returns non-zero to stop. */
int tr_txn_partner_scan(tr_txn *t, int (*cb)(void *ctx, const tr_partner *p), void *ctx);

/* ---- sharing ----
 * Each partner has an outbound queue: the records it may pull, numbered 1, 2, ... in
 * the order they became shareable. A record joins the queues of the partners whose
 * policy allows it in the transaction that stores it; allowing a kind appends the
 * records of that kind already here (only those not queued before). A pull reads the
 * queue after a position and re-checks each record against the policy of the moment,
 * so narrowing a policy takes effect on the next pull. Today's policy is "kind K is
 * allowed for partner P" (default deny); a record never goes back to the partner it
 * came from or to its author. */

/* Allows kind for the partner with index partner and queues the matching records
 * already held (*backfilled: how many). TR_EEXIST if already allowed, TR_EINVAL for an
 * unknown kind, TR_ENOTFOUND for no such partner. */
int tr_txn_policy_allow(tr_txn *t, uint32_t partner, const char *kind, uint64_t now_ms,
                        uint64_t *backfilled);
/* Withdraws it, and forgets which records of the kind were queued for the partner, so
 * that allowing it again queues them again. TR_ENOTFOUND if it was not allowed. */
int tr_txn_policy_deny(tr_txn *t, uint32_t partner, const char *kind);
/* Calls cb for each allowed (partner, kind), of one partner or of all (partner 0). */
int tr_txn_policy_scan(tr_txn *t, uint32_t partner,
                       int (*cb)(void *ctx, uint32_t partner, const char *kind, uint64_t since_ms),
                       void *ctx);
/* The last position in the partner's queue (0: empty). */
int tr_txn_out_head(tr_txn *t, uint32_t partner, uint64_t *head);
/* Calls cb with up to max records (at least one, then at most maxbytes in all) the
 * partner may have, from its queue after position after. *next is the queue position
 * the partner should ask after next time; *more is 1 when the queue goes on. env is
 * borrowed until the callback returns. */
int tr_txn_out_read(tr_txn *t, uint32_t partner, uint64_t after, size_t max, size_t maxbytes,
                    int (*cb)(void *ctx, const uint8_t *env, size_t len), void *ctx, uint64_t *next,
                    int *more);

/* How far this node has pulled from a partner: its queue position, the epoch of the
 * partner's queues that position belongs to, and how many records came from it. Zero
 * for a partner never pulled from. Kept in the transaction that stores the batch it
 * covers. */
typedef struct tr_sync_state {
	uint64_t cursor, epoch, received;
} tr_sync_state;
int tr_txn_sync_get(tr_txn *t, uint32_t partner, tr_sync_state *st);
int tr_txn_sync_put(tr_txn *t, uint32_t partner, const tr_sync_state *st);

/* Nodes that dialed in with a key that is no partner (at most 256 kept; the longest
 * unseen goes first). All that is known of them is their X25519 key and address. */
typedef struct tr_pending {
	uint8_t curve[TR_PK_BYTES];
	uint64_t first_ms, last_ms, count;
	char addr[64];
} tr_pending;
int tr_txn_pending_seen(tr_txn *t, const uint8_t curve[TR_PK_BYTES], const char *addr,
                        uint64_t now_ms);
int tr_txn_pending_scan(tr_txn *t, int (*cb)(void *ctx, const tr_pending *p), void *ctx);
int tr_txn_pending_del(tr_txn *t, const uint8_t curve[TR_PK_BYTES]);

/* Small named values the tools keep with the store, written in the caller's
 * transaction (e.g. how far an import got, committed with the batch it describes).
 * name is at most 64 bytes; get's value is borrowed until the callback returns. */
int tr_txn_note_put(tr_txn *t, const char *name, const void *val, size_t len);
int tr_txn_note_get(tr_txn *t, const char *name, const void **val, size_t *len);

/* Appends to the audit log: what an admin did. */
int tr_txn_audit(tr_txn *t, uint64_t now_ms, const char *action, const char *detail);
typedef struct tr_audit_entry {
	uint64_t seq, time_ms;
	tr_str action, detail; /* borrowed until the callback returns */
} tr_audit_entry;
int tr_txn_audit_scan(tr_txn *t, int (*cb)(void *ctx, const tr_audit_entry *e), void *ctx);

/* Re-checks every record (decodes, verifies signature and disclosed fields) and that
 * every index entry and id entry agrees with the log. cb is called once per problem
 * with a sentence; *records gets the number of records checked. Returns 0 if the walk
 * completed (problems or not). */
int tr_txn_check(tr_txn *t, void (*cb)(void *ctx, const char *problem), void *ctx,
                 uint64_t *records);

/* Counts: records in the log. */
int tr_txn_count(tr_txn *t, uint64_t *records);

#endif
