/* wire.c: encoding and strict decoding of partner messages. Must never: trust a length
 * it has not checked, or accept a message with bytes left over. */
#include "wire.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static void head(tr_mpw *w, size_t n, int type)
{
	tr_mpw_array(w, n);
	tr_mpw_uint(w, TR_WIRE_VERSION);
	tr_mpw_uint(w, (uint64_t)type);
}

void tr_msg_hello(tr_mpw *w)
{
	head(w, 2, TR_MSG_HELLO);
}

void tr_msg_pull(tr_mpw *w, uint64_t after, uint64_t max, uint64_t maxbytes)
{
	head(w, 5, TR_MSG_PULL);
	tr_mpw_uint(w, after);
	tr_mpw_uint(w, max);
	tr_mpw_uint(w, maxbytes);
}

void tr_msg_batch(tr_mpw *w, uint64_t epoch, uint64_t after, uint64_t next, int more, size_t n,
                  const void *records, size_t len)
{
	head(w, 7, TR_MSG_BATCH);
	tr_mpw_uint(w, epoch);
	tr_mpw_uint(w, after);
	tr_mpw_uint(w, next);
	tr_mpw_uint(w, more ? 1 : 0);
	tr_mpw_array(w, n);
	tr_mpw_raw(w, records, len);
}

void tr_msg_batch_item(tr_mpw *w, uint64_t depth, const void *env, size_t len)
{
	tr_mpw_array(w, 2);
	tr_mpw_uint(w, depth > TR_DEPTH_MAX ? TR_DEPTH_MAX : depth);
	tr_mpw_bin(w, env, len);
}

void tr_msg_notify(tr_mpw *w, uint64_t h)
{
	head(w, 3, TR_MSG_NOTIFY);
	tr_mpw_uint(w, h);
}

void tr_msg_error(tr_mpw *w, uint64_t code, const char *text)
{
	size_t n = strlen(text);
	head(w, 4, TR_MSG_ERROR);
	tr_mpw_uint(w, code);
	tr_mpw_str(w, text, n > TR_WIRE_MAX_TEXT ? TR_WIRE_MAX_TEXT : n);
}

static int bad(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s", what);
	return TR_EFORMAT;
}

int tr_msg_decode(const void *buf, size_t len, tr_msg *m, char *why, size_t whylen)
{
	tr_mpr r;
	size_t n;
	uint64_t version, type, more;
	m->nrec = 0;
	m->more = 0;
	tr_mpr_init(&r, buf, len);
	if (tr_mpr_array(&r, &n, 8) || n < 2)
		return bad(why, whylen, "not a message: expected an array [version, type, ...]");
	if (tr_mpr_uint(&r, &version) || tr_mpr_uint(&r, &type))
		return bad(why, whylen, "version and type must be unsigned integers");
	if (version != TR_WIRE_VERSION) {
		snprintf(why, whylen, "wire version %llu; this node speaks version %d",
		         (unsigned long long)version, TR_WIRE_VERSION);
		return TR_EFORMAT;
	}
	m->type = (int)type;
	switch (type) {
	case TR_MSG_HELLO:
		if (n != 2)
			return bad(why, whylen, "HELLO has no arguments");
		break;
	case TR_MSG_PULL:
		if (n != 5 || tr_mpr_uint(&r, &m->after) || tr_mpr_uint(&r, &m->max) ||
		    tr_mpr_uint(&r, &m->maxbytes))
			return bad(why, whylen, "PULL is [2, 2, after, max, maxbytes]");
		break;
	case TR_MSG_BATCH:
		if (n != 7 || tr_mpr_uint(&r, &m->epoch) || tr_mpr_uint(&r, &m->after) ||
		    tr_mpr_uint(&r, &m->next) || tr_mpr_uint(&r, &more) || more > 1)
			return bad(
			    why, whylen,
			    "BATCH is [2, 3, epoch, after, next, more, [[depth, record], ...]]");
		if (m->next < m->after)
			return bad(why, whylen, "BATCH ends before it starts (next < after)");
		m->more = (int)more;
		if (tr_mpr_array(&r, &m->nrec, TR_BATCH_MAX_RECORDS)) {
			m->nrec = 0;
			return bad(why, whylen, "BATCH records: an array of at most 1024");
		}
		for (size_t i = 0; i < m->nrec; i++) {
			size_t k;
			uint64_t depth;
			if (tr_mpr_array(&r, &k, 2) || k != 2 || tr_mpr_uint(&r, &depth) ||
			    depth > TR_DEPTH_MAX ||
			    tr_mpr_bin(&r, &m->rec[i], &m->reclen[i], TR_MAX_RECORD_BYTES)) {
				m->nrec = 0;
				return bad(
				    why, whylen,
				    "BATCH record: [depth 0..30, bin of at most 65536 bytes] "
				    "expected");
			}
			m->depth[i] = (uint8_t)depth;
		}
		break;
	case TR_MSG_NOTIFY:
		if (n != 3 || tr_mpr_uint(&r, &m->head))
			return bad(why, whylen, "NOTIFY is [2, 4, head]");
		break;
	case TR_MSG_ERROR:
		if (n != 4 || tr_mpr_uint(&r, &m->code) ||
		    tr_mpr_str(&r, &m->text, TR_WIRE_MAX_TEXT))
			return bad(why, whylen, "ERROR is [2, 5, code, text]");
		break;
	default:
		snprintf(why, whylen, "unknown message type %llu", (unsigned long long)type);
		return TR_EFORMAT;
	}
	if (tr_mpr_done(&r))
		return bad(why, whylen, "bytes after the end of the message");
	return 0;
}
