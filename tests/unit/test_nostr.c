/*
 * test_nostr: the Nostr provider's pure parts against independent vectors.
 *
 * Serializations, event ids, signatures and NIP-19 strings below were made
 * with nostr-tools 2.25.2 (npm: serializeEvent, getEventHash, finalizeEvent,
 * nip19.*Encode) for the secret key SK; the two NIP-19 examples are the ones
 * printed in the NIP itself.  Signatures are checked with libsecp256k1's
 * secp256k1_schnorrsig_verify, both nostr-tools' and ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "http/client.h"
#include "providers/nostr.h"
#include "providers/provider.h"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SK "5c0c523f52a5b6fad39ed2403092df8cebc36318b39383bca6c00808626fab3a"
#define PK "87d3561f19b74adbe8bf840682992466068830a9d8c36b4a0c99d36f826cb6cb"
#define NPUB "npub1slf4v8ceka9dh69lssrg9xfyvcrgsv9fmrpkkjsvn8fklqnvkm9s65qu2t"
#define NSEC "nsec1tsx9y06j5km045u76fqrpykl3n4uxccckwfc809xcqyqscn04vaq02ch55"

struct vec {
	int64_t created_at;
	const char *tags; /* JSON */
	const char *content;
	const char *ser, *id, *sig, *note, *nevent_id_only;
};

static const struct vec VECS[] = {
	{1700000000, "[]", "hello",
	 "[0,\"" PK "\",1700000000,1,[],\"hello\"]",
	 "d5dc92950f373b39708cb6e94950a3bcd9b755f809340761c02544681ce92d5f",
	 "d9ce629743e05b040409f66d50b870f38798de59453c5657ad83c1959add9047305e78844e92e91c55bbb45e86f"
	 "b86b0df7f6288a51f4ea9bfd247d7a2e68c00",
	 "note16hwf99g0xuanjuyvkm55j59rhnvmw40cpy6qwcwqy4zxs88f940s9he97m",
	 "nevent1qqsdthyjj58nwweewzxtd62f2z3mekdh2huqjdq8v8qz23rgrn5j6hcxmjyd7"},
	{1700000001,
	 "[[\"t\",\"nostr\"],[\"e\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"\","
	 "\"root\"],[\"p\",\"" PK "\"]]",
	 "quote \" backslash \\ slash / nl \n cr \r tab \t bs \b ff \f",
	 "[0,\"" PK "\",1700000001,1,[[\"t\",\"nostr\"],[\"e\",\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaa\",\"\",\"root\"],[\"p\",\"" PK "\"]],\"quote \\\" backslash \\\\ slash "
	 "/ nl \\n cr \\r tab \\t bs \\b ff \\f\"]",
	 "0e37341f09f9c205879858e7dcdfe0f043d483163c9a9dec8087c47ce50193c9",
	 "89f244113fac6010d40e49b00a81cd71ced84d59e437535038eb55b6b3af0f169694f8e424b8fac684fef59a05d"
	 "ac0e61a4e13cd198186ff61adb1a1aa2df38d",
	 "note1pcmng8cfl8pqtpuctrnaehlq7ppafqck8jdfmmyqslz8eegpj0ys9aarce",
	 "nevent1qqsqude5ruylnss9s7v93e7umls0qs75svtrex5aajqg03ruu5qe8jgvpcvph"},
	{1700000002, "[[\"imeta\",\"url https://x.example/a b?c=1&d=\\\"2\\\"\"]]",
	 "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x9a\x80 \xe2\x80\xa8 \xe2\x80\xa9 \x7f ctl\x01\x1f </script>",
	 "[0,\"" PK "\",1700000002,1,[[\"imeta\",\"url https://x.example/a b?c=1&d=\\\"2\\\"\"]],"
	 "\"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x9a\x80 \xe2\x80\xa8 \xe2\x80\xa9 \x7f ctl\\u0001\\u001f "
	 "</script>\"]",
	 "fdde85cf66c85888045031274ac1d0987da1e992e2a2eb17a022b3712013388f",
	 "4586d2fc26fd06fe902e22889314e55d9fe69efc10d6a0f0211c0fe4a63982c6fba20327b5edc97e0d64b8266ae"
	 "b9df08dc6fadda071eb5a3844de7676258e04",
	 "note1lh0gtnmxepvgspzsxyn54swsnp76r6vju23wk9aqy2ehzgqn8z8sfdlq6p",
	 "nevent1qqs0mh59eanvskygq3grzf62c8gfsldpaxfw9ghtz7sz9vm3yqfn3rcj4aezg"},
	{0, "[[]]", "", "[0,\"" PK "\",0,1,[[]],\"\"]",
	 "7c498d3e98e8dc6fee8850eee33ee55714b5a712d66fd91150308d466fac9628",
	 "bbb29d6cbce11b907c62c89df7416b986843c022c0be7f54b23da456653e0e0a26c50d7cb6fb240fa7524f71c0b"
	 "69826f9c384a6aa9ef56f37b00ff13c817885",
	 "note103yc605carwxlm5g2rhwx0h92u2ttfcj6ehajy2sxzx5vmavjc5qwymlc6",
	 "nevent1qqs8cjvd86vw3hr0a6y9pmhr8mj4w9945ufdvm7ez9grpr2xd7kfv2q0p7ngt"},
};
#define NVEC (sizeof(VECS) / sizeof(VECS[0]))

