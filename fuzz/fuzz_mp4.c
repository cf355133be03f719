/*
 * fuzz_mp4: the MP4 box walker (mp4_probe_mem) on arbitrary bytes.
 *
 * Oracles: no sanitizer report (every read stays inside the buffer, box
 * sizes of 0, 1 with a 64-bit size, and sizes past the end included); a
 * reported duration is never negative and dimensions fit in 16 bits.
 */
#include "media/media.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	/* an exact-size heap copy so ASan sees any read past the end */
	unsigned char *b = malloc(size ? size : 1);
	if (!b)
		return 0;
	if (size)
		memcpy(b, data, size);
	int64_t d = -1;
	int w = -1, h = -1;
	int rc = mp4_probe_mem(b, size, &d, &w, &h);
	if (d < 0 || w < 0 || h < 0 || w > 65535 || h > 65535)
		abort();
	if (rc != 0 && rc != -1)
		abort();
	free(b);
	return 0;
}
