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
#include "wire.h"

#define TR_STORE_SCHEMA 3

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
/* Compaction: a retraction deletes data, but LMDB keeps freed pages in its file until
 * it reuses them. tr_store_compact writes a compacted copy (live data only) and puts
 * it in place of the file, then reopens: possible only while no other process has the
 * store open (TR_EBUSY otherwise: try later). *done is 1 when the file was replaced.
 * tr_store_needs_compact: 1 when data was deleted since the store was opened or last
 * compacted. */
int tr_store_compact(tr_store *s, int *done);
int tr_store_needs_compact(const tr_store *s);

/* The node key the store signs its own records with: receipts for retractions it
 * honours, and retractions it passes on. Without one it honours retractions silently.
 * key must outlive the store. */
void tr_store_set_key(tr_store *s, const tr_key *key);
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

/* The state of record id (of kind) now: the state of the status about it that arrived
 * last ("note" aside, "reopened" leading back, states of other kinds left aside), or
 * the kind's first state; "" for a kind without states. */
int tr_txn_state(tr_txn *t, const uint8_t id[TR_ID_BYTES], const char *kind, char *out, size_t n);

/* Checks rec's references against the store: each must exist and be of a kind rec's
 * kind may refer to, and a retraction may only withdraw author's own record; a status
 * must follow the lifecycle, a trial report needs this node's accept.
 * 0, or TR_EREF/TR_ESCHEMA with a sentence in why. (tr_txn_create calls it.) */
int tr_txn_check_refs(tr_txn *t, const tr_record *rec, const uint8_t author[TR_PK_BYTES], char *why,
                      size_t whylen);

/* Stores a record that was decoded and verified from env (tr_record_open). Stores it
 * as given (withheld fields stay withheld). depth: how many hops it travelled to get
 * here (the sender's depth + 1; TR_DEPTH_MAX unknown); a node's own records are depth
 * 0 and records imported from a file are unknown. *added is 0 if the id was already
 * there: adding is idempotent, and keeps the union of the disclosures and the shortest
 * depth. A record invalid for its kind is refused (TR_ESCHEMA). One of
 * this node's own records moves the node's sequence number past it. */
int tr_txn_add(tr_txn *t, const uint8_t *env, size_t len, const tr_record *rec, uint32_t source,
               unsigned depth, int *added);

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
 * cb returns 0 to go on, anything else to stop (that value is returned). h->rec is
 * decoded into one buffer per transaction: a scan inside cb reuses it, so copy what cb
 * needs of h->rec before scanning again. */
int tr_txn_scan(tr_txn *t, const tr_query *q, int (*cb)(void *ctx, const tr_hit *h), void *ctx);
/* The ids of the records matching q, in arrival order, into a malloc'd *ids (the caller
 * frees it, also on error): for a caller that reads each one with another scan. */
int tr_txn_scan_ids(tr_txn *t, const tr_query *q, uint8_t (**ids)[TR_ID_BYTES], size_t *n);

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
	int role; /* TR_ROLE_USER, _DISTRIBUTOR, _PRODUCER, or 0: not known */
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
 * the order they became shareable, with the fields it may see of each. A record joins
 * the queues of the partners that may have it in the transaction that stores it; a
 * rule or grant that widens what a partner gets appends only the records (or fields)
 * it did not have. A pull reads the queue after a position and decides each record
 * again, so narrowing takes effect on the next pull.
 *
 * The decision (one function, share.c): a record never goes back to the partner it
 * came from or to its author; a record written elsewhere goes on only as far and to
 * the roles its author's terms allow, without the author's private fields, and, for
 * ideas, claims and trial answers, only with the author's consent to this node; and
 * then only if a rule of the partner matches it or the admin granted it. The fields
 * that go are those the matching rules and grants list. */

#define TR_RULE_MAX_CONDS 8
#define TR_PATTERN_MAX 200
enum {
	TR_RULE_FORWARD = 1, /* also records this node received (automatic forwarding) */
	TR_RULE_REPLIES = 2  /* only records referring to a record that came from the partner or
	                      * went to it */
};

/* FIELD=PATTERN: the field's disclosed value matches the glob (* and ?), or one of its
 * |-separated alternatives. Integers match on their decimal text. */
typedef struct tr_cond {
	char field[TR_MAX_NAME + 1];
	char pattern[TR_PATTERN_MAX + 1];
} tr_cond;

