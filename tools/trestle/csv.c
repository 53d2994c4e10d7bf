/* csv.c: the streaming RFC 4180 CSV reader declared in csv.h.
 *
 * The input is read in fixed TR_CSV_CHUNK-byte chunks into a buffer inside the reader, and
 * parsed one byte at a time by a small state machine into a row buffer that holds the
 * current row's fields back to back, each NUL-terminated. It must never read the whole input
 * into memory, never grow a buffer past the TR_CSV_MAX_* caps (each cap is checked before
 * the buffer grows), never print, never exit, and keep no global state.
 */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/banned.h"

#define TR_CSV_CHUNK (64 * 1024)

/* Results of peek() besides a byte value. */
enum { TR_CSV_END = -1, TR_CSV_FAIL = -2 };

/* Where the reader is with the stream as a whole. */
enum { TR_CSV_READING, TR_CSV_DONE, TR_CSV_FAILED };

/* Where the parser is within the current field. */
enum {
	TR_CSV_FIELD_START, /* nothing of the field read yet */
	TR_CSV_UNQUOTED,    /* inside an unquoted field */
	TR_CSV_QUOTED,      /* inside a quoted field */
	TR_CSV_QUOTE_SEEN   /* just after a quote inside a quoted field: "" or the closing one */
};

struct tr_csv {
	FILE *in;
	unsigned char delim;
	int status;     /* TR_CSV_READING, _DONE or _FAILED */
	int started;    /* the BOM check has been done */
	int in_eof;     /* fread reported end of input; never read again */
	size_t pos;     /* next unconsumed byte in buf */
	size_t len;     /* bytes in buf */
	uint64_t bytes; /* bytes consumed */
	size_t line;    /* line and column of the next unconsumed byte */
	size_t col;
	size_t ch_line; /* line and column of the byte consumed last */
	size_t ch_col;

	size_t row_line;    /* line where the current row started */
	uint64_t row_start; /* value of bytes where the current row started */
	size_t field_line;  /* line where the current field started */
	char *row;          /* the current row's fields, each NUL-terminated */
	size_t row_len;     /* bytes used in row */
	size_t row_cap;     /* bytes allocated for row, at most TR_CSV_MAX_ROW + 1 */
	size_t nfields;     /* fields of the current row, the one being read included */
	size_t fields_cap;  /* entries allocated in each of the four arrays below */
	size_t *offs;       /* field i starts at row + offs[i] */
	size_t *lens;       /* field i is lens[i] bytes long (set when it ends) */
	size_t *cols;       /* column where field i started */
	size_t *flines;     /* line where field i started (quoted fields span lines) */
	char **ptrs;        /* row + offs[i], set when the row is complete */
	char err[192];      /* last error message, "" if none */
	unsigned char buf[TR_CSV_CHUNK];
};

#if defined(__GNUC__)
#define TR_CSV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TR_CSV_PRINTF(f, a)
#endif

/* Sets the message "line L, column C: <fmt...>" and the failed status; returns -1. */
static int fail_at(tr_csv *c, size_t line, size_t col, const char *fmt, ...) TR_CSV_PRINTF(4, 5);

static int fail_at(tr_csv *c, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, sizeof c->err, "line %zu, column %zu: ", line, col);

	if (n > 0 && (size_t)n < sizeof c->err) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
		va_end(ap);
	}
	c->status = TR_CSV_FAILED;
	return -1;
}

static int fail_read(tr_csv *c, int err)
{
	snprintf(c->err, sizeof c->err, "read error: %s", strerror(err ? err : EIO));
	c->status = TR_CSV_FAILED;
	return -1;
}

/* Appends up to want - len bytes from the FILE to buf. Returns 1 if bytes were added, 0 at
 * end of input, -1 on a read error (message set). */
