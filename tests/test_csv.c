/* test_csv.c: tests for the streaming CSV reader (tools/trestle/csv.h), fed through
 * fmemopen(). It must never depend on files outside the test or on the order tests run. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_test.h"
#include "../tools/trestle/csv.h"

#include "../proto/banned.h"

/* An in-memory input and a reader on it. */
struct src {
	char *buf;
	size_t len;
	FILE *f;
	tr_csv *c;
};

static tr_csv *open_mem(struct src *s, const char *data, size_t len, char delim)
{
	s->len = len;
	s->buf = malloc(len ? len : 1);
	if (!s->buf)
		abort();
	memcpy(s->buf, data, len);
	s->f = fmemopen(s->buf, len, "r");
	if (!s->f)
		abort();
	s->c = tr_csv_new(s->f, delim);
	if (!s->c)
		abort();
	return s->c;
}

static tr_csv *open_str(struct src *s, const char *data, char delim)
{
	return open_mem(s, data, strlen(data), delim);
}

static void close_src(struct src *s)
{
	tr_csv_destroy(&s->c);
	fclose(s->f);
	free(s->buf);
}

/* Reads a row and renders it as "[f1][f2]...", with CR, LF and other control bytes as
 * \r, \n, \xNN, into out. Returns what tr_csv_next returned; out is "" unless it was 1,
 * and "LENGTH MISMATCH" if a length disagrees with the NUL-terminated string. */
static int next(tr_csv *c, char *out, size_t cap)
{
	size_t n = 0, i, j, o = 0;
	char *const *f = NULL;
	const size_t *l = NULL;
	int r = tr_csv_next(c, &n, &f, &l);

	out[0] = '\0';
	if (r != 1)
		return r;
	for (i = 0; i < n; i++) {
		if (strlen(f[i]) != l[i]) {
			snprintf(out, cap, "LENGTH MISMATCH");
			return r;
		}
		if (o + 2 < cap)
			out[o++] = '[';
		for (j = 0; j < l[i] && o + 6 < cap; j++) {
			unsigned char ch = (unsigned char)f[i][j];

			if (ch == '\n' || ch == '\r') {
				out[o++] = '\\';
				out[o++] = ch == '\n' ? 'n' : 'r';
			} else if (ch < 0x20 || ch >= 0x7F) {
				o += (size_t)snprintf(out + o, cap - o, "\\x%02X", ch);
			} else {
				out[o++] = (char)ch;
			}
		}
		if (o + 1 < cap)
			out[o++] = ']';
	}
	out[o] = '\0';
	return r;
}

static void test_simple(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "a,b,c\n1,2,3\n", ',');
	char row[256];
	size_t n = 99;
	char *const *f = NULL;
	const size_t *l = NULL;

	CHECK_STR(tr_csv_error(c), "");
	CHECK_INT(tr_csv_row_line(c), 0);
	CHECK_INT(tr_csv_next(c, &n, &f, &l), 1);
	CHECK_INT(n, 3);
	CHECK(f != NULL && l != NULL);
	if (f && l && n == 3) {
		CHECK_STR(f[0], "a");
		CHECK_STR(f[2], "c");
		CHECK_INT(l[1], 1);
	}
	CHECK_INT(tr_csv_row_line(c), 1);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[1][2][3]");
	CHECK_INT(tr_csv_row_line(c), 2);
	CHECK_INT(tr_csv_next(c, &n, &f, &l), 0);
	CHECK_INT(n, 0);
	CHECK(f == NULL);
	CHECK(l == NULL);
	CHECK_INT(tr_csv_next(c, &n, &f, &l), 0);
	CHECK_STR(tr_csv_error(c), "");
	close_src(&s);

	/* Output pointers are optional. */
	c = open_str(&s, "x\n", ',');
	CHECK_INT(tr_csv_next(c, NULL, NULL, NULL), 1);
	CHECK_INT(tr_csv_next(c, NULL, NULL, NULL), 0);
	close_src(&s);

	/* Empty input, and input of only empty lines. */
	c = open_str(&s, "", ',');
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), 0);
	close_src(&s);
	c = open_str(&s, "\n\r\n\n", ',');
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), 4);
	close_src(&s);
}