typedef struct tr_rule {
	uint32_t id;      /* assigned when added, from 1, never reused */
	uint32_t partner; /* the partner's index */
	char kind[TR_MAX_NAME + 1];
	int all_fields; /* else only fields[] are disclosed; the rest travel as digests */
	size_t nfields;
	char fields[TR_MAX_FIELDS][TR_MAX_NAME + 1];
	size_t nconds; /* all must hold */
	tr_cond conds[TR_RULE_MAX_CONDS];
	unsigned flags; /* TR_RULE_* */
	uint64_t created_ms;
	uint64_t version; /* the policy version it was added in */
} tr_rule;

/* Parses "FIELD=PATTERN" into c. 0, or TR_EINVAL with a sentence in why. */
int tr_cond_parse(const char *text, tr_cond *c, char *why, size_t whylen);
/* Checks a rule against its kind: a known kind, fields and condition fields of that
 * kind (or x_ custom fields), patterns not empty. 0, or TR_EINVAL with why. */
int tr_rule_check(const tr_rule *r, char *why, size_t whylen);
/* "idea fields=title,text where product=DW-* forward" */
void tr_rule_describe(const tr_rule *r, char *out, size_t n);

/* Adds a rule (r->id, created_ms and version are set) and queues what it newly allows
 * of the records already here (*backfilled: how many). TR_EINVAL (why), TR_ENOTFOUND
 * (no such partner). */
int tr_txn_rule_add(tr_txn *t, tr_rule *r, uint64_t now_ms, uint64_t *backfilled, char *why,
                    size_t whylen);
int tr_txn_rule_get(tr_txn *t, uint32_t id, tr_rule *r);
/* Each rule of one partner (or all: partner 0), in id order. cb returns non-zero to stop. */
int tr_txn_rule_scan(tr_txn *t, uint32_t partner, int (*cb)(void *ctx, const tr_rule *r),
                     void *ctx);
/* Removes a rule. What the partner was sent and no rule or grant allows any more is
 * counted in *narrowed; with retract, a retraction is written and queued for each such
 * record (*retracted). TR_ENOTFOUND. */
int tr_txn_rule_remove(tr_txn *t, uint32_t id, int retract, uint64_t now_ms, uint64_t *narrowed,
                       uint64_t *retracted);
/* The policy version: counts every change of rules and grants. */
int tr_txn_policy_version(tr_txn *t, uint64_t *version);

/* Shorthands: allow = a rule for all fields that forwards (TR_EEXIST if there is one);
 * deny = remove every rule of the partner for the kind (TR_ENOTFOUND if none). */
int tr_txn_policy_allow(tr_txn *t, uint32_t partner, const char *kind, uint64_t now_ms,
                        uint64_t *backfilled);
int tr_txn_policy_deny(tr_txn *t, uint32_t partner, const char *kind);

/* Decides again every record of the kinds the partner's rules name and queues what may
 * go now (after its role changed, say). *queued: how many. */
int tr_txn_share_refresh(tr_txn *t, uint32_t partner, uint64_t *queued);

/* Why a record may not go to a partner. */
enum {
	TR_SHARE_OK = 0,
	TR_SHARE_SOURCE,     /* it came from that partner */
	TR_SHARE_AUTHOR,     /* that partner wrote it */
	TR_SHARE_GRANT_ONLY, /* consents, retractions and receipts go only where addressed */
	TR_SHARE_HOPS,       /* the author's terms do not let it travel that far */
	TR_SHARE_ROLE,       /* ... nor to a node of that partner's role */
	TR_SHARE_CONSENT,    /* its author has not consented to this node passing it on */
	TR_SHARE_PATH,       /* where it has been is unknown (imported from a file) */
	TR_SHARE_NO_RULE     /* no rule or grant of this node's admin allows it */
};
/* A sentence for TR_SHARE_*. */
const char *tr_share_why(int why);

/* Grants one record to a partner (fields: the names to disclose; nfields 0: all) and
 * queues it; takes it out of the inbox. Refused with why (TR_EPERM) when the author's
 * terms or consent forbid it or a field asked for is private to the author;
 * TR_ENOTFOUND when the record is not here; TR_EINVAL for a field the record lacks. */
int tr_txn_grant(tr_txn *t, uint32_t partner, const uint8_t id[TR_ID_BYTES],
                 const char fields[][TR_MAX_NAME + 1], size_t nfields, char *why, size_t whylen);
