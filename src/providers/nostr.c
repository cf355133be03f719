/*
 * nostr: kind-1 notes signed with the channel's key and sent to its relays
 * over WebSockets (NIP-01), threads as NIP-10 replies.
 *
 * Credentials: {private_key: 64 hex or nsec1..., relays: ["wss://..", ..]}.
 * Connecting checks the key (a valid secp256k1 secret) and 1..20 relay
 * URLs, stores the key as hex and the relays as a clean array, and names
 * the channel by its npub.
 *
 * Idempotence: an event id is the hash of its content, and created_at is
 * derived from the item's publish time (not the clock), so every attempt
 * for an item produces the same id.  A relay that already has the event
 * answers "duplicate:", which counts as success: a retry can never publish
 * a second note (PROV_IDEMPOTENT).  The signature differs per attempt
 * (fresh BIP-340 aux randomness), which does not change the id.
 *
 * Transport: libwebsockets, in one service thread per process started on
 * first use.  The engine's loop hands a request over through a locked
 * queue and lws_cancel_service(); the service thread connects to every
 * relay, sends ["EVENT", ev], waits for ["OK", id, bool, msg] until the
 * deadline (HERALD_NOSTR_TIMEOUT_MS, default 10 s), then reports back to
 * the loop through an eventfd watched by the loop's own event.  The service
 * thread never touches an event_base, so a loop torn down while a request
 * is still out (drain timeout) cannot be written to after it is freed; the
 * request then simply stays on the process-wide list.
 *
 * Outcome per item, as a synthesized HTTP answer to publish():
 *   - any relay accepted (OK true, or OK false "duplicate:"): 200, published;
 *   - every relay answered OK false, none transient: 400, failed with the
 *     relays' words;
 *   - every relay answered, some "rate-limited:" / "error:": 503, retried;
 *   - some relay did not answer (connect failure, timeout, closed): a
 *     transport failure (curl_code != 0), retried; `sent` tells whether any
 *     relay may have received the event.
 */
#include "nostr.h"
#include "provider.h"
#include "../core/arena.h"
#include "../core/buf.h"
#include "../core/config.h"
#include "../core/log.h"
#include "../http/client.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_RELAYS 20
#define RX_MAX (256 * 1024)       /* one relay message */
#define EVENT_MAX (1024 * 1024)   /* one serialized event */
#define MSG_MAX 300               /* a relay's message kept per relay */
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_HASHTAGS 32
#define MAX_HASHTAG_LEN 100

/* ------------------------------------------------------------------ */
/* hex                                                                 */

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode32(const char *s, uint8_t out[32])
{
	if (!s || strlen(s) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

static int is_hex64(const char *s)
{
	uint8_t tmp[32];
	return s && hex_decode32(s, tmp) == 0;
}

/* ------------------------------------------------------------------ */
/* bech32 (BIP-173), as NIP-19 uses it                                 */

static const char B32[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t b32_polymod(uint32_t chk, uint8_t v)
{
	static const uint32_t G[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
	uint32_t top = chk >> 25;
	chk = (chk & 0x1ffffff) << 5 ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= G[i];
	return chk;
}

static uint32_t b32_hrp_chk(const char *hrp, size_t n)
{
	uint32_t chk = 1;
	for (size_t i = 0; i < n; i++)
		chk = b32_polymod(chk, (uint8_t)(tolower((unsigned char)hrp[i]) >> 5));
	chk = b32_polymod(chk, 0);
	for (size_t i = 0; i < n; i++)
		chk = b32_polymod(chk, (uint8_t)(tolower((unsigned char)hrp[i]) & 31));
	return chk;
}

int nostr_bech32_encode(const char *hrp, const uint8_t *data, size_t len, char *out,
			size_t outlen)
{
	size_t hn = strlen(hrp);
	size_t n5 = (len * 8 + 4) / 5;
	if (hn == 0 || hn + 1 + n5 + 6 + 1 > outlen)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < hn; i++)
		out[o++] = (char)tolower((unsigned char)hrp[i]);
	out[o++] = '1';
	uint32_t chk = b32_hrp_chk(hrp, hn);
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = acc << 8 | data[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			uint8_t v = (acc >> bits) & 31;
			chk = b32_polymod(chk, v);
			out[o++] = B32[v];
		}
	}
	if (bits) {
		uint8_t v = (acc << (5 - bits)) & 31;
		chk = b32_polymod(chk, v);
		out[o++] = B32[v];
	}
	for (int i = 0; i < 6; i++)
		chk = b32_polymod(chk, 0);
	chk ^= 1;
	for (int i = 0; i < 6; i++)
		out[o++] = B32[(chk >> (5 * (5 - i))) & 31];
	out[o] = 0;
	return 0;
}

int nostr_bech32_decode(const char *s, char *hrp, size_t hrplen, uint8_t *data, size_t *len,
			size_t max)
{
	size_t n = strlen(s);
	if (n < 8 || n > 5000)
		return -1;
	int lower = 0, upper = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126)
			return -1;
		lower |= islower(c) != 0;
		upper |= isupper(c) != 0;
	}
	if (lower && upper)
		return -1;
	const char *sep = strrchr(s, '1');
	if (!sep || sep == s || (size_t)(sep - s) + 1 > hrplen || n - (size_t)(sep - s) - 1 < 6)
		return -1;
	size_t hn = (size_t)(sep - s);
	for (size_t i = 0; i < hn; i++)
		hrp[i] = (char)tolower((unsigned char)s[i]);
	hrp[hn] = 0;
	uint32_t chk = b32_hrp_chk(s, hn);
	size_t nd = n - hn - 1;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < nd; i++) {
		const char *p = strchr(B32, tolower((unsigned char)sep[1 + i]));
		if (!p || !*p)
			return -1;
		uint8_t v = (uint8_t)(p - B32);
		chk = b32_polymod(chk, v);
		if (i >= nd - 6)
			continue; /* checksum */
		acc = (acc << 5 | v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			if (o >= max)
				return -1;
			data[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (chk != 1 || bits > 4 || (acc & ((1u << bits) - 1)))
		return -1;
	*len = o;
	return 0;
}

/* ------------------------------------------------------------------ */
/* NIP-01 serialization                                                */

int nostr_json_string(struct buf *b, const char *s)
{
	if (buf_add(b, "\"", 1))
		return -1;
	const char *run = s;
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		char u[8];
		const char *esc;
		switch (ch) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (ch >= 0x20)
				continue;
			/* NIP-01 names no escape for these; JSON requires one and
			 * every JSON.stringify-based client writes this one */
			snprintf(u, sizeof(u), "\\u%04x", ch);
			esc = u;
		}
		if (buf_add(b, run, (size_t)(p - run)) || buf_adds(b, esc))
			return -1;
		run = p + 1;
	}
	if (buf_adds(b, run) || buf_add(b, "\"", 1))
		return -1;
	return 0;
}

static int tags_json(struct buf *b, const json_t *tags)
{
	if (!json_is_array(tags) || buf_add(b, "[", 1))
		return -1;
	for (size_t i = 0; i < json_array_size(tags); i++) {
		const json_t *t = json_array_get(tags, i);
		if (!json_is_array(t) || (i && buf_add(b, ",", 1)) || buf_add(b, "[", 1))
			return -1;
		for (size_t j = 0; j < json_array_size(t); j++) {
			const json_t *v = json_array_get(t, j);
			if (!json_is_string(v) || (j && buf_add(b, ",", 1)) ||
			    nostr_json_string(b, json_string_value(v)))
				return -1;
		}
		if (buf_add(b, "]", 1))
			return -1;
	}
	return buf_add(b, "]", 1);
}

