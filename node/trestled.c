/* trestled: the node daemon. Binds one CURVE ROUTER for partners that dial in, dials
 * partners that have an endpoint with one DEALER each, and pulls from every connected
 * partner what it shares, with cursors (proto/SPEC.md, "Wire").
 *
 * One thread runs the event loop: ZAP, the control socket, the ROUTER, the DEALERs and
 * their monitors, and a signalfd. Signature checks of a received batch run on every
 * core (pool.h); the batch and the cursor that covers it commit in one transaction.
 *
 * Must never: let a key that is no active partner reach the store or get a record;
 * identify a peer by anything but its authenticated key; store a record it has not
 * verified; crash or block on what a peer sends. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "clock.h"
#include "config.h"
#include "control.h"
#include "error.h"
#include "keyfile.h"
#include "log.h"
#include "pool.h"
#include "store.h"
#include "wire.h"
#include "banned.h"

/* Debian's libzmq 4.3.4 keeps this behind ZMQ_BUILD_DRAFT_API; the library has it.
 * Without it, CURVE with a ZAP domain still admits a key when no handler answers. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define PULL_TIMEOUT_MS 10000
#define HEARTBEAT_MS 1000
#define HEARTBEAT_TIMEOUT_MS 5000
#define TICK_MS 1000
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
#define MSG_RATE 200     /* requests per second a partner may send, on average */
#define MSG_BURST 400    /* and in a burst */
#define ERRORS_TO_CUT 20 /* protocol errors within ERROR_WINDOW_MS cut a partner off */
#define ERROR_WINDOW_MS 60000
#define CUT_MS 60000
#define WAITERS_MAX 64
#define IDLE_TRIM_MS 5000
#define COMPACT_EVERY_MS 600000
#define RENOTIFY_MS 2000

typedef struct peer {
	tr_partner p;
	uint8_t curve[TR_PK_BYTES];
	char idhex[2 * TR_PK_BYTES + 1];
	int keep; /* reload: still a partner */

	/* dialing out */
	void *dealer, *mon;
	int dealer_up;
	uint64_t redial_at, redial_ms; /* libzmq gives up after a refused handshake */
	uint64_t dealer_since;
	/* dialed in: the ROUTER routing id of its latest message */
	uint8_t rid[256];
	size_t ridlen;
	int router_up, router_fd;
	uint64_t router_since;

	/* pulling from it */
	tr_sync_state st;
	uint64_t inflight; /* the `after` of the outstanding PULL */
	uint64_t asked[4]; /* the `after` of the last PULLs sent: a late answer is no attack */
	unsigned nasked;
	int ninflight;
	int want_pull;
	uint64_t pull_sent, retry_at, retry_ms;

	/* serving it */
	uint64_t their_after; /* the `after` of its latest PULL, or the end of our last batch */
	uint64_t acked, acked_saved; /* the `after` of its latest PULL; as written down */
	int their_known;
	uint64_t notified_head, sent;
	uint64_t notified_at; /* mono ms of the last NOTIFY sent */
	int served_more;      /* the last batch sent to it said "more" */
	uint64_t maxbytes;    /* asked per batch: halved after a pull times out */

	/* misbehaviour */
	char last_error[256];
	uint64_t last_error_ms;
	unsigned errors;
	uint64_t errors_since, cut_until;
	double tokens;
	uint64_t tokens_at;
	uint64_t log_quiet_until;
} peer;

struct waiter {
	uint8_t rid[256];
	size_t ridlen;
	uint8_t id[TR_ID_BYTES];
	uint64_t deadline;
};

struct item {
	const uint8_t *env;
	size_t len;
	unsigned depth; /* the sender's depth of it */
	tr_record rec;
	int rc;
};

static struct node {
	char home[4096];
	tr_config cfg;
	tr_key *key;
	uint8_t curve_pk[TR_PK_BYTES];
	uint8_t *curve_sk; /* TR_PK_BYTES, in guarded sodium memory */
	tr_store *store;
	void *ctx, *zap, *router, *rmon, *control;
	char bound[512];
	int sigfd, kickfd;
	uint64_t next_compact; /* mono ms before which it does not compact again */
	uint64_t last_busy;    /* when it last stored or served records (mono ms) */
	int trimmed;           /* memory given back since */
	int stop, fatal;
	int loaded;         /* the partner table was read once */
	int recycle_router; /* a removed or suspended partner is on it: drop every connection */
	peer **peers;
	size_t npeers;
	uint64_t peers_gen; /* bumped by every reload(): the main loop's snapshot check */
	tr_pool *pool;
	struct item *items;
	struct waiter waiters[WAITERS_MAX];
	size_t nwaiters;
	tr_mpw out, recs;
	uint64_t started_ms;
	struct seen {
		uint8_t curve[TR_PK_BYTES];
		uint64_t at; /* mono ms it was last written to the pending table */
	} seen[32];
	uint64_t pending_budget_at;
	unsigned pending_budget;
	uint64_t monitor_seq;
} N;

static void busy(void)
{
	N.last_busy = tr_mono_ms();
	N.trimmed = 0;
}

/* ---- systemd readiness (sd_notify(3) protocol: one datagram to $NOTIFY_SOCKET) ---- */

static void sd_notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		tr_log(TR_LOG_WARNING, "cannot notify systemd at %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- peers ---- */

static peer *peer_by_hex(const char *hex)
{
	for (size_t i = 0; i < N.npeers; i++)
		if (!strcmp(N.peers[i]->idhex, hex))
			return N.peers[i];
	return NULL;
}

static peer *peer_by_curve(const uint8_t curve[TR_PK_BYTES])
{
	for (size_t i = 0; i < N.npeers; i++)
		if (!memcmp(N.peers[i]->curve, curve, TR_PK_BYTES))
			return N.peers[i];
	return NULL;
}

static peer *peer_by_name(const char *name)
{
	for (size_t i = 0; i < N.npeers; i++)
		if (!strcmp(N.peers[i]->p.name, name))
			return N.peers[i];
	return NULL;
}

static void peer_error(peer *pr, int count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records what went wrong with a partner (shown by `trestle status`) and logs it, at
 * most one line a second per partner. count: a protocol error that counts towards
 * cutting the partner off. */
static void peer_error(peer *pr, int count, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pr->last_error, sizeof(pr->last_error), fmt, ap);
	va_end(ap);
	pr->last_error_ms = tr_wall_ms();
	uint64_t now = tr_mono_ms();
	if (now >= pr->log_quiet_until) {
		tr_log(TR_LOG_WARNING, "partner %s: %s", pr->p.name, pr->last_error);
		pr->log_quiet_until = now + 1000;
	}
	if (!count)
		return;
	if (now - pr->errors_since > ERROR_WINDOW_MS) {
		pr->errors_since = now;
		pr->errors = 0;
	}
	if (++pr->errors >= ERRORS_TO_CUT && pr->cut_until <= now) {
		pr->cut_until = now + CUT_MS;
		pr->ninflight = 0;
		tr_log(TR_LOG_WARNING,
		       "partner %s: %u protocol errors within a minute; ignoring it for %d s",
		       pr->p.name, pr->errors, CUT_MS / 1000);
	}
}

/* Token bucket: 1 if a message from the partner may be served now. */
static int peer_admit(peer *pr)
{
	uint64_t now = tr_mono_ms();
	pr->tokens += (double)(now - pr->tokens_at) * MSG_RATE / 1000.0;
	pr->tokens_at = now;
	if (pr->tokens > MSG_BURST)
		pr->tokens = MSG_BURST;
	if (pr->tokens < 1)
		return 0;
	pr->tokens -= 1;
	return 1;
}

/* Sends one message to the partner, over our connection to it if it is up, else over
 * its connection to us. via: the socket a request came in on (replies go back there),
 * or NULL for our own initiative. 0 or -1. */
static int peer_send(peer *pr, void *via, const tr_mpw *w)
{
	void *sock = via;
	if (!sock)
		sock = pr->dealer_up ? pr->dealer : pr->router_up ? N.router : NULL;
	if (!sock)
		return -1;
	if (sock == N.router) {
		if (zmq_send(sock, pr->rid, pr->ridlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
			if (errno == EHOSTUNREACH)
				pr->router_up = 0; /* ROUTER_MANDATORY: it is gone */
			return -1;
		}
	}
	if (zmq_send(sock, tr_mpw_data(w), tr_mpw_size(w), ZMQ_DONTWAIT) < 0)
		return -1;
	return 0;
}

static void send_error(peer *pr, void *via, int code, const char *text)
{
	tr_mpw_reset(&N.out);
	tr_msg_error(&N.out, (uint64_t)code, text);
	(void)peer_send(pr, via, &N.out);
}

static int peer_routable(const peer *pr)
{
	return pr->dealer_up || pr->router_up;
}

static void pull(peer *pr)
{
	uint64_t now = tr_mono_ms();
	if (pr->p.suspended || !peer_routable(pr) || pr->ninflight || now < pr->retry_at ||
	    now < pr->cut_until)
		return;
	tr_mpw_reset(&N.out);
	if (!pr->maxbytes)
		pr->maxbytes = TR_BATCH_MAX_BYTES;
	tr_msg_pull(&N.out, pr->st.cursor, TR_BATCH_MAX_RECORDS, pr->maxbytes);
	if (peer_send(pr, NULL, &N.out) == 0) {
		pr->inflight = pr->st.cursor;
		pr->ninflight = 1;
		pr->asked[pr->nasked++ % 4] = pr->inflight;
		pr->pull_sent = now;
		pr->want_pull = 0;
	}
}

static void dealer_close(peer *pr)
{
	if (pr->mon) {
		zmq_close(pr->mon);
		pr->mon = NULL;
	}
	if (pr->dealer) {
		zmq_close(pr->dealer);
		pr->dealer = NULL;
	}
	pr->dealer_up = 0;
}

static void set_common(void *s)
{
	/* high-water marks count messages, and a batch is up to a megabyte: a partner that
	 * pulls and never reads, or sends batch after batch, must not make this process
	 * hold more than a few of them per connection. An honest puller has one or two
	 * batches in flight; past the mark, a reply is dropped and it pulls again. */
	int zero = 0, ivl = HEARTBEAT_MS, to = HEARTBEAT_TIMEOUT_MS, hwm = 8;
	int64_t max = TR_WIRE_MAX_MSG;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &to, sizeof(to));
	zmq_setsockopt(s, ZMQ_HEARTBEAT_TTL, &to, sizeof(to));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &to, sizeof(to));
}