static int read_more(tr_csv *c, size_t want)
{
	size_t n;

	if (c->in_eof)
		return 0;
	errno = 0;
	n = fread(c->buf + c->len, 1, want - c->len, c->in);
	if (n > 0) {
		c->len += n;
		return 1;
	}
	if (ferror(c->in))
		return fail_read(c, errno);
	c->in_eof = 1;
	return 0;
}

/* The next unconsumed byte (0..255), TR_CSV_END at end of input, TR_CSV_FAIL on error. */
static int peek(tr_csv *c)
{
	if (c->pos == c->len) {
		int r;

		c->pos = 0;
		c->len = 0;
		r = read_more(c, sizeof c->buf);
		if (r <= 0)
			return r == 0 ? TR_CSV_END : TR_CSV_FAIL;
	}
	return c->buf[c->pos];
}

/* Consumes the byte ch that peek() just returned. */
static void consume(tr_csv *c, int ch)
{
	c->pos++;
	c->bytes++;
	c->ch_line = c->line;
	c->ch_col = c->col;
	if (ch == '\n') {
		c->line++;
		c->col = 1;
	} else {
		c->col++;
	}
}

/* Skips a UTF-8 BOM at the very start of the input; it does not count as a column. */
static int skip_bom(tr_csv *c)
{
	static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
	int r = 1;

	while (c->len < sizeof bom && r > 0)
		r = read_more(c, sizeof c->buf);
	if (r < 0)
		return -1;
	if (c->len >= sizeof bom && memcmp(c->buf, bom, sizeof bom) == 0) {
		c->pos = sizeof bom;
		c->bytes = sizeof bom;
	}
	return 0;
}

/* Fails if the bytes of the current row consumed so far are over TR_CSV_MAX_ROW. */
static int check_row(tr_csv *c)
{
	if (c->bytes - c->row_start > TR_CSV_MAX_ROW)
		return fail_at(c, c->row_line, 1, "row longer than %d bytes", TR_CSV_MAX_ROW);
	return 0;
}

/* Makes room for one more byte in row. The row can never need more than
 * TR_CSV_MAX_ROW + 1 bytes (its fields' bytes plus one NUL each are at most its input bytes,
 * less its delimiters, plus one), so the cap below is never what stops a valid row. */
static int row_reserve(tr_csv *c)
{
	size_t cap;
	char *p;

	if (c->row_len < c->row_cap)
		return 0;
	if (c->row_cap >= (size_t)TR_CSV_MAX_ROW + 1)
		return fail_at(c, c->row_line, 1, "row longer than %d bytes", TR_CSV_MAX_ROW);
	cap = c->row_cap ? c->row_cap * 2 : 256;
	if (cap > (size_t)TR_CSV_MAX_ROW + 1)
		cap = (size_t)TR_CSV_MAX_ROW + 1;
	p = realloc(c->row, cap);
	if (!p) {
		snprintf(c->err, sizeof c->err, "out of memory");
		c->status = TR_CSV_FAILED;
		return -1;
	}
	c->row = p;
	c->row_cap = cap;
	return 0;
}

/* Appends byte ch to the current field. */
static int append(tr_csv *c, int ch)
{
	if (c->row_len - c->offs[c->nfields - 1] >= TR_CSV_MAX_FIELD)
		return fail_at(c, c->field_line, c->cols[c->nfields - 1],
		               "field longer than %d bytes", TR_CSV_MAX_FIELD);
	if (row_reserve(c))
		return -1;
	c->row[c->row_len++] = (char)ch;
	return 0;
}