static int serialize(struct buf *b, const char *pubkey, int64_t created_at, int kind,
		     const json_t *tags, const char *content)
{
	if (buf_add(b, "[0,", 3) || nostr_json_string(b, pubkey) ||
	    buf_printf(b, ",%lld,%d,", (long long)created_at, kind) || tags_json(b, tags) ||
	    buf_add(b, ",", 1) || nostr_json_string(b, content) || buf_add(b, "]", 1))
		return -1;
	return 0;
}

char *nostr_serialize(const char *pubkey_hex, int64_t created_at, int kind, const json_t *tags,
		      const char *content)
{
	struct buf b;
	buf_init(&b, EVENT_MAX);
	if (serialize(&b, pubkey_hex, created_at, kind, tags, content)) {
		buf_release(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* ------------------------------------------------------------------ */
/* keys and signatures                                                 */

static secp256k1_context *sctx_new(void)
{
	secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	unsigned char seed[32];
	randombytes_buf(seed, sizeof(seed));
	if (ctx && !secp256k1_context_randomize(ctx, seed)) {
		secp256k1_context_destroy(ctx);
		ctx = NULL;
	}
	sodium_memzero(seed, sizeof(seed));
	return ctx;
}

int nostr_parse_seckey(const char *s, uint8_t sk[32], const char **err)
{
	if (!s) {
		*err = "credentials.private_key is required and must be a string";
		return -1;
	}
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char t[128];
	if (n >= sizeof(t)) {
		*err = "credentials.private_key must be 64 hex characters or an nsec1... key";
		return -1;
	}
	memcpy(t, s, n);
	t[n] = 0;
	if (!strncasecmp(t, "npub1", 5)) {
		*err = "credentials.private_key is a public key (npub); give the secret key "
		       "(nsec1... or 64 hex characters)";
		return -1;
	}
	if (!strncasecmp(t, "nsec1", 5)) {
		char hrp[8];
		size_t len = 0;
		uint8_t d[40];
		if (nostr_bech32_decode(t, hrp, sizeof(hrp), d, &len, sizeof(d)) || strcmp(hrp, "nsec") ||
		    len != 32) {
			sodium_memzero(t, sizeof(t));
			sodium_memzero(d, sizeof(d));
			*err = "credentials.private_key is not a valid nsec1... key (bad checksum or length)";
			return -1;
		}
		memcpy(sk, d, 32);
		sodium_memzero(d, sizeof(d));
	} else if (hex_decode32(t, sk)) {
		sodium_memzero(t, sizeof(t));
		*err = "credentials.private_key must be 64 hex characters or an nsec1... key";
		return -1;
	}
	sodium_memzero(t, sizeof(t));
	if (!secp256k1_ec_seckey_verify(secp256k1_context_static, sk)) {
		sodium_memzero(sk, 32);
		*err = "credentials.private_key is not a valid secp256k1 secret key (zero or not "
		       "below the curve order)";
		return -1;
	}
	return 0;
}

int nostr_pubkey(const uint8_t sk[32], uint8_t pk[32])
{
	secp256k1_context *ctx = sctx_new();
	if (!ctx)
		return -1;
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xo;
	int ok = secp256k1_keypair_create(ctx, &kp, sk) &&
		 secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &kp) &&
		 secp256k1_xonly_pubkey_serialize(ctx, pk, &xo);
	sodium_memzero(&kp, sizeof(kp));
	secp256k1_context_destroy(ctx);
	return ok ? 0 : -1;
}

int nostr_event_sign(struct nostr_event *ev, const uint8_t sk[32])
{
	secp256k1_context *ctx = sctx_new();
	if (!ctx)
		return -1;
	int rc = -1;
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xo;
	uint8_t pk[32], id[32], sig[64], aux[32];
	char *ser = NULL;
	if (!secp256k1_keypair_create(ctx, &kp, sk) ||
	    !secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &kp) ||
	    !secp256k1_xonly_pubkey_serialize(ctx, pk, &xo))
		goto out;
	hex_encode(pk, 32, ev->pubkey);
	ser = nostr_serialize(ev->pubkey, ev->created_at, ev->kind, ev->tags, ev->content);
	if (!ser)
		goto out;
	crypto_hash_sha256(id, (const unsigned char *)ser, strlen(ser));
	randombytes_buf(aux, sizeof(aux));
	if (!secp256k1_schnorrsig_sign32(ctx, sig, id, &kp, aux) ||
	    !secp256k1_schnorrsig_verify(ctx, sig, id, 32, &xo))
		goto out;
	hex_encode(id, 32, ev->id);
	hex_encode(sig, 64, ev->sig);
	rc = 0;
out:
	free(ser);
	sodium_memzero(&kp, sizeof(kp));
	secp256k1_context_destroy(ctx);
	return rc;
}

int nostr_event_json(struct buf *b, const struct nostr_event *ev)
{
	if (buf_adds(b, "{\"id\":") || nostr_json_string(b, ev->id) ||
	    buf_adds(b, ",\"pubkey\":") || nostr_json_string(b, ev->pubkey) ||
	    buf_printf(b, ",\"created_at\":%lld,\"kind\":%d,\"tags\":", (long long)ev->created_at,
		       ev->kind) ||
	    tags_json(b, ev->tags) || buf_adds(b, ",\"content\":") ||
	    nostr_json_string(b, ev->content) || buf_adds(b, ",\"sig\":") ||
	    nostr_json_string(b, ev->sig) || buf_add(b, "}", 1))
		return -1;
	return 0;
}

int nostr_nevent(const uint8_t id[32], const uint8_t author[32], int kind, const char *relay,
		 char *out, size_t outlen)
{
	uint8_t tlv[2 + 32 + 2 + 255 + 2 + 32 + 2 + 4];
	size_t n = 0;
	tlv[n++] = 0;
	tlv[n++] = 32;
	memcpy(tlv + n, id, 32);
	n += 32;
	if (relay && *relay && strlen(relay) <= 255) {
		size_t rl = strlen(relay);
		tlv[n++] = 1;
		tlv[n++] = (uint8_t)rl;
		memcpy(tlv + n, relay, rl);
		n += rl;
	}
	if (author) {
		tlv[n++] = 2;
		tlv[n++] = 32;
		memcpy(tlv + n, author, 32);
		n += 32;
	}
	if (kind >= 0) {
		tlv[n++] = 3;
		tlv[n++] = 4;
		tlv[n++] = (uint8_t)((uint32_t)kind >> 24);
		tlv[n++] = (uint8_t)((uint32_t)kind >> 16);
		tlv[n++] = (uint8_t)((uint32_t)kind >> 8);
		tlv[n++] = (uint8_t)kind;
	}
	return nostr_bech32_encode("nevent", tlv, n, out, outlen);
}

/* ------------------------------------------------------------------ */
/* text: Postiz HTML -> plain note text                                */

static int put_cp(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, u, n);
}

