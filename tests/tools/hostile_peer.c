/* hostile_peer: a partner node gone bad, for tests/sync/test_hostile.sh.
 *
 * It dials a target node with a DEALER as a CURVE client under a real node key (one that
 * `trestle init` made and the target may have added as a partner), sends HELLO, and then
 * misbehaves in one way, chosen by MODE (see usage()). It prints one line per thing it
 * sent and per reply it got, so that a test can read what happened:
 *
 *     connected                        the CURVE handshake succeeded
 *     handshake refused (status 400)   the target's ZAP handler refused this key
 *     disconnected                     the target dropped the connection
 *     sent WHAT ...                    a message (or a record inside one) went out
 *     recv TYPE ...                    a HELLO, PULL, BATCH or NOTIFY came back
 *     error CODE TEXT                  an ERROR came back (every one is printed)
 *     no reply within N ms             nothing came back when something might have
 *     flood: / hoard: / pingpong: ...  a summary, for the modes that send many messages
 *
 * Exit status: 0 it ran its mode (whatever the target did), 1 it could not (key,
 * handshake, no PULL to answer), 2 usage. Must never: be linked into anything but tests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "clock.h"
#include "error.h"
#include "keyfile.h"
#include "record.h"
#include "wire.h"

#define HANDSHAKE_MS 5000
#define REPLY_MS 2000      /* how long a reply to one message may take */
#define RETRY_PULL_MS 5000 /* the target asks again 1 s after a refused batch, on its tick */
#define QUIET_MS 1100      /* the target logs at most one line a second per partner */
#define PROBE_MS 3000
#define MSG_UNDECODABLE 100 /* not a tr_msg_type: what the target sent did not decode */

typedef struct hp {
	void *ctx, *dealer, *mon;
	tr_key *key;
	const char *mode;
	int up, refused, disconnects;
	int quiet;    /* flood: do not print every message */
	int slow;     /* hoard: read nothing, keep libzmq from reading ahead */
	zmq_msg_t in; /* the latest message received; m borrows it */
	tr_msg m;
	uint64_t pull_after; /* the `after` of the latest PULL received */
	int pulled;          /* a PULL came that was not answered yet */
	unsigned errors[8];  /* ERROR replies by code (0: codes above 6) */
	unsigned batches;
	uint64_t seq;
	uint64_t epoch; /* of the queues we claim to send from: one value, unless a mode
	                 * plays a store restored from a backup */
	/* from the command line */
	unsigned count, hold_ms;
	uint8_t server_pk[TR_PK_BYTES]; /* the target's node key */
	uint8_t third_pk[TR_PK_BYTES];  /* forged: the other author claimed */
} hp;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int usage(FILE *f, int code)
{
	fprintf(f,
	        "usage: hostile_peer --key KEYFILE --endpoint tcp://HOST:PORT --server-id NODEID\n"
	        "                    [--count N] [--hold-ms MS] [--third-id NODEID] MODE\n"
	        "\n"
	        "Dials the node NODEID at ENDPOINT with the node key in KEYFILE, sends HELLO and\n"
	        "then, by MODE:\n"
	        "  garbage    random bytes, not msgpack, wrong version, unknown type, truncated\n"
	        "             messages, trailing bytes, a message of several frames, and an\n"
	        "             ERROR whose text tries to forge a log line\n"
	        "  oversized  a frame just under the size limit, then one over it\n"
	        "  badsig     answers the target's PULL with valid records and one whose\n"
	        "             signature has a flipped bit\n"
	        "  tamper     the same with a record whose disclosed field changed after signing\n"
	        "  forged     two batches, each with a record claiming another author (the\n"
	        "             target; then --third-id, or a random key) signed with this key\n"
	        "  unasked    batches nobody asked for, then a replay: a valid batch sent again,\n"
	        "             once more with one new record, and that again from a new epoch\n"
	        "  edges      well-formed messages at the limits: PULL(after=2^64-1), PULL with\n"
	        "             no caps, NOTIFY(2^64-1), ERROR with the largest code and text\n"
	        "  flood      --count PULL messages (default 3000) as fast as it can, then one\n"
	        "             more after a pause\n"
	        "  hoard      a slow reader: --count PULLs (default 390, under the throttle's\n"
	        "             burst), then holds the connection --hold-ms (default 5000)\n"
	        "             reading nothing, so that the replies queue up at the target\n"
	        "  pingpong   answers every PULL for --hold-ms with an empty batch that says\n"
	        "             more=1 (next = after: no progress), which asks for the next at once\n"
	        "  valid      a batch of --count valid records (default 5): the positive control\n"
	        "  probe      HELLO and PULL, and waits for any reply (for a key that is no\n"
	        "             partner: there must be none)\n"
	        "After a refused batch it waits for the target's next PULL and answers it with an\n"
	        "empty batch, so the target's back-off starts over for the next mode.\n"
	        "Exit status: 0 ran its mode, 1 could not (key, handshake, no PULL), 2 usage.\n");
	return code;
}

/* ---- the connection ---- */

static void print_text(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		putchar((unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i]);
}