static void test_crlf(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "a,b\r\nc,d\r\n", ',');
	char row[256];

	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a][b]");
	CHECK_INT(tr_csv_bytes_read(c), 5);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[c][d]");
	CHECK_INT(tr_csv_row_line(c), 2);
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);

	/* A lone CR inside an unquoted field, or starting a row, is data. */
	c = open_str(&s, "a\rb,c\n\rx\n", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a\\rb][c]");
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[\\rx]");
	CHECK_INT(tr_csv_row_line(c), 2);
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);

	/* A CR at the very end is a truncated CRLF. */
	c = open_str(&s, "a,b\r", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a][b]");
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), 4);
	close_src(&s);

	/* After a closing quote, CRLF and a final CR end the row. */
	c = open_str(&s, "\"a\"\r\n\"b\"\r", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a]");
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[b]");
	CHECK_INT(tr_csv_row_line(c), 2);
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);
}

static void test_quoted(void)
{
	struct src s;
	tr_csv *c = open_str(&s,
	                     "\"x,y\",\"say \"\"hi\"\"\",\"l1\nl2\"\n"
	                     "next,row\n"
	                     "\"a\r\nb\r\nc\",\"\"\"\"\r\n"
	                     "last\n",
	                     ',');
	char row[256];

	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[x,y][say \"hi\"][l1\\nl2]");
	CHECK_INT(tr_csv_row_line(c), 1);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[next][row]");
	CHECK_INT(tr_csv_row_line(c), 3);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a\\r\\nb\\r\\nc][\"]");
	CHECK_INT(tr_csv_row_line(c), 4);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[last]");
	CHECK_INT(tr_csv_row_line(c), 7);
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);

	/* An empty quoted field is a row, not an empty line. */
	c = open_str(&s, "\"\"\n", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[]");
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);
}

static void test_bom(void)
{
	struct src s;
	const char *in = "\xEF\xBB\xBFid,name\n1,x\n";
	tr_csv *c = open_str(&s, in, ',');
	char row[256];

	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[id][name]");
	CHECK_INT(tr_csv_field_column(c, 0), 1);
	CHECK_INT(tr_csv_field_column(c, 1), 4);
	CHECK_INT(tr_csv_bytes_read(c), 11);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[1][x]");
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), strlen(in));
	close_src(&s);

	/* Only a BOM: no rows. */
	c = open_str(&s, "\xEF\xBB\xBF", ',');
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), 3);
	close_src(&s);

	/* A partial BOM is data; a BOM later in the input is data. */
	c = open_str(&s, "\xEF\xBBx\n\xEF\xBB\xBFy\n", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[\\xEF\\xBBx]");
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[\\xEF\\xBB\\xBFy]");
	close_src(&s);
}

static void test_empty_lines(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "\n\na\n\r\n\nb\n\n", ',');
	char row[256];

	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a]");
	CHECK_INT(tr_csv_row_line(c), 3);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[b]");
	CHECK_INT(tr_csv_row_line(c), 6);
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), 10);
	close_src(&s);
}

static void test_no_final_newline(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "a,b\nc,d", ',');
	char row[256];

	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[c][d]");
	CHECK_INT(tr_csv_row_line(c), 2);
	CHECK_INT(tr_csv_bytes_read(c), 7);
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);

	c = open_str(&s, "\"q\"", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[q]");
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);

	c = open_str(&s, "a,", ',');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a][]");
	CHECK_INT(next(c, row, sizeof row), 0);
	close_src(&s);
}

static void test_delimiters(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "a;b,c;\"d;e\"\n", ';');
	char row[256];

	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a][b,c][d;e]");
	close_src(&s);

	c = open_str(&s, "a\tb c\t\n\"x\ty\"\t,\n", '\t');
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a][b c][]");
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[x\\x09y][,]");
	close_src(&s);

	/* Delimiters that cannot work are refused. */
	FILE *f = fmemopen(row, sizeof row, "r");

	CHECK(f != NULL);
	if (f) {
		errno = 0;
		CHECK(tr_csv_new(f, '"') == NULL);
		CHECK_INT(errno, EINVAL);
		CHECK(tr_csv_new(f, '\n') == NULL);
		CHECK(tr_csv_new(f, '\r') == NULL);
		CHECK(tr_csv_new(f, '\0') == NULL);
		fclose(f);
	}
	errno = 0;
	CHECK(tr_csv_new(NULL, ',') == NULL);
	CHECK_INT(errno, EINVAL);
}

static void test_empty_fields(void)
{
	struct src s;
	tr_csv *c = open_str(&s, ",,\na,\n,b\n", ',');
	char row[256];
	size_t n = 0;
	char *const *f = NULL;
	const size_t *l = NULL;

	CHECK_INT(tr_csv_next(c, &n, &f, &l), 1);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(f[0], "");
		CHECK_STR(f[1], "");
		CHECK_STR(f[2], "");
		CHECK_INT(l[0] + l[1] + l[2], 0);
	}
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[a][]");
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[][b]");
	close_src(&s);
}