/* nostr-tools' nevent for VECS[0] with author, kind 1 and relay wss://relay.example */
#define NEVENT0_FULL                                                                              \
	"nevent1qvzqqqqqqypzpp7n2c03nd62m05tlpqxs2vjgesx3qc2nkxrdd9qexwnd7pxedktqyfhwumn8ghj7un9d3sh" \
	"jtn90psk6urvv5qzp4wuj22s7dem89cgedhff9g280xeka2lszf5qasuqf2ydqwwjt2lzpe527"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void tohex(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

static int schnorr_ok(const char *sig_hex, const char *id_hex, const char *pk_hex)
{
	uint8_t sig[64], id[32], pk[32];
	unhex(sig_hex, sig, 64);
	unhex(id_hex, id, 32);
	unhex(pk_hex, pk, 32);
	secp256k1_xonly_pubkey xo;
	if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &xo, pk))
		return 0;
	return secp256k1_schnorrsig_verify(secp256k1_context_static, sig, id, 32, &xo);
}

static void test_serialize_matches_nostr_tools(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVEC; i++) {
		json_t *tags = json_loads(VECS[i].tags, 0, NULL);
		assert_non_null(tags);
		char *ser = nostr_serialize(PK, VECS[i].created_at, 1, tags, VECS[i].content);
		assert_non_null(ser);
		assert_string_equal(ser, VECS[i].ser);
		uint8_t id[32];
		char idh[65];
		crypto_hash_sha256(id, (const unsigned char *)ser, strlen(ser));
		tohex(id, 32, idh);
		assert_string_equal(idh, VECS[i].id);
		free(ser);
		json_decref(tags);
	}
	/* tags must be arrays of arrays of strings */
	json_t *bad = json_loads("[[\"t\",1]]", 0, NULL);
	assert_null(nostr_serialize(PK, 1, 1, bad, "x"));
	json_decref(bad);
	bad = json_loads("[\"t\"]", 0, NULL);
	assert_null(nostr_serialize(PK, 1, 1, bad, "x"));
	json_decref(bad);
}

static void test_json_string_escapes(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(nostr_json_string(&b, "a/\xc3\xa9\"\\\n\r\t\b\f\x01\x1f\x7f z"), 0);
	assert_string_equal(b.data, "\"a/\xc3\xa9\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f z\"");
	buf_release(&b);
	buf_init(&b, 4);
	assert_int_equal(nostr_json_string(&b, "too long"), -1);
	buf_release(&b);
}

static void test_nostr_tools_signatures_verify(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVEC; i++) {
		assert_true(schnorr_ok(VECS[i].sig, VECS[i].id, PK));
		/* and not for another message */
		assert_false(schnorr_ok(VECS[i].sig, VECS[(i + 1) % NVEC].id, PK));
	}
}

