/*
 * crypto: API key hashing and encryption of platform credentials at rest.
 *
 * API keys are 64 lowercase hex chars (Postiz keys have that form, so
 * clients that validate the shape keep working).  Only a keyed BLAKE2b hash
 * of a key is stored; looking a key up means hashing it and an index probe.
 * Credentials are sealed with XSalsa20-Poly1305 (crypto_secretbox) under the
 * server secret key, as hex(nonce || box).
 */
#ifndef HERALD_CRYPTO_H
#define HERALD_CRYPTO_H

#include <stddef.h>

#define API_KEY_LEN 64
#define KEY_HASH_LEN 64 /* hex of 32 bytes */

int crypto_init(void);
/* Load HERALD_SECRET_KEY (hex) or the data dir's secret.key, creating it
 * (mode 0600) on first start.  0 or -1 with err set. */
int secret_load(const char *env_value, const char *data_dir, char *err, size_t errlen);
void api_key_new(char out[API_KEY_LEN + 1]);
void api_key_hash(const char *key, char out[KEY_HASH_LEN + 1]);
/* A MAC of msg under a key derived from the server secret for `purpose`
 * (keyed BLAKE2b-256), as 64 hex chars.  -1 before secret_load. */
int secret_mac_hex(const char *purpose, const void *msg, size_t len, char out[65]);
/* Returns malloc'd hex string; NULL on failure. */
char *secret_seal(const char *plain);
/* Returns malloc'd plaintext; NULL when the box does not open. */
char *secret_open(const char *sealed_hex);
/* A channel's sealed credentials as the JSON object they hold (the caller
 * json_decrefs it), the plaintext wiped; NULL when they cannot be opened
 * or are not an object. */
struct json_t;
struct json_t *secret_open_json(const char *sealed_hex);

#endif
