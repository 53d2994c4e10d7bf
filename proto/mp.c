/* mp.c: canonical msgpack writer (over msgpack-c's packer) and strict reader.
 * The reader must never read past r->end nor trust a length before checking it. */
#include "mp.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static int sbuf_write(void *data, const char *buf, size_t len)
{
	tr_mpw *w = data;
	if (w->err)
		return -1;
	if (msgpack_sbuffer_write(&w->sb, buf, len) != 0) {
		w->err = ENOMEM;
		return -1;
	}
	return 0;
}

void tr_mpw_init(tr_mpw *w)
{
	msgpack_sbuffer_init(&w->sb);
	msgpack_packer_init(&w->pk, w, sbuf_write);
	w->err = 0;
}

void tr_mpw_release(tr_mpw *w)
{
	msgpack_sbuffer_destroy(&w->sb);
	memset(&w->sb, 0, sizeof(w->sb));
}

void tr_mpw_reset(tr_mpw *w)
{
	w->sb.size = 0;
	w->err = 0;
}

void tr_mpw_array(tr_mpw *w, size_t n)
{
	msgpack_pack_array(&w->pk, n);
}

void tr_mpw_uint(tr_mpw *w, uint64_t v)
{
	msgpack_pack_uint64(&w->pk, v);
}

void tr_mpw_int(tr_mpw *w, int64_t v)
{
	if (v >= 0)
		msgpack_pack_uint64(&w->pk, (uint64_t)v);
	else
		msgpack_pack_int64(&w->pk, v);
}

void tr_mpw_str(tr_mpw *w, const char *p, size_t n)
{
	msgpack_pack_str_with_body(&w->pk, p, n);
}

void tr_mpw_bin(tr_mpw *w, const void *p, size_t n)
{
	msgpack_pack_bin_with_body(&w->pk, p, n);
}

void tr_mpw_raw(tr_mpw *w, const void *p, size_t n)
{
	sbuf_write(w, p, n);
}

int tr_mpw_error(const tr_mpw *w)
{
	return w->err;
}

/* ---- reader ---- */

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int tr_mpr_type(const tr_mpr *r)
{
	if (r->p >= r->end)
		return TR_MP_NONE;
	uint8_t b = *r->p;
	if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
		return TR_MP_INT;
	if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
		return TR_MP_STR;
	if (b >= 0xc4 && b <= 0xc6)
		return TR_MP_BIN;
	if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
		return TR_MP_ARRAY;
	return TR_MP_OTHER;
}

/* Reads a length header of a str/bin/array. fix_lo..fix_hi is the fix range (mask
 * fix_mask gives the length; fix_end is one past the largest fix length, 0 if there is
 * no fix form), w8/w16/w32 the tags of the 1/2/4-byte length forms
 * (0 where the form does not exist). Enforces the smallest form and the cap. */
static int read_len(tr_mpr *r, uint8_t fix_lo, uint8_t fix_hi, uint8_t fix_mask, uint64_t fix_end,
                    uint8_t w8, uint8_t w16, uint8_t w32, size_t *out, size_t max, size_t *hdr)
{
	if (r->p >= r->end)
		return TR_EFORMAT;
	uint8_t b = *r->p;
	size_t left = tr_mpr_left(r);
	uint64_t n;
	size_t h;
	uint64_t smallest; /* the smallest length this form may carry */
	if (b >= fix_lo && b <= fix_hi) {
		n = b & fix_mask;
		h = 1;
		smallest = 0;
	} else if (w8 && b == w8) {
		if (left < 2)
			return TR_EFORMAT;
		n = r->p[1];
		h = 2;
		smallest = fix_end;
	} else if (b == w16) {
		if (left < 3)
			return TR_EFORMAT;
		n = be(r->p + 1, 2);
		h = 3;
		smallest = w8 ? 0x100 : fix_end;
	} else if (b == w32) {
		if (left < 5)
			return TR_EFORMAT;
		n = be(r->p + 1, 4);
		h = 5;
		smallest = 0x10000;
	} else {
		return TR_EFORMAT;
	}
	if (n < smallest)
		return TR_ECANON;
	if (n > max)
		return TR_ETOOBIG;
	*out = (size_t)n;
	*hdr = h;
	return 0;
}

int tr_mpr_array(tr_mpr *r, size_t *n, size_t max)
{
	size_t h, len;
	int rc = read_len(r, 0x90, 0x9f, 0x0f, 16, 0, 0xdc, 0xdd, &len, max, &h);
	if (rc)
		return rc;
	/* every element takes at least one byte: a cheap bound before anyone allocates */
	if (len > tr_mpr_left(r) - h)
		return TR_EFORMAT;
	r->p += h;
	*n = len;
	return 0;
}

