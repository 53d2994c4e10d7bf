/* csv.h: a streaming RFC 4180 CSV reader for `trestle import`.
 *
 * Reads claim/contact exports row by row from a FILE in bounded memory: the input is read
 * in fixed chunks and a reader never holds more than one row, so memory stays under the
 * TR_CSV_MAX_* caps below however large the file is. It must never load the whole input,
 * never grow past those caps, and never print or exit: every problem is reported through
 * the return value and tr_csv_error().
 *
 * Accepted input: fields separated by one delimiter byte; rows end with LF or CRLF; a field
 * may be enclosed in double quotes, and then may contain the delimiter, CR and LF, with a
 * quote written as "". A UTF-8 byte order mark at the very start is skipped. An empty line
 * (nothing before its LF or CRLF) is skipped, not returned as a row. The last row may lack
 * a line ending; a CR just before the end of input counts as a (truncated) line ending.
 * A CR not followed by LF in an unquoted field is data. Bytes are not checked to be UTF-8.
 *
 * Positions: lines are counted by LF bytes and start at 1 (LF inside quoted fields count,
 * skipped empty lines count). Columns are 1-based byte offsets within a line; the skipped
 * BOM does not count, so the first field of the first line is at column 1.
 */
#ifndef TR_CSV_H
#define TR_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest field, in bytes after removing enclosing quotes and un-doubling "" (inclusive). */
#define TR_CSV_MAX_FIELD 65536
/* Most fields in one row (inclusive). */
#define TR_CSV_MAX_FIELDS 512
/* Longest row in bytes as it appears in the input, quotes, delimiters and line breaks inside
 * quoted fields included, the row's own line ending excluded (inclusive). */
#define TR_CSV_MAX_ROW (1024 * 1024)

typedef struct tr_csv tr_csv;

/* Creates a reader on in, which is borrowed (not closed) until tr_csv_destroy and should not
 * be read by anyone else meanwhile: the reader reads ahead in chunks of up to 64 KiB.
 * delim is the field separator: ',' ';' '\t' or any single byte other than '"', '\r', '\n'
 * and NUL. Returns NULL with errno = ENOMEM when out of memory, or errno = EINVAL when in is
 * NULL or delim is not allowed. */
tr_csv *tr_csv_new(FILE *in, char delim);

/* Frees the reader and everything tr_csv_next handed out, and sets *c = NULL. Does not close
 * the FILE. NULL-safe (c or *c may be NULL). */
void tr_csv_destroy(tr_csv **c);

/* Reads the next row. Returns 1 when a row was read, 0 at end of input, -1 on error; then
 * tr_csv_error() says what and where, as "line L, column C: <what>":
 *   unterminated quoted field                       (L, C: the opening quote)
 *   unexpected character 'x' after closing quote    (L, C: that character; a byte outside
 *                                                    printable ASCII is shown as 0xNN)
 *   quote inside unquoted field; enclose the field in quotes and double the quote
 *                                                   (L, C: the quote)
 *   NUL byte in field                               (L, C: the NUL byte)
 *   field longer than 65536 bytes                   (L, C: where the field started)
 *   more than 512 fields                            (L, C: where field 513 started)
 *   row longer than 1048576 bytes                   (L: where the row started, C: 1)
 * or, when reading the FILE fails, "read error: <strerror(errno)>".
 * Errors are final: after -1 every later call returns -1 again with the same message; after 0
 * every later call returns 0.
 *
 * On 1, *nfields (>= 1) is the number of fields, (*fields)[i] is field i and (*lens)[i] its
 * length in bytes. Each field is also NUL-terminated (it never contains a NUL byte). The
 * arrays and the strings are owned by the reader and stay valid until the next call to
 * tr_csv_next or tr_csv_destroy; copy what must outlive that. On 0 or -1, *nfields is 0 and
 * *fields and *lens are NULL. Any of the three output pointers may be NULL if not wanted. */
int tr_csv_next(tr_csv *c, size_t *nfields, char *const **fields, const size_t **lens);

/* The 1-based line on which the last row returned by tr_csv_next started; after a call that
 * returned 0 or -1, the line where the reader was looking for a row (0 before any call). */
size_t tr_csv_row_line(const tr_csv *c);

/* The 1-based byte column, on the line where it started, at which field i of the last row
 * started: its opening quote if quoted, else its first byte (or where it would be, if empty).
 * 0 if i is not a field of the last row (or the last call did not return 1). */
size_t tr_csv_field_column(const tr_csv *c, size_t i);
/* The 1-based line on which field i of the last row started: later than the row's line
 * when an earlier quoted field held a line break. 0 when there is no such field. */
size_t tr_csv_field_line(const tr_csv *c, size_t i);

/* Bytes of the input consumed by the parser so far (the BOM included), for progress
 * reporting. After a row is returned, this is the offset just past that row's line ending
 * (or the input size for a last row without one); at end of input, the input size. */
uint64_t tr_csv_bytes_read(const tr_csv *c);

/* The message of the last error, "" if none. Owned by the reader, valid until
 * tr_csv_destroy. */
const char *tr_csv_error(const tr_csv *c);

#endif