static void test_sign(void **state)
{
	(void)state;
	uint8_t sk[32];
	unhex(SK, sk, 32);
	for (size_t i = 0; i < NVEC; i++) {
		json_t *tags = json_loads(VECS[i].tags, 0, NULL);
		struct nostr_event ev = {.created_at = VECS[i].created_at, .kind = 1, .tags = tags,
					 .content = VECS[i].content};
		assert_int_equal(nostr_event_sign(&ev, sk), 0);
		assert_string_equal(ev.pubkey, PK);
		assert_string_equal(ev.id, VECS[i].id);
		assert_true(schnorr_ok(ev.sig, ev.id, PK));
		/* fresh aux randomness: another signature, just as valid */
		struct nostr_event ev2 = ev;
		assert_int_equal(nostr_event_sign(&ev2, sk), 0);
		assert_string_equal(ev2.id, ev.id);
		assert_string_not_equal(ev2.sig, ev.sig);
		assert_true(schnorr_ok(ev2.sig, ev2.id, PK));
		/* a flipped bit breaks it */
		char bad[129];
		memcpy(bad, ev.sig, sizeof(bad));
		bad[10] = bad[10] == '0' ? '1' : '0';
		assert_false(schnorr_ok(bad, ev.id, PK));
		/* the event JSON parses back to the same fields */
		struct buf b;
		buf_init(&b, 1 << 20);
		assert_int_equal(nostr_event_json(&b, &ev), 0);
		json_error_t je;
		json_t *o = json_loads(b.data, 0, &je);
		assert_non_null(o);
		assert_string_equal(json_string_value(json_object_get(o, "id")), ev.id);
		assert_string_equal(json_string_value(json_object_get(o, "pubkey")), PK);
		assert_string_equal(json_string_value(json_object_get(o, "sig")), ev.sig);
		assert_int_equal(json_integer_value(json_object_get(o, "created_at")), ev.created_at);
		assert_int_equal(json_integer_value(json_object_get(o, "kind")), 1);
		assert_true(json_equal(json_object_get(o, "tags"), tags));
		assert_string_equal(json_string_value(json_object_get(o, "content")), VECS[i].content);
		json_decref(o);
		buf_release(&b);
		json_decref(tags);
	}
}