static int dealer_open(peer *pr)
{
	char monep[64];
	int ivl = 100, ivlmax = 5000;
	void *d = zmq_socket(N.ctx, ZMQ_DEALER);
	if (!d)
		return -1;
	set_common(d);
	zmq_setsockopt(d, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(d, ZMQ_RECONNECT_IVL_MAX, &ivlmax, sizeof(ivlmax));
	zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, pr->curve, TR_PK_BYTES);
	zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, N.curve_pk, TR_PK_BYTES);
	zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, N.curve_sk, TR_PK_BYTES);
	snprintf(monep, sizeof(monep), "inproc://mon-%" PRIu64, ++N.monitor_seq);
	if (zmq_socket_monitor(d, monep,
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
		goto fail;
	pr->mon = zmq_socket(N.ctx, ZMQ_PAIR);
	if (!pr->mon || zmq_connect(pr->mon, monep) != 0)
		goto fail;
	pr->dealer = d;
	if (zmq_connect(d, pr->p.endpoint) != 0) {
		peer_error(pr, 0, "cannot dial %s: %s", pr->p.endpoint, zmq_strerror(errno));
		dealer_close(pr);
		return -1;
	}
	return 0;
fail:
	if (pr->mon)
		zmq_close(pr->mon);
	pr->mon = NULL;
	zmq_close(d);
	return -1;
}

static void peer_free(peer *pr)
{
	dealer_close(pr);
	free(pr);
}

/* ---- the partner table: loaded from the store at start and on every tick ---- */

struct reload_ctx {
	peer **fresh;
	size_t n, cap;
};

static int reload_cb(void *vctx, const tr_partner *p)
{
	struct reload_ctx *c = vctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		peer **nv = realloc(c->fresh, cap * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		c->fresh = nv;
		c->cap = cap;
	}
	peer *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return ENOMEM;
	pr->p = *p;
	if (tr_key_curve_public(p->id, pr->curve) != 0) {
		free(pr);
		return 0; /* ids are checked when added; a bad one is never admitted */
	}
	sodium_bin2hex(pr->idhex, sizeof(pr->idhex), p->id, TR_PK_BYTES);
	c->fresh[c->n++] = pr;
	return 0;
}

static int sync_load_cb(tr_txn *t, void *vctx)
{
	struct reload_ctx *c = vctx;
	for (size_t i = 0; i < c->n; i++) {
		int rc = tr_txn_sync_get(t, c->fresh[i]->p.index, &c->fresh[i]->st);
		if (rc)
			return rc;
	}
	return 0;
}

static int partners_load(tr_txn *t, void *vctx)
{
	struct reload_ctx *c = vctx;
	int rc = tr_txn_partner_scan(t, reload_cb, c);
	return rc ? rc : sync_load_cb(t, c);
}

/* Brings the peers in line with the partner table. A partner removed or suspended is
 * cut at once: its DEALER closed, and if it dialed in, every inbound connection is
 * dropped (ZeroMQ cannot close one) and the others dial again. */
static void reload(void)
{
	struct reload_ctx c = {0};
	int rc = tr_store_read(N.store, partners_load, &c);
	if (rc) {
		tr_log(TR_LOG_ERR, "cannot read the partner table: %s", tr_strerror(rc));
		for (size_t i = 0; i < c.n; i++)
			free(c.fresh[i]);
		free(c.fresh);
		return;
	}
	for (size_t i = 0; i < N.npeers; i++)
		N.peers[i]->keep = 0;
	for (size_t i = 0; i < c.n; i++) {
		peer *nw = c.fresh[i], *old = NULL;
		for (size_t j = 0; j < N.npeers && !old; j++)
			if (N.peers[j] && !memcmp(N.peers[j]->p.id, nw->p.id, TR_PK_BYTES))
				old = N.peers[j];
		if (old && old->p.suspended == nw->p.suspended && old->p.index == nw->p.index &&
		    !strcmp(old->p.endpoint, nw->p.endpoint)) {
			old->p = nw->p; /* name or relation may change; the connection stays */
			old->keep = 1;
			free(nw);
			c.fresh[i] = old;
			continue;
		}
		if (old) {
			/* suspended, resumed or moved: start over with it */
			if (old->router_up || nw->p.suspended)
				N.recycle_router = 1;
			tr_log(TR_LOG_INFO, "partner %s: %s", nw->p.name,
			       nw->p.suspended ? "suspended; disconnected"
			                       : "changed; reconnecting");
			nw->tokens = MSG_BURST;
			peer_free(old);
			for (size_t j = 0; j < N.npeers; j++)
				if (N.peers[j] == old)
					N.peers[j] = NULL;
		} else {
			tr_log(TR_LOG_INFO, "partner %s: %s%s%s", nw->p.name,
			       N.loaded          ? "added"
			       : nw->p.suspended ? "suspended"
			                         : "known",
			       nw->p.endpoint[0] && !nw->p.suspended ? ", dialing " : "",
			       nw->p.suspended ? "" : nw->p.endpoint);
			nw->tokens = MSG_BURST;
		}
		nw->keep = 1;
		if (!nw->p.suspended && nw->p.endpoint[0])
			dealer_open(nw);
	}
	for (size_t j = 0; j < N.npeers; j++) {
		peer *old = N.peers[j];
		if (old && !old->keep) {
			tr_log(TR_LOG_INFO, "partner %s: removed; disconnected", old->p.name);
			N.recycle_router = 1;
			peer_free(old);
		}
	}
	free(N.peers);
	N.peers = c.fresh;
	N.npeers = c.n;
	N.peers_gen++;
	N.loaded = 1;
}

/* ---- ZAP: admits the keys of active partners, remembers the others ---- */

static int zap_frames(void *s, zmq_msg_t *f, int max)
{
	int n = 0, more = 1;
	while (more) {
		zmq_msg_t tmp;
		zmq_msg_t *m = n < max ? &f[n] : &tmp;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, s, 0) < 0) {
			zmq_msg_close(m);
			return -1;
		}
		more = zmq_msg_more(m);
		if (m == &tmp)
			zmq_msg_close(m);
		n++;
	}
	return n;
}

struct pending_ctx {
	const uint8_t *curve;
	const char *addr;
};

static int pending_fn(tr_txn *t, void *vctx)
{
	struct pending_ctx *c = vctx;
	return tr_txn_pending_seen(t, c->curve, c->addr, tr_wall_ms());
}

