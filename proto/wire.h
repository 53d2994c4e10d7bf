/* wire.h: the messages partner nodes exchange over ZeroMQ (proto/SPEC.md, "Wire").
 *
 * Each message is one ZeroMQ frame holding a canonical MessagePack array
 * [version, type, ...]. Decoding is strict: every length is checked against what is
 * left and a cap, and anything unexpected is TR_EFORMAT. No I/O here. */
#ifndef TR_WIRE_H
#define TR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mp.h"
#include "record.h"

#define TR_WIRE_VERSION 2 /* 2: BATCH items carry the depth */
#define TR_ZAP_DOMAIN "trestle"
#define TR_BATCH_MAX_RECORDS 1024
#define TR_BATCH_MAX_BYTES (1u << 20)
/* the largest message a node accepts (ZMQ_MAXMSGSIZE): a full batch, one record more,
 * and framing */
#define TR_WIRE_MAX_MSG (TR_BATCH_MAX_BYTES + TR_MAX_RECORD_BYTES + 8192)
/* How many hops a record has travelled from its author to the node holding it: 0 at the
 * author, 1 at its first partner, ... TR_DEPTH_MAX means "unknown or further": such a
 * record is never passed on. */
#define TR_DEPTH_MAX 30
#define TR_WIRE_MAX_TEXT 512

enum tr_msg_type {
	TR_MSG_HELLO = 1,  /* [2, 1]: a new connection; the other side answers HELLO */
	TR_MSG_PULL = 2,   /* [2, 2, after, max, maxbytes]: what you share with me after */
	TR_MSG_BATCH = 3,  /* [2, 3, epoch, after, next, more, [[depth, record], ...]] */
	TR_MSG_NOTIFY = 4, /* [2, 4, head]: I have records for you up to head */
	TR_MSG_ERROR = 5   /* [2, 5, code, text] */
};

enum tr_wire_error {
	TR_WERR_MALFORMED = 1, /* the message did not decode */
	TR_WERR_REFUSED = 2,   /* you are not (or no longer) an active partner */
	TR_WERR_RECORD = 3,    /* a record in your batch failed verification */
	TR_WERR_THROTTLED = 4, /* too many messages; slow down */
	TR_WERR_INTERNAL = 5,  /* this node could not serve the request */
	TR_WERR_PROTOCOL = 6   /* a message that makes no sense here (an unasked batch) */
};

typedef struct tr_msg {
	int type;
	uint64_t epoch, after, next, max, maxbytes, head, code;
	int more;
	tr_str text;
	size_t nrec;                              /* BATCH: records */
	const uint8_t *rec[TR_BATCH_MAX_RECORDS]; /* borrowed from the buffer */
	size_t reclen[TR_BATCH_MAX_RECORDS];
	uint8_t depth[TR_BATCH_MAX_RECORDS]; /* the sender's depth of each record */
} tr_msg;

/* Decodes one message. 0, or TR_EFORMAT with why filled in. m's pointers borrow buf. */
int tr_msg_decode(const void *buf, size_t len, tr_msg *m, char *why, size_t whylen);

void tr_msg_hello(tr_mpw *w);
void tr_msg_pull(tr_mpw *w, uint64_t after, uint64_t max, uint64_t maxbytes);
/* One item of a batch: the sender's depth of the record and its envelope. */
void tr_msg_batch_item(tr_mpw *w, uint64_t depth, const void *env, size_t len);
/* A batch: records is a sequence of n items written by tr_msg_batch_item. epoch
 * names the sender's queues: it changes when its store is restored from a backup. */
void tr_msg_batch(tr_mpw *w, uint64_t epoch, uint64_t after, uint64_t next, int more, size_t n,
                  const void *records, size_t len);
void tr_msg_notify(tr_mpw *w, uint64_t head);
void tr_msg_error(tr_mpw *w, uint64_t code, const char *text);

#endif