int tr_mpr_str(tr_mpr *r, tr_str *s, size_t max)
{
	size_t h, len;
	int rc = read_len(r, 0xa0, 0xbf, 0x1f, 32, 0xd9, 0xda, 0xdb, &len, max, &h);
	if (rc)
		return rc;
	if (len > tr_mpr_left(r) - h)
		return TR_EFORMAT;
	const char *p = (const char *)r->p + h;
	if (!tr_utf8_valid(p, len))
		return TR_EFORMAT;
	s->p = p;
	s->n = len;
	r->p += h + len;
	return 0;
}

int tr_mpr_bin(tr_mpr *r, const uint8_t **p, size_t *n, size_t max)
{
	size_t h, len;
	/* bin has no fix form: pass an empty fix range */
	int rc = read_len(r, 1, 0, 0, 0, 0xc4, 0xc5, 0xc6, &len, max, &h);
	if (rc)
		return rc;
	if (len > tr_mpr_left(r) - h)
		return TR_EFORMAT;
	*p = r->p + h;
	*n = len;
	r->p += h + len;
	return 0;
}

int tr_mpr_bin_exact(tr_mpr *r, uint8_t *out, size_t n)
{
	tr_mpr save = *r;
	const uint8_t *p;
	size_t len;
	int rc = tr_mpr_bin(r, &p, &len, n);
	if (rc)
		return rc;
	if (len != n) {
		*r = save;
		return TR_EFORMAT;
	}
	memcpy(out, p, n);
	return 0;
}

/* Reads any integer; *neg tells which family it came from. Enforces smallest form. */
static int read_int(tr_mpr *r, uint64_t *mag, int *neg)
{
	if (r->p >= r->end)
		return TR_EFORMAT;
	uint8_t b = *r->p;
	size_t left = tr_mpr_left(r);
	if (b <= 0x7f) {
		*mag = b;
		*neg = 0;
		r->p++;
		return 0;
	}
	if (b >= 0xe0) {
		*mag = (uint64_t)(int64_t)(int8_t)b;
		*neg = 1;
		r->p++;
		return 0;
	}
	int width;
	switch (b) {
	case 0xcc:
	case 0xd0:
		width = 1;
		break;
	case 0xcd:
	case 0xd1:
		width = 2;
		break;
	case 0xce:
	case 0xd2:
		width = 4;
		break;
	case 0xcf:
	case 0xd3:
		width = 8;
		break;
	default:
		return TR_EFORMAT;
	}
	if (left < (size_t)width + 1)
		return TR_EFORMAT;
	uint64_t v = be(r->p + 1, width);
	if (b <= 0xcf) { /* unsigned: must not fit the next smaller form */
		static const uint64_t floor_[] = {0, 0x80, 0x100,         0, 0x10000, 0,
		                                  0, 0,    0x100000000ull};
		if (v < floor_[width])
			return TR_ECANON;
		*neg = 0;
	} else { /* signed: must be negative (non-negatives use uint forms) and not fit smaller */
		int64_t s;
		if (width == 1)
			s = (int8_t)v;
		else if (width == 2)
			s = (int16_t)v;
		else if (width == 4)
			s = (int32_t)v;
		else
			s = (int64_t)v;
		static const int64_t lo[] = {0, -32, -128, 0, -32768, 0, 0, 0, -2147483648ll};
		if (s >= lo[width])
			return TR_ECANON;
		v = (uint64_t)s;
		*neg = 1;
	}
	*mag = v;
	r->p += 1 + width;
	return 0;
}

int tr_mpr_uint(tr_mpr *r, uint64_t *v)
{
	tr_mpr save = *r;
	int neg;
	int rc = read_int(r, v, &neg);
	if (rc)
		return rc;
	if (neg) {
		*r = save;
		return TR_EFORMAT;
	}
	return 0;
}

int tr_mpr_int(tr_mpr *r, int64_t *v)
{
	tr_mpr save = *r;
	uint64_t m;
	int neg;
	int rc = read_int(r, &m, &neg);
	if (rc)
		return rc;
	if (!neg && m > INT64_MAX) {
		*r = save;
		return TR_ETOOBIG;
	}
	*v = (int64_t)m;
	return 0;
}

int tr_mpr_done(const tr_mpr *r)
{
	return r->p == r->end ? 0 : TR_EFORMAT;
}

int tr_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + n;
	while (p < e) {
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t need;
		unsigned cp;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if ((size_t)(e - p) <= need)
			return 0;
		for (size_t i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += need + 1;
	}
	return 1;
}