static void zap_reply(const zmq_msg_t *reqid, const char *code, const char *text, const char *user)
{
	zmq_send(N.zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(N.zap, zmq_msg_data((zmq_msg_t *)reqid), zmq_msg_size((zmq_msg_t *)reqid),
	         ZMQ_SNDMORE);
	zmq_send(N.zap, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(N.zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(N.zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(N.zap, "", 0, 0);
}

static void zap_handle(void)
{
	zmq_msg_t f[8];
	int n = zap_frames(N.zap, f, 8);
	if (n < 0)
		return;
	if (n < 7 || n > 8) {
		/* not a ZAP request we understand; REP still needs an answer */
		zmq_send(N.zap, "1.0", 3, ZMQ_SNDMORE);
		zmq_send(N.zap, "", 0, ZMQ_SNDMORE);
		zmq_send(N.zap, "500", 3, ZMQ_SNDMORE);
		zmq_send(N.zap, "bad request", 11, ZMQ_SNDMORE);
		zmq_send(N.zap, "", 0, ZMQ_SNDMORE);
		zmq_send(N.zap, "", 0, 0);
		goto out;
	}
	/* version, request id, domain, address, routing id, mechanism, credentials */
	char addr[64] = "";
	size_t alen = zmq_msg_size(&f[3]);
	if (alen >= sizeof(addr))
		alen = sizeof(addr) - 1;
	memcpy(addr, zmq_msg_data(&f[3]), alen);
	addr[alen] = '\0';
	if (zmq_msg_size(&f[2]) != strlen(TR_ZAP_DOMAIN) ||
	    memcmp(zmq_msg_data(&f[2]), TR_ZAP_DOMAIN, strlen(TR_ZAP_DOMAIN)) ||
	    zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) || n != 7 ||
	    zmq_msg_size(&f[6]) != TR_PK_BYTES) {
		zap_reply(&f[1], "400", "CURVE in domain trestle only", "");
		goto out;
	}
	const uint8_t *curve = zmq_msg_data(&f[6]);
	peer *pr = peer_by_curve(curve);
	if (pr && !pr->p.suspended) {
		zap_reply(&f[1], "200", "OK", pr->idhex);
		goto out;
	}
	zap_reply(&f[1], "400", pr ? "suspended" : "not a partner", "");
	char fpr[TR_FPR_TEXT_SIZE];
	tr_fingerprint_curve(curve, fpr);
	if (pr) {
		tr_log(TR_LOG_NOTICE, "partner %s (suspended) dialed in from %s; refused",
		       pr->p.name, addr);
		goto out;
	}
	/* remembered for `trestle partner pending`: a key seen in the last minute is not
	 * written (nor logged) again, and at most 10 writes a second in all, so that who
	 * knows this node's id cannot make it write and log without end */
	uint64_t now = tr_mono_ms();
	struct seen *old = &N.seen[0];
	for (size_t i = 0; i < sizeof(N.seen) / sizeof(N.seen[0]); i++) {
		if (N.seen[i].at && !memcmp(N.seen[i].curve, curve, TR_PK_BYTES)) {
			old = &N.seen[i];
			break;
		}
		if (N.seen[i].at < old->at)
			old = &N.seen[i];
	}
	if (old->at && !memcmp(old->curve, curve, TR_PK_BYTES) && now - old->at < 60000)
		goto out;
	memcpy(old->curve, curve, TR_PK_BYTES);
	old->at = now;
	if (now - N.pending_budget_at >= 1000) {
		N.pending_budget_at = now;
		N.pending_budget = 10;
	}
	if (N.pending_budget) {
		N.pending_budget--;
		tr_log(TR_LOG_NOTICE,
		       "refused a node that is no partner: fingerprint %s from %s (see `trestle "
		       "partner pending`)",
		       fpr, addr);
		struct pending_ctx pc = {curve, addr};
		int rc = tr_store_write(N.store, pending_fn, &pc);
		if (rc)
			tr_log(TR_LOG_ERR, "cannot note a pending node: %s", tr_strerror(rc));
	}
out:
	for (int i = 0; i < n && i < 8; i++)
		zmq_msg_close(&f[i]);
}

/* ---- serving a partner ---- */

static int collect_cb(void *ctx, unsigned depth, const uint8_t *env, size_t len)
{
	size_t *n = ctx;
	tr_msg_batch_item(&N.recs, depth, env, len);
	(*n)++;
	return 0;
}

struct serve_ctx {
	peer *pr;
	uint64_t after, max, maxbytes, next;
	int more;
	size_t n;
};

static int serve_fn(tr_txn *t, void *vctx)
{
	struct serve_ctx *c = vctx;
	tr_mpw_reset(&N.recs);
	c->n = 0;
	return tr_txn_out_read(t, c->pr->p.index, c->after, c->max, c->maxbytes, collect_cb, &c->n,
	                       &c->next, &c->more);
}

static void serve_pull(peer *pr, void *via, const tr_msg *m)
{
	struct serve_ctx c = {pr, m->after, m->max, m->maxbytes, 0, 0, 0};
	if (c.max == 0 || c.max > TR_BATCH_MAX_RECORDS)
		c.max = TR_BATCH_MAX_RECORDS;
	if (c.maxbytes == 0 || c.maxbytes > TR_BATCH_MAX_BYTES)
		c.maxbytes = TR_BATCH_MAX_BYTES;
	int rc = tr_store_read(N.store, serve_fn, &c);
	if (rc) {
		tr_log(TR_LOG_ERR, "partner %s: cannot read its records: %s", pr->p.name,
		       tr_strerror(rc));
		send_error(pr, via, TR_WERR_INTERNAL, "this node cannot read its store now");
		return;
	}
	tr_mpw_reset(&N.out);
	pr->acked = m->after; /* it holds everything up to there */
	tr_msg_batch(&N.out, tr_store_queue_epoch(N.store, pr->p.index), c.after, c.next, c.more,
	             c.n, tr_mpw_data(&N.recs), tr_mpw_size(&N.recs));
	if (tr_mpw_error(&N.out)) {
		send_error(pr, via, TR_WERR_INTERNAL, "out of memory");
		return;
	}
	busy();
	if (peer_send(pr, via, &N.out) == 0) {
		pr->sent += c.n;
		pr->their_after = c.next; /* approximate: that batch may still be lost */
		pr->served_more = c.more;
		pr->their_known = 1;
		if (c.next > pr->notified_head)
			pr->notified_head = c.next;
	}
}

/* ---- pulling from a partner: verify on every core, then one transaction ---- */

static void verify_one(void *ctx, size_t i)
{
	struct item *it = &((struct item *)ctx)[i];
	it->rc = tr_record_open(it->env, it->len, &it->rec);
}

struct commit_ctx {
	peer *pr;
	size_t n;
	uint64_t epoch, next;
	uint64_t added;
	char why[256];
};

static int commit_fn(tr_txn *t, void *vctx)
{
	struct commit_ctx *c = vctx;
	c->added = 0; /* the store may run this twice (map growth) */
	c->why[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		/* a record the partner did not write is at least one hop further from its
		 * author than the partner's first hop, whatever depth it claims */
		unsigned depth = N.items[i].depth + 1;
		if (depth < 2 && memcmp(N.items[i].rec.author, c->pr->p.id, TR_PK_BYTES) != 0)
			depth = 2;
		int added, rc = tr_txn_add(t, N.items[i].env, N.items[i].len, &N.items[i].rec,
		                           c->pr->p.index, depth, &added);
		if (rc) {
			char hex[TR_ID_HEX_SIZE];
			tr_id_hex(N.items[i].rec.id, hex);
			snprintf(c->why, sizeof(c->why), "record %.16s: %s", hex,
			         rc == TR_ESCHEMA ? "not valid for its kind" : tr_strerror(rc));
			return rc;
		}
		c->added += (uint64_t)added;
	}
	tr_sync_state st = c->pr->st;
	st.cursor = c->next;
	st.epoch = c->epoch;
	st.received += c->added;
	return tr_txn_sync_put(t, c->pr->p.index, &st);
}

static void waiters_check(size_t n);
static void notify_all(void);

static void take_batch(peer *pr, void *via, const tr_msg *m)
{
	if (!pr->ninflight || m->after != pr->inflight) {
		/* a late answer to a pull given up on (a timeout, a refused batch, a reconnect)
		 * is dropped quietly; a batch never asked for is dropped and counted, so that a
		 * partner sending them is cut off. The cursor decides what is asked next. */
		for (unsigned i = 0; i < 4 && i < pr->nasked; i++)
			if (pr->asked[i] == m->after) {
				tr_log(TR_LOG_DEBUG,
				       "partner %s: dropped a late batch after %" PRIu64,
				       pr->p.name, m->after);
				return;
			}
		peer_error(pr, 1, "sent a batch after %" PRIu64 " that was not asked for; dropped",
		           m->after);
		send_error(pr, via, TR_WERR_PROTOCOL, "a batch that was not asked for; dropped");
		return;
	}
	if (m->more && !m->nrec && m->next == m->after) {
		/* "more" with no records and no progress: pulling again would loop */
		pr->ninflight = 0;
		peer_error(pr, 1, "sent an empty batch that says there is more; pulling later");
		send_error(pr, via, TR_WERR_PROTOCOL, "an empty batch cannot say there is more");
		goto refuse;
	}
	pr->ninflight = 0;
	if (pr->st.epoch && m->epoch != pr->st.epoch) {
		/* its queue positions are not the ones our cursor counts: its store was
		 * restored from a backup, or it paired with this node anew. Storing is
		 * idempotent: pull it all again. */
		peer_error(pr, 0,
		           "its queue epoch changed (its store was restored from a backup, or it "
		           "added this node again); pulling all it shares again");
		pr->st.cursor = 0;
		pr->st.epoch = 0;
		pull(pr);
		return;
	}
	if (!m->nrec && m->next == pr->st.cursor && (!pr->st.epoch || m->epoch == pr->st.epoch)) {
		/* nothing new: no transaction to write. A partner that says "new" and then
		 * has nothing waits a moment before it is asked again, so that lying NOTIFYs
		 * cannot drive the loop */
		pr->st.epoch = m->epoch;
		if (pr->want_pull)
			pr->retry_at = tr_mono_ms() + 100;
		return;
	}
	/* ask for the next batch now, so the partner reads it while we verify this one */
	if (m->more) {
		tr_mpw_reset(&N.out);
		if (pr->maxbytes < TR_BATCH_MAX_BYTES) /* it came in time: ask for more again */
			pr->maxbytes = pr->maxbytes * 2 > TR_BATCH_MAX_BYTES ? TR_BATCH_MAX_BYTES
			                                                     : pr->maxbytes * 2;
		tr_msg_pull(&N.out, m->next, TR_BATCH_MAX_RECORDS, pr->maxbytes);
		if (peer_send(pr, via, &N.out) == 0) {
			pr->inflight = m->next;
			pr->ninflight = 1;
			pr->asked[pr->nasked++ % 4] = pr->inflight;
			pr->pull_sent = tr_mono_ms();
		}
	}
	/* the verify workspace (5 MB) exists while batches come, and goes when idle */
	if (!N.items && !(N.items = calloc(TR_BATCH_MAX_RECORDS, sizeof(*N.items)))) {
		peer_error(pr, 0, "no memory to check a batch; pulling again later");
		goto refuse;
	}
	for (size_t i = 0; i < m->nrec; i++) {
		N.items[i].env = m->rec[i];
		N.items[i].len = m->reclen[i];
		N.items[i].depth = m->depth[i];
	}
	tr_pool_run(N.pool, m->nrec, verify_one, N.items);
	for (size_t i = 0; i < m->nrec; i++)
		if (N.items[i].rc) {
			peer_error(
			    pr, 1,
			    "sent a record that fails verification (%s); batch after %" PRIu64
			    " refused",
			    tr_strerror(N.items[i].rc), m->after);
			send_error(
			    pr, via, TR_WERR_RECORD,
			    "a record in your batch failed verification; nothing of it was stored");
			goto refuse;
		}
	struct commit_ctx c = {pr, m->nrec, m->epoch, m->next, 0, ""};
	int rc = tr_store_write(N.store, commit_fn, &c);
	if (rc) {
		if (rc == TR_ESCHEMA) {
			peer_error(pr, 1, "sent a %s; batch refused", c.why);
			send_error(pr, via, TR_WERR_RECORD,
			           "a record in your batch is not valid for its kind");
		} else {
			peer_error(pr, 0, "cannot store its batch: %s%s%s", tr_strerror(rc),
			           c.why[0] ? "; " : "", c.why);
		}
		goto refuse;
	}
	busy();
	pr->st.cursor = m->next;
	pr->st.epoch = m->epoch;
	pr->st.received += c.added;
	pr->retry_ms = 0;
	if (c.added) {
		waiters_check(m->nrec);
		notify_all(); /* what came in may be shared onward */
	}
	tr_log(TR_LOG_DEBUG, "partner %s: stored %zu records (%" PRIu64 " new), cursor %" PRIu64,
	       pr->p.name, m->nrec, c.added, m->next);
	/* the end of a run of batches: one more pull tells the partner what this node holds
	 * now (its `policy test` shows it) and asks for what came since; an empty batch
	 * answers it. Or it told us of more while this batch was on its way. */
	if (!m->more && (pr->want_pull || m->nrec))
		pull(pr);
	return;
refuse:
	pr->ninflight = 0;
	pr->retry_ms = pr->retry_ms ? pr->retry_ms * 2 : RETRY_MIN_MS;
	if (pr->retry_ms > RETRY_MAX_MS)
		pr->retry_ms = RETRY_MAX_MS;
	pr->retry_at = tr_mono_ms() + pr->retry_ms;
}

/* ---- telling partners there is something new ---- */

struct heads_ctx {
	uint64_t *heads;
};

static int heads_fn(tr_txn *t, void *vctx)
{
	struct heads_ctx *c = vctx;
	for (size_t i = 0; i < N.npeers; i++) {
		c->heads[i] = 0;
		if (!N.peers[i]->p.suspended) {
			int rc = tr_txn_out_head(t, N.peers[i]->p.index, &c->heads[i]);
			if (rc && rc != TR_ENOTFOUND)
				return rc;
		}
	}
	return 0;
}

/* Tells each connected partner whose queue grew past what it was told. again: also
 * tell, once every RENOTIFY_MS, a partner that has not pulled up to its queue's head
 * since: a NOTIFY can be lost (ZeroMQ delivers at most once) or ignored (a partner
 * that was throttling us), and nothing else would make it pull. */
static void notify(int again)
{
	if (!N.npeers)
		return;
	struct heads_ctx c = {calloc(N.npeers, sizeof(uint64_t))};
	if (!c.heads)
		return;
	uint64_t now = tr_mono_ms();
	if (tr_store_read(N.store, heads_fn, &c) == 0)
		for (size_t i = 0; i < N.npeers; i++) {
			peer *pr = N.peers[i];
			uint64_t head = c.heads[i];
			if (!peer_routable(pr) || head == 0)
				continue;
			int news = head > pr->notified_head;
			int behind = !pr->their_known || head > pr->their_after;
			if (!news && !(again && behind && now - pr->notified_at >= RENOTIFY_MS))
				continue;
			tr_mpw_reset(&N.out);
			tr_msg_notify(&N.out, head);
			if (peer_send(pr, NULL, &N.out) == 0) {
				pr->notified_head = head;
				pr->notified_at = now;
			}
		}
	free(c.heads);
}

static void notify_all(void)
{
	notify(0);
}

/* ---- one message from a partner ---- */

static void handle(peer *pr, void *via, const void *buf, size_t len)
{
	static tr_msg m;
	char why[160];
	uint64_t now = tr_mono_ms();
	if (now < pr->cut_until)
		return;
	if (tr_msg_decode(buf, len, &m, why, sizeof(why)) != 0) {
		peer_error(pr, 1, "sent a malformed message (%zu bytes): %s", len, why);
		send_error(pr, via, TR_WERR_MALFORMED, why);
		return;
	}
	/* batches answer our own pulls (at most one outstanding): only those that do not
	 * count against the partner's rate */
	/* batches that answer our own pulls (at most one outstanding) and NOTIFYs (one per
	 * write at the partner, and all they do is set a flag or start one pull) do not
	 * count against the partner's rate, nor pulls that move on: an honest partner
	 * writing fast must not be cut off */
	int free_pass = m.type == TR_MSG_NOTIFY ||
	                (m.type == TR_MSG_BATCH && pr->ninflight && m.after == pr->inflight) ||
	                /* a pull that goes on from where the last batch ended while there is more
	                 * for it (the last batch said so, or we told it of more): the honest
	                 * pattern, one per round trip while the partner writes; what it costs is
	                 * bounded by what is new. Other pulls count. */
	                (m.type == TR_MSG_PULL && pr->their_known && m.after == pr->their_after &&
	                 (pr->served_more || pr->notified_head > pr->their_after));
	if (!free_pass && !peer_admit(pr)) {
		peer_error(pr, 1, "sends too many messages; throttled");
		send_error(pr, via, TR_WERR_THROTTLED, "too many messages; slow down");
		return;
	}
	switch (m.type) {
	case TR_MSG_HELLO:
		/* on our connection to it, HELLO only answers ours (sent at handshake) */
		if (via == N.router) {
			tr_mpw_reset(&N.out);
			tr_msg_hello(&N.out);
			(void)peer_send(pr, via, &N.out);
			if (!pr->dealer_up) {
				/* a new connection: what was in flight died with the old one */
				pr->ninflight = 0;
				pull(pr);
			}
			pr->notified_head = 0;
			notify_all();
		}
		break;
	case TR_MSG_PULL:
		serve_pull(pr, via, &m);
		break;
	case TR_MSG_BATCH:
		take_batch(pr, via, &m);
		break;
	case TR_MSG_NOTIFY:
		if (pr->ninflight)
			pr->want_pull = 1;
		else
			pull(pr);
		break;
	case TR_MSG_ERROR:
		peer_error(pr, 0, "reports: %.*s (code %" PRIu64 ")", (int)m.text.n, m.text.p,
		           m.code);
		break;
	}
}

static void router_in(void)
{
	zmq_msg_t rid, body;
	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	int multi = 0;
	if (zmq_msg_recv(&rid, N.router, ZMQ_DONTWAIT) < 0)
		goto out;
	if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, N.router, ZMQ_DONTWAIT) < 0)
		goto out;
	for (int more = zmq_msg_more(&body); more;) { /* one frame per message */
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		more = zmq_msg_recv(&extra, N.router, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&extra);
		zmq_msg_close(&extra);
		multi = 1;
	}
	const char *user = zmq_msg_gets(&body, "User-Id");
	peer *pr = user ? peer_by_hex(user) : NULL;
	if (!pr || pr->p.suspended) {
		/* authenticated at handshake but no longer a partner: cut the connection */
		N.recycle_router = 1;
		goto out;
	}
	if (zmq_msg_size(&rid) > sizeof(pr->rid))
		goto out;
	if (!pr->router_up || pr->ridlen != zmq_msg_size(&rid) ||
	    memcmp(pr->rid, zmq_msg_data(&rid), pr->ridlen)) {
		memcpy(pr->rid, zmq_msg_data(&rid), zmq_msg_size(&rid));
		pr->ridlen = zmq_msg_size(&rid);
		if (!pr->router_up)
			pr->router_since = tr_wall_ms();
		pr->router_up = 1;
		tr_log(TR_LOG_INFO, "partner %s: connected (it dialed in)", pr->p.name);
	}
	pr->router_fd = zmq_msg_get(&body, ZMQ_SRCFD);
	if (multi) {
		peer_error(pr, 1, "sent a message of several frames");
		send_error(pr, N.router, TR_WERR_MALFORMED, "one frame per message");
	} else
		handle(pr, N.router, zmq_msg_data(&body), zmq_msg_size(&body));
out:
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
}

static void dealer_in(peer *pr)
{
	zmq_msg_t body;
	zmq_msg_init(&body);
	if (zmq_msg_recv(&body, pr->dealer, ZMQ_DONTWAIT) >= 0) {
		int multi = zmq_msg_more(&body);
		while (zmq_msg_more(&body) && zmq_msg_recv(&body, pr->dealer, ZMQ_DONTWAIT) >= 0)
			;
		if (multi) {
			peer_error(pr, 1, "sent a message of several frames");
			send_error(pr, pr->dealer, TR_WERR_MALFORMED, "one frame per message");
		} else
			handle(pr, pr->dealer, zmq_msg_data(&body), zmq_msg_size(&body));
	}
	zmq_msg_close(&body);
}

/* A monitor event: [event(2) value(4)] then the endpoint. value is the fd for
 * connection events. */
static int monitor_event(void *mon, uint32_t *value)
{
	zmq_msg_t a, b;
	uint16_t ev = 0;
	zmq_msg_init(&a);
	zmq_msg_init(&b);
	if (zmq_msg_recv(&a, mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&a) >= 6) {
		memcpy(&ev, zmq_msg_data(&a), 2);
		memcpy(value, (uint8_t *)zmq_msg_data(&a) + 2, 4);
	}
	if (zmq_msg_more(&a))
		zmq_msg_recv(&b, mon, ZMQ_DONTWAIT);
	zmq_msg_close(&a);
	zmq_msg_close(&b);
	return ev;
}

static void dealer_event(peer *pr)
{
	uint32_t value = 0;
	int ev = monitor_event(pr->mon, &value);
	switch (ev) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		pr->redial_ms = 0;
		pr->dealer_up = 1;
		pr->dealer_since = tr_wall_ms();
		pr->ninflight = 0;
		pr->notified_head = 0;
		tr_log(TR_LOG_INFO, "partner %s: connected to %s", pr->p.name, pr->p.endpoint);
		tr_mpw_reset(&N.out);
		tr_msg_hello(&N.out);
		(void)peer_send(pr, pr->dealer, &N.out);
		pull(pr);
		break;
	case ZMQ_EVENT_DISCONNECTED:
		if (pr->dealer_up)
			tr_log(TR_LOG_INFO, "partner %s: disconnected from %s", pr->p.name,
			       pr->p.endpoint);
		pr->dealer_up = 0;
		pr->ninflight = 0;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
			peer_error(
			    pr, 0,
			    "refused this node's key at %s (has its admin added this node as a "
			    "partner?)",
			    pr->p.endpoint);
		else
			peer_error(
			    pr, 0,
			    "handshake with %s failed (not a trestle node, or not the node of "
			    "that id)",
			    pr->p.endpoint);
		/* libzmq does not dial again after a refused handshake: we do, backing off */
		pr->redial_ms = pr->redial_ms ? pr->redial_ms * 2 : 2000;
		if (pr->redial_ms > RETRY_MAX_MS)
			pr->redial_ms = RETRY_MAX_MS;
		pr->redial_at = tr_mono_ms() + pr->redial_ms;
		break;
	}
}

