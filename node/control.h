/* control.h: how the CLI talks to the running daemon of the same home directory.
 *
 * The daemon holds an exclusive lock on HOME/trestled.lock while it runs and listens on
 * ipc://HOME/trestled.sock (mode 0600, in HOME, which is 0700). It also reads
 * datagrams on HOME/trestled.kick: any datagram there means "the store changed", the
 * cheapest way for a command to tell it (no ZeroMQ context, no answer awaited).
 * A request is a MessagePack array [op, args...]; the reply is [ok, text]:
 *   ["status"]              -> [1, JSON document] (see trestle status --json)
 *   ["kick"]                -> [1, ""]: the store changed (records, partners, policies)
 *   ["sync", partner name]  -> [1, ""] or [0, why]: pull from that partner now
 *   ["wait", id(bin 32), ms]-> [1, ""] once the record is in the store, [0, why] on timeout
 */
#ifndef TR_CONTROL_H
#define TR_CONTROL_H

#include <stddef.h>

#define TR_LOCK_FILE "trestled.lock"
#define TR_CONTROL_SOCK "trestled.sock"
#define TR_KICK_SOCK "trestled.kick"

/* 1 if a daemon holds home's lock, 0 if none, with its pid in *pid when known. */
int tr_daemon_running(const char *home, long *pid);

/* Sends request (a MessagePack array) to the daemon of home and waits up to timeout_ms
 * for the reply. *ok and text (NUL-terminated, truncated to textlen) get the reply.
 * 0, TR_ENOTFOUND (no daemon running), ETIMEDOUT, TR_EFORMAT (a bad reply), errno. */
int tr_control_call(const char *home, const void *req, size_t reqlen, int timeout_ms, int *ok,
                    char *text, size_t textlen);

/* The kick after a change (a datagram to HOME/trestled.kick); quiet and quick (tens of
 * microseconds) whether a daemon runs or not. */
void tr_control_kick(const char *home);

#endif
