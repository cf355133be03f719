/*
 * ids: identifiers.  Every id herald mints is a ULID (48-bit ms time +
 * 80 random bits, Crockford base32, 26 chars) in lower case so that ids sort
 * by creation time and need no coordination between processes.  Request ids
 * are "req_" + ULID.  Randomness comes from libsodium (sodium_init() must
 * have run: see main).
 */
#ifndef HERALD_IDS_H
#define HERALD_IDS_H

#include <stddef.h>

#define ULID_LEN 26

void ulid_new(char out[ULID_LEN + 1]);
void hex_encode(const unsigned char *in, size_t n, char *out); /* out: 2n+1 */
void random_hex(size_t nbytes, char *out);                     /* out: 2n+1 */
/* uuid v4 text form, 36 chars + NUL (Postiz groups are uuids). */
void uuid_new(char out[37]);
/* Accept what we and Postiz clients use as ids: 1..64 of [A-Za-z0-9_-]. */
int id_valid(const char *s);

#endif
