/* fuzz_record: libFuzzer target for the record decoder and verifier, the code that
 * first sees bytes from files and (later) from peers. Any input must give 0 or an
 * error code: never a crash, a read out of bounds or undefined behaviour. A record that
 * decodes must re-encode to exactly its input (canonical: one encoding per record). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "kind.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tr_record rec;
	char why[256];
	if (tr_record_decode(data, size, &rec) != 0)
		return 0;
	(void)tr_kind_validate(&rec, why, sizeof(why));
	int verified = tr_record_verify(&rec);
	(void)verified;
	tr_mpw w;
	tr_mpw_init(&w);
	if (tr_record_encode(&rec, &w) == 0 &&
	    (tr_mpw_size(&w) != size || memcmp(tr_mpw_data(&w), data, size) != 0))
		abort(); /* a second encoding of the same record was accepted */
	tr_mpw_release(&w);
	return 0;
}
