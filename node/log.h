/* log.h: the daemon's log: one line per event on stderr, each with the sd-daemon level
 * prefix ("<3>" error, "<4>" warning, "<5>" notice, "<6>" info, "<7>" debug) that
 * journald reads. */
#ifndef TR_LOG_H
#define TR_LOG_H

enum { TR_LOG_ERR = 3, TR_LOG_WARNING = 4, TR_LOG_NOTICE = 5, TR_LOG_INFO = 6, TR_LOG_DEBUG = 7 };

extern int tr_log_level; /* lines above this level are dropped; TR_LOG_INFO by default */

__attribute__((format(printf, 2, 3))) void tr_log(int level, const char *fmt, ...);

#endif
