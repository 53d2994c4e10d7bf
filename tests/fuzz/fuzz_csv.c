/* fuzz_csv: libFuzzer target for the CSV reader that `trestle import` feeds with firms'
 * exports. Any input, with any of the delimiters, must give rows or an error: never a
 * crash, an out-of-bounds access, or a row that breaks the reader's own promises. */
#define _GNU_SOURCE /* fmemopen */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/trestle/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', ';', '\t', '|'};
	if (size == 0)
		return 0;
	char delim = delims[data[0] % 4];
	FILE *f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "rb");
	if (!f)
		return 0;
	tr_csv *c = tr_csv_new(f, delim);
	size_t n;
	char *const *fields;
	const size_t *lens;
	int rc;
	while (c && (rc = tr_csv_next(c, &n, &fields, &lens)) == 1) {
		if (n == 0 || n > TR_CSV_MAX_FIELDS)
			abort();
		for (size_t i = 0; i < n; i++)
			if (lens[i] > TR_CSV_MAX_FIELD || fields[i][lens[i]] != '\0' ||
			    memchr(fields[i], '\0', lens[i]) || tr_csv_field_line(c, i) == 0 ||
			    tr_csv_field_column(c, i) == 0)
				abort();
	}
	if (c && tr_csv_bytes_read(c) > size)
		abort();
	tr_csv_destroy(&c);
	fclose(f);
	return 0;
}