static void test_columns(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "ab,\"c\",,d\n\"x\ny\",z\n", ',');
	char row[256];

	CHECK_INT(tr_csv_field_column(c, 0), 0);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_INT(tr_csv_field_column(c, 0), 1);
	CHECK_INT(tr_csv_field_column(c, 1), 4);
	CHECK_INT(tr_csv_field_column(c, 2), 8);
	CHECK_INT(tr_csv_field_column(c, 3), 9);
	CHECK_INT(tr_csv_field_column(c, 4), 0);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_STR(row, "[x\\ny][z]");
	CHECK_INT(tr_csv_row_line(c), 2);
	CHECK_INT(tr_csv_field_column(c, 0), 1);
	CHECK_INT(tr_csv_field_column(c, 1), 4); /* on line 3, where "z" is */
	CHECK_INT(tr_csv_field_line(c, 0), 2);
	CHECK_INT(tr_csv_field_line(c, 1), 3);
	CHECK_INT(tr_csv_field_line(c, 2), 0);
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_field_column(c, 0), 0);
	close_src(&s);
}

static void test_bytes_read(void)
{
	struct src s;
	tr_csv *c = open_str(&s, "ab\n\"c\nd\"\r\ne", ',');
	char row[256];

	CHECK_INT(tr_csv_bytes_read(c), 0);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_INT(tr_csv_bytes_read(c), 3);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_INT(tr_csv_bytes_read(c), 10);
	CHECK_INT(next(c, row, sizeof row), 1);
	CHECK_INT(tr_csv_bytes_read(c), 11);
	CHECK_INT(next(c, row, sizeof row), 0);
	CHECK_INT(tr_csv_bytes_read(c), s.len);
	close_src(&s);
}

/* Reads rows until one fails; returns the return of the failing call and checks the error
 * message contains want. */
static int expect_error(const char *in, size_t len, const char *want, int *rows)
{
	struct src s;
	tr_csv *c = open_mem(&s, in, len, ',');
	char row[256];
	int r;

	*rows = 0;
	while ((r = next(c, row, sizeof row)) == 1)
		(*rows)++;
	if (!strstr(tr_csv_error(c), want)) {
		fprintf(stderr, "error is \"%s\", expected \"%s\"\n", tr_csv_error(c), want);
		r = -99;
	}
	/* Errors are final, and keep their message. */
	if (r == -1 && (next(c, row, sizeof row) != -1 || !strstr(tr_csv_error(c), want)))
		r = -98;
	close_src(&s);
	return r;
}

static void test_errors(void)
{
	int rows = -1;

	CHECK_INT(expect_error("a,b\nc,\"open\nmore\n", 17,
	                       "line 2, column 3: unterminated quoted field", &rows),
	          -1);
	CHECK_INT(rows, 1);
	CHECK_INT(expect_error("\"ab\"x,c\n", 8,
	                       "line 1, column 5: unexpected character 'x' after closing quote",
	                       &rows),
	          -1);
	CHECK_INT(rows, 0);
	CHECK_INT(expect_error("a\n\n\"b\"\rc\n", 9,
	                       "line 3, column 4: unexpected character 0x0D after closing quote",
	                       &rows),
	          -1);
	CHECK_INT(rows, 1);
	CHECK_INT(expect_error("\"a\" ,b\n", 7,
	                       "line 1, column 4: unexpected character ' ' after closing quote",
	                       &rows),
	          -1);
	CHECK_INT(
	    expect_error("x\nab\"c\n", 7,
	                 "line 2, column 3: quote inside unquoted field; enclose the field in "
	                 "quotes and double the quote",
	                 &rows),
	    -1);
	CHECK_INT(rows, 1);
	CHECK_INT(expect_error("a,b\0c\n", 6, "line 1, column 4: NUL byte in field", &rows), -1);
	CHECK_INT(rows, 0);
	CHECK_INT(expect_error("\"a\nb\0\"\n", 7, "line 2, column 2: NUL byte in field", &rows),
	          -1);
	CHECK_INT(expect_error("\0", 1, "line 1, column 1: NUL byte in field", &rows), -1);

	/* A read error. */
	char wbuf[16];
	FILE *f = fmemopen(wbuf, sizeof wbuf, "w"); /* reading a write-only stream fails */
	tr_csv *c = f ? tr_csv_new(f, ',') : NULL;

	CHECK(c != NULL);
	if (c) {
		CHECK_INT(tr_csv_next(c, NULL, NULL, NULL), -1);
		CHECK(strncmp(tr_csv_error(c), "read error: ", 12) == 0);
		CHECK(strlen(tr_csv_error(c)) > 12);
		CHECK_INT(tr_csv_next(c, NULL, NULL, NULL), -1);
	}
	tr_csv_destroy(&c);
	CHECK(c == NULL);
	tr_csv_destroy(&c);
	tr_csv_destroy(NULL);
	if (f)
		fclose(f);
}