static void test_bech32(void **state)
{
	(void)state;
	uint8_t sk[32], pk[32], d[64], id[32];
	char out[256], hrp[16];
	size_t n = 0;
	unhex(SK, sk, 32);
	unhex(PK, pk, 32);
	assert_int_equal(nostr_bech32_encode("npub", pk, 32, out, sizeof(out)), 0);
	assert_string_equal(out, NPUB);
	assert_int_equal(nostr_bech32_encode("nsec", sk, 32, out, sizeof(out)), 0);
	assert_string_equal(out, NSEC);
	for (size_t i = 0; i < NVEC; i++) {
		unhex(VECS[i].id, id, 32);
		assert_int_equal(nostr_bech32_encode("note", id, 32, out, sizeof(out)), 0);
		assert_string_equal(out, VECS[i].note);
		assert_int_equal(nostr_nevent(id, NULL, -1, NULL, out, sizeof(out)), 0);
		assert_string_equal(out, VECS[i].nevent_id_only);
		assert_int_equal(nostr_bech32_decode(VECS[i].note, hrp, sizeof(hrp), d, &n, sizeof(d)), 0);
		assert_string_equal(hrp, "note");
		assert_int_equal(n, 32);
		assert_memory_equal(d, id, 32);
	}
	/* round trip and the NIP-19 examples */
	assert_int_equal(nostr_bech32_decode(NPUB, hrp, sizeof(hrp), d, &n, sizeof(d)), 0);
	assert_string_equal(hrp, "npub");
	assert_memory_equal(d, pk, 32);
	uint8_t want[32];
	assert_int_equal(nostr_bech32_decode("npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg",
					     hrp, sizeof(hrp), d, &n, sizeof(d)),
			 0);
	unhex("7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e", want, 32);
	assert_int_equal(n, 32);
	assert_memory_equal(d, want, 32);
	assert_int_equal(nostr_bech32_decode("nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5",
					     hrp, sizeof(hrp), d, &n, sizeof(d)),
			 0);
	unhex("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa", want, 32);
	assert_memory_equal(d, want, 32);
	/* upper case is bech32 too; mixed case, bad checksum, bad characters are not */
	char up[128];
	snprintf(up, sizeof(up), "%s", NPUB);
	for (char *p = up; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	assert_int_equal(nostr_bech32_decode(up, hrp, sizeof(hrp), d, &n, sizeof(d)), 0);
	assert_string_equal(hrp, "npub");
	assert_memory_equal(d, pk, 32);
	up[10] = (char)(up[10] + 32);
	assert_int_equal(nostr_bech32_decode(up, hrp, sizeof(hrp), d, &n, sizeof(d)), -1);
	char bad[128];
	snprintf(bad, sizeof(bad), "%s", NPUB);
	bad[20] = bad[20] == 'q' ? 'p' : 'q';
	assert_int_equal(nostr_bech32_decode(bad, hrp, sizeof(hrp), d, &n, sizeof(d)), -1);
	snprintf(bad, sizeof(bad), "%s", NPUB);
	bad[20] = 'b'; /* not in the alphabet */
	assert_int_equal(nostr_bech32_decode(bad, hrp, sizeof(hrp), d, &n, sizeof(d)), -1);
	assert_int_equal(nostr_bech32_decode("npub1", hrp, sizeof(hrp), d, &n, sizeof(d)), -1);
	assert_int_equal(nostr_bech32_decode("1qqqqqqqq", hrp, sizeof(hrp), d, &n, sizeof(d)), -1);
	/* too much data for the caller's buffer */
	assert_int_equal(nostr_bech32_decode(NPUB, hrp, sizeof(hrp), d, &n, 16), -1);
	/* output too small */
	assert_int_equal(nostr_bech32_encode("npub", pk, 32, out, 20), -1);
	/* random round trips of every length */
	for (size_t len = 0; len <= 64; len++) {
		uint8_t r[64];
		randombytes_buf(r, len);
		assert_int_equal(nostr_bech32_encode("x", r, len, out, sizeof(out)), 0);
		assert_int_equal(nostr_bech32_decode(out, hrp, sizeof(hrp), d, &n, sizeof(d)), 0);
		assert_int_equal(n, len);
		if (len)
			assert_memory_equal(d, r, len);
	}
}

/* TLV records of a decoded nevent */
static void nevent_fields(const uint8_t *d, size_t n, uint8_t id[32], uint8_t author[32],
			  char *relay, int *kind)
{
	*kind = -1;
	relay[0] = 0;
	for (size_t i = 0; i + 2 <= n;) {
		uint8_t t = d[i], l = d[i + 1];
		assert_true(i + 2 + l <= n);
		const uint8_t *v = d + i + 2;
		if (t == 0 && l == 32)
			memcpy(id, v, 32);
		else if (t == 2 && l == 32)
			memcpy(author, v, 32);
		else if (t == 1) {
			memcpy(relay, v, l);
			relay[l] = 0;
		} else if (t == 3 && l == 4)
			*kind = v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3];
		i += 2 + (size_t)l;
	}
}

static void test_nevent(void **state)
{
	(void)state;
	uint8_t d[512], id[32], author[32], want_id[32], pk[32];
	char hrp[16], relay[256], out[512];
	size_t n;
	int kind;
	unhex(VECS[0].id, want_id, 32);
	unhex(PK, pk, 32);
	/* nostr-tools' full nevent decodes to what it was made of */
	assert_int_equal(nostr_bech32_decode(NEVENT0_FULL, hrp, sizeof(hrp), d, &n, sizeof(d)), 0);
	assert_string_equal(hrp, "nevent");
	nevent_fields(d, n, id, author, relay, &kind);
	assert_memory_equal(id, want_id, 32);
	assert_memory_equal(author, pk, 32);
	assert_string_equal(relay, "wss://relay.example");
	assert_int_equal(kind, 1);
	/* ours carries the same fields (the TLV order may differ) */
	assert_int_equal(nostr_nevent(want_id, pk, 1, "wss://relay.example", out, sizeof(out)), 0);
	assert_int_equal(nostr_bech32_decode(out, hrp, sizeof(hrp), d, &n, sizeof(d)), 0);
	memset(id, 0, 32);
	memset(author, 0, 32);
	nevent_fields(d, n, id, author, relay, &kind);
	assert_memory_equal(id, want_id, 32);
	assert_memory_equal(author, pk, 32);
	assert_string_equal(relay, "wss://relay.example");
	assert_int_equal(kind, 1);
}

