#include "ids.h"
#include "timeutil.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

void ulid_new(char out[ULID_LEN + 1])
{
	/* monotonic within a thread (the ULID spec's monotonic mode): ids made
	 * in one millisecond still sort in the order they were made, so rows
	 * written in one request (a post's targets) keep their order */
	static _Thread_local unsigned char last[16];
	static _Thread_local uint64_t last_ms;
	unsigned char b[16];
	uint64_t ms = (uint64_t)now_ms(), t = ms;
	for (int i = 5; i >= 0; i--) {
		b[i] = t & 0xff;
		t >>= 8;
	}
	int carry = 0;
	if (ms == last_ms) {
		memcpy(b + 6, last + 6, 10);
		carry = 1;
		for (int i = 15; i >= 6 && carry; i--)
			carry = ++b[i] == 0;
	}
	if (ms != last_ms || carry)
		randombytes_buf(b + 6, 10); /* a new millisecond (or 2^80 ids in one) */
	memcpy(last, b, 16);
	last_ms = ms;
	/* 128 bits -> 26 chars of 5 bits, most significant first (2 pad bits) */
	int bit = -2;
	for (int i = 0; i < ULID_LEN; i++, bit += 5) {
		int v = 0;
		for (int k = 0; k < 5; k++) {
			int pos = bit + k;
			v <<= 1;
			if (pos >= 0)
				v |= (b[pos / 8] >> (7 - pos % 8)) & 1;
		}
		out[i] = crockford[v];
	}
	out[ULID_LEN] = 0;
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = 0;
}

void random_hex(size_t nbytes, char *out)
{
	unsigned char b[64];
	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	randombytes_buf(b, nbytes);
	hex_encode(b, nbytes, out);
}

void uuid_new(char out[37])
{
	unsigned char b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	char h[33];
	hex_encode(b, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int id_valid(const char *s)
{
	size_t n = 0;
	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		if (n >= 64)
			return 0;
	}
	return n > 0;
}