static const struct {
	const char *name;
	uint32_t cp;
} ENTITIES[] = {
	{"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
	{"apos", '\''},    {"nbsp", ' '},     {"hellip", 0x2026}, {"mdash", 0x2014},
	{"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201c},
	{"rdquo", 0x201d}, {"laquo", 0xab},   {"raquo", 0xbb},   {"copy", 0xa9},
	{"reg", 0xae},     {"trade", 0x2122}, {"euro", 0x20ac},  {"bull", 0x2022},
	{"middot", 0xb7},  {"times", 0xd7},   {"deg", 0xb0},     {"shy", 0},
};

/* Decode the entity at s ('&'); *used = bytes consumed, 0 when it is not
 * an entity (the '&' is then literal). */
static int entity(struct buf *b, const char *s, size_t *used)
{
	*used = 0;
	const char *semi = memchr(s, ';', strnlen(s, 12));
	if (!semi)
		return 0;
	size_t n = (size_t)(semi - s - 1);
	const char *name = s + 1;
	if (n == 0)
		return 0;
	if (name[0] == '#') {
		uint32_t cp = 0;
		int hex = n > 1 && (name[1] == 'x' || name[1] == 'X');
		size_t i = hex ? 2 : 1;
		if (i >= n)
			return 0;
		for (; i < n; i++) {
			int v = hex ? hexval(name[i]) : (isdigit((unsigned char)name[i]) ? name[i] - '0' : -1);
			if (v < 0 || cp > 0x10ffff)
				return 0;
			cp = cp * (hex ? 16 : 10) + (uint32_t)v;
		}
		*used = n + 2;
		if (cp == 0xa0)
			cp = ' ';
		if (cp < 0x20 && cp != '\n' && cp != '\t')
			return 0; /* dropped */
		return put_cp(b, cp);
	}
	for (size_t i = 0; i < sizeof(ENTITIES) / sizeof(ENTITIES[0]); i++)
		if (strlen(ENTITIES[i].name) == n && !strncmp(ENTITIES[i].name, name, n)) {
			*used = n + 2;
			return ENTITIES[i].cp ? put_cp(b, ENTITIES[i].cp) : 0;
		}
	return 0;
}

/* Does the text contain an HTML tag (Postiz's "plain" test)? */
static int looks_html(const char *s)
{
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		const char *q = p + 1;
		if (*q == '/')
			q++;
		if (!isalpha((unsigned char)*q))
			continue;
		while (isalnum((unsigned char)*q))
			q++;
		if (*q == '>' || *q == ' ' || *q == '/' || *q == '\t' || *q == '\n')
			return 1;
	}
	return 0;
}

static void ensure_line_start(struct buf *b)
{
	if (b->len && b->data[b->len - 1] != '\n')
		(void)!buf_add(b, "\n", 1);
}

/* The value of attribute `name` inside the tag text [p, end), entities
 * decoded, as a malloc'd string or NULL. */
static char *attr(const char *p, const char *end, const char *name)
{
	size_t nl = strlen(name);
	for (const char *q = p; q + nl < end; q++) {
		if (strncasecmp(q, name, nl) || !isspace((unsigned char)q[-1]))
			continue;
		const char *v = q + nl;
		while (v < end && isspace((unsigned char)*v))
			v++;
		if (v >= end || *v != '=')
			continue;
		v++;
		while (v < end && isspace((unsigned char)*v))
			v++;
		const char *ve;
		if (v < end && (*v == '"' || *v == '\'')) {
			char qc = *v++;
			ve = memchr(v, qc, (size_t)(end - v));
			if (!ve)
				ve = end;
		} else {
			ve = v;
			while (ve < end && !isspace((unsigned char)*ve) && *ve != '>')
				ve++;
		}
		struct buf b;
		buf_init(&b, (size_t)(ve - v) + 1);
		for (const char *c = v; c < ve;) {
			size_t used = 0;
			if (*c == '&') {
				char tmp[16];
				size_t l = (size_t)(ve - c) < sizeof(tmp) - 1 ? (size_t)(ve - c) : sizeof(tmp) - 1;
				memcpy(tmp, c, l);
				tmp[l] = 0;
				(void)!entity(&b, tmp, &used);
			}
			if (!used) {
				(void)!buf_add(&b, c, 1);
				used = 1;
			}
			c += used;
		}
		return buf_take(&b);
	}
	return NULL;
}

static int tag_is(const char *name, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(name, *set))
			return 1;
	return 0;
}

static void html_to_text(struct buf *b, const char *s)
{
	static const char *const blocks[] = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6",
					     "blockquote", "pre", "section", "article", "header",
					     "footer", "table", "tr", NULL};
	char *href = NULL;
	size_t link_start = 0;
	int ol = 0, olnum = 0;
	while (*s) {
		if (*s == '&') {
			size_t used = 0;
			(void)!entity(b, s, &used);
			if (!used) {
				(void)!buf_add(b, s, 1);
				used = 1;
			}
			s += used;
			continue;
		}
		if (*s != '<') {
			size_t n = strcspn(s, "<&");
			(void)!buf_add(b, s, n);
			s += n;
			continue;
		}
		if (!strncmp(s, "<!--", 4)) {
			const char *e = strstr(s + 4, "-->");
			s = e ? e + 3 : s + strlen(s);
			continue;
		}
		const char *end = strchr(s, '>');
		if (!end) {
			(void)!buf_adds(b, s);
			break;
		}
		const char *q = s + 1;
		int closing = 0;
		if (*q == '/') {
			closing = 1;
			q++;
		}
		char name[16];
		size_t nl = 0;
		while (q < end && isalnum((unsigned char)*q) && nl < sizeof(name) - 1)
			name[nl++] = (char)tolower((unsigned char)*q++);
		name[nl] = 0;
		if (!nl) { /* "<" that is not a tag */
			(void)!buf_add(b, s, 1);
			s++;
			continue;
		}
		if (!strcmp(name, "script") || !strcmp(name, "style")) {
			if (!closing) {
				char close[24];
				snprintf(close, sizeof(close), "</%s", name);
				const char *e = strcasestr(end, close);
				e = e ? strchr(e, '>') : NULL;
				s = e ? e + 1 : s + strlen(s);
				continue;
			}
		} else if (!strcmp(name, "br")) {
			(void)!buf_add(b, "\n", 1);
		} else if (tag_is(name, blocks)) {
			if (closing)
				(void)!buf_add(b, "\n", 1);
			else
				ensure_line_start(b);
		} else if (!strcmp(name, "ul") || !strcmp(name, "ol")) {
			ensure_line_start(b);
			if (!closing) {
				ol = name[0] == 'o';
				olnum = 0;
			}
		} else if (!strcmp(name, "li")) {
			if (!closing) {
				ensure_line_start(b);
				if (ol)
					(void)!buf_printf(b, "%d. ", ++olnum);
				else
					(void)!buf_adds(b, "- ");
			}
		} else if (!strcmp(name, "a")) {
			if (!closing) {
				free(href);
				href = attr(s + 2, end, "href");
				link_start = b->len;
			} else if (href) {
				const char *text = b->data ? b->data + link_start : "";
				if (link_start <= b->len &&
				    (!strncasecmp(href, "http://", 7) || !strncasecmp(href, "https://", 8)) &&
				    !strstr(text, href))
					(void)!buf_printf(b, " (%s)", href);
				free(href);
				href = NULL;
			}
		}
		s = end + 1;
	}
	free(href);
}

/* Clean text: valid UTF-8 (bad bytes -> U+FFFD), CRLF -> LF, no control
 * characters but \n and \t. */