static void test_parse_seckey(void **state)
{
	(void)state;
	uint8_t sk[32], want[32], pk[32];
	const char *err = NULL;
	unhex(SK, want, 32);
	assert_int_equal(nostr_parse_seckey(SK, sk, &err), 0);
	assert_memory_equal(sk, want, 32);
	assert_int_equal(nostr_parse_seckey("  " NSEC "\n", sk, &err), 0);
	assert_memory_equal(sk, want, 32);
	assert_int_equal(nostr_parse_seckey("5C0C523F52A5B6FAD39ED2403092DF8CEBC36318B39383BCA6C00808626FAB3A",
					    sk, &err),
			 0);
	assert_memory_equal(sk, want, 32);
	assert_int_equal(nostr_pubkey(sk, pk), 0);
	char pkh[65];
	tohex(pk, 32, pkh);
	assert_string_equal(pkh, PK);
	/* the curve order n is not a key, n-1 is */
	assert_int_equal(nostr_parse_seckey("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
					    sk, &err),
			 -1);
	assert_non_null(strstr(err, "secp256k1"));
	assert_int_equal(nostr_parse_seckey("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364140",
					    sk, &err),
			 0);
	assert_int_equal(nostr_parse_seckey("0000000000000000000000000000000000000000000000000000000000000000",
					    sk, &err),
			 -1);
	assert_int_equal(nostr_parse_seckey(NPUB, sk, &err), -1);
	assert_non_null(strstr(err, "public key"));
	assert_int_equal(nostr_parse_seckey("abcd", sk, &err), -1);
	assert_int_equal(nostr_parse_seckey(SK "00", sk, &err), -1);
	assert_int_equal(nostr_parse_seckey(NULL, sk, &err), -1);
	char badnsec[80];
	snprintf(badnsec, sizeof(badnsec), "%s", NSEC);
	badnsec[strlen(badnsec) - 1] = badnsec[strlen(badnsec) - 1] == 'q' ? 'p' : 'q';
	assert_int_equal(nostr_parse_seckey(badnsec, sk, &err), -1);
	assert_non_null(strstr(err, "nsec"));
	/* an npub-shaped string under the nsec prefix has the wrong hrp */
	char wronghrp[80];
	uint8_t pkb[32];
	unhex(PK, pkb, 32);
	assert_int_equal(nostr_bech32_encode("nsecx", pkb, 32, wronghrp, sizeof(wronghrp)), 0);
	assert_int_equal(nostr_parse_seckey(wronghrp, sk, &err), -1);
}

static void text_is(const char *in, const char *want)
{
	char *got = nostr_text(in);
	if (strcmp(got, want))
		fail_msg("nostr_text(%s)\n  got  \"%s\"\n  want \"%s\"", in, got, want);
	free(got);
}

static void test_text(void **state)
{
	(void)state;
	/* plain text passes unchanged, entities and all */
	text_is("a < b && c &amp; d\n\n  two  ", "a < b && c &amp; d\n\n  two  ");
	text_is("", "");
	/* Postiz editor HTML */
	text_is("<p>Hello <strong>world</strong></p><p>second</p>", "Hello world\nsecond");
	text_is("<p>one</p><p></p><p>three</p>", "one\n\nthree");
	text_is("<p>a<br>b<br/>c</p>", "a\nb\nc");
	text_is("<p>&nbsp;x &unknown; &amp</p>", "x &unknown; &amp");
	text_is("<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>",
		"- one\n- two\n1. a\n2. b");
	text_is("<p>see <a href=\"https://example.com/a?b=1&amp;c=2\">this</a> and "
		"<a href='https://x.example'>https://x.example</a></p>",
		"see this (https://example.com/a?b=1&c=2) and https://x.example");
	text_is("<p>x<!-- hidden --><script>alert(1)</script><style>p{}</style>y</p>", "xy");
	text_is("<p>unclosed <b tag", "unclosed <b tag");
	text_is("<p>ctl\x01\x02 bad\xff utf8 \xc3</p>", "ctl bad\xef\xbf\xbd utf8 \xef\xbf\xbd");
	text_is("crlf\r\nline\rend", "crlf\nline\nend");
	/* NUL and control characters go, invalid code points become U+FFFD */
	text_is("<p>&#0; &#1;&#x110000; &#xD800;</p>", "\xef\xbf\xbd \xef\xbf\xbd");
	text_is("<p>caf\xc3\xa9 \xe2\x98\x83</p>", "caf\xc3\xa9 \xe2\x98\x83");
}