static void router_event(void)
{
	uint32_t fd = 0;
	if (monitor_event(N.rmon, &fd) != ZMQ_EVENT_DISCONNECTED)
		return;
	for (size_t i = 0; i < N.npeers; i++) {
		peer *pr = N.peers[i];
		if (pr->router_up && pr->router_fd == (int)fd) {
			pr->router_up = 0;
			if (!pr->dealer_up)
				pr->ninflight = 0;
			tr_log(TR_LOG_INFO, "partner %s: disconnected (it had dialed in)",
			       pr->p.name);
		}
	}
}

/* ---- the ROUTER ---- */

static int router_open(void)
{
	int one = 1;
	char monep[64];
	N.router = zmq_socket(N.ctx, ZMQ_ROUTER);
	if (!N.router)
		return -1;
	set_common(N.router);
	zmq_setsockopt(N.router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(N.router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(N.router, ZMQ_CURVE_SECRETKEY, N.curve_sk, TR_PK_BYTES);
	zmq_setsockopt(N.router, ZMQ_ZAP_DOMAIN, TR_ZAP_DOMAIN, strlen(TR_ZAP_DOMAIN));
	/* fail closed: with no ZAP answer, no key gets in */
	if (zmq_setsockopt(N.router, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one)) != 0) {
		tr_log(TR_LOG_ERR, "this libzmq cannot enforce ZAP (ZMQ_ZAP_ENFORCE_DOMAIN): %s",
		       zmq_strerror(errno));
		return -1;
	}
	snprintf(monep, sizeof(monep), "inproc://rmon-%" PRIu64, ++N.monitor_seq);
	if (zmq_socket_monitor(N.router, monep, ZMQ_EVENT_DISCONNECTED) != 0)
		return -1;
	N.rmon = zmq_socket(N.ctx, ZMQ_PAIR);
	if (!N.rmon || zmq_connect(N.rmon, monep) != 0)
		return -1;
	const char *ep = N.bound[0] ? N.bound : N.cfg.listen;
	/* rebinding after a recycle: the old listener may take a moment to let go (its
	 * socket is closed by libzmq's I/O thread, later on a busy machine) */
	for (int tries = 0;; tries++) {
		if (zmq_bind(N.router, ep) == 0)
			break;
		if (errno != EADDRINUSE || tries >= 500) {
			tr_log(TR_LOG_ERR, "cannot listen on %s: %s", ep, zmq_strerror(errno));
			return -1;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	size_t len = sizeof(N.bound);
	zmq_getsockopt(N.router, ZMQ_LAST_ENDPOINT, N.bound, &len);
	return 0;
}

static void router_close(void)
{
	if (N.rmon)
		zmq_close(N.rmon);
	if (N.router)
		zmq_close(N.router);
	N.rmon = N.router = NULL;
}

/* Drops every inbound connection: the only way ZeroMQ offers to cut one. Active
 * partners dial again within a reconnect interval and resume from their cursors. */
static void router_recycle(void)
{
	N.recycle_router = 0;
	router_close();
	for (size_t i = 0; i < N.npeers; i++) {
		N.peers[i]->router_up = 0;
		if (!N.peers[i]->dealer_up)
			N.peers[i]->ninflight = 0;
	}
	if (router_open() != 0) {
		tr_log(TR_LOG_ERR, "cannot listen again after cutting a partner off; stopping");
		N.stop = N.fatal = 1;
	}
}

/* ---- the control socket ---- */

static void control_reply(const zmq_msg_t *rid, int ok, const char *text)
{
	tr_mpw w;
	tr_mpw_init(&w);
	tr_mpw_array(&w, 2);
	tr_mpw_uint(&w, ok ? 1 : 0);
	tr_mpw_str(&w, text, strlen(text));
	if (!tr_mpw_error(&w)) {
		zmq_send(N.control, zmq_msg_data((zmq_msg_t *)rid), zmq_msg_size((zmq_msg_t *)rid),
		         ZMQ_SNDMORE | ZMQ_DONTWAIT);
		zmq_send(N.control, tr_mpw_data(&w), tr_mpw_size(&w), ZMQ_DONTWAIT);
	}
	tr_mpw_release(&w);
}

static void waiter_reply(struct waiter *wt, int ok, const char *text)
{
	zmq_msg_t rid;
	zmq_msg_init_size(&rid, wt->ridlen);
	memcpy(zmq_msg_data(&rid), wt->rid, wt->ridlen);
	control_reply(&rid, ok, text);
	zmq_msg_close(&rid);
}

static int has_fn(tr_txn *t, void *vctx)
{
	const uint8_t *env;
	size_t len;
	return tr_txn_get(t, vctx, &env, &len, NULL, NULL);
}

static void waiters_check(size_t n)
{
	for (size_t w = 0; w < N.nwaiters;) {
		int hit = 0;
		for (size_t i = 0; i < n && !hit; i++)
			hit = !memcmp(N.items[i].rec.id, N.waiters[w].id, TR_ID_BYTES);
		if (hit) {
			waiter_reply(&N.waiters[w], 1, "");
			N.waiters[w] = N.waiters[--N.nwaiters];
		} else
			w++;
	}
}

static void waiters_expire(void)
{
	uint64_t now = tr_mono_ms();
	for (size_t w = 0; w < N.nwaiters;) {
		if (now >= N.waiters[w].deadline) {
			waiter_reply(&N.waiters[w], 0, "the record did not arrive in time");
			N.waiters[w] = N.waiters[--N.nwaiters];
		} else
			w++;
	}
}

static const char *relation_name(int r)
{
	return r == TR_REL_UPSTREAM ? "upstream" : r == TR_REL_DOWNSTREAM ? "downstream" : "?";
}

static char *status_json(void)
{
	json_t *o = json_object(), *arr = json_array();
	char nodeid[TR_NODEID_TEXT_SIZE];
	struct heads_ctx hc = {calloc(N.npeers ? N.npeers : 1, sizeof(uint64_t))};
	if (hc.heads)
		tr_store_read(N.store, heads_fn, &hc);
	tr_nodeid_format(tr_key_public(N.key), nodeid);
	json_object_set_new(o, "node", json_string(nodeid));
	json_object_set_new(o, "name", json_string(N.cfg.name));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "listen", json_string(N.bound));
	json_object_set_new(o, "started_ms", json_integer((json_int_t)N.started_ms));
	for (size_t i = 0; i < N.npeers; i++) {
		peer *pr = N.peers[i];
		json_t *p = json_object();
		char id[TR_NODEID_TEXT_SIZE];
		tr_nodeid_format(pr->p.id, id);
		json_object_set_new(p, "name", json_string(pr->p.name));
		json_object_set_new(p, "id", json_string(id));
		json_object_set_new(p, "relation", json_string(relation_name(pr->p.relation)));
		json_object_set_new(p, "suspended", json_boolean(pr->p.suspended));
		json_object_set_new(p, "endpoint", json_string(pr->p.endpoint));
		json_object_set_new(p, "connected", json_boolean(peer_routable(pr)));
		const char *via = pr->dealer_up && pr->router_up ? "both"
		                  : pr->dealer_up                ? "dialed"
		                  : pr->router_up                ? "accepted"
		                                                 : "none";
		json_object_set_new(p, "via", json_string(via));
		uint64_t since = pr->dealer_up   ? pr->dealer_since
		                 : pr->router_up ? pr->router_since
		                                 : 0;
		if (pr->dealer_up && pr->router_up && pr->router_since < since)
			since = pr->router_since;
		json_object_set_new(p, "connected_since_ms",
		                    since ? json_integer((json_int_t)since) : json_null());
		json_object_set_new(p, "received", json_integer((json_int_t)pr->st.received));
		json_object_set_new(p, "cursor", json_integer((json_int_t)pr->st.cursor));
		json_object_set_new(p, "sent", json_integer((json_int_t)pr->sent));
		uint64_t head = hc.heads ? hc.heads[i] : 0;
		json_object_set_new(p, "queued", json_integer((json_int_t)head));
		json_object_set_new(
		    p, "to_send",
		    pr->their_known
		        ? json_integer(
		              (json_int_t)(head > pr->their_after ? head - pr->their_after : 0))
		        : json_null());
		json_object_set_new(p, "last_error",
		                    pr->last_error[0] ? json_string(pr->last_error) : json_null());
		json_object_set_new(p, "last_error_ms",
		                    pr->last_error_ms ? json_integer((json_int_t)pr->last_error_ms)
		                                      : json_null());
		json_array_append_new(arr, p);
	}
	free(hc.heads);
	json_object_set_new(o, "partners", arr);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void control_in(void)
{
	zmq_msg_t rid, body;
	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	if (zmq_msg_recv(&rid, N.control, ZMQ_DONTWAIT) < 0)
		goto out;
	if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, N.control, ZMQ_DONTWAIT) < 0)
		goto out;
	while (zmq_msg_more(&body)) {
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		int r = zmq_msg_recv(&extra, N.control, ZMQ_DONTWAIT);
		zmq_msg_close(&extra);
		if (r < 0)
			break;
	}
	tr_mpr r;
	size_t n;
	tr_str op;
	tr_mpr_init(&r, zmq_msg_data(&body), zmq_msg_size(&body));
	if (tr_mpr_array(&r, &n, 4) || n < 1 || tr_mpr_str(&r, &op, 16)) {
		control_reply(&rid, 0, "malformed request");
		goto out;
	}
	if (tr_str_eq(op, "status") && n == 1) {
		char *s = status_json();
		control_reply(&rid, s != NULL, s ? s : "out of memory");
		free(s);
	} else if (tr_str_eq(op, "compact") && n == 1) {
		int done = 0, rc = tr_store_compact(N.store, &done);
		if (rc == TR_EBUSY)
			control_reply(&rid, 0,
			              "another process has the store open (a trestle command?); "
			              "try again when it is done");
		else if (rc)
			control_reply(&rid, 0, tr_strerror(rc));
		else {
			tr_log(TR_LOG_NOTICE,
			       "compacted the store: deleted data is gone from its file");
			control_reply(&rid, 1, "");
		}
	} else if (tr_str_eq(op, "kick") && n == 1) {
		reload();
		notify_all();
		control_reply(&rid, 1, "");
	} else if (tr_str_eq(op, "sync") && n == 2) {
		tr_str name;
		char nm[TR_PARTNER_NAME_MAX + 1];
		if (tr_mpr_str(&r, &name, TR_PARTNER_NAME_MAX)) {
			control_reply(&rid, 0, "malformed request");
			goto out;
		}
		memcpy(nm, name.p, name.n);
		nm[name.n] = '\0';
		reload();
		peer *pr = peer_by_name(nm);
		if (!pr)
			control_reply(&rid, 0, "no such partner");
		else if (pr->p.suspended)
			control_reply(&rid, 0, "that partner is suspended");
		else if (!peer_routable(pr))
			control_reply(&rid, 0, "that partner is not connected");
		else {
			pr->retry_at = 0;
			pr->cut_until = 0;
			pr->ninflight = 0;
			pull(pr);
			control_reply(&rid, 1, "");
		}
	} else if (tr_str_eq(op, "wait") && n == 3) {
		uint8_t id[TR_ID_BYTES];
		uint64_t ms;
		if (tr_mpr_bin_exact(&r, id, TR_ID_BYTES) || tr_mpr_uint(&r, &ms)) {
			control_reply(&rid, 0, "malformed request");
			goto out;
		}
		if (tr_store_read(N.store, has_fn, id) == 0)
			control_reply(&rid, 1, "");
		else if (N.nwaiters == WAITERS_MAX || zmq_msg_size(&rid) > 256)
			control_reply(&rid, 0, "too many waiting");
		else {
			struct waiter *wt = &N.waiters[N.nwaiters++];
			memcpy(wt->rid, zmq_msg_data(&rid), zmq_msg_size(&rid));
			wt->ridlen = zmq_msg_size(&rid);
			memcpy(wt->id, id, TR_ID_BYTES);
			wt->deadline = tr_mono_ms() + (ms > 600000 ? 600000 : ms);
		}
	} else {
		control_reply(&rid, 0, "unknown request");
	}
out:
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
}

/* ---- housekeeping, once a second and on a kick ---- */

static int acked_fn(tr_txn *t, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < N.npeers; i++) {
		peer *pr = N.peers[i];
		int rc;
		if (pr->acked != pr->acked_saved &&
		    (rc = tr_txn_acked_put(t, pr->p.index, pr->acked)) != 0)
			return rc;
	}
	return 0;
}