/* Handles one monitor event; 1 if it was a refused or failed handshake. */
static int monitor_in(hp *h)
{
	zmq_msg_t a, b;
	uint16_t ev = 0;
	uint32_t value = 0;
	zmq_msg_init(&a);
	zmq_msg_init(&b);
	if (zmq_msg_recv(&a, h->mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&a) >= 6) {
		memcpy(&ev, zmq_msg_data(&a), 2);
		memcpy(&value, (uint8_t *)zmq_msg_data(&a) + 2, 4);
	}
	if (zmq_msg_more(&a))
		zmq_msg_recv(&b, h->mon, ZMQ_DONTWAIT);
	zmq_msg_close(&a);
	zmq_msg_close(&b);
	switch (ev) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		h->up = 1;
		printf("connected\n");
		return 0;
	case ZMQ_EVENT_DISCONNECTED:
		if (h->up)
			printf("disconnected\n");
		h->up = 0;
		h->disconnects++;
		return 0;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		h->refused = 1;
		printf("handshake refused (status %" PRIu32 ")\n", value);
		return 1;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		h->refused = 1;
		printf("handshake failed (event %u)\n", ev);
		return 1;
	}
	return 0;
}

/* Prints one message from the target and keeps what the modes need. */
static void note_msg(hp *h, const void *buf, size_t len)
{
	char why[160];
	tr_msg *m = &h->m;
	if (tr_msg_decode(buf, len, m, why, sizeof(why)) != 0) {
		printf("recv undecodable (%zu bytes): %s\n", len, why);
		m->type = MSG_UNDECODABLE;
		return;
	}
	switch (m->type) {
	case TR_MSG_HELLO:
		if (!h->quiet)
			printf("recv HELLO\n");
		break;
	case TR_MSG_PULL:
		h->pull_after = m->after;
		h->pulled = 1;
		if (!h->quiet)
			printf("recv PULL after=%" PRIu64 " max=%" PRIu64 " maxbytes=%" PRIu64 "\n",
			       m->after, m->max, m->maxbytes);
		break;
	case TR_MSG_BATCH:
		h->batches++;
		if (!h->quiet)
			printf("recv BATCH after=%" PRIu64 " next=%" PRIu64
			       " more=%d records=%zu\n",
			       m->after, m->next, m->more, m->nrec);
		break;
	case TR_MSG_NOTIFY:
		if (!h->quiet)
			printf("recv NOTIFY head=%" PRIu64 "\n", m->head);
		break;
	case TR_MSG_ERROR:
		h->errors[m->code <= 7 ? m->code : 0]++;
		printf("error %" PRIu64 " ", m->code);
		print_text(m->text.p, m->text.n);
		putchar('\n');
		break;
	}
}

/* Reads the rest of a message of several frames (the target never sends one) and
 * prints the first; its type. */
static int take_msg(hp *h)
{
	int multi = zmq_msg_more(&h->in);
	note_msg(h, zmq_msg_data(&h->in), zmq_msg_size(&h->in));
	for (int more = multi; more;) {
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		more = zmq_msg_recv(&extra, h->dealer, 0) >= 0 && zmq_msg_more(&extra);
		zmq_msg_close(&extra);
	}
	if (multi)
		printf("recv a message of several frames\n");
	return h->m.type;
}

/* Waits up to ms (0: only what is there) for one message from the target, handling
 * monitor events on the way. Its type, 0 on time out, -1 if the handshake was refused
 * meanwhile. */
static int hp_recv(hp *h, int ms)
{
	uint64_t end = tr_mono_ms() + (uint64_t)ms;
	for (;;) {
		zmq_pollitem_t items[2] = {{h->dealer, 0, ZMQ_POLLIN, 0},
		                           {h->mon, 0, ZMQ_POLLIN, 0}};
		uint64_t now = tr_mono_ms();
		int n = zmq_poll(items, 2, now < end ? (long)(end - now) : 0);
		if (n < 0 && errno != EINTR)
			return 0;
		if ((items[1].revents & ZMQ_POLLIN) && monitor_in(h))
			return -1;
		if (items[0].revents & ZMQ_POLLIN) {
			zmq_msg_close(&h->in);
			zmq_msg_init(&h->in);
			if (zmq_msg_recv(&h->in, h->dealer, ZMQ_DONTWAIT) >= 0)
				return take_msg(h);
		}
		if (tr_mono_ms() >= end)
			return 0;
	}
}

/* Waits up to ms for a message of type (printing what else comes). 1 if it came. */
static int hp_expect(hp *h, int type, int ms)
{
	uint64_t end = tr_mono_ms() + (uint64_t)ms;
	for (;;) {
		uint64_t now = tr_mono_ms();
		if (now >= end)
			return 0;
		int t = hp_recv(h, (int)(end - now));
		if (t < 0)
			return 0;
		if (t == type)
			return 1;
	}
}

/* Waits for the target to ask for records; 1 with h->pull_after set, or 0. */
static int hp_wait_pull(hp *h, int ms)
{
	if (h->pulled)
		return 1;
	return hp_expect(h, TR_MSG_PULL, ms) && h->pulled;
}

/* Waits up to ms for an ERROR: 1 if one came, else prints that none did. */
static int hp_expect_error(hp *h, int ms)
{
	if (hp_expect(h, TR_MSG_ERROR, ms))
		return 1;
	printf("no reply within %d ms\n", ms);
	return 0;
}

