/* mp.h: the canonical subset of msgpack that trestle's formats use.
 *
 * Writing goes through msgpack-c's packer, which always picks the smallest form.
 * Reading does NOT use msgpack-c's unpacker: it has no size or depth limits (a 5-byte
 * input can make it reserve gigabytes) and accepts non-canonical forms. This reader is
 * a cursor over borrowed bytes that pulls one expected item at a time, checks every
 * length against the bytes remaining and a caller's cap before anything else, and
 * rejects any encoding that is not the canonical one (proto/SPEC.md, "Canonical
 * msgpack"). It never allocates: strings and byte strings point into the input.
 *
 * Only these types appear in trestle formats: non-negative and negative integers, str
 * (valid UTF-8), bin and array. Maps, floats, nil, bool and ext are refused.
 */
#ifndef TR_MP_H
#define TR_MP_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* A byte string borrowed from somewhere else; not NUL-terminated. */
typedef struct tr_str {
	const char *p;
	size_t n;
} tr_str;

/* ---- writer ---- */

/* An growable output buffer. Errors are sticky: check tr_mpw_error() once at the end. */
typedef struct tr_mpw {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int err;
} tr_mpw;

void tr_mpw_init(tr_mpw *w);
void tr_mpw_release(tr_mpw *w); /* frees the buffer; w may be re-initialised */
void tr_mpw_reset(tr_mpw *w);   /* empties the buffer, keeps its memory */
void tr_mpw_array(tr_mpw *w, size_t n);
void tr_mpw_uint(tr_mpw *w, uint64_t v);
void tr_mpw_int(tr_mpw *w, int64_t v); /* smallest form; non-negative as uint forms */
void tr_mpw_str(tr_mpw *w, const char *p, size_t n);
void tr_mpw_bin(tr_mpw *w, const void *p, size_t n);
/* Appends bytes that are already canonical msgpack (e.g. a verified disclosure). */
void tr_mpw_raw(tr_mpw *w, const void *p, size_t n);
int tr_mpw_error(const tr_mpw *w); /* 0 or ENOMEM */
static inline const uint8_t *tr_mpw_data(const tr_mpw *w)
{
	return (const uint8_t *)w->sb.data;
}
static inline size_t tr_mpw_size(const tr_mpw *w)
{
	return w->sb.size;
}

/* ---- reader ---- */

typedef struct tr_mpr {
	const uint8_t *p;
	const uint8_t *end;
} tr_mpr;

enum tr_mp_type { TR_MP_NONE = 0, TR_MP_INT, TR_MP_STR, TR_MP_BIN, TR_MP_ARRAY, TR_MP_OTHER };

/* buf is borrowed for as long as anything read from it is used. */
static inline void tr_mpr_init(tr_mpr *r, const void *buf, size_t len)
{
	r->p = (const uint8_t *)buf;
	r->end = r->p + len;
}
static inline size_t tr_mpr_left(const tr_mpr *r)
{
	return (size_t)(r->end - r->p);
}

/* Each reader returns 0, or TR_EFORMAT (wrong type, truncated, invalid UTF-8),
 * TR_ECANON (not the smallest form) or TR_ETOOBIG (over max). On error the cursor is
 * left where it was. */
int tr_mpr_type(const tr_mpr *r); /* type of the next item, TR_MP_NONE at the end */
int tr_mpr_array(tr_mpr *r, size_t *n, size_t max);
int tr_mpr_uint(tr_mpr *r, uint64_t *v);
int tr_mpr_int(tr_mpr *r, int64_t *v);
int tr_mpr_str(tr_mpr *r, tr_str *s, size_t max);
int tr_mpr_bin(tr_mpr *r, const uint8_t **p, size_t *n, size_t max);
int tr_mpr_bin_exact(tr_mpr *r, uint8_t *out, size_t n); /* bin of exactly n bytes */
int tr_mpr_done(const tr_mpr *r);                        /* TR_EFORMAT if bytes remain */

/* 1 if s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int tr_utf8_valid(const char *s, size_t n);

#endif