/* Withdraws a grant; with retract, retracts what no rule still allows (*retracted).
 * TR_ENOTFOUND if there was no grant. */
int tr_txn_grant_revoke(tr_txn *t, uint32_t partner, const uint8_t id[TR_ID_BYTES], int retract,
                        uint64_t now_ms, uint64_t *retracted);

/* The inbox: records received from a partner that no rule or grant passed on yet and
 * that their author's terms would let go further; the admin forwards (tr_txn_grant) or
 * declines them. */
int tr_txn_inbox_scan(tr_txn *t, int (*cb)(void *ctx, const tr_hit *h), void *ctx);
int tr_txn_inbox_decline(tr_txn *t, const uint8_t id[TR_ID_BYTES]);

/* Writes a retraction of record id for partner (0: every partner that was sent it),
 * of the comma-separated fields (NULL: the whole body), and queues it for that partner.
 * *n: how many were written. TR_ENOTFOUND (no such record), TR_EINVAL (a field it
 * lacks; why). Needs the store's key (tr_store_set_key). */
int tr_txn_retract(tr_txn *t, const uint8_t id[TR_ID_BYTES], uint32_t partner, const char *fields,
                   const char *reason, uint64_t now_ms, uint64_t *n, char *why, size_t whylen);

/* Purposes of consent (bits), and the scope text naming them ("ideas,claims"). */
enum { TR_PURPOSE_IDEAS = 1, TR_PURPOSE_CLAIMS = 2, TR_PURPOSE_TRIALS = 4 };
int tr_purposes_parse(const char *scope, size_t n, unsigned *mask);
/* 1 if author's consent for purpose to this node holds now. */
int tr_txn_consent_holds(tr_txn *t, const uint8_t author[TR_PK_BYTES], unsigned purpose,
                         uint64_t now_ms);

/* Dry run: each record the partner would get with its rules and grants (and extra, if
 * not NULL), with the fields it would see (give: bits over h->rec->fields) and, if it
 * holds the record already (held: it pulled past it, tr_txn_acked_get), the fields it
 * was given (had). Only the kinds the rules name and the granted records are read. */
int tr_txn_policy_test(tr_txn *t, uint32_t partner, const tr_rule *extra,
                       int (*cb)(void *ctx, const tr_hit *h, uint32_t give, int held, uint32_t had),
                       void *ctx);

/* The last position in the partner's queue (0: empty). */
int tr_txn_out_head(tr_txn *t, uint32_t partner, uint64_t *head);
/* Calls cb with up to max records (at least one, then at most maxbytes in all) the
 * partner may have, from its queue after position after, each with this node's depth
 * of it and only the fields the partner may see. *next is the queue position the
 * partner should ask after next time; *more is 1 when the queue goes on. env is
 * borrowed until the callback returns. */
int tr_txn_out_read(tr_txn *t, uint32_t partner, uint64_t after, size_t max, size_t maxbytes,
                    int (*cb)(void *ctx, unsigned depth, const uint8_t *env, size_t len), void *ctx,
                    uint64_t *next, int *more);

/* How far this node has pulled from a partner: its queue position, the epoch of the
 * partner's queues that position belongs to, and how many records came from it. Zero
 * for a partner never pulled from. Kept in the transaction that stores the batch it
 * covers. */
typedef struct tr_sync_state {
	uint64_t cursor, epoch, received;
} tr_sync_state;
int tr_txn_sync_get(tr_txn *t, uint32_t partner, tr_sync_state *st);
int tr_txn_sync_put(tr_txn *t, uint32_t partner, const tr_sync_state *st);

/* How far a partner has pulled from this node (the `after` of its latest PULL), as the
 * daemon last wrote it down: what the partner holds for sure. 0 if unknown, or if it
 * counts in another epoch of the partner's queue. */
int tr_txn_acked_get(tr_txn *t, uint32_t partner, uint64_t *pos);
int tr_txn_acked_put(tr_txn *t, uint32_t partner, uint64_t pos);
/* The epoch of one partner's queue: the store's epoch mixed with the partner's index,
 * so that a partner removed and added again (a new index, a new queue from 1) is told
 * to pull from the start. Never 0. */
uint64_t tr_store_queue_epoch(const tr_store *s, uint32_t partner);

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
