/* log.c: see log.h. Text from outside the process is escaped by the callers' formats
 * (%.*s of checked UTF-8) and here: control characters never reach the log. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "banned.h"

int tr_log_level = TR_LOG_INFO;

void tr_log(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	if (level > tr_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?'; /* one event, one line */
	fprintf(stderr, "<%d>%s\n", level, line);
}
