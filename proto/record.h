/* record.h: signed records with per-field salted digests and selective disclosure.
 *
 * A record is an envelope (proto/SPEC.md, "Records"):
 *   envelope    = [ header: bin, signature: bin(64), disclosures: [disclosure...] ]
 *   header      = [ version, kind, author, seq, created_ms, refs, terms, digests ]
 *   disclosure  = [ name: str, salt: bin(16), value: str | int ]
 * digest(field) = BLAKE2b-256("trestle.field.v1\0" || exact bytes of its disclosure)
 * id            = BLAKE2b-256(exact header bytes)
 * signature     = Ed25519(author, "trestle.record.v1\0" || id)
 *
 * A node passing a record on may leave disclosures out; the receiver still verifies the
 * signature and every disclosure it got, and sees the names of the fields withheld.
 *
 * Decoding never allocates: a decoded tr_record borrows the bytes it was decoded from
 * (tr_str and pointer members point into them) and is valid only while they are.
 * Nothing here does I/O or prints.
 */
#ifndef TR_RECORD_H
#define TR_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "mp.h"

#define TR_FORMAT_VERSION 1
#define TR_ID_BYTES 32
#define TR_SALT_BYTES 16
#define TR_DIGEST_BYTES 32
#define TR_ID_HEX_SIZE 65 /* 64 hex digits and NUL */

/* Caps, checked before anything is used (proto/SPEC.md, "Limits"). */
#define TR_MAX_RECORD_BYTES 65536 /* whole envelope */
#define TR_MAX_FIELDS 32          /* fields per record */
#define TR_MAX_REFS 8             /* referenced records */
#define TR_MAX_NAME 32            /* bytes in a kind or field name */
#define TR_MAX_VALUE 16384        /* bytes in a string value */

/* Roles a record may travel to beyond the first partner (terms.roles bits). */
enum { TR_ROLE_USER = 1, TR_ROLE_DISTRIBUTOR = 2, TR_ROLE_PRODUCER = 4, TR_ROLE_ALL = 7 };

enum tr_value_type { TR_VAL_STR = 1, TR_VAL_INT = 2 };

typedef struct tr_value {
	int type;
	tr_str s;  /* TR_VAL_STR */
	int64_t i; /* TR_VAL_INT */
} tr_value;

typedef struct tr_field {
	tr_str name;
	uint8_t digest[TR_DIGEST_BYTES];
	int disclosed; /* value, salt and disc are meaningful only if set */
	int has_salt;  /* building: salt given (test vectors), else drawn when sealed */
	uint8_t salt[TR_SALT_BYTES];
	tr_value value;
	const uint8_t *disc; /* exact disclosure bytes (decoded records only) */
	size_t disc_len;
} tr_field;

/* The author's onward-sharing terms: how far the record may travel beyond the first
 * partner that receives it, to which roles, and which fields must not go past it. */
typedef struct tr_terms {
	uint64_t hops;  /* hops allowed beyond the first partner; 0 = first partner only */
	uint64_t roles; /* TR_ROLE_* bits of nodes it may reach beyond the first partner */
	size_t nprivate;
	tr_str private_fields[TR_MAX_FIELDS]; /* sorted, unique */
} tr_terms;

typedef struct tr_record {
	uint64_t version;
	tr_str kind;
	uint8_t author[TR_PK_BYTES];
	uint64_t seq;        /* the author's sequence number, from 1 */
	uint64_t created_ms; /* Unix time in milliseconds */
	size_t nrefs;
	uint8_t refs[TR_MAX_REFS][TR_ID_BYTES]; /* sorted, unique */
	tr_terms terms;
	size_t nfields;
	tr_field fields[TR_MAX_FIELDS]; /* sorted by name, unique */
	uint8_t id[TR_ID_BYTES];
	uint8_t sig[TR_SIG_BYTES];
	const uint8_t *header; /* exact header bytes (decoded records only) */
	size_t header_len;
} tr_record;

/* Empties rec for building: version 1, no fields, refs or terms. */
void tr_record_init(tr_record *rec);

/* Adds a field to a record being built; name and value are borrowed until sealed and
 * encoded. Its salt is drawn at random when the record is sealed, unless the caller
 * sets salt and has_salt. 0, TR_ETOOBIG (too many fields). */
int tr_record_add_str(tr_record *rec, const char *name, const char *value, size_t len);
int tr_record_add_int(tr_record *rec, const char *name, int64_t value);

/* Seals a record being built: sorts refs, fields and private-field names into canonical
 * order (rejecting duplicates: TR_EINVAL), computes the field digests, the header, the
 * id and the signature, and writes the envelope to out (which it resets first).
 * rec->author is set from key. Checks structure and caps, not the kind's schema
 * (tr_kind_validate does that). 0, TR_EINVAL, TR_ETOOBIG, ENOMEM. */
int tr_record_seal(tr_record *rec, const tr_key *key, tr_mpw *out);

/* Decodes an envelope strictly: canonical msgpack, known version, caps, sorted unique
 * refs, fields, private names and disclosures, every disclosure naming a field in the
 * header. Sets rec->id (the hash of the header bytes). Does not check the signature or
 * digests. rec borrows buf.
 * 0, TR_EFORMAT, TR_ECANON, TR_ETOOBIG, TR_EVERSION. */
int tr_record_decode(const void *buf, size_t len, tr_record *rec);

/* Verifies a decoded record: id from the exact header bytes, the author's signature,
 * and every disclosed field against its digest. Recomputes rec->id.
 * 0, TR_ESIG, TR_EDIGEST. */
int tr_record_verify(tr_record *rec) __attribute__((warn_unused_result));

/* decode + verify. */
int tr_record_open(const void *buf, size_t len, tr_record *rec) __attribute__((warn_unused_result));

/* Re-encodes a decoded record with only the fields still marked disclosed: the header
 * and signature bytes are carried verbatim. out is reset first. 0, ENOMEM. */
int tr_record_encode(const tr_record *rec, tr_mpw *out);

/* The field named name, or NULL. Borrowed from rec. */
const tr_field *tr_record_field(const tr_record *rec, const char *name);
/* Marks a field withheld; 0 or TR_ENOTFOUND. */
int tr_record_withhold(tr_record *rec, const char *name);

/* 1 if s is a valid kind or field name: [a-z][a-z0-9_]*, 1 to TR_MAX_NAME bytes. */
int tr_name_valid(tr_str s);
/* Compare a tr_str with a C string. */
int tr_str_eq(tr_str s, const char *c);
/* Writes the 64-digit lower-case hex form of an id. */
void tr_id_hex(const uint8_t id[TR_ID_BYTES], char out[TR_ID_HEX_SIZE]);

#endif
