/*
 * fuzz_headers: hresp_header and pub_retry_after on arbitrary response
 * header blocks (the raw block libcurl hands back, NUL-terminated copy).
 *
 * Oracles: no sanitizer report (including UBSan's signed overflow); a found
 * value fits the output with its terminator and holds no line break; with
 * room to spare it has no leading blank and no trailing CR or space; a
 * name's lookup does not depend on its case; Retry-After is never negative,
 * and a plain small number of seconds gives exactly that many ms.
 */
#include "http/client.h"
#include "providers/provider.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"Retry-After", "retry-after", "Content-Type", "X", "", ":"};
static const size_t outlens[] = {1, 2, 7, 64, 8192};

static void die(const char *what, const char *name, const char *val)
{
	fprintf(stderr, "fuzz_headers: %s (name \"%s\" value \"%s\")\n", what, name, val ? val : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *block = malloc(size + 1);
	memcpy(block, data, size);
	block[size] = 0;
	struct hresp r;
	memset(&r, 0, sizeof(r));
	r.status = 429;
	r.headers = block;

	static char out[8192], out2[8192];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t k = 0; k < sizeof(outlens) / sizeof(outlens[0]); k++) {
			size_t ol = outlens[k];
			char *o = malloc(ol); /* exact size: ASan sees any overrun */
			if (hresp_header(&r, names[i], o, ol) == 0) {
				size_t vl = strnlen(o, ol);
				if (vl >= ol)
					die("value not terminated inside the buffer", names[i], NULL);
				if (memchr(o, '\n', vl))
					die("value holds a line break", names[i], o);
				if (ol == 8192 && vl) {
					if (o[0] == ' ' || o[0] == '\t')
						die("leading blank kept", names[i], o);
					if (o[vl - 1] == '\r' || o[vl - 1] == ' ')
						die("trailing CR or space kept", names[i], o);
				}
			}
			free(o);
		}
		/* case-insensitive: upper-cased name finds the same value */
		char up[32];
		size_t nl = strlen(names[i]);
		for (size_t j = 0; j <= nl; j++)
			up[j] = (char)toupper((unsigned char)names[i][j]);
		int a = hresp_header(&r, names[i], out, sizeof(out));
		int b = hresp_header(&r, up, out2, sizeof(out2));
		if (a != b || (a == 0 && strcmp(out, out2)))
			die("lookup depends on the name's case", names[i], out);
	}

	int64_t ra = pub_retry_after(&r);
	if (ra < 0)
		die("negative Retry-After", "Retry-After", NULL);
	if (hresp_header(&r, "Retry-After", out, 64) == 0) {
		size_t vl = strlen(out);
		if (vl > 0 && vl <= 9 && strspn(out, "0123456789") == vl) {
			/* pub_retry_after caps a delay at one day */
			long secs = atol(out);
			if (ra != (int64_t)(secs > 86400 ? 86400 : secs) * 1000)
				die("numeric Retry-After misread", "Retry-After", out);
		}
	}
	free(block);
	return 0;
}
