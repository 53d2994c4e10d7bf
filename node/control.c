/* control.c: the CLI's side of the control socket (control.h). */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "error.h"
#include "mp.h"
#include "banned.h"

int tr_daemon_running(const char *home, long *pid)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", home, TR_LOCK_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int running = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	if (running && pid) {
		char buf[32] = {0};
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		*pid = n > 0 ? strtol(buf, NULL, 10) : 0;
	}
	close(fd);
	return running;
}

int tr_control_call(const char *home, const void *req, size_t reqlen, int timeout_ms, int *ok,
                    char *text, size_t textlen)
{
	char ep[4200];
	if (!tr_daemon_running(home, NULL))
		return TR_ENOTFOUND;
	snprintf(ep, sizeof(ep), "ipc://%s/%s", home, TR_CONTROL_SOCK);
	void *ctx = zmq_ctx_new();
	if (!ctx)
		return errno;
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int rc = 0, zero = 0;
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	if (!s) {
		rc = errno;
		goto out;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
	if (zmq_connect(s, ep) != 0 || zmq_send(s, req, reqlen, 0) < 0) {
		rc = errno;
		goto out;
	}
	if (zmq_msg_recv(&msg, s, 0) < 0) {
		rc = errno == EAGAIN ? ETIMEDOUT : errno;
		goto out;
	}
	tr_mpr r;
	size_t n;
	uint64_t okv;
	tr_str t;
	tr_mpr_init(&r, zmq_msg_data(&msg), zmq_msg_size(&msg));
	if (tr_mpr_array(&r, &n, 2) || n != 2 || tr_mpr_uint(&r, &okv) ||
	    tr_mpr_str(&r, &t, 1u << 24) || tr_mpr_done(&r)) {
		rc = TR_EFORMAT;
		goto out;
	}
	*ok = okv == 1;
	if (textlen) {
		size_t m = t.n < textlen - 1 ? t.n : textlen - 1;
		memcpy(text, t.p, m);
		text[m] = '\0';
	}
out:
	zmq_msg_close(&msg);
	if (s)
		zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}

void tr_control_kick(const char *home)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", home, TR_KICK_SOCK);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		/* a home too deep for a socket address: the daemon's once-a-second check
		 * notices the change instead */
		return;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	/* no daemon, or its queue full of kicks already: either way nothing to do */
	(void)sendto(fd, "k", 1, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
}
