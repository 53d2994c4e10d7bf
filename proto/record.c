/* record.c: sealing, strict decoding, verification and selective re-encoding of
 * records. Decoding borrows its input and never allocates; every count and length is
 * checked against the caps in record.h before use. No I/O. */
#include "record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "banned.h"

static const char field_domain[] = "trestle.field.v1";   /* hashed with its NUL */
static const char record_domain[] = "trestle.record.v1"; /* signed with its NUL */

int tr_str_eq(tr_str s, const char *c)
{
	size_t n = strlen(c);
	return s.n == n && memcmp(s.p, c, n) == 0;
}

static int str_cmp(tr_str a, tr_str b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = memcmp(a.p, b.p, n);
	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

int tr_name_valid(tr_str s)
{
	if (s.n == 0 || s.n > TR_MAX_NAME || s.p[0] < 'a' || s.p[0] > 'z')
		return 0;
	for (size_t i = 1; i < s.n; i++) {
		char c = s.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

void tr_id_hex(const uint8_t id[TR_ID_BYTES], char out[TR_ID_HEX_SIZE])
{
	sodium_bin2hex(out, TR_ID_HEX_SIZE, id, TR_ID_BYTES);
}

void tr_record_init(tr_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->version = TR_FORMAT_VERSION;
}

static tr_field *add_field(tr_record *rec, const char *name)
{
	if (rec->nfields >= TR_MAX_FIELDS)
		return NULL;
	tr_field *f = &rec->fields[rec->nfields++];
	memset(f, 0, sizeof(*f));
	f->name.p = name;
	f->name.n = strlen(name);
	f->disclosed = 1;
	return f;
}

int tr_record_add_str(tr_record *rec, const char *name, const char *value, size_t len)
{
	tr_field *f = add_field(rec, name);
	if (!f)
		return TR_ETOOBIG;
	f->value.type = TR_VAL_STR;
	f->value.s.p = value;
	f->value.s.n = len;
	return 0;
}

int tr_record_add_int(tr_record *rec, const char *name, int64_t value)
{
	tr_field *f = add_field(rec, name);
	if (!f)
		return TR_ETOOBIG;
	f->value.type = TR_VAL_INT;
	f->value.i = value;
	return 0;
}

static int field_cmp(const void *a, const void *b)
{
	return str_cmp(((const tr_field *)a)->name, ((const tr_field *)b)->name);
}

static int tstr_cmp(const void *a, const void *b)
{
	return str_cmp(*(const tr_str *)a, *(const tr_str *)b);
}

static int ref_cmp(const void *a, const void *b)
{
	return memcmp(a, b, TR_ID_BYTES);
}

static void hash_field(const uint8_t *disc, size_t len, uint8_t out[TR_DIGEST_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, TR_DIGEST_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)field_domain, sizeof(field_domain));
	crypto_generichash_update(&st, disc, len);
	crypto_generichash_final(&st, out, TR_DIGEST_BYTES);
}

static void signed_message(const uint8_t id[TR_ID_BYTES],
                           uint8_t msg[sizeof(record_domain) + TR_ID_BYTES])
{
	memcpy(msg, record_domain, sizeof(record_domain));
	memcpy(msg + sizeof(record_domain), id, TR_ID_BYTES);
}

static void write_value(tr_mpw *w, const tr_value *v)
{
	if (v->type == TR_VAL_INT)
		tr_mpw_int(w, v->i);
	else
		tr_mpw_str(w, v->s.p, v->s.n);
}

static void write_header(tr_mpw *w, const tr_record *rec)
{
	tr_mpw_array(w, 8);
	tr_mpw_uint(w, rec->version);
	tr_mpw_str(w, rec->kind.p, rec->kind.n);
	tr_mpw_bin(w, rec->author, TR_PK_BYTES);
	tr_mpw_uint(w, rec->seq);
	tr_mpw_uint(w, rec->created_ms);
	tr_mpw_array(w, rec->nrefs);
	for (size_t i = 0; i < rec->nrefs; i++)
		tr_mpw_bin(w, rec->refs[i], TR_ID_BYTES);
	tr_mpw_array(w, 3);
	tr_mpw_uint(w, rec->terms.hops);
	tr_mpw_uint(w, rec->terms.roles);
	tr_mpw_array(w, rec->terms.nprivate);
	for (size_t i = 0; i < rec->terms.nprivate; i++)
		tr_mpw_str(w, rec->terms.private_fields[i].p, rec->terms.private_fields[i].n);
	tr_mpw_array(w, rec->nfields);
	for (size_t i = 0; i < rec->nfields; i++) {
		tr_mpw_array(w, 2);
		tr_mpw_str(w, rec->fields[i].name.p, rec->fields[i].name.n);
		tr_mpw_bin(w, rec->fields[i].digest, TR_DIGEST_BYTES);
	}
}

int tr_record_seal(tr_record *rec, const tr_key *key, tr_mpw *out)
{
	if (rec->nfields > TR_MAX_FIELDS || rec->nrefs > TR_MAX_REFS ||
	    rec->terms.nprivate > TR_MAX_FIELDS)
		return TR_ETOOBIG;
	if (!tr_name_valid(rec->kind) || rec->terms.roles > TR_ROLE_ALL)
		return TR_EINVAL;
	qsort(rec->fields, rec->nfields, sizeof(rec->fields[0]), field_cmp);
	qsort(rec->refs, rec->nrefs, TR_ID_BYTES, ref_cmp);
	qsort(rec->terms.private_fields, rec->terms.nprivate, sizeof(tr_str), tstr_cmp);
	for (size_t i = 0; i < rec->nfields; i++) {
		const tr_field *f = &rec->fields[i];
		if (!tr_name_valid(f->name) ||
		    (i && str_cmp(rec->fields[i - 1].name, f->name) == 0))
			return TR_EINVAL;
		if (f->value.type == TR_VAL_STR &&
		    (f->value.s.n > TR_MAX_VALUE || !tr_utf8_valid(f->value.s.p, f->value.s.n)))
			return f->value.s.n > TR_MAX_VALUE ? TR_ETOOBIG : TR_EINVAL;
	}
	for (size_t i = 1; i < rec->nrefs; i++)
		if (memcmp(rec->refs[i - 1], rec->refs[i], TR_ID_BYTES) == 0)
			return TR_EINVAL;
	for (size_t i = 0; i < rec->terms.nprivate; i++)
		if (!tr_name_valid(rec->terms.private_fields[i]) ||
		    (i &&
		     str_cmp(rec->terms.private_fields[i - 1], rec->terms.private_fields[i]) == 0))
			return TR_EINVAL;
	/* one draw for all salts: a getrandom call per field was a third of import time */
	uint8_t salts[TR_MAX_FIELDS * TR_SALT_BYTES];
	randombytes_buf(salts, rec->nfields * TR_SALT_BYTES);
	for (size_t i = 0; i < rec->nfields; i++)
		if (!rec->fields[i].has_salt) {
			memcpy(rec->fields[i].salt, salts + i * TR_SALT_BYTES, TR_SALT_BYTES);
			rec->fields[i].has_salt = 1;
		}
	memcpy(rec->author, tr_key_public(key), TR_PK_BYTES);
	rec->header = NULL;
	rec->header_len = 0;

	/* Disclosures first into scratch (their bytes give the digests), then the header. */
	tr_mpw scratch;
	tr_mpw_init(&scratch);
	size_t off[TR_MAX_FIELDS + 1];
	for (size_t i = 0; i < rec->nfields; i++) {
		tr_field *f = &rec->fields[i];
		off[i] = tr_mpw_size(&scratch);
		tr_mpw_array(&scratch, 3);
		tr_mpw_str(&scratch, f->name.p, f->name.n);
		tr_mpw_bin(&scratch, f->salt, TR_SALT_BYTES);
		write_value(&scratch, &f->value);
		if (tr_mpw_error(&scratch))
			break;
		hash_field(tr_mpw_data(&scratch) + off[i], tr_mpw_size(&scratch) - off[i],
		           f->digest);
	}
	size_t hoff = off[rec->nfields] = tr_mpw_size(&scratch);
	write_header(&scratch, rec);
	int rc = tr_mpw_error(&scratch);
	if (rc)
		goto done;
	crypto_generichash(rec->id, TR_ID_BYTES, tr_mpw_data(&scratch) + hoff,
	                   tr_mpw_size(&scratch) - hoff, NULL, 0);
	uint8_t msg[sizeof(record_domain) + TR_ID_BYTES];
	signed_message(rec->id, msg);
	tr_key_sign(key, msg, sizeof(msg), rec->sig);

	tr_mpw_reset(out);
	tr_mpw_array(out, 3);
	tr_mpw_bin(out, tr_mpw_data(&scratch) + hoff, tr_mpw_size(&scratch) - hoff);
	tr_mpw_bin(out, rec->sig, TR_SIG_BYTES);
	tr_mpw_array(out, rec->nfields);
	tr_mpw_raw(out, tr_mpw_data(&scratch), hoff);
	rc = tr_mpw_error(out);
	if (!rc && tr_mpw_size(out) > TR_MAX_RECORD_BYTES)
		rc = TR_ETOOBIG;
done:
	tr_mpw_release(&scratch);
	return rc;
}

/* On error these leave the cursor anywhere: callers stop at the first error. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_)                                                                           \
			return rc_;                                                                \
	} while (0)

static int read_name(tr_mpr *r, tr_str *s)
{
	TRY(tr_mpr_str(r, s, TR_MAX_NAME));
	return tr_name_valid(*s) ? 0 : TR_EFORMAT;
}

static int decode_header(tr_record *rec, const uint8_t *p, size_t len)
{
	tr_mpr r;
	size_t n;
	tr_mpr_init(&r, p, len);
	TRY(tr_mpr_array(&r, &n, 16));
	TRY(tr_mpr_uint(&r, &rec->version));
	if (rec->version != TR_FORMAT_VERSION)
		return TR_EVERSION;
	if (n != 8)
		return TR_EFORMAT;
	TRY(read_name(&r, &rec->kind));
	TRY(tr_mpr_bin_exact(&r, rec->author, TR_PK_BYTES));
	TRY(tr_mpr_uint(&r, &rec->seq));
	TRY(tr_mpr_uint(&r, &rec->created_ms));

	TRY(tr_mpr_array(&r, &rec->nrefs, TR_MAX_REFS));
	for (size_t i = 0; i < rec->nrefs; i++) {
		TRY(tr_mpr_bin_exact(&r, rec->refs[i], TR_ID_BYTES));
		if (i && memcmp(rec->refs[i - 1], rec->refs[i], TR_ID_BYTES) >= 0)
			return TR_ECANON;
	}

	TRY(tr_mpr_array(&r, &n, 3));
	if (n != 3)
		return TR_EFORMAT;
	TRY(tr_mpr_uint(&r, &rec->terms.hops));
	TRY(tr_mpr_uint(&r, &rec->terms.roles));
	if (rec->terms.roles > TR_ROLE_ALL)
		return TR_EFORMAT;
	TRY(tr_mpr_array(&r, &rec->terms.nprivate, TR_MAX_FIELDS));
	for (size_t i = 0; i < rec->terms.nprivate; i++) {
		TRY(read_name(&r, &rec->terms.private_fields[i]));
		if (i &&
		    str_cmp(rec->terms.private_fields[i - 1], rec->terms.private_fields[i]) >= 0)
			return TR_ECANON;
	}

	TRY(tr_mpr_array(&r, &rec->nfields, TR_MAX_FIELDS));
	for (size_t i = 0; i < rec->nfields; i++) {
		tr_field *f = &rec->fields[i];
		memset(f, 0, sizeof(*f));
		TRY(tr_mpr_array(&r, &n, 2));
		if (n != 2)
			return TR_EFORMAT;
		TRY(read_name(&r, &f->name));
		TRY(tr_mpr_bin_exact(&r, f->digest, TR_DIGEST_BYTES));
		if (i && str_cmp(rec->fields[i - 1].name, f->name) >= 0)
			return TR_ECANON;
	}
	return tr_mpr_done(&r);
}

int tr_record_decode(const void *buf, size_t len, tr_record *rec)
{
	tr_mpr r;
	size_t n;
	const uint8_t *hp;
	size_t hlen;

	if (len > TR_MAX_RECORD_BYTES)
		return TR_ETOOBIG;
	memset(rec, 0, offsetof(tr_record, fields));
	rec->nfields = 0;
	rec->header = NULL;
	rec->header_len = 0;
	tr_mpr_init(&r, buf, len);
	TRY(tr_mpr_array(&r, &n, 3));
	if (n != 3)
		return TR_EFORMAT;
	TRY(tr_mpr_bin(&r, &hp, &hlen, TR_MAX_RECORD_BYTES));
	TRY(decode_header(rec, hp, hlen));
	rec->header = hp;
	rec->header_len = hlen;
	crypto_generichash(rec->id, TR_ID_BYTES, hp, hlen, NULL, 0);
	TRY(tr_mpr_bin_exact(&r, rec->sig, TR_SIG_BYTES));

	TRY(tr_mpr_array(&r, &n, TR_MAX_FIELDS));
	size_t fi = 0;
	tr_str prev = {NULL, 0};
	for (size_t i = 0; i < n; i++) {
		const uint8_t *start = r.p;
		size_t m;
		tr_str name;
		TRY(tr_mpr_array(&r, &m, 3));
		if (m != 3)
			return TR_EFORMAT;
		TRY(read_name(&r, &name));
		if (i && str_cmp(prev, name) >= 0)
			return TR_ECANON;
		prev = name;
		/* fields are sorted too: walk forward to the one this discloses */
		while (fi < rec->nfields && str_cmp(rec->fields[fi].name, name) < 0)
			fi++;
		if (fi == rec->nfields || str_cmp(rec->fields[fi].name, name) != 0)
			return TR_EFORMAT;
		tr_field *f = &rec->fields[fi];
		TRY(tr_mpr_bin_exact(&r, f->salt, TR_SALT_BYTES));
		int t = tr_mpr_type(&r);
		if (t == TR_MP_INT) {
			f->value.type = TR_VAL_INT;
			TRY(tr_mpr_int(&r, &f->value.i));
		} else if (t == TR_MP_STR) {
			f->value.type = TR_VAL_STR;
			TRY(tr_mpr_str(&r, &f->value.s, TR_MAX_VALUE));
		} else {
			return TR_EFORMAT;
		}
		f->disclosed = 1;
		f->disc = start;
		f->disc_len = (size_t)(r.p - start);
	}
	return tr_mpr_done(&r);
}

