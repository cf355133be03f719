#include "crypto.h"
#include "arena.h"
#include "ids.h"

#include <errno.h>
#include <jansson.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char master[crypto_secretbox_KEYBYTES];
static int have_master;

/* Key hashing uses a fixed, public domain-separation key: the hash must be
 * stable across secret-key rotations so keys keep working. */
static const unsigned char keyhash_ctx[crypto_generichash_KEYBYTES] = "herald api key hash v1";

int crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

static int parse_hex_key(const char *s, unsigned char *out)
{
	size_t bin_len = 0;
	if (strlen(s) != 2 * crypto_secretbox_KEYBYTES)
		return -1;
	if (sodium_hex2bin(out, crypto_secretbox_KEYBYTES, s, strlen(s), NULL, &bin_len, NULL) ||
	    bin_len != crypto_secretbox_KEYBYTES)
		return -1;
	return 0;
}

int secret_load(const char *env_value, const char *data_dir, char *err, size_t errlen)
{
	if (env_value && *env_value) {
		if (parse_hex_key(env_value, master)) {
			snprintf(err, errlen, "HERALD_SECRET_KEY must be 64 hex characters");
			return -1;
		}
		have_master = 1;
		return 0;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/secret.key", data_dir);
	FILE *f = fopen(path, "r");
	if (f) {
		char line[256] = "";
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
		line[strcspn(line, "\r\n")] = 0;
		if (parse_hex_key(line, master)) {
			snprintf(err, errlen, "%s is not 64 hex characters", path);
			return -1;
		}
		have_master = 1;
		return 0;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(master, sizeof(master));
	char hx[2 * crypto_secretbox_KEYBYTES + 2];
	hex_encode(master, sizeof(master), hx);
	strcat(hx, "\n");
	ssize_t w = write(fd, hx, strlen(hx));
	close(fd);
	if (w != (ssize_t)strlen(hx)) {
		snprintf(err, errlen, "cannot write %s", path);
		return -1;
	}
	have_master = 1;
	return 0;
}

void api_key_new(char out[API_KEY_LEN + 1])
{
	random_hex(API_KEY_LEN / 2, out);
}

void api_key_hash(const char *key, char out[KEY_HASH_LEN + 1])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)key, strlen(key), keyhash_ctx,
			   sizeof(keyhash_ctx));
	hex_encode(h, sizeof(h), out);
}

int secret_mac_hex(const char *purpose, const void *msg, size_t len, char out[65])
{
	if (!have_master)
		return -1;
	/* a subkey per purpose: the sealing key itself never keys a MAC */
	unsigned char sub[32], mac[32];
	crypto_generichash(sub, sizeof(sub), (const unsigned char *)purpose, strlen(purpose), master,
			   sizeof(master));
	crypto_generichash(mac, sizeof(mac), msg, len, sub, sizeof(sub));
	sodium_memzero(sub, sizeof(sub));
	hex_encode(mac, sizeof(mac), out);
	return 0;
}

char *secret_seal(const char *plain)
{
	if (!have_master)
		return NULL;
	size_t n = strlen(plain);
	size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	unsigned char *b = xmalloc(blen);
	randombytes_buf(b, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, n, b,
			      master);
	char *hx = xmalloc(2 * blen + 1);
	hex_encode(b, blen, hx);
	free(b);
	return hx;
}

char *secret_open(const char *sealed)
{
	if (!have_master || !sealed)
		return NULL;
	size_t hl = strlen(sealed);
	size_t blen = hl / 2;
	if (hl % 2 || blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
		return NULL;
	unsigned char *b = xmalloc(blen);
	size_t got = 0;
	if (sodium_hex2bin(b, blen, sealed, hl, NULL, &got, NULL) || got != blen) {
		free(b);
		return NULL;
	}
	size_t mlen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	char *m = xmalloc(mlen + 1);
	if (crypto_secretbox_open_easy((unsigned char *)m, b + crypto_secretbox_NONCEBYTES,
				       blen - crypto_secretbox_NONCEBYTES, b, master)) {
		free(b);
		free(m);
		return NULL;
	}
	m[mlen] = 0;
	free(b);
	return m;
}

json_t *secret_open_json(const char *sealed)
{
	char *plain = secret_open(sealed);
	if (!plain)
		return NULL;
	json_t *j = json_loads(plain, 0, NULL);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}