static int hp_send_frame(hp *h, const void *p, size_t n, int flags)
{
	if (zmq_send(h->dealer, p, n, flags) < 0) {
		printf("cannot send: %s\n", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static int hp_send(hp *h, const tr_mpw *w)
{
	if (tr_mpw_error(w)) {
		printf("out of memory\n");
		return -1;
	}
	return hp_send_frame(h, tr_mpw_data(w), tr_mpw_size(w), 0);
}

static int hp_hello(hp *h)
{
	tr_mpw w;
	tr_mpw_init(&w);
	tr_msg_hello(&w);
	int rc = hp_send(h, &w);
	tr_mpw_release(&w);
	if (!rc)
		printf("sent HELLO\n");
	return rc;
}

/* Sends PULL(after, max, maxbytes). */
static int hp_pull_n(hp *h, uint64_t after, uint64_t max, uint64_t maxbytes)
{
	tr_mpw w;
	tr_mpw_init(&w);
	tr_msg_pull(&w, after, max, maxbytes);
	int rc = hp_send(h, &w);
	tr_mpw_release(&w);
	if (!rc && !h->quiet)
		printf("sent PULL after=%" PRIu64 " max=%" PRIu64 "\n", after, max);
	return rc;
}

/* Sends PULL(after) for as much as a batch may hold. */
static int hp_pull(hp *h, uint64_t after)
{
	return hp_pull_n(h, after, TR_BATCH_MAX_RECORDS, TR_BATCH_MAX_BYTES);
}

static int hp_notify(hp *h, uint64_t head)
{
	tr_mpw w;
	tr_mpw_init(&w);
	tr_msg_notify(&w, head);
	int rc = hp_send(h, &w);
	tr_mpw_release(&w);
	if (!rc)
		printf("sent NOTIFY head=%" PRIu64 "\n", head);
	return rc;
}

/* Sends BATCH(after, next, more) holding the n items in recs (tr_msg_batch_item). */
static int hp_batch(hp *h, uint64_t after, uint64_t next, int more, size_t n, const tr_mpw *recs)
{
	tr_mpw w;
	tr_mpw_init(&w);
	tr_msg_batch(&w, h->epoch, after, next, more, n, tr_mpw_data(recs), tr_mpw_size(recs));
	int rc = hp_send(h, &w);
	tr_mpw_release(&w);
	if (!rc && !h->quiet)
		printf("sent BATCH epoch=%" PRIu64 " after=%" PRIu64 " next=%" PRIu64
		       " more=%d records=%zu\n",
		       h->epoch, after, next, more, n);
	if (h->pulled && after == h->pull_after)
		h->pulled = 0; /* answered */
	return rc;
}

/* Dials endpoint as a CURVE client of the node server_id (the handshake goes on in the
 * background: hp_wait_up). 0, or -1 with the reason on stderr. */
static int hp_open(hp *h, const char *keyfile, const char *endpoint, const char *server_id)
{
	char why[256];
	uint8_t server_pk[TR_PK_BYTES], server_curve[TR_PK_BYTES];
	uint8_t curve_pk[TR_PK_BYTES], curve_sk[TR_PK_BYTES];
	int rc = tr_keyfile_load(keyfile, &h->key, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "hostile_peer: %s: %s\n", keyfile,
		        rc == TR_EKEY ? why : tr_strerror(rc));
		return -1;
	}
	if (tr_nodeid_parse(server_id, server_pk) || tr_key_curve_public(server_pk, server_curve) ||
	    tr_key_curve_public(tr_key_public(h->key), curve_pk) ||
	    tr_key_curve_secret(h->key, curve_sk)) {
		fprintf(stderr, "hostile_peer: %s is no node id, or the key has no X25519 form\n",
		        server_id);
		return -1;
	}
	int linger = 2000, sndtimeo = 5000;
	h->ctx = zmq_ctx_new();
	h->dealer = h->ctx ? zmq_socket(h->ctx, ZMQ_DEALER) : NULL;
	if (!h->dealer)
		goto zmq_fail;
	zmq_setsockopt(h->dealer, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(h->dealer, ZMQ_SNDTIMEO, &sndtimeo, sizeof(sndtimeo));
	if (h->slow) {
		/* no read-ahead: what the target sends us stays queued at its end */
		int one = 1, small = 4096;
		zmq_setsockopt(h->dealer, ZMQ_RCVHWM, &one, sizeof(one));
		zmq_setsockopt(h->dealer, ZMQ_RCVBUF, &small, sizeof(small));
	}
	zmq_setsockopt(h->dealer, ZMQ_CURVE_SERVERKEY, server_curve, TR_PK_BYTES);
	zmq_setsockopt(h->dealer, ZMQ_CURVE_PUBLICKEY, curve_pk, TR_PK_BYTES);
	zmq_setsockopt(h->dealer, ZMQ_CURVE_SECRETKEY, curve_sk, TR_PK_BYTES);
	sodium_memzero(curve_sk, sizeof(curve_sk));
	if (zmq_socket_monitor(h->dealer, "inproc://hostile-mon",
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
		goto zmq_fail;
	h->mon = zmq_socket(h->ctx, ZMQ_PAIR);
	if (!h->mon || zmq_connect(h->mon, "inproc://hostile-mon") != 0 ||
	    zmq_connect(h->dealer, endpoint) != 0)
		goto zmq_fail;
	return 0;
zmq_fail:
	fprintf(stderr, "hostile_peer: cannot dial %s: %s\n", endpoint, zmq_strerror(errno));
	return -1;
}

/* Waits for the handshake; 0 if it succeeded. */
static int hp_wait_up(hp *h, int ms)
{
	uint64_t end = tr_mono_ms() + (uint64_t)ms;
	while (!h->up && !h->refused && tr_mono_ms() < end) {
		zmq_pollitem_t item = {h->mon, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&item, 1, 100) > 0)
			monitor_in(h);
	}
	if (h->up)
		return 0;
	if (!h->refused)
		printf("no handshake within %d ms\n", ms);
	return -1;
}

static void hp_close(hp *h)
{
	zmq_msg_close(&h->in);
	if (h->mon)
		zmq_close(h->mon);
	if (h->dealer)
		zmq_close(h->dealer);
	if (h->ctx)
		zmq_ctx_term(h->ctx);
	tr_key_destroy(&h->key);
}

/* ---- records ---- */

/* Seals an idea with the given text by this node's key into out (reset first): a record
 * valid for its kind. 0 or an error code; id gets its id. */
static int make_idea(hp *h, const char *text, tr_mpw *out, uint8_t id[TR_ID_BYTES])
{
	static tr_record rec;
	char title[64];
	snprintf(title, sizeof(title), "hostile peer: %s", h->mode);
	tr_record_init(&rec);
	rec.kind.p = "idea";
	rec.kind.n = 4;
	rec.seq = ++h->seq;
	rec.created_ms = tr_wall_ms();
	if (tr_record_add_str(&rec, "title", title, strlen(title)) ||
	    tr_record_add_str(&rec, "text", text, strlen(text)))
		return TR_ETOOBIG;
	int rc = tr_record_seal(&rec, h->key, out);
	if (!rc)
		memcpy(id, rec.id, TR_ID_BYTES);
	return rc;
}

/* The first place needle occurs in hay, or NULL (memmem is a GNU extension). */
static uint8_t *find_bytes(uint8_t *hay, size_t n, const void *needle, size_t len)
{
	for (size_t i = 0; len <= n && i <= n - len; i++)
		if (!memcmp(hay + i, needle, len))
			return hay + i;
	return NULL;
}

/* Finds the header and signature inside an envelope we made (which is canonical). */
static int envelope_parts(uint8_t *env, size_t len, uint8_t **header, size_t *hlen, uint8_t **sig)
{
	tr_mpr r;
	size_t n, slen;
	const uint8_t *hb, *sp;
	tr_mpr_init(&r, env, len);
	if (tr_mpr_array(&r, &n, 3) || n != 3 || tr_mpr_bin(&r, &hb, hlen, TR_MAX_RECORD_BYTES) ||
	    tr_mpr_bin(&r, &sp, &slen, TR_SIG_BYTES) || slen != TR_SIG_BYTES)
		return TR_EFORMAT;
	*header = env + (hb - env); /* our own buffer: writable */
	*sig = env + (sp - env);
	return 0;
}

/* Rewrites the author in an envelope's header to claimed and signs the new id with key,
 * as an author would: everything checks out except that the signature is not claimed's.
 * id gets the new id. */
static int forge_author(uint8_t *env, size_t len, const tr_key *key,
                        const uint8_t claimed[TR_PK_BYTES], uint8_t id[TR_ID_BYTES])
{
	static const char domain[] = "trestle.record.v1"; /* signed with its NUL */
	uint8_t *header, *sig, msg[sizeof(domain) + TR_ID_BYTES];
	size_t hlen;
	if (envelope_parts(env, len, &header, &hlen, &sig))
		return TR_EFORMAT;
	uint8_t *author = find_bytes(header, hlen, tr_key_public(key), TR_PK_BYTES);
	if (!author)
		return TR_EFORMAT;
	memcpy(author, claimed, TR_PK_BYTES);
	crypto_generichash(id, TR_ID_BYTES, header, hlen, NULL, 0);
	memcpy(msg, domain, sizeof(domain));
	memcpy(msg + sizeof(domain), id, TR_ID_BYTES);
	tr_key_sign(key, msg, sizeof(msg), sig);
	return 0;
}

static void print_id(const char *what, const uint8_t id[TR_ID_BYTES])
{
	char hex[TR_ID_HEX_SIZE];
	tr_id_hex(id, hex);
	printf("sent record %s %s\n", hex, what);
}

/* Appends a fresh valid idea to recs as a bin; 0 or an error code. */
static int add_valid(hp *h, tr_mpw *recs, const char *why)
{
	tr_mpw env;
	uint8_t id[TR_ID_BYTES];
	char text[128];
	char nonce[17];
	uint8_t rnd[8];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(nonce, sizeof(nonce), rnd, sizeof(rnd));
	snprintf(text, sizeof(text), "a valid idea (%s) %s", why, nonce);
	tr_mpw_init(&env);
	int rc = make_idea(h, text, &env, id);
	if (!rc) {
		tr_msg_batch_item(recs, 1, tr_mpw_data(&env), tr_mpw_size(&env));
		print_id(why, id);
	}
	tr_mpw_release(&env);
	return rc;
}

/* After a refused batch: the target asks again on its next tick; an empty batch moves
 * nothing but resets its back-off, so the next mode finds it asking at once. */
static void settle(hp *h)
{
	tr_mpw none;
	if (!hp_wait_pull(h, RETRY_PULL_MS)) {
		printf("no PULL after the refused batch within %d ms\n", RETRY_PULL_MS);
		return;
	}
	tr_mpw_init(&none);
	(void)hp_batch(h, h->pull_after, h->pull_after, 0, 0, &none);
	tr_mpw_release(&none);
	hp_recv(h, 300); /* an ERROR would show here */
}

/* ---- the modes ---- */

/* Waits ms for an ERROR that should not come; prints that none did. 0 if none came. */
static int hp_expect_no_error(hp *h, int ms)
{
	unsigned before = 0, after = 0;
	for (size_t i = 0; i < 8; i++)
		before += h->errors[i];
	hp_expect(h, TR_MSG_ERROR, ms);
	for (size_t i = 0; i < 8; i++)
		after += h->errors[i];
	if (after == before)
		printf("no error within %d ms\n", ms);
	return after != before;
}

struct garbage {
	const char *name;
	const uint8_t *p;
	size_t n;
};

static int mode_garbage(hp *h)
{
	/* hand-made bytes, so that nothing here depends on the encoder under test; each must
	 * get ERROR 1 (malformed) */
	static const uint8_t not_msgpack[] = "GET / HTTP/1.1\r\nHost: trestle\r\n\r\n";
	static const uint8_t json[] = "{\"type\": \"pull\", \"after\": 0}";
	static const uint8_t map[] = {0x82, 0x01, 0x01, 0x02, 0x02};
	static const uint8_t version1[] = {0x95, 0x01, 0x02, 0x00, 0x00, 0x00};
	static const uint8_t unknown[] = {0x92, 0x01, 0x09};
	static const uint8_t truncated[] = {0x95, 0x01, 0x02, 0x00, 0x00}; /* PULL, 4 of 5 */
	static const uint8_t trailing[] = {0x95, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t noncanon[] = {0x95, 0x01, 0x02, 0xcc, 0x05, 0x00, 0x00};
	static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
	/* a BATCH (epoch 1, after 0, next 1, more 0) whose one record says it is 4 GiB long
	 * and has 3 bytes */
	static const uint8_t huge_bin[] = {0x97, 0x01, 0x03, 0x01, 0x00, 0x01, 0x00, 0x91,
	                                   0xc6, 0xff, 0xff, 0xff, 0xff, 0x93, 0x01, 0x02};
	static const uint8_t hello[] = {0x92, 0x01, 0x01};
	uint8_t random_bytes[64];
	randombytes_buf(random_bytes, sizeof(random_bytes));
	const struct garbage cases[] = {
	    {"random-bytes", random_bytes, sizeof(random_bytes)},
	    {"not-msgpack", not_msgpack, sizeof(not_msgpack) - 1},
	    {"json", json, sizeof(json) - 1},
	    {"msgpack-map", map, sizeof(map)},
	    {"wrong-version", version1, sizeof(version1)},
	    {"unknown-type", unknown, sizeof(unknown)},
	    {"truncated", truncated, sizeof(truncated)},
	    {"trailing-bytes", trailing, sizeof(trailing)},
	    {"non-canonical-int", noncanon, sizeof(noncanon)},
	    {"huge-array-count", huge_array, sizeof(huge_array)},
	    {"huge-bin-length", huge_bin, sizeof(huge_bin)},
	};

	/* an ERROR whose text tries to start a log line of its own: it gets no reply, and
	 * the target must log it on one line */
	tr_mpw w;
	tr_mpw_init(&w);
	tr_msg_error(&w, TR_WERR_REFUSED, "spoofed\n<3>partner forged-line: injected into the log");
	int rc = hp_send(h, &w);
	tr_mpw_release(&w);
	if (rc)
		return 1;
	printf("sent garbage log-injection (an ERROR with a newline in its text)\n");
	hp_recv(h, 300);
	sleep_ms(QUIET_MS); /* so that the first malformed message gets a log line too */

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (hp_send_frame(h, cases[i].p, cases[i].n, 0))
			return 1;
		printf("sent garbage %s (%zu bytes)\n", cases[i].name, cases[i].n);
		hp_expect_error(h, REPLY_MS);
	}

	sleep_ms(QUIET_MS); /* and the message of several frames one of its own */
	if (hp_send_frame(h, hello, sizeof(hello), ZMQ_SNDMORE) ||
	    hp_send_frame(h, hello, sizeof(hello), 0))
		return 1;
	printf("sent garbage multi-frame (2 frames, each a HELLO)\n");
	hp_expect_error(h, REPLY_MS);
	return 0;
}

static int mode_oversized(hp *h)
{
	size_t under = TR_WIRE_MAX_MSG - 4096, over = TR_WIRE_MAX_MSG + 1;
	uint8_t *buf = malloc(over);
	if (!buf) {
		printf("out of memory\n");
		return 1;
	}
	randombytes_buf(buf, over);
	buf[0] = 0xc1; /* never valid msgpack */

	/* under the limit libzmq passes it on: the node must refuse it as malformed */
	if (hp_send_frame(h, buf, under, 0))
		goto fail;
	printf("sent garbage near-limit (%zu bytes)\n", under);
	hp_expect_error(h, REPLY_MS);

	/* over it libzmq drops the connection before the node sees a byte */
	if (hp_send_frame(h, buf, over, 0))
		goto fail;
	printf("sent oversized frame (%zu bytes, the limit is %zu)\n", over,
	       (size_t)TR_WIRE_MAX_MSG);
	int drops = h->disconnects;
	uint64_t end = tr_mono_ms() + 3000;
	while (h->disconnects == drops && tr_mono_ms() < end)
		hp_recv(h, (int)(end - tr_mono_ms()));
	if (h->disconnects == drops)
		printf("still connected 3000 ms after the oversized frame\n");
	free(buf);

	/* libzmq dials again by itself: the node must still talk to this key */
	if (hp_wait_up(h, HANDSHAKE_MS))
		return 0;
	if (hp_hello(h) == 0 && !hp_expect(h, TR_MSG_HELLO, REPLY_MS))
		printf("no HELLO back after reconnecting\n");
	return 0;
fail:
	free(buf);
	return 1;
}

enum { BAD_SIG, BAD_DIGEST, BAD_AUTHOR };

/* Appends to recs one record that must fail verification. claimed: BAD_AUTHOR's
 * author. 0 or an error code. */
static int add_bad(hp *h, tr_mpw *recs, int how, const uint8_t claimed[TR_PK_BYTES])
{
	static const char original[] = "the text as signed";
	char text[128], nonce[17], what[128];
	uint8_t rnd[8], id[TR_ID_BYTES], *header, *sig, *p;
	size_t hlen;
	tr_mpw env;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(nonce, sizeof(nonce), rnd, sizeof(rnd));
	snprintf(text, sizeof(text), "%s %s", original, nonce);
	tr_mpw_init(&env);
	int rc = make_idea(h, text, &env, id);
	/* the envelope's bytes are ours to spoil: the writer's buffer */
	uint8_t *e = (uint8_t *)tr_mpw_data(&env);
	size_t len = tr_mpw_size(&env);
	if (rc)
		goto out;
	rc = TR_EFORMAT;
	switch (how) {
	case BAD_SIG:
		if (envelope_parts(e, len, &header, &hlen, &sig))
			goto out;
		sig[17] ^= 0x04;
		snprintf(what, sizeof(what), "badsig (one bit of its signature flipped)");
		break;
	case BAD_DIGEST:
		/* the value is in its disclosure only: the header holds its digest */
		if (!(p = find_bytes(e, len, original, strlen(original))))
			goto out;
		p[0] = 'T';
		snprintf(what, sizeof(what), "tamper (text changed after signing)");
		break;
	case BAD_AUTHOR: {
		char hex[2 * TR_PK_BYTES + 1];
		if (forge_author(e, len, h->key, claimed, id))
			goto out;
		sodium_bin2hex(hex, sizeof(hex), claimed, TR_PK_BYTES);
		snprintf(what, sizeof(what), "forged (author %s, signed by this key)", hex);
		break;
	}
	}
	tr_msg_batch_item(recs, 1, e, len);
	print_id(what, id);
	rc = 0;
out:
	tr_mpw_release(&env);
	return rc;
}

/* Answers the target's PULL with two valid records and one bad one: the whole batch must
 * be refused with ERROR 3, nothing of it stored. 0, or 1 if there was no PULL. */
static int bad_batch(hp *h, int how, const uint8_t claimed[TR_PK_BYTES])
{
	tr_mpw recs;
	if (!hp_wait_pull(h, RETRY_PULL_MS)) {
		printf("the target sent no PULL within %d ms\n", RETRY_PULL_MS);
		return 1;
	}
	tr_mpw_init(&recs);
	int rc = add_valid(h, &recs, "in-a-bad-batch") || add_valid(h, &recs, "in-a-bad-batch") ||
	         add_bad(h, &recs, how, claimed);
	if (!rc)
		rc = hp_batch(h, h->pull_after, h->pull_after + 3, 0, 3, &recs) != 0;
	tr_mpw_release(&recs);
	if (rc) {
		printf("cannot build the batch\n");
		return 1;
	}
	hp_expect_error(h, REPLY_MS);
	return 0;
}

static int mode_badsig(hp *h)
{
	if (bad_batch(h, BAD_SIG, NULL))
		return 1;
	settle(h);
	return 0;
}

static int mode_tamper(hp *h)
{
	if (bad_batch(h, BAD_DIGEST, NULL))
		return 1;
	settle(h);
	return 0;
}

static int mode_forged(hp *h)
{
	/* the target's own authorship, then a third node's */
	if (bad_batch(h, BAD_AUTHOR, h->server_pk) || bad_batch(h, BAD_AUTHOR, h->third_pk))
		return 1;
	settle(h);
	return 0;
}

/* Appends a fresh valid idea as a bin to both a and b (b may be NULL). */
static int add_valid2(hp *h, tr_mpw *a, tr_mpw *b, const char *why)
{
	tr_mpw one;
	tr_mpw_init(&one);
	int rc = add_valid(h, &one, why);
	if (!rc) {
		tr_mpw_raw(a, tr_mpw_data(&one), tr_mpw_size(&one));
		if (b)
			tr_mpw_raw(b, tr_mpw_data(&one), tr_mpw_size(&one));
	}
	tr_mpw_release(&one);
	return rc;
}

/* Sends NOTIFY so that the target pulls, and waits for its PULL. 1 if it came. */
static int ask_to_pull(hp *h)
{
	hp_notify(h, h->pull_after + 1000);
	if (hp_wait_pull(h, REPLY_MS))
		return 1;
	printf("the target sent no PULL within %d ms of a NOTIFY\n", REPLY_MS);
	return 0;
}

static int mode_unasked(hp *h)
{
	tr_mpw x, y, none, twice, again;
	int rc = 1;
	tr_mpw_init(&x);
	tr_mpw_init(&y);
	tr_mpw_init(&none);
	tr_mpw_init(&twice);
	tr_mpw_init(&again);
	if (!hp_wait_pull(h, RETRY_PULL_MS)) {
		printf("the target sent no PULL within %d ms\n", RETRY_PULL_MS);
		goto out;
	}
	uint64_t c = h->pull_after;

	/* 1. a batch for a position nobody asked about, while a PULL is outstanding */
	if (add_valid(h, &x, "unasked"))
		goto out;
	hp_batch(h, c + 1000, c + 1001, 0, 1, &x);
	hp_expect_error(h, REPLY_MS);

	/* 2. the right position, but after the PULL was answered: nothing is outstanding
	 * (the target drops it quietly, as it would a late honest answer) */
	hp_batch(h, c, c, 0, 0, &none);
	hp_expect_no_error(h, 300);
	if (add_valid(h, &y, "unasked"))
		goto out;
	hp_batch(h, c, c + 1, 0, 1, &y);
	hp_expect_error(h, REPLY_MS);

	/* 3. a replay: two valid records, then the very same batch bytes again at the next
	 * pull, then one of them again with a new one: three records, each stored once */
	if (!ask_to_pull(h))
		goto out;
	if (add_valid2(h, &twice, &again, "replayed") || add_valid2(h, &twice, NULL, "replayed"))
		goto out;
	hp_batch(h, h->pull_after, h->pull_after + 2, 0, 2, &twice);
	hp_expect_no_error(h, 500);
	if (!ask_to_pull(h))
		goto out;
	printf("sent replay of the batch before\n");
	hp_batch(h, h->pull_after, h->pull_after + 2, 0, 2, &twice);
	hp_expect_no_error(h, 500);
	if (!ask_to_pull(h))
		goto out;
	if (add_valid2(h, &again, NULL, "after-replay"))
		goto out;
	printf("sent replay of its first record with a new one\n");
	hp_batch(h, h->pull_after, h->pull_after + 2, 0, 2, &again);
	hp_expect_no_error(h, 500);

	/* 4. the same once more, from queues that claim a restore from a backup (a new
	 * epoch): the target drops it and starts over from 0; all of it comes again */
	if (!ask_to_pull(h))
		goto out;
	h->epoch = 2;
	printf("sent replay from a new epoch\n");
	hp_batch(h, h->pull_after, h->pull_after + 2, 0, 2, &again);
	if (!hp_wait_pull(h, REPLY_MS) || h->pull_after != 0) {
		printf("the target did not start over with PULL(0)\n");
		goto out;
	}
	hp_batch(h, 0, 4, 0, 2, &again);
	hp_expect_no_error(h, 500);
	rc = 0;
out:
	tr_mpw_release(&x);
	tr_mpw_release(&y);
	tr_mpw_release(&none);
	tr_mpw_release(&twice);
	tr_mpw_release(&again);
	return rc;
}

static int mode_flood(hp *h)
{
	unsigned before_errors = h->errors[TR_WERR_THROTTLED];
	hp_recv(h, 200); /* the target's PULL and NOTIFY, if any */
	h->quiet = 1;
	h->batches = 0;
	uint64_t t0 = tr_mono_ms(), last = t0;
	for (unsigned i = 0; i < h->count; i++) {
		if (hp_pull_n(h, 0, 1, 1)) /* one record each: the throttle is the point */
			return 1;
		while (hp_recv(h, 0) > 0)
			last = tr_mono_ms();
	}
	uint64_t took = tr_mono_ms() - t0;
	while (hp_recv(h, 1000) > 0)
		last = tr_mono_ms();
	unsigned throttled = h->errors[TR_WERR_THROTTLED] - before_errors, answered = h->batches;
	/* span: from the first PULL to the last reply, the time the target's bucket refilled */
	printf("flood: sent %u PULL in %" PRIu64 " ms; %u answered with BATCH, %u with ERROR "
	       "throttled, %u unanswered; replies span %" PRIu64 " ms\n",
	       h->count, took, answered, throttled,
	       h->count > answered + throttled ? h->count - answered - throttled : 0, last - t0);

	/* after a pause the bucket has refilled: an answer now means throttled only, none
	 * means cut off */
	h->quiet = 0;
	sleep_ms(1500);
	while (hp_recv(h, 0) > 0)
		;
	if (hp_pull_n(h, 0, 1, 1))
		return 1;
	if (!hp_expect(h, TR_MSG_BATCH, REPLY_MS))
		printf("no reply within %d ms after a pause (cut off)\n", REPLY_MS);
	return 0;
}

/* Well-formed messages with values at their limits. Whatever the target answers must
 * decode (note_msg prints "recv undecodable" otherwise). */
static int mode_edges(hp *h)
{
	char text[TR_WIRE_MAX_TEXT + 1];
	tr_mpw w;
	hp_recv(h, 200); /* the target's PULL and NOTIFY */
	/* the last queue position there is: nothing comes after it */
	if (hp_pull(h, UINT64_MAX) || !hp_expect(h, TR_MSG_BATCH, REPLY_MS))
		printf("no BATCH for PULL(after=2^64-1) within %d ms\n", REPLY_MS);
	/* no caps given: the target's own apply */
	if (hp_pull_n(h, 0, 0, 0) || !hp_expect(h, TR_MSG_BATCH, REPLY_MS))
		printf("no BATCH for PULL(max=0, maxbytes=0) within %d ms\n", REPLY_MS);
	if (hp_notify(h, UINT64_MAX))
		return 1;
	/* the longest ERROR text, and the largest code */
	memset(text, 'e', TR_WIRE_MAX_TEXT);
	text[TR_WIRE_MAX_TEXT] = '\0';
	tr_mpw_init(&w);
	tr_msg_error(&w, UINT64_MAX, text);
	int rc = hp_send(h, &w);
	tr_mpw_release(&w);
	if (rc)
		return 1;
	printf("sent ERROR code=2^64-1 with %d bytes of text\n", TR_WIRE_MAX_TEXT);
	hp_expect_no_error(h, 500);
	return 0;
}

/* PULLs under the throttle's burst, none of the replies read: libzmq at the target keeps
 * them queued for us, up to its high-water mark of messages (not bytes). */
static int mode_hoard(hp *h)
{
	h->quiet = 1;
	for (unsigned i = 0; i < h->count; i++)
		if (hp_pull(h, 0))
			return 1;
	printf("hoard: sent %u PULL after=0; holding the connection %u ms without reading\n",
	       h->count, h->hold_ms);
	sleep_ms(h->hold_ms);
	return 0;
}

/* An empty batch that says more makes the target pull again at once: no progress, and
 * a BATCH is not a request, so the throttle does not see it. */
static int mode_pingpong(hp *h)
{
	tr_mpw none;
	unsigned rounds = 0;
	tr_mpw_init(&none);
	h->quiet = 1;
	uint64_t end = tr_mono_ms() + h->hold_ms;
	while (tr_mono_ms() < end && hp_wait_pull(h, REPLY_MS)) {
		if (hp_batch(h, h->pull_after, h->pull_after, 1, 0, &none))
			break;
		rounds++;
	}
	tr_mpw_release(&none);
	printf("pingpong: answered %u PULLs in %u ms with an empty batch saying more=1\n", rounds,
	       h->hold_ms);
	return 0;
}

static int mode_valid(hp *h)
{
	tr_mpw recs;
	if (!hp_wait_pull(h, RETRY_PULL_MS)) {
		printf("the target sent no PULL within %d ms\n", RETRY_PULL_MS);
		return 1;
	}
	tr_mpw_init(&recs);
	int rc = 0;
	for (unsigned i = 0; i < h->count && !rc; i++)
		rc = add_valid(h, &recs, "valid");
	if (!rc)
		rc = hp_batch(h, h->pull_after, h->pull_after + h->count, 0, h->count, &recs);
	tr_mpw_release(&recs);
	if (rc)
		return 1;
	hp_expect_no_error(h, 1000);
	return 0;
}

static int mode_probe(hp *h)
{
	unsigned got = 0;
	if (hp_pull(h, 0))
		return 1;
	uint64_t end = tr_mono_ms() + PROBE_MS;
	while (tr_mono_ms() < end)
		if (hp_recv(h, (int)(end - tr_mono_ms())) > 0)
			got++;
	if (!got)
		printf("no reply within %d ms\n", PROBE_MS);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(hp *h);
	unsigned count; /* --count's default */
} modes[] = {
    {"garbage", mode_garbage, 0}, {"oversized", mode_oversized, 0}, {"badsig", mode_badsig, 0},
    {"tamper", mode_tamper, 0},   {"forged", mode_forged, 0},       {"unasked", mode_unasked, 0},
    {"flood", mode_flood, 3000},  {"valid", mode_valid, 5},         {"probe", mode_probe, 0},
    {"hoard", mode_hoard, 390},   {"edges", mode_edges, 0},         {"pingpong", mode_pingpong, 0},
};

/* Reads a number from the command line into out; 0, or -1 if it is none or above max. */
static int arg_uint(const char *text, unsigned long max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static hp h;
	const char *keyfile = NULL, *endpoint = NULL, *server_id = NULL, *third_id = NULL;
	const char *mode = NULL;
	h.hold_ms = 5000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int bad = 0;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout, 0);
		if (!strcmp(a, "--key") && i + 1 < argc)
			keyfile = argv[++i];
		else if (!strcmp(a, "--endpoint") && i + 1 < argc)
			endpoint = argv[++i];
		else if (!strcmp(a, "--server-id") && i + 1 < argc)
			server_id = argv[++i];
		else if (!strcmp(a, "--third-id") && i + 1 < argc)
			third_id = argv[++i];
		else if (!strcmp(a, "--count") && i + 1 < argc)
			bad = arg_uint(argv[++i], 100000, &h.count) || h.count == 0;
		else if (!strcmp(a, "--hold-ms") && i + 1 < argc)
			bad = arg_uint(argv[++i], 600000, &h.hold_ms);
		else if (a[0] != '-' && !mode)
			mode = a;
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "hostile_peer: bad argument \"%s\"\n\n", argv[i]);
			return usage(stderr, 2);
		}
	}
	size_t mi = 0, nmodes = sizeof(modes) / sizeof(modes[0]);
	while (mi < nmodes && (!mode || strcmp(modes[mi].name, mode)))
		mi++;
	if (!keyfile || !endpoint || !server_id || mi == nmodes) {
		fprintf(stderr, "hostile_peer: give --key, --endpoint, --server-id and a MODE\n\n");
		return usage(stderr, 2);
	}
	if (!h.count)
		h.count = modes[mi].count;
	if (!strcmp(mode, "valid") && h.count > TR_BATCH_MAX_RECORDS)
		h.count = TR_BATCH_MAX_RECORDS;
	if (tr_nodeid_parse(server_id, h.server_pk) != 0 ||
	    (third_id && tr_nodeid_parse(third_id, h.third_pk) != 0)) {
		fprintf(stderr, "hostile_peer: --server-id or --third-id: not a node id\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0)
		return 1;
	if (!third_id) /* a node that exists nowhere */
		randombytes_buf(h.third_pk, sizeof(h.third_pk));

	int rc = 1;
	zmq_msg_init(&h.in);
	h.mode = mode;
	h.slow = !strcmp(mode, "hoard");
	h.seq = tr_wall_ms(); /* a new sequence per run: every record differs */
	h.epoch = 1;
	if (hp_open(&h, keyfile, endpoint, server_id))
		goto out;
	/* a key that is no partner never completes the handshake: probe goes on anyway */
	if (strcmp(mode, "probe") != 0 && hp_wait_up(&h, HANDSHAKE_MS))
		goto out;
	if (hp_hello(&h))
		goto out;
	/* the target answers HELLO (a slow reader does not look) */
	if (strcmp(mode, "probe") != 0 && !h.slow && !hp_expect(&h, TR_MSG_HELLO, REPLY_MS)) {
		printf("no HELLO back within %d ms\n", REPLY_MS);
		goto out;
	}
	rc = modes[mi].run(&h);
out:
	hp_close(&h);
	return rc;
}