static void test_text_entities(void **state)
{
	(void)state;
	/* separate: nbsp becomes a plain space */
	text_is("<p>&lt;tag&gt; &amp; &quot;q&quot; &#39;s&#39; &apos;x&hellip; &#x1F600; &#128512;</p>",
		"<tag> & \"q\" 's' 'x\xe2\x80\xa6 \xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
	text_is("<p>a&nbsp;b&#160;c</p>", "a b c");
}

static void test_hashtags(void **state)
{
	(void)state;
	json_t *tags = json_array();
	nostr_hashtags(tags, "#Nostr and #nostr, #herald_1 #123 x#no url/#no "
			     "https://e.example/#frag (#caf\xc3\xa9) &#no");
	json_t *want = json_loads("[[\"t\",\"nostr\"],[\"t\",\"herald_1\"],[\"t\",\"caf\xc3\xa9\"]]", 0,
				  NULL);
	char *got = json_dumps(tags, JSON_COMPACT);
	if (!json_equal(tags, want))
		fail_msg("hashtags: %s", got);
	free(got);
	json_decref(want);
	json_decref(tags);
}

static void test_relays(void **state)
{
	(void)state;
	const char *err = NULL;
	json_t *in = json_loads("[\"wss://relay.damus.io\",\"ws://127.0.0.1:7000/path?x=1\","
				"\"wss://[::1]:443\",\"WSS://Nos.Lol\",\"wss://relay.damus.io\"]",
				0, NULL);
	json_t *out = nostr_relays(in, &err);
	assert_non_null(out);
	assert_int_equal(json_array_size(out), 4); /* the duplicate went */
	json_decref(out);
	json_decref(in);
	json_t *s = json_string(" wss://a.example, ws://b.example:81\nwss://c.example ");
	out = nostr_relays(s, &err);
	assert_non_null(out);
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(json_string_value(json_array_get(out, 1)), "ws://b.example:81");
	json_decref(out);
	json_decref(s);
	const char *bad[] = {
		"[]", "[\"http://a.example\"]", "[\"ws://\"]", "[\"ws://a b\"]", "[\"ws://a:0\"]",
		"[\"ws://a:65536\"]", "[\"ws://a:x\"]", "[\"ws://a#frag\"]", "[\"ws://user@a\"]",
		"[\"ws://[::1\"]", "[1]", "[\"ws://caf\xc3\xa9.example\"]", "{}", "3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		err = NULL;
		json_t *o = nostr_relays(v, &err);
		if (o)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(err);
		json_decref(v);
	}
	json_t *many = json_array();
	for (int i = 0; i < 21; i++) {
		char u[64];
		snprintf(u, sizeof(u), "wss://r%d.example", i);
		json_array_append_new(many, json_string(u));
	}
	assert_null(nostr_relays(many, &err));
	json_array_remove(many, 0);
	out = nostr_relays(many, &err);
	assert_non_null(out);
	json_decref(out);
	json_decref(many);
}

/* publish() without a network: the prepared frame, and the answers */
static void test_publish_steps(void **state)
{
	(void)state;
	const struct provider *pr = provider_find("nostr");
	assert_non_null(pr);
	assert_true(pr->flags & PROV_IDEMPOTENT);
	assert_non_null(pr->send);
	struct arena *a = arena_new();
	json_t *cred = json_pack("{s:s,s:[s]}", "private_key", NSEC, "relays", "ws://127.0.0.1:9");
	const char *profile = NULL, *err = NULL;
	assert_int_equal(pr->connect(a, cred, &profile, &err), 0);
	assert_string_equal(profile, NPUB);
	assert_string_equal(json_string_value(json_object_get(cred, "private_key")), SK);

	char first_id[65] = "";
	for (int round = 0; round < 2; round++) {
		struct pub_ctx c;
		memset(&c, 0, sizeof(c));
		c.a = a;
		c.credentials = cred;
		c.content = "<p>Hi #Herald</p>";
		c.media = json_array();
		c.settings = json_object();
		c.publish_at = 1700000000123LL;
		c.position = 1;
		c.root_release_id = VECS[0].id;
		c.parent_release_id = VECS[1].id;
		assert_int_equal(pr->publish(&c, NULL), PUB_SEND);
		assert_string_equal(c.req.method, "EVENT");
		assert_string_equal(c.req.url, "ws://127.0.0.1:9");
		json_t *frame = json_loadb(c.req.body, c.req.body_len, 0, NULL);
		assert_non_null(frame);
		assert_string_equal(json_string_value(json_array_get(frame, 0)), "EVENT");
		json_t *ev = json_array_get(frame, 1);
		assert_int_equal(json_integer_value(json_object_get(ev, "created_at")), 1700000001);
		assert_string_equal(json_string_value(json_object_get(ev, "content")), "Hi #Herald");
		json_t *want = json_pack("[[s,s,s,s],[s,s,s,s],[s,s],[s,s]]", "e", VECS[0].id, "", "root",
					 "e", VECS[1].id, "", "reply", "p", PK, "t", "herald");
		assert_true(json_equal(json_object_get(ev, "tags"), want));
		json_decref(want);
		/* the id is the hash of the NIP-01 serialization, the signature valid */
		char *ser = nostr_serialize(PK, 1700000001, 1, json_object_get(ev, "tags"), "Hi #Herald");
		uint8_t id[32];
		char idh[65];
		crypto_hash_sha256(id, (const unsigned char *)ser, strlen(ser));
		free(ser);
		tohex(id, 32, idh);
		assert_string_equal(json_string_value(json_object_get(ev, "id")), idh);
		assert_true(schnorr_ok(json_string_value(json_object_get(ev, "sig")), idh, PK));
		if (round == 0)
			memcpy(first_id, idh, sizeof(first_id));
		else
			assert_string_equal(first_id, idh); /* a retry: the same event */
		json_decref(frame);

		/* answers */
		struct hresp ok = {.status = 200, .body = "{}", .body_len = 2, .headers = ""};
		struct pub_ctx c2 = c;
		assert_int_equal(pr->publish(&c2, &ok), PUB_OK);
		assert_string_equal(c2.release_id, idh);
		assert_non_null(c2.release_url);
		assert_memory_equal(c2.release_url, "nostr:nevent1", 13);
		char refused[] = "{\"id\":\"x\",\"accepted\":0,\"relays\":[{\"url\":\"ws://r\",\"status\":"
				 "\"rejected\",\"message\":\"blocked: go away\",\"sent\":true}]}";
		struct hresp no = {.status = 400, .body = refused, .body_len = strlen(refused),
				   .headers = ""};
		c2 = c;
		assert_int_equal(pr->publish(&c2, &no), PUB_FAILED);
		assert_non_null(strstr(c2.error, "ws://r: blocked: go away"));
		struct hresp later = {.status = 503, .body = refused, .body_len = strlen(refused),
				      .headers = ""};
		c2 = c;
		assert_int_equal(pr->publish(&c2, &later), PUB_RETRY);
		json_decref(c.media);
		json_decref(c.settings);
	}

	/* a reply without the parent's event id cannot be made */
	struct pub_ctx c;
	memset(&c, 0, sizeof(c));
	c.a = a;
	c.credentials = cred;
	c.content = "x";
	c.media = json_array();
	c.position = 1;
	c.root_release_id = "msg_1";
	c.parent_release_id = "msg_1";
	assert_int_equal(pr->publish(&c, NULL), PUB_FAILED);
	json_decref(c.media);

	json_t *bad = json_pack("{s:s,s:[s]}", "private_key", "00", "relays", "ws://a");
	assert_int_equal(pr->connect(a, bad, &profile, &err), -1);
	json_decref(bad);
	json_decref(cred);
	arena_free(a);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serialize_matches_nostr_tools),
		cmocka_unit_test(test_json_string_escapes),
		cmocka_unit_test(test_nostr_tools_signatures_verify),
		cmocka_unit_test(test_sign),
		cmocka_unit_test(test_bech32),
		cmocka_unit_test(test_nevent),
		cmocka_unit_test(test_parse_seckey),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_entities),
		cmocka_unit_test(test_hashtags),
		cmocka_unit_test(test_relays),
		cmocka_unit_test(test_publish_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