/* Writes down how far partners pulled (for `policy test` and for narrowing rules):
 * at most once a second, and only when it moved. */
static void acked_save(void)
{
	int moved = 0;
	for (size_t i = 0; i < N.npeers; i++)
		moved |= N.peers[i]->acked != N.peers[i]->acked_saved;
	if (!moved)
		return;
	int rc = tr_store_write(N.store, acked_fn, NULL);
	if (rc) {
		tr_log(TR_LOG_WARNING, "cannot write down how far partners pulled: %s",
		       tr_strerror(rc));
		return;
	}
	for (size_t i = 0; i < N.npeers; i++)
		N.peers[i]->acked_saved = N.peers[i]->acked;
}

static void tick(void)
{
	uint64_t now = tr_mono_ms();
	reload();
	acked_save();
	for (size_t i = 0; i < N.npeers; i++) {
		peer *pr = N.peers[i];
		if (pr->redial_at && now >= pr->redial_at) {
			pr->redial_at = 0;
			dealer_close(pr);
			dealer_open(pr);
		}
		if (pr->ninflight && now - pr->pull_sent > PULL_TIMEOUT_MS) {
			peer_error(pr, 0, "no answer to a pull within %d s; asking again",
			           PULL_TIMEOUT_MS / 1000);
			pr->ninflight = 0;
			pr->want_pull = 1;
			/* a slow link: ask for smaller batches until they come back in time */
			if (pr->maxbytes > 64 * 1024)
				pr->maxbytes /= 2;
		}
		if (!pr->ninflight && (pr->want_pull || (pr->retry_at && now >= pr->retry_at))) {
			pr->retry_at = 0;
			pull(pr);
		}
	}
	notify(1);
	waiters_expire();
	if (tr_store_needs_compact(N.store) && now - N.last_busy >= IDLE_TRIM_MS &&
	    now >= N.next_compact) {
		/* a retraction deleted data: erase it from the file's freed pages too, when
		 * idle, at most every ten minutes (it copies the whole store) */
		int done = 0, rc = tr_store_compact(N.store, &done);
		if (done) {
			tr_log(TR_LOG_NOTICE,
			       "compacted the store: retracted data is gone from its file");
			N.next_compact = now + COMPACT_EVERY_MS;
		} else if (rc && rc != TR_EBUSY) {
			tr_log(TR_LOG_WARNING, "cannot compact the store: %s", tr_strerror(rc));
			N.next_compact = now + COMPACT_EVERY_MS;
		}
	}
	if (!N.trimmed && now - N.last_busy >= IDLE_TRIM_MS) {
		/* idle: give back what a burst of work left mapped and allocated */
		tr_store_trim(N.store);
		free(N.items);
		N.items = NULL;
		tr_mpw_release(&N.recs); /* a batch's worth each */
		tr_mpw_release(&N.out);
		tr_mpw_init(&N.recs);
		tr_mpw_init(&N.out);
		malloc_trim(0);
		N.trimmed = 1;
	}
}