int tr_record_verify(tr_record *rec)
{
	uint8_t msg[sizeof(record_domain) + TR_ID_BYTES];
	if (!rec->header)
		return TR_EFORMAT;
	crypto_generichash(rec->id, TR_ID_BYTES, rec->header, rec->header_len, NULL, 0);
	signed_message(rec->id, msg);
	if (crypto_sign_verify_detached(rec->sig, msg, sizeof(msg), rec->author) != 0)
		return TR_ESIG;
	for (size_t i = 0; i < rec->nfields; i++) {
		const tr_field *f = &rec->fields[i];
		uint8_t d[TR_DIGEST_BYTES];
		if (!f->disclosed)
			continue;
		hash_field(f->disc, f->disc_len, d);
		if (sodium_memcmp(d, f->digest, TR_DIGEST_BYTES) != 0)
			return TR_EDIGEST;
	}
	return 0;
}

int tr_record_open(const void *buf, size_t len, tr_record *rec)
{
	int rc = tr_record_decode(buf, len, rec);
	return rc ? rc : tr_record_verify(rec);
}

int tr_record_encode(const tr_record *rec, tr_mpw *out)
{
	size_t n = 0;
	if (!rec->header)
		return TR_EINVAL;
	for (size_t i = 0; i < rec->nfields; i++)
		n += rec->fields[i].disclosed != 0;
	tr_mpw_reset(out);
	tr_mpw_array(out, 3);
	tr_mpw_bin(out, rec->header, rec->header_len);
	tr_mpw_bin(out, rec->sig, TR_SIG_BYTES);
	tr_mpw_array(out, n);
	for (size_t i = 0; i < rec->nfields; i++)
		if (rec->fields[i].disclosed)
			tr_mpw_raw(out, rec->fields[i].disc, rec->fields[i].disc_len);
	return tr_mpw_error(out);
}

const tr_field *tr_record_field(const tr_record *rec, const char *name)
{
	for (size_t i = 0; i < rec->nfields; i++)
		if (tr_str_eq(rec->fields[i].name, name))
			return &rec->fields[i];
	return NULL;
}

int tr_record_withhold(tr_record *rec, const char *name)
{
	tr_field *f = (tr_field *)tr_record_field(rec, name);
	if (!f)
		return TR_ENOTFOUND;
	f->disclosed = 0;
	return 0;
}