static void clean_text(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		if (c < 0x80) {
			if (c == '\r') {
				(void)!buf_add(out, "\n", 1);
				p += p[1] == '\n' ? 2 : 1;
				continue;
			}
			if (c >= 0x20 || c == '\n' || c == '\t')
				(void)!buf_add(out, p, 1);
			p++;
			continue;
		}
		size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		uint32_t cp = n == 4 ? c & 7 : n == 3 ? c & 15 : c & 31;
		size_t i = 1;
		for (; n && i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				break;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		int bad = n == 0 || i < n || c > 0xf4 ||
			  (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
			  cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff);
		if (bad) {
			(void)!put_cp(out, 0xfffd);
			p += i ? i : 1;
			continue;
		}
		if (cp == 0xa0)
			(void)!buf_add(out, " ", 1);
		else
			(void)!buf_add(out, p, n);
		p += n;
	}
}

char *nostr_text(const char *content)
{
	if (!content)
		content = "";
	size_t len = strlen(content);
	struct buf mid, out;
	buf_init(&mid, len * 2 + 64);
	buf_init(&out, len * 4 + 64);
	int html = looks_html(content);
	if (html)
		html_to_text(&mid, content);
	else
		(void)!buf_adds(&mid, content);
	clean_text(&out, mid.data ? mid.data : "");
	buf_release(&mid);
	if (html && out.data) {
		/* blocks leave newlines at both ends */
		size_t a = 0, z = out.len;
		while (a < z && (out.data[a] == '\n' || out.data[a] == ' ' || out.data[a] == '\t'))
			a++;
		while (z > a && (out.data[z - 1] == '\n' || out.data[z - 1] == ' ' ||
				 out.data[z - 1] == '\t'))
			z--;
		memmove(out.data, out.data + a, z - a);
		out.len = z - a;
		out.data[out.len] = 0;
	}
	return buf_take(&out);
}

void nostr_hashtags(json_t *tags, const char *text)
{
	int count = 0;
	for (const char *p = text; *p && count < MAX_HASHTAGS; p++) {
		if (*p != '#')
			continue;
		unsigned char prev = p == text ? ' ' : (unsigned char)p[-1];
		if (prev >= 0x80 || isalnum(prev) || prev == '_' || prev == '#' || prev == '/' ||
		    prev == '&' || prev == '=' || prev == '?')
			continue;
		const char *q = p + 1;
		int letters = 0;
		while (*q && (isalnum((unsigned char)*q) || *q == '_' || (unsigned char)*q >= 0x80)) {
			if (!isdigit((unsigned char)*q))
				letters = 1;
			q++;
		}
		size_t n = (size_t)(q - p - 1);
		if (!n || !letters || n > MAX_HASHTAG_LEN)
			continue;
		char t[MAX_HASHTAG_LEN + 1];
		for (size_t i = 0; i < n; i++)
			t[i] = (char)tolower((unsigned char)p[1 + i]);
		t[n] = 0;
		int dup = 0;
		for (size_t i = 0; i < json_array_size(tags) && !dup; i++) {
			json_t *e = json_array_get(tags, i);
			dup = !strcmp(json_string_value(json_array_get(e, 0)) ?: "", "t") &&
			      !strcmp(json_string_value(json_array_get(e, 1)) ?: "", t);
		}
		if (!dup) {
			json_t *s = json_string(t);
			if (s) { /* NULL if a multi-byte sequence was cut: skip it */
				json_array_append_new(tags, json_pack("[s,o]", "t", s));
				count++;
			}
		}
		p = q - 1;
	}
}

/* ------------------------------------------------------------------ */
/* relay URLs                                                          */

struct relay_addr {
	int tls, port;
	char host[256];    /* without brackets */
	char hosthdr[300]; /* Host header */
	char path[2048];
};

static int parse_relay(const char *u, struct relay_addr *ra)
{
	const char *rest;
	if (strlen(u) > 2000)
		return -1;
	if (!strncasecmp(u, "ws://", 5)) {
		ra->tls = 0;
		rest = u + 5;
	} else if (!strncasecmp(u, "wss://", 6)) {
		ra->tls = 1;
		rest = u + 6;
	} else {
		return -1;
	}
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			return -1;
	const char *p;
	size_t hl;
	int v6 = 0;
	if (*rest == '[') {
		const char *e = strchr(rest, ']');
		if (!e)
			return -1;
		hl = (size_t)(e - rest - 1);
		if (hl == 0 || hl >= sizeof(ra->host))
			return -1;
		memcpy(ra->host, rest + 1, hl);
		for (size_t i = 0; i < hl; i++)
			if (!isxdigit((unsigned char)ra->host[i]) && ra->host[i] != ':' &&
			    ra->host[i] != '.')
				return -1;
		p = e + 1;
		v6 = 1;
	} else {
		hl = strcspn(rest, ":/?");
		if (hl == 0 || hl >= sizeof(ra->host))
			return -1;
		memcpy(ra->host, rest, hl);
		for (size_t i = 0; i < hl; i++)
			if (!isalnum((unsigned char)ra->host[i]) && ra->host[i] != '-' &&
			    ra->host[i] != '.' && ra->host[i] != '_')
				return -1;
		p = rest + hl;
	}
	ra->host[hl] = 0;
	ra->port = ra->tls ? 443 : 80;
	int explicit_port = 0;
	if (*p == ':') {
		p++;
		long port = 0;
		int digits = 0;
		while (isdigit((unsigned char)*p) && digits < 6) {
			port = port * 10 + (*p++ - '0');
			digits++;
		}
		if (!digits || port < 1 || port > 65535)
			return -1;
		ra->port = (int)port;
		explicit_port = 1;
	}
	if (*p && *p != '/' && *p != '?')
		return -1;
	snprintf(ra->path, sizeof(ra->path), "%s%s", *p == '/' ? "" : "/", p);
	if (explicit_port)
		snprintf(ra->hosthdr, sizeof(ra->hosthdr), v6 ? "[%s]:%d" : "%s:%d", ra->host,
			 ra->port);
	else
		snprintf(ra->hosthdr, sizeof(ra->hosthdr), v6 ? "[%s]" : "%s", ra->host);
	return 0;
}