/* ---- start and stop ---- */

static int usage(FILE *f, int code)
{
	fprintf(f,
	        "usage: trestled [--home DIR] [--verbose]\n"
	        "\n"
	        "The trestle node daemon: exchanges signed records with the partner nodes of\n"
	        "this node over CURVE-secured ZeroMQ, as its sharing policies allow. Runs in\n"
	        "the foreground, logs to stderr (journald level prefixes), tells systemd when\n"
	        "it is ready ($NOTIFY_SOCKET) and stops cleanly on SIGTERM or SIGINT; SIGHUP\n"
	        "re-reads the partner table at once (it is re-read every second anyway).\n"
	        "\n"
	        "  --home DIR   the node's home (default: $TRESTLE_HOME, else\n"
	        "               $XDG_STATE_HOME/trestle, else ~/.local/state/trestle)\n"
	        "  --verbose    also log every batch stored and dropped (debug level)\n"
	        "  --help       this text;  --version  the version\n"
	        "\n"
	        "Set up the home with `trestle init`, pair with `trestle partner add`, allow\n"
	        "kinds with `trestle policy allow`, watch with `trestle status`.\n"
	        "Exit status: 0 stopped cleanly, 1 failed to start or a fatal error, 2 usage.\n");
	return code;
}

static int lock_home(void)
{
	char path[4200], pid[32];
	snprintf(path, sizeof(path), "%s/%s", N.home, TR_LOCK_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		tr_log(TR_LOG_ERR, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	/* `trestle status` tests the lock by taking it shared for a moment: a daemon that
	 * starts just then must not take that for another daemon */
	int locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
	for (int i = 0; !locked && errno == EWOULDBLOCK && i < 40; i++) {
		struct timespec ts = {0, 25 * 1000 * 1000};
		nanosleep(&ts, NULL);
		locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
	}
	if (!locked) {
		long other = 0;
		char buf[32] = {0};
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			other = strtol(buf, NULL, 10);
		tr_log(TR_LOG_ERR, "another trestled (pid %ld) runs on %s; only one may", other,
		       N.home);
		close(fd);
		return -1;
	}
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n)
		tr_log(TR_LOG_WARNING, "cannot write the pid into %s", path);
	return fd; /* held open (and locked) until exit */
}

/* HOME/trestled.kick: a datagram there from a command means the store changed */
static int kick_open(void)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", N.home, TR_KICK_SOCK);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		tr_log(TR_LOG_WARNING,
		       "the home's path is too long for %s: changes made by commands are seen "
		       "within a second instead of at once",
		       TR_KICK_SOCK);
		return 0;
	}
	unlink(sa.sun_path); /* a leftover from a daemon that died; we hold the lock */
	N.kickfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (N.kickfd < 0 || bind(N.kickfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sa.sun_path, 0600) != 0) {
		tr_log(TR_LOG_ERR, "cannot open %s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

static void kick_in(void)
{
	char b[16];
	while (recv(N.kickfd, b, sizeof(b), MSG_DONTWAIT) >= 0)
		; /* many kicks, one reload */
	reload();
	notify_all();
}

static int start(void)
{
	char path[4200], why[512];
	int rc;
	snprintf(path, sizeof(path), "%s/%s", N.home, TR_CONFIG_FILE);
	tr_config_defaults(&N.cfg);
	if ((rc = tr_config_load(path, &N.cfg, why, sizeof(why))) != 0) {
		tr_log(TR_LOG_ERR, "%s: %s", path, rc == TR_EINVAL ? why : tr_strerror(rc));
		if (rc == ENOENT)
			tr_log(TR_LOG_ERR, "no node at %s: run `trestle init` first", N.home);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", N.home, TR_KEY_FILE);
	if ((rc = tr_keyfile_load(path, &N.key, why, sizeof(why))) != 0) {
		tr_log(TR_LOG_ERR, "%s: %s", path, rc == TR_EKEY ? why : tr_strerror(rc));
		return -1;
	}
	if (!(N.curve_sk = sodium_malloc(TR_PK_BYTES)))
		return -1;
	if (tr_key_curve_public(tr_key_public(N.key), N.curve_pk) ||
	    tr_key_curve_secret(N.key, N.curve_sk)) {
		tr_log(TR_LOG_ERR, "the node key has no X25519 form");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", N.home, TR_STORE_DIR);
	if ((rc = tr_store_open(path, 0, tr_key_public(N.key), &N.store)) != 0) {
		tr_log(TR_LOG_ERR, "%s", tr_store_detail(N.store));
		return -1;
	}
	tr_store_set_key(N.store, N.key); /* receipts for the retractions it honours */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (tr_pool_new(cores > 1 ? (unsigned)cores - 1 : 0, &N.pool) != 0)
		return -1;
	tr_mpw_init(&N.out);
	tr_mpw_init(&N.recs);

	N.ctx = zmq_ctx_new();
	if (!N.ctx)
		return -1;
	/* ZAP first: the ROUTER must never be reachable without it */
	N.zap = zmq_socket(N.ctx, ZMQ_REP);
	if (!N.zap || zmq_bind(N.zap, "inproc://zeromq.zap.01") != 0) {
		tr_log(TR_LOG_ERR, "cannot start the ZAP handler: %s", zmq_strerror(errno));
		return -1;
	}
	N.control = zmq_socket(N.ctx, ZMQ_ROUTER);
	char ep[4300];
	snprintf(ep, sizeof(ep), "ipc://%s/%s", N.home, TR_CONTROL_SOCK);
	snprintf(path, sizeof(path), "%s/%s", N.home, TR_CONTROL_SOCK);
	unlink(path); /* a leftover from a daemon that died; we hold the lock */
	int zero = 0;
	if (N.control)
		zmq_setsockopt(N.control, ZMQ_LINGER, &zero, sizeof(zero));
	if (!N.control || zmq_bind(N.control, ep) != 0) {
		tr_log(TR_LOG_ERR, "cannot open the control socket %s: %s", path,
		       zmq_strerror(errno));
		return -1;
	}
	/* the node's own user only, whatever the home's mode */
	if (chmod(path, 0600) != 0)
		tr_log(TR_LOG_WARNING, "cannot restrict %s to its owner: %s", path,
		       strerror(errno));
	if (kick_open() != 0)
		return -1;
	reload();
	if (router_open() != 0)
		return -1;
	return 0;
}

static void stop(void)
{
	for (size_t i = 0; i < N.npeers; i++)
		peer_free(N.peers[i]);
	free(N.peers);
	router_close();
	if (N.control)
		zmq_close(N.control);
	if (N.zap)
		zmq_close(N.zap);
	if (N.ctx)
		zmq_ctx_term(N.ctx);
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", N.home, TR_CONTROL_SOCK);
	unlink(path);
	if (N.kickfd >= 0) {
		close(N.kickfd);
		snprintf(path, sizeof(path), "%s/%s", N.home, TR_KICK_SOCK);
		unlink(path);
	}
	tr_pool_free(&N.pool);
	free(N.items);
	tr_mpw_release(&N.out);
	tr_mpw_release(&N.recs);
	tr_store_close(&N.store);
	tr_key_destroy(&N.key);
	sodium_free(N.curve_sk); /* wipes it */
	N.curve_sk = NULL;
}

/* the poll set: these slots, then a DEALER and its monitor per peer */
enum { PI_SIG, PI_ZAP, PI_CONTROL, PI_ROUTER, PI_RMON, PI_KICK, PI_PEERS };

int main(int argc, char **argv)
{
	const char *home = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout, 0);
		if (!strcmp(argv[i], "--version")) {
			printf("trestled %s\n", TR_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "--verbose"))
			tr_log_level = TR_LOG_DEBUG;
		else if (!strcmp(argv[i], "--home") && i + 1 < argc)
			home = argv[++i];
		else if (!strncmp(argv[i], "--home=", 7))
			home = argv[i] + 7;
		else {
			fprintf(stderr, "trestled: unknown argument \"%s\"\n\n", argv[i]);
			return usage(stderr, 2);
		}
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (sodium_init() < 0)
		return 1;
	if (tr_home_resolve(home, N.home, sizeof(N.home)) != 0) {
		tr_log(TR_LOG_ERR, "no home directory: give --home or set TRESTLE_HOME");
		return 1;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts: all inherit it */
	signal(SIGPIPE, SIG_IGN);
	N.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	N.kickfd = -1;
	N.started_ms = tr_wall_ms();
	char conf[4200];
	struct stat cst;
	snprintf(conf, sizeof(conf), "%s/%s", N.home, TR_CONFIG_FILE);
	if (stat(conf, &cst) != 0) {
		tr_log(TR_LOG_ERR,
		       "no trestle node at %s (create one with `trestle init`, or give "
		       "--home or TRESTLE_HOME)",
		       N.home);
		return 1;
	}
	int lockfd = lock_home();
	if (lockfd < 0)
		return 1;
	if (start() != 0) {
		stop();
		return 1;
	}
	char nodeid[TR_NODEID_TEXT_SIZE];
	tr_nodeid_format(tr_key_public(N.key), nodeid);
	tr_log(TR_LOG_NOTICE, "node %s (%s) listening on %s with %zu partner%s", nodeid, N.cfg.name,
	       N.bound, N.npeers, N.npeers == 1 ? "" : "s");
	sd_notify_send("READY=1\nSTATUS=serving partners");

	uint64_t next_tick = tr_mono_ms() + TICK_MS;
	zmq_pollitem_t *items = NULL;
	size_t cap = 0;
	while (!N.stop) {
		size_t need = PI_PEERS + 2 * N.npeers, n = 0;
		if (need > cap) {
			zmq_pollitem_t *ni = realloc(items, need * sizeof(*ni));
			if (!ni) {
				tr_log(TR_LOG_ERR, "out of memory");
				N.fatal = 1;
				break;
			}
			items = ni;
			cap = need;
		}
		items[n++] = (zmq_pollitem_t){NULL, N.sigfd, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){N.zap, 0, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){N.control, 0, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){N.router, 0, ZMQ_POLLIN, 0};
		items[n++] = (zmq_pollitem_t){N.rmon, 0, ZMQ_POLLIN, 0};
		/* (without a kick socket, a slot that waits for nothing keeps the indexes) */
		items[n++] = (zmq_pollitem_t){NULL, N.kickfd >= 0 ? N.kickfd : N.sigfd,
		                              N.kickfd >= 0 ? ZMQ_POLLIN : 0, 0};
		size_t np = N.npeers;
		peer **snapshot = N.peers;
		uint64_t gen = N.peers_gen;
		for (size_t i = 0; i < np; i++) {
			items[n++] = (zmq_pollitem_t){snapshot[i]->dealer, 0,
			                              snapshot[i]->dealer ? ZMQ_POLLIN : 0, 0};
			items[n++] = (zmq_pollitem_t){snapshot[i]->mon, 0,
			                              snapshot[i]->mon ? ZMQ_POLLIN : 0, 0};
		}
		uint64_t now = tr_mono_ms();
		long timeout = next_tick > now ? (long)(next_tick - now) : 0;
		int rc = zmq_poll(items, (int)n, timeout);
		if (rc < 0 && errno != EINTR) {
			tr_log(TR_LOG_ERR, "poll: %s", zmq_strerror(errno));
			N.fatal = 1;
			break;
		}
		if (rc > 0) {
			if (items[PI_SIG].revents) {
				struct signalfd_siginfo si;
				if (read(N.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						/* what `systemctl reload` sends: re-read the
						 * partner table now (it is re-read every second
						 * anyway) */
						tr_log(TR_LOG_INFO, "SIGHUP: reloading partners");
						tick();
					} else {
						tr_log(TR_LOG_NOTICE, "signal %u: stopping",
						       si.ssi_signo);
						N.stop = 1;
						break;
					}
				}
			}
			/* drain each socket a bounded number of messages per round, so one busy
			 * partner cannot starve the others */
			for (int k = 0; k < 64 && items[PI_ZAP].revents; k++) {
				int ev = 0;
				size_t evl = sizeof(ev);
				zmq_getsockopt(N.zap, ZMQ_EVENTS, &ev, &evl);
				if (!(ev & ZMQ_POLLIN))
					break;
				zap_handle();
			}
			for (int k = 0; k < 64 && items[PI_CONTROL].revents; k++) {
				int ev = 0;
				size_t evl = sizeof(ev);
				zmq_getsockopt(N.control, ZMQ_EVENTS, &ev, &evl);
				if (!(ev & ZMQ_POLLIN))
					break;
				control_in();
			}
			/* the peer table may have changed under a kick: only go on with the
			 * snapshot while it is the live one */
			if (items[PI_KICK].revents)
				kick_in();
			/* two messages per socket and round: a batch takes tens of ms to check,
			 * and the control socket and the other partners must not wait behind a
			 * bulk sync */
			for (int k = 0; k < 2 && items[PI_ROUTER].revents && N.router; k++) {
				int ev = 0;
				size_t evl = sizeof(ev);
				zmq_getsockopt(N.router, ZMQ_EVENTS, &ev, &evl);
				if (!(ev & ZMQ_POLLIN))
					break;
				router_in();
			}
			for (int k = 0; k < 64 && items[PI_RMON].revents && N.rmon; k++) {
				int ev = 0;
				size_t evl = sizeof(ev);
				zmq_getsockopt(N.rmon, ZMQ_EVENTS, &ev, &evl);
				if (!(ev & ZMQ_POLLIN))
					break;
				router_event();
			}
			for (size_t i = 0; i < np && N.peers_gen == gen; i++) {
				peer *pr = snapshot[i];
				for (int k = 0;
				     k < 64 && items[PI_PEERS + 2 * i + 1].revents && pr->mon;
				     k++) {
					int ev = 0;
					size_t evl = sizeof(ev);
					zmq_getsockopt(pr->mon, ZMQ_EVENTS, &ev, &evl);
					if (!(ev & ZMQ_POLLIN))
						break;
					dealer_event(pr);
				}
				for (int k = 0; k < 2 && items[PI_PEERS + 2 * i].revents &&
				                pr->dealer && N.peers_gen == gen;
				     k++) {
					int ev = 0;
					size_t evl = sizeof(ev);
					zmq_getsockopt(pr->dealer, ZMQ_EVENTS, &ev, &evl);
					if (!(ev & ZMQ_POLLIN))
						break;
					dealer_in(pr);
				}
			}
		}
		if (N.recycle_router)
			router_recycle();
		if (tr_mono_ms() >= next_tick) {
			tick();
			next_tick = tr_mono_ms() + TICK_MS;
		}
	}
	free(items);
	sd_notify_send("STOPPING=1");
	stop();
	tr_log(TR_LOG_NOTICE, "stopped");
	close(lockfd);
	return N.fatal ? 1 : 0;
}