/* A row of nfields fields of fieldlen bytes each (quoted if quote), then tail. */
static char *make_row(size_t nfields, size_t fieldlen, int quote, const char *tail, size_t *len)
{
	size_t cap = nfields * (fieldlen + 3) + strlen(tail) + 1, o = 0, i;
	char *p = malloc(cap);

	if (!p)
		abort();
	for (i = 0; i < nfields; i++) {
		if (i)
			p[o++] = ',';
		if (quote)
			p[o++] = '"';
		memset(p + o, 'a' + (int)(i % 26), fieldlen);
		o += fieldlen;
		if (quote)
			p[o++] = '"';
	}
	memcpy(p + o, tail, strlen(tail));
	o += strlen(tail);
	*len = o;
	return p;
}

/* Reads one row from in; returns the result, and the row's field count and lengths sum. */
static int read_one(const char *in, size_t len, size_t *nfields, size_t *total, char *err,
                    size_t errcap)
{
	struct src s;
	tr_csv *c = open_mem(&s, in, len, ',');
	char *const *f;
	const size_t *l;
	size_t i;
	int r = tr_csv_next(c, nfields, &f, &l);

	*total = 0;
	for (i = 0; r == 1 && i < *nfields; i++)
		*total += l[i];
	snprintf(err, errcap, "%s", tr_csv_error(c));
	close_src(&s);
	return r;
}

static void test_caps(void)
{
	char err[256];
	size_t len, n, total;
	char *in;

	/* A field exactly at the cap, unquoted and quoted, is accepted; one byte more is not. */
	in = make_row(2, TR_CSV_MAX_FIELD, 0, "\n", &len);
	CHECK_INT(read_one(in, len, &n, &total, err, sizeof err), 1);
	CHECK_INT(n, 2);
	CHECK_INT(total, 2 * TR_CSV_MAX_FIELD);
	free(in);
	in = make_row(1, TR_CSV_MAX_FIELD, 1, "", &len);
	CHECK_INT(read_one(in, len, &n, &total, err, sizeof err), 1);
	CHECK_INT(total, TR_CSV_MAX_FIELD);
	free(in);
	in = make_row(2, TR_CSV_MAX_FIELD + 1, 0, "\n", &len);
	CHECK_INT(read_one(in, len, &n, &total, err, sizeof err), -1);
	CHECK_STR(err, "line 1, column 1: field longer than 65536 bytes");
	free(in);
	/* Over the cap in a quoted second field on line 2: the error points at its quote. */
	in = make_row(1, TR_CSV_MAX_FIELD + 1, 1, "\n", &len);
	{
		char *two = malloc(len + 4);

		if (!two)
			abort();
		memcpy(two, "x\nb,", 4);
		memcpy(two + 4, in, len);
		CHECK_INT(read_one(two, len + 4, &n, &total, err, sizeof err), 1);
		CHECK_STR(err, "");
		{
			struct src s;
			tr_csv *c = open_mem(&s, two, len + 4, ',');
			char row[64];

			CHECK_INT(next(c, row, sizeof row), 1);
			CHECK_INT(next(c, row, sizeof row), -1);
			CHECK_STR(tr_csv_error(c),
			          "line 2, column 3: field longer than 65536 bytes");
			close_src(&s);
		}
		free(two);
	}
	free(in);

	/* 512 fields are accepted, 513 are not. */
	in = make_row(TR_CSV_MAX_FIELDS, 0, 0, "\n", &len);
	CHECK_INT(read_one(in, len, &n, &total, err, sizeof err), 1);
	CHECK_INT(n, TR_CSV_MAX_FIELDS);
	free(in);
	in = make_row(TR_CSV_MAX_FIELDS + 1, 0, 0, "\n", &len);
	CHECK_INT(read_one(in, len, &n, &total, err, sizeof err), -1);
	CHECK_STR(err, "line 1, column 513: more than 512 fields");
	free(in);

	/* A row of exactly TR_CSV_MAX_ROW bytes (its CRLF excluded) is accepted: 16 fields of
	 * 65535 bytes and 15 commas are one byte short, so the last field gets one more byte. */
	size_t flen = 65535;

	in = make_row(16, flen, 0, "", &len);
	CHECK_INT(len, TR_CSV_MAX_ROW - 1);
	{
		char *big = malloc(TR_CSV_MAX_ROW + 16);
		size_t pad = TR_CSV_MAX_ROW - len, o;

		if (!big)
			abort();
		/* x\n then the row, padded with 'z' in its last field to exactly the cap. */
		memcpy(big, "x\n", 2);
		memcpy(big + 2, in, len);
		memset(big + 2 + len, 'z', pad);
		o = 2 + len + pad;
		memcpy(big + o, "\r\n", 2);
		{
			struct src s;
			tr_csv *c = open_mem(&s, big, o + 2, ',');
			char row[64];
			size_t nf = 0;
			char *const *f;
			const size_t *l;

			CHECK_INT(next(c, row, sizeof row), 1);
			CHECK_INT(tr_csv_next(c, &nf, &f, &l), 1);
			CHECK_INT(nf, 16);
			CHECK_INT(tr_csv_bytes_read(c), o + 2);
			close_src(&s);
		}
		/* One byte more: a comma starting an empty 17th field. */
		memcpy(big + o, ",\n", 2);
		{
			struct src s;
			tr_csv *c = open_mem(&s, big, o + 2, ',');
			char row[64];

			CHECK_INT(next(c, row, sizeof row), 1);
			CHECK_INT(next(c, row, sizeof row), -1);
			CHECK_STR(tr_csv_error(c),
			          "line 2, column 1: row longer than 1048576 bytes");
			close_src(&s);
		}
		free(big);
	}
	free(in);
}