static int grow_fields(tr_csv *c)
{
	size_t cap = c->fields_cap ? c->fields_cap * 2 : 16;
	size_t *offs, *lens, *cols, *flines;
	char **ptrs;

	if (cap > TR_CSV_MAX_FIELDS)
		cap = TR_CSV_MAX_FIELDS;
	/* Each array is stored as soon as it is reallocated, so a failure leaks nothing. */
	offs = realloc(c->offs, cap * sizeof *offs);
	if (!offs)
		goto oom;
	c->offs = offs;
	lens = realloc(c->lens, cap * sizeof *lens);
	if (!lens)
		goto oom;
	c->lens = lens;
	cols = realloc(c->cols, cap * sizeof *cols);
	if (!cols)
		goto oom;
	c->cols = cols;
	flines = realloc(c->flines, cap * sizeof *flines);
	if (!flines)
		goto oom;
	c->flines = flines;
	ptrs = realloc(c->ptrs, cap * sizeof *ptrs);
	if (!ptrs)
		goto oom;
	c->ptrs = ptrs;
	c->fields_cap = cap;
	return 0;
oom:
	snprintf(c->err, sizeof c->err, "out of memory");
	c->status = TR_CSV_FAILED;
	return -1;
}

/* Starts a new field at the next unconsumed byte. */
static int start_field(tr_csv *c)
{
	if (c->nfields >= TR_CSV_MAX_FIELDS)
		return fail_at(c, c->line, c->col, "more than %d fields", TR_CSV_MAX_FIELDS);
	if (c->nfields == c->fields_cap && grow_fields(c))
		return -1;
	c->offs[c->nfields] = c->row_len;
	c->cols[c->nfields] = c->col;
	c->flines[c->nfields] = c->line;
	c->field_line = c->line;
	c->nfields++;
	return 0;
}

/* Ends the current field: records its length and NUL-terminates it. */
static int end_field(tr_csv *c)
{
	size_t i = c->nfields - 1;

	if (row_reserve(c))
		return -1;
	c->lens[i] = c->row_len - c->offs[i];
	c->row[c->row_len++] = '\0';
	return 0;
}

/* Ends the row after its last field. */
static int end_row(tr_csv *c)
{
	size_t i;

	if (end_field(c))
		return -1;
	for (i = 0; i < c->nfields; i++)
		c->ptrs[i] = c->row + c->offs[i];
	return 1;
}

/* Called after a CR was consumed: consumes an LF that follows it. Returns 1 if the CR ends
 * the row (CRLF, or CR at the end of input), 0 if it is an ordinary byte, -1 on error. */
static int cr_ends_row(tr_csv *c)
{
	int nx = peek(c);

	if (nx == TR_CSV_FAIL)
		return -1;
	if (nx == '\n') {
		consume(c, nx);
		return 1;
	}
	return nx == TR_CSV_END;
}

static void describe(int ch, char *out, size_t cap)
{
	if (ch >= 0x20 && ch <= 0x7E)
		snprintf(out, cap, "'%c'", ch);
	else
		snprintf(out, cap, "0x%02X", (unsigned)ch);
}

