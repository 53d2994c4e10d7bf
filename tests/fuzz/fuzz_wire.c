/* fuzz_wire: libFuzzer target for the wire message decoder, the first code that sees a
 * partner's bytes. Any input must give 0 or an error: never a crash, an out-of-bounds
 * read or undefined behaviour. A message that decodes must re-encode to exactly its
 * input (canonical), and a batch's records go through the record decoder too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "record.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tr_msg m;
	static tr_record rec;
	char why[160];
	if (tr_msg_decode(data, size, &m, why, sizeof(why)) != 0)
		return 0;
	tr_mpw w, recs;
	tr_mpw_init(&w);
	tr_mpw_init(&recs);
	switch (m.type) {
	case TR_MSG_HELLO:
		tr_msg_hello(&w);
		break;
	case TR_MSG_PULL:
		tr_msg_pull(&w, m.after, m.max, m.maxbytes);
		break;
	case TR_MSG_BATCH:
		for (size_t i = 0; i < m.nrec; i++) {
			tr_msg_batch_item(&recs, m.depth[i], m.rec[i], m.reclen[i]);
			if (tr_record_decode(m.rec[i], m.reclen[i], &rec) == 0)
				(void)tr_record_verify(&rec);
		}
		tr_msg_batch(&w, m.epoch, m.after, m.next, m.more, m.nrec, tr_mpw_data(&recs),
		             tr_mpw_size(&recs));
		break;
	case TR_MSG_NOTIFY:
		tr_msg_notify(&w, m.head);
		break;
	case TR_MSG_ERROR: {
		char text[TR_WIRE_MAX_TEXT + 1];
		memcpy(text, m.text.p, m.text.n);
		text[m.text.n] = '\0';
		if (strlen(text) == m.text.n) /* a text with a NUL re-encodes shorter */
			tr_msg_error(&w, m.code, text);
		else
			tr_mpw_raw(&w, data, size);
		break;
	}
	default:
		abort(); /* decode accepted a type it does not know */
	}
	if (tr_mpw_error(&w) == 0 &&
	    (tr_mpw_size(&w) != size || memcmp(tr_mpw_data(&w), data, size) != 0))
		abort(); /* a second encoding of the same message was accepted */
	tr_mpw_release(&w);
	tr_mpw_release(&recs);
	return 0;
}