/* Line endings and "" split across the reader's 64 KiB read chunks. */
static void test_chunk_boundaries(void)
{
	const size_t chunk = 64 * 1024;
	size_t len = chunk + 64, n, total;
	char *in = malloc(len);
	char err[256];

	if (!in)
		abort();
	/* CR as the last byte of the first chunk, LF as the first of the second. */
	memset(in, 'a', chunk - 1);
	memcpy(in + chunk - 1, "\r\nb\n", 4);
	{
		struct src s;
		tr_csv *c = open_mem(&s, in, chunk + 3, ',');
		char row[64];
		size_t nf = 0;
		char *const *f;
		const size_t *l = NULL;

		CHECK_INT(tr_csv_next(c, &nf, &f, &l), 1);
		CHECK_INT(nf, 1);
		CHECK_INT(l ? l[0] : 0, chunk - 1);
		CHECK_INT(next(c, row, sizeof row), 1);
		CHECK_STR(row, "[b]");
		CHECK_INT(tr_csv_row_line(c), 2);
		CHECK_INT(next(c, row, sizeof row), 0);
		close_src(&s);
	}
	/* A doubled quote split across the chunks. */
	in[0] = '"';
	memset(in + 1, 'q', chunk - 2);
	memcpy(in + chunk - 1, "\"\"x\"\n", 5);
	CHECK_INT(read_one(in, chunk + 4, &n, &total, err, sizeof err), 1);
	CHECK_INT(total, chunk - 2 + 2);
	free(in);
}

static void test_many_rows(void)
{
	const size_t nrows = 100000;
	size_t cap = nrows * 40, len = 0, i;
	char *in = malloc(cap);
	struct src s;
	tr_csv *c;
	size_t rows = 0, bad = 0, nf;
	char *const *f;
	const size_t *l;
	int r;

	if (!in)
		abort();
	for (i = 0; i < nrows; i++)
		len += (size_t)snprintf(in + len, cap - len, "%zu,name %zu,\"q,%zu\"\r\n", i, i, i);
	c = open_mem(&s, in, len, ',');
	while ((r = tr_csv_next(c, &nf, &f, &l)) == 1) {
		char want[32];

		snprintf(want, sizeof want, "q,%zu", rows);
		if (nf != 3 || strcmp(f[2], want) != 0 || strtoul(f[0], NULL, 10) != rows)
			bad++;
		rows++;
	}
	CHECK_INT(r, 0);
	CHECK_INT(rows, nrows);
	CHECK_INT(bad, 0);
	CHECK_INT(tr_csv_row_line(c), nrows + 1);
	CHECK_INT(tr_csv_bytes_read(c), len);
	close_src(&s);
	free(in);
}

int main(void)
{
	test_simple();
	test_crlf();
	test_quoted();
	test_bom();
	test_empty_lines();
	test_no_final_newline();
	test_delimiters();
	test_empty_fields();
	test_columns();
	test_bytes_read();
	test_errors();
	test_caps();
	test_chunk_boundaries();
	test_many_rows();
	return tr_test_done();
}