/* Reads one row into c. Returns 1, 0 at end of input, or -1 (status and message set). */
static int read_row(tr_csv *c)
{
	int state, ch, r;
	char what[8];

restart:
	c->nfields = 0;
	c->row_len = 0;
	c->row_line = c->line;
	c->row_start = c->bytes;
	if (start_field(c))
		return -1;
	state = TR_CSV_FIELD_START;
	for (;;) {
		ch = peek(c);
		if (ch == TR_CSV_FAIL)
			return -1;
		if (ch == TR_CSV_END) {
			if (state == TR_CSV_QUOTED)
				return fail_at(c, c->field_line, c->cols[c->nfields - 1],
				               "unterminated quoted field");
			if (state == TR_CSV_FIELD_START && c->nfields == 1) {
				c->nfields = 0;
				c->status = TR_CSV_DONE;
				return 0;
			}
			return end_row(c);
		}
		consume(c, ch);

		switch (state) {
		case TR_CSV_FIELD_START:
		case TR_CSV_UNQUOTED:
			if (ch == c->delim) {
				if (check_row(c) || end_field(c) || start_field(c))
					return -1;
				state = TR_CSV_FIELD_START;
				continue;
			}
			if (ch == '\n' || ch == '\r') {
				r = ch == '\n' ? 1 : cr_ends_row(c);
				if (r < 0)
					return -1;
				if (r > 0) {
					/* A line with no bytes before its line ending is skipped.
					 */
					if (state == TR_CSV_FIELD_START && c->nfields == 1)
						goto restart;
					return end_row(c);
				}
			}
			if (ch == '"') {
				if (state == TR_CSV_UNQUOTED)
					return fail_at(c, c->ch_line, c->ch_col,
					               "quote inside unquoted field; enclose the "
					               "field in quotes and double the quote");
				if (check_row(c))
					return -1;
				state = TR_CSV_QUOTED;
				continue;
			}
			if (ch == '\0')
				return fail_at(c, c->ch_line, c->ch_col, "NUL byte in field");
			if (check_row(c) || append(c, ch))
				return -1;
			state = TR_CSV_UNQUOTED;
			break;
		case TR_CSV_QUOTED:
			if (ch == '\0')
				return fail_at(c, c->ch_line, c->ch_col, "NUL byte in field");
			if (check_row(c))
				return -1;
			if (ch == '"')
				state = TR_CSV_QUOTE_SEEN;
			else if (append(c, ch))
				return -1;
			break;
		default: /* TR_CSV_QUOTE_SEEN */
			if (ch == '"') {
				if (check_row(c) || append(c, ch))
					return -1;
				state = TR_CSV_QUOTED;
				break;
			}
			if (ch == c->delim) {
				if (check_row(c) || end_field(c) || start_field(c))
					return -1;
				state = TR_CSV_FIELD_START;
				break;
			}
			if (ch == '\n')
				return end_row(c);
			if (ch == '\r') {
				r = cr_ends_row(c);
				if (r < 0)
					return -1;
				if (r > 0)
					return end_row(c);
			}
			describe(ch, what, sizeof what);
			return fail_at(c, c->ch_line, c->ch_col,
			               "unexpected character %s after closing quote", what);
		}
	}
}

tr_csv *tr_csv_new(FILE *in, char delim)
{
	tr_csv *c;

	if (!in || delim == '"' || delim == '\r' || delim == '\n' || delim == '\0') {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->in = in;
	c->delim = (unsigned char)delim;
	c->status = TR_CSV_READING;
	c->line = 1;
	c->col = 1;
	return c;
}

void tr_csv_destroy(tr_csv **c)
{
	if (!c || !*c)
		return;
	free((*c)->row);
	free((*c)->offs);
	free((*c)->lens);
	free((*c)->cols);
	free((*c)->flines);
	free((*c)->ptrs);
	free(*c);
	*c = NULL;
}

int tr_csv_next(tr_csv *c, size_t *nfields, char *const **fields, const size_t **lens)
{
	int r;

	if (nfields)
		*nfields = 0;
	if (fields)
		*fields = NULL;
	if (lens)
		*lens = NULL;
	if (!c)
		return -1;
	if (c->status == TR_CSV_FAILED)
		return -1;
	if (c->status == TR_CSV_DONE)
		return 0;
	c->nfields = 0;
	if (!c->started) {
		if (skip_bom(c))
			return -1;
		c->started = 1;
	}
	r = read_row(c);
	if (r != 1) {
		c->nfields = 0;
		return r;
	}
	if (nfields)
		*nfields = c->nfields;
	if (fields)
		*fields = c->ptrs;
	if (lens)
		*lens = c->lens;
	return 1;
}

size_t tr_csv_row_line(const tr_csv *c)
{
	return c ? c->row_line : 0;
}

size_t tr_csv_field_column(const tr_csv *c, size_t i)
{
	if (!c || i >= c->nfields)
		return 0;
	return c->cols[i];
}

size_t tr_csv_field_line(const tr_csv *c, size_t i)
{
	if (!c || i >= c->nfields)
		return 0;
	return c->flines[i];
}

uint64_t tr_csv_bytes_read(const tr_csv *c)
{
	return c ? c->bytes : 0;
}

const char *tr_csv_error(const tr_csv *c)
{
	return c ? c->err : "";
}
