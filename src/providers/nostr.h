/*
 * nostr: the pieces of the Nostr provider that tests reach directly.
 *
 * Event ids follow NIP-01: sha256 of the UTF-8 JSON array
 * [0,<pubkey hex>,<created_at>,<kind>,<tags>,<content>] with no whitespace,
 * strings escaping only \" \\ \n \r \t \b \f (and, like JSON.stringify,
 * other control characters as \u00XX); everything else, '/' and non-ASCII
 * included, verbatim.  Signatures are BIP-340 Schnorr over the 32-byte id.
 * Keys and ids travel as NIP-19 bech32 (npub, nsec, note, nevent).
 */
#ifndef HERALD_NOSTR_H
#define HERALD_NOSTR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* BIP-173 bech32 of `len` bytes under `hrp`.  0, or -1 when out is too small. */
int nostr_bech32_encode(const char *hrp, const uint8_t *data, size_t len, char *out,
			size_t outlen);
/* Decode a bech32 string (either case, not mixed).  hrp receives the
 * lowercase human-readable part; data at most `max` bytes.  0 or -1. */
int nostr_bech32_decode(const char *s, char *hrp, size_t hrplen, uint8_t *data, size_t *len,
			size_t max);

/* A NIP-01 JSON string (quotes included) appended to b.  0 or -1 (bound). */
int nostr_json_string(struct buf *b, const char *s);
/* The NIP-01 serialization of an event; malloc'd, NULL when tags are not an
 * array of arrays of strings. */
char *nostr_serialize(const char *pubkey_hex, int64_t created_at, int kind, const json_t *tags,
		      const char *content);

/* A secret key from 64 hex characters or nsec1...; 0, or -1 with *err. */
int nostr_parse_seckey(const char *s, uint8_t sk[32], const char **err);
/* x-only public key of a secret key; 0 or -1. */
int nostr_pubkey(const uint8_t sk[32], uint8_t pk[32]);

struct nostr_event {
	char id[65], pubkey[65], sig[129];
	int64_t created_at;
	int kind;
	json_t *tags;        /* borrowed */
	const char *content; /* borrowed */
};

/* Fill pubkey, id and sig (fresh aux randomness; the signature is checked
 * before returning).  0 or -1. */
int nostr_event_sign(struct nostr_event *ev, const uint8_t sk[32]);
/* The event as a JSON object in NIP-01 field order, appended to b. */
int nostr_event_json(struct buf *b, const struct nostr_event *ev);

/* Postiz HTML (or plain text) as note text: paragraphs and <br> become
 * newlines, tags go, entities are decoded, control characters and invalid
 * UTF-8 are cleaned.  Text without HTML tags is kept as it is.  malloc'd. */
char *nostr_text(const char *content);
/* Add ["t", tag] for every #hashtag of text (lowercased, deduplicated). */
void nostr_hashtags(json_t *tags, const char *text);

/* NIP-19 nevent1... of an event id (with author, kind and an optional relay
 * hint).  0 or -1. */
int nostr_nevent(const uint8_t id[32], const uint8_t author[32], int kind, const char *relay,
		 char *out, size_t outlen);

/* Check and normalise a relay list (JSON array, or a string of URLs
 * separated by commas or whitespace) into a new array of 1..20 unique
 * ws:// or wss:// URLs.  NULL with *err when invalid. */
json_t *nostr_relays(const json_t *v, const char **err);

#endif