json_t *nostr_relays(const json_t *v, const char **err)
{
	json_t *in = NULL;
	if (json_is_string(v)) {
		/* a list in one string: "wss://a, wss://b" */
		in = json_array();
		const char *s = json_string_value(v);
		while (*s) {
			size_t sep = strspn(s, ", \t\r\n;");
			s += sep;
			size_t n = strcspn(s, ", \t\r\n;");
			if (n) {
				if (n > 2000 || json_array_size(in) > MAX_RELAYS) {
					json_decref(in);
					*err = "credentials.relays has too many or too long URLs (1 to 20 relays)";
					return NULL;
				}
				json_array_append_new(in, json_stringn(s, n));
			}
			s += n;
		}
	} else if (json_is_array(v)) {
		in = json_incref((json_t *)v);
	} else {
		*err = "credentials.relays is required: an array of relay URLs (ws:// or wss://)";
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(in, i, e)
	{
		if (!json_is_string(e)) {
			*err = "credentials.relays must contain only strings (relay URLs)";
			goto bad;
		}
		struct relay_addr ra;
		if (parse_relay(json_string_value(e), &ra)) {
			*err = "credentials.relays: every relay must be a ws:// or wss:// URL with a host";
			goto bad;
		}
		int dup = 0;
		for (size_t k = 0; k < json_array_size(out); k++)
			dup |= !strcmp(json_string_value(json_array_get(out, k)), json_string_value(e));
		if (!dup)
			json_array_append(out, e);
	}
	if (json_array_size(out) < 1 || json_array_size(out) > MAX_RELAYS) {
		*err = "credentials.relays must list 1 to 20 relay URLs";
		goto bad;
	}
	json_decref(in);
	return out;
bad:
	json_decref(in);
	json_decref(out);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* connect                                                             */

static const struct provider_field fields[] = {
	{"private_key", "secret", 1, "secret key: 64 hex characters or nsec1... (NIP-19)"},
	{"relays", "string", 1,
	 "relay URLs (ws:// or wss://), 1 to 20: a JSON array or a comma-separated list"},
	{NULL, NULL, 0, NULL},
};

static int nostr_connect(struct arena *a, json_t *cred, const char **profile, const char **err)
{
	json_t *k = json_object_get(cred, "private_key");
	if (!json_is_string(k)) {
		*err = "credentials.private_key is required: 64 hex characters or an nsec1... key";
		return -1;
	}
	uint8_t sk[32], pk[32];
	if (nostr_parse_seckey(json_string_value(k), sk, err))
		return -1;
	json_t *relays = nostr_relays(json_object_get(cred, "relays"), err);
	if (!relays) {
		sodium_memzero(sk, sizeof(sk));
		return -1;
	}
	if (nostr_pubkey(sk, pk)) {
		sodium_memzero(sk, sizeof(sk));
		json_decref(relays);
		*err = "cannot derive the public key";
		return -1;
	}
	char hex[65], npub[128];
	hex_encode(sk, 32, hex);
	sodium_memzero(sk, sizeof(sk));
	json_object_set_new(cred, "private_key", json_string(hex));
	sodium_memzero(hex, sizeof(hex));
	json_object_set_new(cred, "relays", relays);
	if (nostr_bech32_encode("npub", pk, 32, npub, sizeof(npub))) {
		*err = "cannot encode the public key";
		return -1;
	}
	*profile = arena_strdup(a, npub);
	return 0;
}

/* ------------------------------------------------------------------ */
/* transport: the libwebsockets service thread                         */

enum { RS_IDLE, RS_CONNECTING, RS_OPEN, RS_DONE };
enum { RR_NONE, RR_OK, RR_DUP, RR_REJECTED, RR_TRANSIENT, RR_NOANSWER };

struct relay {
	char *url;
	struct lws *wsi;
	int state, result, sent, timed_out;
	char msg[MSG_MAX + 1];
	char notice[MSG_MAX + 1];
	struct buf rx;
	int rx_skip; /* the current message is over RX_MAX: ignore it */
};

struct nreq {
	struct nreq *prev, *next; /* every request not yet handed back (g_mu) */
	struct nreq *qnext;       /* submission queue (g_mu) */
	struct nreq *anext;       /* active on the service thread (service thread only) */
	uint64_t seq;
	int starting;
	unsigned char *frame; /* LWS_PRE bytes of headroom, then the text */
	size_t frame_len;
	char id[65];
	long timeout_ms;
	lws_sorted_usec_list_t sul;
	int efd;
	struct event *ev;
	void (*done)(void *arg, const struct hresp *r);
	void *arg;
	struct hresp resp;
	int nrelays;
	struct relay r[MAX_RELAYS];
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lws_context *g_ctx;
static pthread_t g_thread;
static int g_started;
static atomic_int g_quit;
static struct nreq *g_all;                /* g_mu */
static struct nreq *g_queue, **g_qtail = &g_queue; /* g_mu */
static uint64_t g_seq;                    /* g_mu */
static struct nreq *g_active;             /* service thread */

#define KEY(q, i) ((void *)(uintptr_t)((q)->seq << 5 | (uint64_t)(i)))

static struct nreq *find_active(uint64_t seq)
{
	for (struct nreq *q = g_active; q; q = q->anext)
		if (q->seq == seq)
			return q;
	return NULL;
}

/* Copy valid UTF-8 text, cut at a character boundary to fit. */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	if (src[n])
		while (n && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void relay_done(struct relay *r, int result, const char *msg)
{
	if (r->state == RS_DONE)
		return;
	r->state = RS_DONE;
	r->result = result;
	if (msg && !r->msg[0])
		copy_text(r->msg, sizeof(r->msg), msg);
}

static const char *result_name(const struct relay *r)
{
	switch (r->result) {
	case RR_OK: return "accepted";
	case RR_DUP: return "duplicate";
	case RR_REJECTED: return "rejected";
	case RR_TRANSIENT: return "retry";
	default: return r->timed_out ? "timeout" : "no_answer";
	}
}

/* Build the answer handed to publish(): see the top of the file. */
static void build_answer(struct nreq *q)
{
	int ok = 0, tr = 0, na = 0, sent = 0, timed_out = 0;
	json_t *arr = json_array();
	struct buf why;
	buf_init(&why, 16384);
	for (int i = 0; i < q->nrelays; i++) {
		struct relay *r = &q->r[i];
		ok += r->result == RR_OK || r->result == RR_DUP;
		tr += r->result == RR_TRANSIENT;
		na += r->result == RR_NOANSWER || r->result == RR_NONE;
		sent |= r->sent;
		timed_out |= r->timed_out;
		json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "url", r->url, "status", result_name(r),
				      "message", r->msg, "sent", r->sent);
		if (r->notice[0])
			json_object_set_new(o, "notice", json_string(r->notice));
		json_array_append_new(arr, o);
		if (r->result != RR_OK && r->result != RR_DUP)
			(void)!buf_printf(&why, "%s%s: %s%s%s", why.len ? "; " : "", r->url,
					  r->msg[0] ? r->msg : "no answer",
					  r->notice[0] ? " (notice: " : "", r->notice[0] ? r->notice : "");
		if (r->result != RR_OK && r->result != RR_DUP && r->notice[0])
			(void)!buf_adds(&why, ")");
	}
	json_t *body = json_pack("{s:s,s:i,s:o}", "id", q->id, "accepted", ok, "relays", arr);
	q->resp.body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!q->resp.body)
		q->resp.body = strdup("{}");
	q->resp.body_len = q->resp.body ? strlen(q->resp.body) : 0;
	q->resp.headers = strdup("");
	q->resp.sent = sent;
	if (ok) {
		q->resp.status = 200;
	} else if (!na && !tr) {
		q->resp.status = 400;
	} else if (!na) {
		q->resp.status = 503;
	} else {
		q->resp.curl_code = timed_out ? 28 : 7;
		q->resp.status = 0;
	}
	char *e = buf_take(&why);
	if (q->resp.curl_code) {
		q->resp.error = e;
	} else {
		free(e);
		q->resp.error = NULL;
	}
}

/* Every relay has its outcome: hand the request back to its loop.  After
 * the eventfd write the loop owns q: nothing here may touch it. */
static void maybe_finish(struct nreq *q)
{
	if (q->starting)
		return;
	for (int i = 0; i < q->nrelays; i++)
		if (q->r[i].state != RS_DONE)
			return;
	lws_sul_cancel(&q->sul);
	for (struct nreq **pp = &g_active; *pp; pp = &(*pp)->anext)
		if (*pp == q) {
			*pp = q->anext;
			break;
		}
	for (int i = 0; i < q->nrelays; i++) {
		struct relay *r = &q->r[i];
		if (r->wsi) {
			/* later callbacks of this connection find no request */
			lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			r->wsi = NULL;
		}
		buf_release(&r->rx);
	}
	build_answer(q);
	uint64_t one = 1;
	ssize_t w;
	do
		w = write(q->efd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
	struct nreq *q = lws_container_of(sul, struct nreq, sul);
	char m[96];
	snprintf(m, sizeof(m), "no answer within %ld ms", q->timeout_ms);
	for (int i = 0; i < q->nrelays; i++) {
		struct relay *r = &q->r[i];
		if (r->state != RS_DONE) {
			r->timed_out = 1;
			relay_done(r, RR_NOANSWER, m);
		}
	}
	maybe_finish(q);
}

static void start_relay(struct nreq *q, int i)
{
	struct relay *r = &q->r[i];
	struct relay_addr ra;
	if (parse_relay(r->url, &ra)) {
		relay_done(r, RR_NOANSWER, "not a ws:// or wss:// URL");
		return;
	}
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = g_ctx;
	ci.address = ra.host;
	ci.port = ra.port;
	ci.ssl_connection = ra.tls ? LCCSCF_USE_SSL : 0;
	ci.path = ra.path;
	ci.host = ra.hosthdr;
	ci.local_protocol_name = "herald-nostr";
	ci.opaque_user_data = KEY(q, i);
	ci.pwsi = &r->wsi;
	r->state = RS_CONNECTING;
	if (!lws_client_connect_via_info(&ci)) {
		r->wsi = NULL;
		relay_done(r, RR_NOANSWER, "cannot connect");
	}
}

static void start_request(struct nreq *q)
{
	q->anext = g_active;
	g_active = q;
	q->starting = 1;
	lws_sul_schedule(g_ctx, 0, &q->sul, on_deadline, (lws_usec_t)q->timeout_ms * LWS_US_PER_MS);
	for (int i = 0; i < q->nrelays; i++) {
		buf_init(&q->r[i].rx, RX_MAX);
		start_relay(q, i);
	}
	q->starting = 0;
	maybe_finish(q);
}

static void drain_queue(void)
{
	pthread_mutex_lock(&g_mu);
	struct nreq *list = g_queue;
	g_queue = NULL;
	g_qtail = &g_queue;
	pthread_mutex_unlock(&g_mu);
	while (list) {
		struct nreq *q = list;
		list = q->qnext;
		q->qnext = NULL;
		start_request(q);
	}
}

/* A whole message from a relay.  1 when the relay's outcome is known. */
static int relay_message(struct nreq *q, struct relay *r, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL);
	if (!json_is_array(m)) {
		json_decref(m);
		return 0;
	}
	const char *type = json_string_value(json_array_get(m, 0));
	int known = 0;
	if (type && !strcmp(type, "OK")) {
		const char *id = json_string_value(json_array_get(m, 1));
		json_t *acc = json_array_get(m, 2);
		const char *msg = json_string_value(json_array_get(m, 3));
		if (id && !strcasecmp(id, q->id) && json_is_boolean(acc)) {
			if (!msg)
				msg = "";
			if (json_is_true(acc))
				relay_done(r, RR_OK, msg);
			else if (!strncmp(msg, "duplicate:", 10))
				relay_done(r, RR_DUP, msg);
			else if (!strncmp(msg, "rate-limited:", 13) || !strncmp(msg, "error:", 6))
				relay_done(r, RR_TRANSIENT, msg);
			else
				relay_done(r, RR_REJECTED, msg[0] ? msg : "refused (no reason given)");
			known = 1;
		}
	} else if (type && !strcmp(type, "NOTICE")) {
		const char *msg = json_string_value(json_array_get(m, 1));
		if (msg)
			copy_text(r->notice, sizeof(r->notice), msg);
	}
	json_decref(m);
	return known;
}

static int on_rx(struct nreq *q, struct relay *r, struct lws *wsi, const void *in, size_t len)
{
	if (lws_frame_is_binary(wsi))
		return 0;
	if (!r->rx_skip && buf_add(&r->rx, in, len)) {
		r->rx_skip = 1;
		buf_release(&r->rx);
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	int known = 0;
	if (!r->rx_skip && r->rx.len)
		known = relay_message(q, r, r->rx.data, r->rx.len);
	r->rx_skip = 0;
	buf_reset(&r->rx);
	if (known) {
		/* the answer is in: close this connection */
		r->wsi = NULL;
		return -1;
	}
	return 0;
}

static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	(void)user;
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		drain_queue();
		return 0;
	}
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
	case LWS_CALLBACK_CLIENT_RECEIVE:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		break;
	default:
		return 0;
	}
	uintptr_t key = (uintptr_t)lws_get_opaque_user_data(wsi);
	if (!key)
		return 0;
	struct nreq *q = find_active((uint64_t)key >> 5);
	size_t idx = key & 31;
	if (!q || (int)idx >= q->nrelays) {
		/* its request is finished: a stray connection */
		return reason == LWS_CALLBACK_CLIENT_RECEIVE || reason == LWS_CALLBACK_CLIENT_WRITEABLE ||
				       reason == LWS_CALLBACK_CLIENT_ESTABLISHED
			       ? -1
			       : 0;
	}
	struct relay *r = &q->r[idx];
	int rc = 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		/* in: lws's reason as a NUL-terminated string, or NULL */
		char m[MSG_MAX];
		snprintf(m, sizeof(m), "cannot connect: %s", in ? (const char *)in : "unknown error");
		r->wsi = NULL;
		relay_done(r, RR_NOANSWER, m);
		break;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		r->state = r->state == RS_DONE ? RS_DONE : RS_OPEN;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (r->state == RS_OPEN && !r->sent) {
			/* lws masks the payload in place: each relay writes its own copy */
			unsigned char *f = xmalloc(LWS_PRE + q->frame_len);
			memcpy(f + LWS_PRE, q->frame + LWS_PRE, q->frame_len);
			int n = lws_write(wsi, f + LWS_PRE, q->frame_len, LWS_WRITE_TEXT);
			free(f);
			if (n < (int)q->frame_len) {
				relay_done(r, RR_NOANSWER, "cannot send the event");
				r->wsi = NULL;
				rc = -1;
			} else {
				r->sent = 1;
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (r->state == RS_DONE) {
			r->wsi = NULL;
			rc = -1;
		} else {
			rc = on_rx(q, r, wsi, in, len);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		r->wsi = NULL;
		relay_done(r, RR_NOANSWER,
			   r->sent ? "the relay closed the connection without answering"
				   : "the relay closed the connection");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (r->wsi == wsi)
			r->wsi = NULL;
		relay_done(r, RR_NOANSWER, "connection closed");
		break;
	default:
		break;
	}
	maybe_finish(q);
	return rc;
}

static const struct lws_protocols protocols[] = {
	{"herald-nostr", lws_cb, 0, 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_msg(level & LLL_ERR ? LOG_ERROR : LOG_WARN, "nostr", "libwebsockets: %.*s", (int)n, line);
}

static void *service_main(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&g_quit))
		if (lws_service(g_ctx, 0) < 0)
			break;
	return NULL;
}

static void transport_stop(void)
{
	if (!g_started)
		return;
	atomic_store(&g_quit, 1);
	lws_cancel_service(g_ctx);
	pthread_join(g_thread, NULL);
	/* requests still out stay on g_all: their loops are gone */
	g_active = NULL;
	lws_context_destroy(g_ctx);
	g_ctx = NULL;
	g_started = 0;
}

static void transport_init(void)
{
	lws_set_log_level(LLL_ERR, lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* the system CA store (OpenSSL's default paths are loaded as well);
	 * HERALD_NOSTR_CA_FILE adds a bundle, e.g. a test CA */
	const struct config *cfg = providers_config();
	const char *ca = cfg ? cfg->nostr_ca_file : NULL;
	if (ca && *ca)
		info.client_ssl_ca_filepath = ca;
	else if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
		info.client_ssl_ca_filepath = "/etc/ssl/certs/ca-certificates.crt";
	else if (access("/etc/pki/tls/certs/ca-bundle.crt", R_OK) == 0)
		info.client_ssl_ca_filepath = "/etc/pki/tls/certs/ca-bundle.crt";
	info.connect_timeout_secs = 30;
	g_ctx = lws_create_context(&info);
	if (!g_ctx) {
		log_msg(LOG_ERROR, "nostr", "cannot create the WebSocket context");
		return;
	}
	if (pthread_create(&g_thread, NULL, service_main, NULL)) {
		lws_context_destroy(g_ctx);
		g_ctx = NULL;
		log_msg(LOG_ERROR, "nostr", "cannot start the WebSocket thread");
		return;
	}
	g_started = 1;
	atexit(transport_stop);
}

/* The loop's side: the service thread has finished q. */
static void on_finished(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct nreq *q = arg;
	uint64_t v;
	ssize_t n;
	do
		n = read(fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	pthread_mutex_lock(&g_mu);
	if (q->prev)
		q->prev->next = q->next;
	else
		g_all = q->next;
	if (q->next)
		q->next->prev = q->prev;
	pthread_mutex_unlock(&g_mu);
	event_free(q->ev);
	close(q->efd);
	q->done(q->arg, &q->resp);
	free(q->resp.body);
	free(q->resp.headers);
	free((char *)q->resp.error);
	for (int i = 0; i < q->nrelays; i++)
		free(q->r[i].url);
	free(q->frame);
	free(q);
}

/* What publish() prepared for the transport (in the item's arena). */
struct nstate {
	char *frame;
	size_t frame_len;
	char id[65];
	uint8_t id_raw[32], pk_raw[32];
	const char *relays[MAX_RELAYS];
	int nrelays;
	long timeout_ms;
};

static int nostr_send(struct pub_ctx *c, struct event_base *base,
		      void (*done)(void *arg, const struct hresp *r), void *arg)
{
	struct nstate *ns = c->state;
	if (!ns || !ns->frame)
		return -1;
	pthread_once(&g_once, transport_init);
	if (!g_started)
		return -1;
	struct nreq *q = xcalloc(1, sizeof(*q));
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0) {
		free(q);
		return -1;
	}
	q->ev = event_new(base, q->efd, EV_READ, on_finished, q);
	if (!q->ev || event_add(q->ev, NULL)) {
		if (q->ev)
			event_free(q->ev);
		close(q->efd);
		free(q);
		return -1;
	}
	q->frame = xmalloc(LWS_PRE + ns->frame_len + 1);
	memcpy(q->frame + LWS_PRE, ns->frame, ns->frame_len);
	q->frame_len = ns->frame_len;
	memcpy(q->id, ns->id, sizeof(q->id));
	q->timeout_ms = ns->timeout_ms;
	q->done = done;
	q->arg = arg;
	q->nrelays = ns->nrelays;
	for (int i = 0; i < ns->nrelays; i++)
		q->r[i].url = xstrdup(ns->relays[i]);
	pthread_mutex_lock(&g_mu);
	q->seq = ++g_seq;
	q->next = g_all;
	if (g_all)
		g_all->prev = q;
	g_all = q;
	*g_qtail = q;
	g_qtail = &q->qnext;
	pthread_mutex_unlock(&g_mu);
	lws_cancel_service(g_ctx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* publish                                                             */

static long timeout_ms(void)
{
	/* HERALD_NOSTR_TIMEOUT_MS / --nostr-timeout-ms, checked by the config table */
	const struct config *cfg = providers_config();
	long t = cfg ? cfg->nostr_timeout_ms : DEFAULT_TIMEOUT_MS;
	if (t < 100)
		t = 100;
	if (t > 120000)
		t = 120000;
	return t;
}

/* The channel's secret key (into sk: the caller wipes it) and its relays:
 * the step state holding them, and their list for messages in urls (the
 * caller releases it).  NULL with c->error when either is unusable. */
static struct nstate *channel_open(struct pub_ctx *c, uint8_t sk[32], struct buf *urls)
{
	const char *err = NULL;
	if (nostr_parse_seckey(json_string_value(json_object_get(c->credentials, "private_key")), sk,
			       &err)) {
		c->error = arena_printf(c->a, "the channel's key is not usable (%s); reconnect it", err);
		return NULL;
	}
	json_t *relays = nostr_relays(json_object_get(c->credentials, "relays"), &err);
	if (!relays) {
		sodium_memzero(sk, 32);
		c->error = arena_printf(c->a, "the channel's relays are not usable (%s); reconnect it",
					err);
		return NULL;
	}
	struct nstate *ns = arena_alloc(c->a, sizeof(*ns));
	ns->timeout_ms = timeout_ms();
	buf_init(urls, 8192);
	size_t i;
	json_t *e;
	json_array_foreach(relays, i, e)
	{
		ns->relays[ns->nrelays++] = arena_strdup(c->a, json_string_value(e));
		if (urls->len < 4000)
			(void)!buf_printf(urls, "%s%s", i ? ", " : "", json_string_value(e));
	}
	json_decref(relays);
	return ns;
}

static enum pub_status prepare(struct pub_ctx *c)
{
	uint8_t sk[32];
	struct buf urls;
	struct nstate *ns = channel_open(c, sk, &urls);
	if (!ns)
		return PUB_FAILED;
	size_t i;

	/* the note */
	char *text = nostr_text(c->content);
	struct buf content;
	buf_init(&content, EVENT_MAX / 2);
	int ok = buf_adds(&content, text) == 0;
	json_t *tags = json_array();
	json_t *m;
	json_array_foreach(c->media, i, m)
	{
		const char *p = json_string_value(json_object_get(m, "path"));
		const char *alt = json_string_value(json_object_get(m, "alt"));
		if (!p || (strncasecmp(p, "http://", 7) && strncasecmp(p, "https://", 8)) ||
		    strpbrk(p, " \t\r\n"))
			continue;
		if (!strstr(text, p))
			ok &= buf_printf(&content, "%s%s", content.len ? "\n" : "", p) == 0;
		json_t *im = json_pack("[s,s+]", "imeta", "url ", p);
		if (im && alt && *alt)
			json_array_append_new(im, json_pack("s+", "alt ", alt));
		if (im)
			json_array_append_new(tags, im);
	}
	free(text);
	if (c->position > 0) {
		const char *root = c->root_release_id, *parent = c->parent_release_id;
		if (!is_hex64(root) || !is_hex64(parent)) {
			json_decref(tags);
			buf_release(&content);
			buf_release(&urls);
			sodium_memzero(sk, sizeof(sk));
			c->error = "the thread's earlier notes have no Nostr event id to reply to";
			return PUB_FAILED;
		}
		/* NIP-10 marked e tags; a direct reply to the root has only "root" */
		json_array_append_new(tags, json_pack("[s,s,s,s]", "e", root, "", "root"));
		if (strcasecmp(root, parent))
			json_array_append_new(tags, json_pack("[s,s,s,s]", "e", parent, "", "reply"));
		/* the author of the notes replied to: this channel's own key */
		uint8_t pk[32];
		char pkh[65];
		if (nostr_pubkey(sk, pk) == 0) {
			hex_encode(pk, 32, pkh);
			json_array_append_new(tags, json_pack("[s,s]", "p", pkh));
		}
	}
	nostr_hashtags(tags, content.data ? content.data : "");
	struct nostr_event ev = {
		/* deterministic: the same item always makes the same event id */
		.created_at = c->publish_at / 1000 + c->position,
		.kind = 1,
		.tags = tags,
		.content = content.data ? content.data : "",
	};
	if (!ok || nostr_event_sign(&ev, sk)) {
		json_decref(tags);
		buf_release(&content);
		buf_release(&urls);
		sodium_memzero(sk, sizeof(sk));
		c->error = ok ? "cannot sign the event" : "the note is too long to send";
		return PUB_FAILED;
	}
	sodium_memzero(sk, sizeof(sk));
	struct buf frame;
	buf_init(&frame, EVENT_MAX);
	if (buf_adds(&frame, "[\"EVENT\",") || nostr_event_json(&frame, &ev) ||
	    buf_add(&frame, "]", 1)) {
		json_decref(tags);
		buf_release(&content);
		buf_release(&urls);
		buf_release(&frame);
		c->error = "the note is too long to send";
		return PUB_FAILED;
	}
	json_decref(tags);
	buf_release(&content);
	memcpy(ns->id, ev.id, sizeof(ns->id));
	hex_decode32(ev.id, ns->id_raw);
	hex_decode32(ev.pubkey, ns->pk_raw);
	ns->frame_len = frame.len;
	ns->frame = arena_strndup(c->a, frame.data, frame.len);
	buf_release(&frame);
	c->state = ns;
	c->req.method = "EVENT";
	c->req.url = arena_strdup(c->a, urls.data ? urls.data : "");
	c->req.log_url = c->req.url;
	c->req.body = ns->frame;
	c->req.body_len = ns->frame_len;
	c->req.timeout_ms = ns->timeout_ms;
	buf_release(&urls);
	return PUB_SEND;
}

static enum pub_status nostr_publish(struct pub_ctx *c, const struct hresp *prev)
{
	if (!prev)
		return prepare(c);
	struct nstate *ns = c->state;
	json_t *body = json_loadb(prev->body ? prev->body : "", prev->body_len, 0, NULL);
	if (prev->status == 200 && ns) {
		char nevent[400];
		c->release_id = arena_strdup(c->a, ns->id);
		if (nostr_nevent(ns->id_raw, ns->pk_raw, 1, ns->relays[0], nevent, sizeof(nevent)) &&
		    nostr_nevent(ns->id_raw, ns->pk_raw, 1, NULL, nevent, sizeof(nevent)))
			c->release_url = NULL;
		else
			c->release_url = arena_printf(c->a, "nostr:%s", nevent);
		json_decref(body);
		return PUB_OK;
	}
	/* every relay refused (400) or some asked to come back later (503) */
	struct buf why;
	buf_init(&why, 8192);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(body, "relays"), i, r)
	{
		const char *url = json_string_value(json_object_get(r, "url"));
		const char *msg = json_string_value(json_object_get(r, "message"));
		(void)!buf_printf(&why, "%s%s: %s", why.len ? "; " : "", url ? url : "?",
				  msg && *msg ? msg : "no answer");
	}
	json_decref(body);
	c->error = arena_printf(c->a, "%s: %s",
				prev->status == 503 ? "the relays asked to retry later"
						    : "every relay refused the note",
				why.data ? why.data : "no details");
	buf_release(&why);
	return prev->status == 503 ? PUB_RETRY : PUB_FAILED;
}

/* Unpublish: a NIP-09 deletion request, a kind-5 event by the same key
 * with ["e", <note id>] and ["k", "1"] tags, sent to the channel's relays
 * like a note (relays MAY honour it; herald reports what they answered).
 * Any relay accepting it (or already having it) is done. */
static enum pub_status nostr_unpublish(struct pub_ctx *c, const struct hresp *prev)
{
	if (prev) {
		if (prev->status == 200)
			return PUB_OK;
		enum pub_status st = nostr_publish(c, prev);
		if (c->error)
			c->error = arena_printf(c->a, "the NIP-09 deletion request: %s", c->error);
		return st;
	}
	if (!is_hex64(c->release_id)) {
		c->error = arena_printf(c->a, "the post's release id is not a Nostr event id (%s)",
					c->release_id ? c->release_id : "none");
		return PUB_FAILED;
	}
	uint8_t sk[32];
	struct buf urls;
	struct nstate *ns = channel_open(c, sk, &urls);
	if (!ns)
		return PUB_FAILED;
	size_t i;
	char id[65];
	for (i = 0; i < 64; i++)
		id[i] = (char)tolower((unsigned char)c->release_id[i]);
	id[64] = 0;
	json_t *tags = json_pack("[[s,s],[s,s]]", "e", id, "k", "1");
	struct nostr_event ev = {
		/* NIP-09: later than the note it deletes */
		.created_at = (int64_t)time(NULL),
		.kind = 5,
		.tags = tags,
		.content = "",
	};
	if (ev.created_at <= c->publish_at / 1000 + c->position)
		ev.created_at = c->publish_at / 1000 + c->position + 1;
	struct buf frame;
	buf_init(&frame, EVENT_MAX);
	if (!tags || nostr_event_sign(&ev, sk) || buf_adds(&frame, "[\"EVENT\",") ||
	    nostr_event_json(&frame, &ev) || buf_add(&frame, "]", 1)) {
		sodium_memzero(sk, sizeof(sk));
		json_decref(tags);
		buf_release(&urls);
		buf_release(&frame);
		c->error = "cannot sign the deletion event";
		return PUB_FAILED;
	}
	sodium_memzero(sk, sizeof(sk));
	json_decref(tags);
	memcpy(ns->id, ev.id, sizeof(ns->id));
	hex_decode32(ev.id, ns->id_raw);
	hex_decode32(ev.pubkey, ns->pk_raw);
	ns->frame_len = frame.len;
	ns->frame = arena_strndup(c->a, frame.data, frame.len);
	buf_release(&frame);
	c->state = ns;
	c->req.method = "EVENT";
	c->req.url = arena_strdup(c->a, urls.data ? urls.data : "");
	c->req.log_url = c->req.url;
	c->req.body = ns->frame;
	c->req.body_len = ns->frame_len;
	c->req.timeout_ms = ns->timeout_ms;
	buf_release(&urls);
	return PUB_SEND;
}

const struct provider provider_nostr = {
	.api_version = "NIP-01, NIP-10 (kind 1 text notes)",
	.api_sunset = NULL,
	.identifier = "nostr",
	.name = "Nostr",
	.flags = PROV_THREADS | PROV_IMAGES | PROV_VIDEO | PROV_DELETE | PROV_IDEMPOTENT |
		 PROV_CREDENTIALS,
	.max_length = 100000,
	.editor = "normal",
	.rules = "Kind-1 text notes (NIP-01) signed with the channel's key and sent to each of its "
		 "relays; a thread becomes NIP-10 replies. Media are linked by URL in the text "
		 "(with NIP-92 imeta tags). A retry re-sends the same event id, so a note is never "
		 "published twice.",
	.credentials = fields,
	.settings_schema = NULL,
	.connect = nostr_connect,
	.publish = nostr_publish,
	.unpublish = nostr_unpublish,
	.send = nostr_send,
};
