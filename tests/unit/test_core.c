/*
 * test_core: exact-value tests of the pure building blocks under src/core
 * and of the small pure helpers elsewhere (router, rate limiter, webhook
 * signature, Retry-After, status classification, response headers).
 *
 * Expected values are independent of the code under test: epoch
 * milliseconds were computed with Python's calendar.timegm, the webhook
 * signature is the Standard Webhooks reference test vector.
 *
 * A check that would abort the whole binary when it finds a bug
 * (undefined behaviour caught by UBSan) runs in a forked child, so the
 * failure is reported as one failed test and the others still run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/ratelimit.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/workq.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/client.h"
#include "http/router.h"
#include "providers/provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define assert_str(actual, expected)                     \
	do {                                             \
		const char *act_ = (actual);             \
		assert_non_null(act_);                   \
		assert_string_equal(act_, (expected));   \
	} while (0)

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts))
		;
}

/* Run fn in a child process; 0 when it exited normally with status 0.
 * Used where a bug shows up as a sanitizer abort. */
static int in_child(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ======================================================================
 * timeutil
 * ==================================================================== */

static void check_parse(const char *s, int64_t want)
{
	int64_t got = 12345;
	if (iso_parse(s, &got)) {
		print_error("iso_parse(\"%s\") refused; expected %lld\n", s, (long long)want);
		fail();
	}
	if (got != want) {
		print_error("iso_parse(\"%s\") = %lld; expected %lld\n", s, (long long)got,
			    (long long)want);
		fail();
	}
}

static void check_refused(const char *s)
{
	int64_t got = 0;
	if (!iso_parse(s, &got)) {
		print_error("iso_parse(\"%s\") accepted as %lld; expected refusal\n", s ? s : "(null)",
			    (long long)got);
		fail();
	}
}

#define T_BASE 1795341600000LL /* 2026-11-22T10:00:00Z */

static void test_iso_parse_zones(void **st)
{
	check_parse("2026-11-22T10:00:00Z", T_BASE);
	check_parse("2026-11-22T10:00:00.000Z", T_BASE);
	check_parse("2026-11-22T10:00:00z", T_BASE);           /* lower-case z */
	check_parse("2026-11-22t10:00:00Z", T_BASE);           /* lower-case t */
	check_parse("2026-11-22 10:00:00Z", T_BASE);           /* space separator */
	check_parse("2026-11-22T10:00:00", T_BASE);            /* no zone: UTC */
	check_parse("2026-11-22T10:00", T_BASE);               /* no seconds */
	check_parse("2026-11-22T10:00:00+00:00", T_BASE);
	check_parse("2026-11-22T10:00:00-00:00", T_BASE);
	check_parse("2026-11-22T10:00:00+05:30", 1795321800000LL); /* 04:30Z */
	check_parse("2026-11-22T10:00:00+0530", 1795321800000LL);
	check_parse("2026-11-22T10:00:00-08:00", 1795370400000LL); /* 18:00Z */
	check_parse("2026-11-22T10:00+05:30", 1795321800000LL);
	check_parse("2026-11-22T10:00:00.250-08:00", 1795370400250LL);
	/* an offset that moves the instant into the previous year */
	check_parse("2026-01-01T00:30:00+01:00", 1767223800000LL);
	check_parse("2026-11-22T10:07:00Z", 1795342020000LL);
	check_parse("2026-11-22T23:59:00Z", 1795391940000LL);
}

static void test_iso_parse_fractions(void **st)
{
	check_parse("2026-11-22T10:00:00.1Z", T_BASE + 100);
	check_parse("2026-11-22T10:00:00.12Z", T_BASE + 120);
	check_parse("2026-11-22T10:00:00.123Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.1234Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.12345Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.123456Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.1234567Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.12345678Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.123456789Z", T_BASE + 123);
	check_parse("2026-11-22T10:00:00.999999999Z", T_BASE + 999); /* truncates */
	check_parse("2026-11-22T10:00:00.007Z", T_BASE + 7);
	check_parse("2026-11-22T10:00:00,5Z", T_BASE + 500);          /* ISO comma */
	check_parse("2026-11-22T10:00:00.5", T_BASE + 500);
	check_refused("2026-11-22T10:00:00.1234567890Z"); /* 10 digits */
	check_refused("2026-11-22T10:00:00.Z");
	check_refused("2026-11-22T10:00:00.");
	check_refused("2026-11-22T10:00.500Z"); /* fraction without seconds */
}

static void test_iso_parse_dates(void **st)
{
	check_parse("2026-11-22", 1795305600000LL);
	check_parse("1970-01-01", 0);
	check_parse("1970-01-01T00:00:00Z", 0);
	check_parse("1970-01-01T00:00:00.001Z", 1);
	check_parse("2024-02-29", 1709164800000LL);
	check_parse("2024-02-29T12:34:56.789Z", 1709210096789LL);
	check_parse("2024-03-01", 1709251200000LL);
	check_parse("2000-02-29", 951782400000LL); /* divisible by 400: leap */
	check_parse("1969-12-31T23:59:59Z", -1000);
	check_parse("1969-12-31T23:59:59.999Z", -1);
	check_parse("1969-12-31", -86400000LL);
	check_parse("1900-01-01T00:00:00Z", -2208988800000LL);
	check_parse("0000-01-01T00:00:00Z", -62167219200000LL);
	check_parse("9999-12-31T23:59:59.999Z", 253402300799999LL);
	/* second 60 (a leap second) is accepted and lands on the next minute */
	check_parse("2016-12-31T23:59:60Z", 1483228800000LL);
}

static void test_iso_parse_refused(void **st)
{
	check_refused(NULL);
	check_refused("");
	check_refused("2023-02-29");          /* not a leap year */
	check_refused("1900-02-29");          /* divisible by 100, not 400 */
	check_refused("2023-02-29T00:00:00Z");
	check_refused("2026-13-01");
	check_refused("2026-00-10");
	check_refused("2026-01-32");
	check_refused("2026-01-00");
	check_refused("2026-04-31");
	check_refused("2026-11-22T24:00:00Z");
	check_refused("2026-11-22T23:60:00Z");
	check_refused("2026-11-22T23:59:61Z");
	check_refused("2026-11-22T10Z");
	check_refused("2026-11-22T");
	check_refused("2026-11-22T10:00:");
	check_refused("2026-11-22T1:00:00Z");
	check_refused("2026-1-22");
	check_refused("26-11-22");
	check_refused("2026/11/22");
	check_refused("+2026-11-22");
	check_refused(" 2026-11-22");
	check_refused("2026-11-22T10:00:00+24:00");
	check_refused("2026-11-22T10:00:00+05:60");
	check_refused("2026-11-22T10:00:00+05");
	check_refused("2026-11-22T10:00:00+5:30");
	/* trailing junk */
	check_refused("2026-11-22T10:00:00Zx");
	check_refused("2026-11-22T10:00:00ZZ");
	check_refused("2026-11-22x");
	check_refused("2026-11-22Z");
	check_refused("2026-11-22T10:00:00 ");
	check_refused("2026-11-22T10:00:00+05:30:00");
	check_refused("2026-11-22T10:00:00+05:30Z");
	check_refused("2026-11-22T10:00:00.5.5Z");
	check_refused("2026-11-22T10:00:00 UTC");
}

static void check_format(int64_t ms, const char *want, const char *want_postiz)
{
	char out[32];
	memset(out, 'X', sizeof(out));
	iso_format(ms, out);
	assert_string_equal(out, want);
	memset(out, 'X', sizeof(out));
	iso_format_postiz(ms, out);
	assert_string_equal(out, want_postiz);
	/* and the formatted form reads back to the same instant */
	int64_t back = 0;
	iso_format(ms, out);
	assert_int_equal(iso_parse(out, &back), 0);
	assert_int_equal(back, ms);
}

static void test_iso_format(void **st)
{
	check_format(0, "1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00");
	check_format(1, "1970-01-01T00:00:00.001Z", "1970-01-01T00:00:00");
	check_format(-1, "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59");
	check_format(-1000, "1969-12-31T23:59:59.000Z", "1969-12-31T23:59:59");
	check_format(-1001, "1969-12-31T23:59:58.999Z", "1969-12-31T23:59:58");
	check_format(T_BASE, "2026-11-22T10:00:00.000Z", "2026-11-22T10:00:00");
	check_format(1709210096789LL, "2024-02-29T12:34:56.789Z", "2024-02-29T12:34:56");
	check_format(-2208988800000LL, "1900-01-01T00:00:00.000Z", "1900-01-01T00:00:00");
	check_format(-62167219200000LL, "0000-01-01T00:00:00.000Z", "0000-01-01T00:00:00");
	check_format(253402300799999LL, "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59");
}

static void test_iso_roundtrip(void **st)
{
	/* 1900..2100 in steps of 475147123 ms (~5.5 days, odd, so every field varies) */
	for (int64_t ms = -2208988800000LL; ms < 4102444800000LL; ms += 475147123LL) {
		char out[32];
		int64_t back = 0;
		iso_format(ms, out);
		assert_int_equal(strlen(out), 24);
		assert_int_equal(iso_parse(out, &back), 0);
		assert_int_equal(back, ms);
		iso_format_postiz(ms, out);
		assert_int_equal(strlen(out), 19);
		assert_int_equal(iso_parse(out, &back), 0);
		assert_int_equal(back, ms - ((ms % 1000) + 1000) % 1000);
	}
}

static void test_now(void **st)
{
	int64_t a = now_ms();
	assert_true(a > 1700000000000LL); /* after 2023-11 */
	int64_t m1 = mono_us();
	sleep_ms(2);
	int64_t m2 = mono_us();
	assert_true(m2 - m1 >= 2000);
	assert_true(now_ms() >= a);
}

/* ======================================================================
 * arena
 * ==================================================================== */

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_arena_small(void **st)
{
	struct arena *a = arena_new();
	enum { N = 5000 };
	static unsigned char *ptrs[N];
	static size_t sizes[N];
	size_t expect_used = 0;
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i * 37 % 300);
		unsigned char *p = arena_alloc(a, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		size_t r = n ? (n + 15) / 16 * 16 : 16;
		assert_true(is_zero(p, r));
		memset(p, (int)(i & 0xff), n);
		ptrs[i] = p;
		sizes[i] = n;
		expect_used += r;
	}
	/* no allocation overlapped another */
	for (int i = 0; i < N; i++)
		for (size_t k = 0; k < sizes[i]; k++)
			assert_int_equal(ptrs[i][k], i & 0xff);
	assert_int_equal(arena_used(a), expect_used);
	arena_free(a);
	arena_free(NULL);
}

static void test_arena_big(void **st)
{
	struct arena *a = arena_new();
	char *s1 = arena_strdup(a, "before");
	size_t big = 3u << 20;
	unsigned char *p = arena_alloc(a, big);
	assert_int_equal((uintptr_t)p % 16, 0);
	assert_true(is_zero(p, big));
	memset(p, 0xab, big);
	/* small allocations keep working after (and around) the big one */
	char *s2 = arena_strdup(a, "after");
	unsigned char *q = arena_alloc(a, 2049); /* > a quarter block: own block */
	memset(q, 0xcd, 2049);
	assert_string_equal(s1, "before");
	assert_string_equal(s2, "after");
	assert_int_equal(p[0], 0xab);
	assert_int_equal(p[big - 1], 0xab);
	assert_int_equal(arena_used(a), 16 + big + 16 + 2064);
	arena_free(a);

	/* a big allocation as the very first one */
	a = arena_new();
	p = arena_alloc(a, 100000);
	assert_true(is_zero(p, 100000));
	s1 = arena_strdup(a, "x");
	assert_string_equal(s1, "x");
	arena_free(a);
}

static void test_arena_strings(void **st)
{
	struct arena *a = arena_new();
	assert_null(arena_strdup(a, NULL));
	assert_null(arena_strndup(a, NULL, 3));
	assert_str(arena_strdup(a, ""), "");
	assert_str(arena_strndup(a, "abcdef", 3), "abc");
	assert_str(arena_strndup(a, "ab\0cd", 5), "ab");
	assert_str(arena_printf(a, "%s-%d-%05.1f", "x", 42, 3.14159), "x-42-003.1");
	assert_str(arena_printf(a, "%s", ""), "");
	/* longer than a block */
	char *big = arena_printf(a, "%20000d|", 7);
	assert_int_equal(strlen(big), 20001);
	assert_int_equal(big[19999], '7');
	assert_int_equal(big[20000], '|');
	arena_free(a);
}

static char defer_log[64];

static void defer_rec(void *p)
{
	size_t n = strlen(defer_log);
	defer_log[n] = *(const char *)p;
	defer_log[n + 1] = 0;
}

static void test_arena_defer(void **st)
{
	static const char tags[] = "123456789";
	defer_log[0] = 0;
	struct arena *a = arena_new();
	arena_defer(a, defer_rec, (void *)&tags[0]);
	arena_defer(a, defer_rec, (void *)&tags[1]);
	(void)arena_alloc(a, 50000); /* interleave a big block */
	arena_defer(a, defer_rec, (void *)&tags[2]);
	for (int i = 0; i < 500; i++)
		(void)arena_alloc(a, 100); /* and several small blocks */
	arena_defer(a, defer_rec, (void *)&tags[3]);
	assert_string_equal(defer_log, ""); /* nothing runs before arena_free */
	arena_free(a);
	assert_string_equal(defer_log, "4321");

	/* a cleanup that frees malloc'd memory (ASan checks the leak) */
	a = arena_new();
	arena_defer(a, free, xstrdup("owned"));
	arena_free(a);
}

static void test_xalloc(void **st)
{
	char *p = xmalloc(0);
	assert_non_null(p);
	free(p);
	int *z = xcalloc(8, sizeof(int));
	for (int i = 0; i < 8; i++)
		assert_int_equal(z[i], 0);
	z = xrealloc(z, 100 * sizeof(int));
	z[99] = 5;
	free(z);
	char *s = xstrdup("dup");
	assert_string_equal(s, "dup");
	free(s);
}

/* ======================================================================
 * buf
 * ==================================================================== */

static void test_buf_bound(void **st)
{
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_adds(&b, "hello"), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	/* 5 + 6 > 10: refused, unchanged */
	assert_int_equal(buf_adds(&b, "world!"), -1);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	assert_int_equal(buf_printf(&b, "%d", 123456), -1);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	/* exactly to the bound */
	assert_int_equal(buf_adds(&b, "world"), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_true(b.cap <= b.max + 1);
	assert_int_equal(buf_add(&b, "x", 1), -1);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 10);
	/* a huge length must not wrap around the bound check */
	assert_int_equal(buf_add(&b, "x", SIZE_MAX), -1);
	assert_int_equal(buf_add(&b, "x", SIZE_MAX - 5), -1);
	assert_string_equal(b.data, "helloworld");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_printf(&b, "%s=%d", "ab", 1234567), 0); /* 10 chars */
	assert_string_equal(b.data, "ab=1234567");
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 10);
}

static void test_buf_binary_and_growth(void **st)
{
	struct buf b;
	buf_init(&b, 100000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_add(&b, "0123456789", i % 11 == 0 ? 0 : 10), 0);
	assert_int_equal(b.len, 10 * (10000 - 910));
	assert_int_equal(b.data[b.len], 0);
	assert_int_equal(memcmp(b.data + b.len - 10, "0123456789", 10), 0);
	buf_release(&b);

	buf_init(&b, 16);
	assert_int_equal(buf_add(&b, "a\0b", 3), 0); /* embedded NUL */
	assert_int_equal(b.len, 3);
	assert_int_equal(memcmp(b.data, "a\0b", 4), 0);
	buf_release(&b);
}

static void test_buf_take(void **st)
{
	struct buf b;
	buf_init(&b, 64);
	char *e = buf_take(&b); /* empty: still a malloc'd "" */
	assert_non_null(e);
	assert_string_equal(e, "");
	free(e);
	assert_int_equal(buf_adds(&b, "owned"), 0);
	char *d = buf_take(&b);
	assert_string_equal(d, "owned");
	/* the buffer forgot the storage and is reusable with the same bound */
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 64);
	assert_int_equal(buf_adds(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	assert_ptr_not_equal(b.data, d);
	assert_string_equal(d, "owned");
	free(d);
	buf_release(&b);
}

/* ======================================================================
 * ids
 * ==================================================================== */

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static int64_t ulid_time(const char *u)
{
	int64_t t = 0;
	for (int i = 0; i < 10; i++) {
		const char *c = strchr(crockford, u[i]);
		assert_non_null(c);
		t = t * 32 + (c - crockford);
	}
	return t;
}

static void test_ulid(void **st)
{
	char prev[ULID_LEN + 1] = "";
	for (int round = 0; round < 5; round++) {
		int64_t before = now_ms();
		char u[ULID_LEN + 1];
		ulid_new(u);
		int64_t after = now_ms();
		assert_int_equal(strlen(u), 26);
		for (int i = 0; i < 26; i++)
			assert_non_null(memchr(crockford, u[i], 32));
		/* 128 bits in 130: the first char carries 3 bits */
		assert_true(u[0] >= '0' && u[0] <= '7');
		int64_t t = ulid_time(u);
		assert_true(t >= before && t <= after);
		if (prev[0])
			assert_true(strcmp(prev, u) < 0); /* later ms sorts later */
		memcpy(prev, u, sizeof(u));
		sleep_ms(2);
	}
	/* same millisecond: the random part still differs */
	char a[ULID_LEN + 1], b[ULID_LEN + 1];
	ulid_new(a);
	ulid_new(b);
	assert_string_not_equal(a, b);
}

static void test_uuid(void **st)
{
	for (int n = 0; n < 200; n++) {
		char u[37];
		uuid_new(u);
		assert_int_equal(strlen(u), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(u[i], '-');
			else
				assert_non_null(memchr("0123456789abcdef", u[i], 16));
		}
		assert_int_equal(u[14], '4');
		assert_non_null(memchr("89ab", u[19], 4));
	}
}

static void test_hex(void **st)
{
	char out[16];
	hex_encode((const unsigned char *)"\x00\x7f\xff\x10", 4, out);
	assert_string_equal(out, "007fff10");
	hex_encode((const unsigned char *)"", 0, out);
	assert_string_equal(out, "");
	char r[129];
	random_hex(64, r);
	assert_int_equal(strlen(r), 128);
	assert_int_equal(strspn(r, "0123456789abcdef"), 128);
	char r2[129];
	random_hex(64, r2);
	assert_string_not_equal(r, r2);
}

static void test_id_valid(void **st)
{
	char s64[66];
	memset(s64, 'a', 64);
	s64[64] = 0;
	assert_true(id_valid("a"));
	assert_true(id_valid("A-z_09"));
	assert_true(id_valid("01jd8x9f7r6w5v4t3s2q1p0n9m"));
	assert_true(id_valid("5b1f7c1e-0d6a-4a7e-9f5e-2b9c8d7e6f5a"));
	assert_true(id_valid(s64));
	s64[64] = 'a';
	s64[65] = 0;
	assert_false(id_valid(s64)); /* 65 chars */
	assert_false(id_valid(NULL));
	assert_false(id_valid(""));
	assert_false(id_valid("a b"));
	assert_false(id_valid("a/b"));
	assert_false(id_valid("a.b"));
	assert_false(id_valid("../x"));
	assert_false(id_valid("a\tb"));
	assert_false(id_valid("caf\xc3\xa9"));
	assert_false(id_valid("a%2F"));
}

/* ======================================================================
 * config
 * ==================================================================== */

static const char *const herald_env[] = {
	"HERALD_LISTEN", "HERALD_DATA_DIR", "HERALD_PUBLIC_URL", "HERALD_DATABASE_URL",
	"HERALD_SECRET_KEY", "HERALD_ROLE", "HERALD_API_LIMIT", "HERALD_THREADS",
	"HERALD_MAX_BODY", "HERALD_TIMEOUT", "HERALD_ACCESS_LOG", "HERALD_RATE_LIMIT",
	"HERALD_OVERDUE_HORIZON", "HERALD_LEASE_SECONDS", "HERALD_RETRY_BASE_MS",
	"HERALD_RETRY_MAX", "HERALD_DRAIN_SECONDS", "HERALD_LOG_LEVEL",
};

static int clear_env(void **st)
{
	for (size_t i = 0; i < sizeof(herald_env) / sizeof(herald_env[0]); i++)
		unsetenv(herald_env[i]);
	return 0;
}

/* config_load on a copy of args (NULL-terminated); returns its result, the
 * compacted argv stays in argv_out (caller-sized). */
struct cfg_run {
	struct config c;
	char err[256];
	int argc;
	char *argv[16];
	int rc;
};

static void cfg_run(struct cfg_run *r, const char *const *args)
{
	memset(r, 0, sizeof(*r));
	r->argv[0] = "herald";
	r->argc = 1;
	for (; args && *args; args++)
		r->argv[r->argc++] = (char *)*args;
	r->argv[r->argc] = NULL;
	r->rc = config_load(&r->c, &r->argc, r->argv, r->err, sizeof(r->err));
}

static void test_config_defaults(void **st)
{
	struct cfg_run r;
	cfg_run(&r, NULL);
	assert_int_equal(r.rc, 0);
	assert_str(r.c.listen, "127.0.0.1:8080");
	assert_str(r.c.data_dir, "./data");
	assert_str(r.c.public_url, "http://127.0.0.1:8080");
	assert_int_equal(r.c.public_url_derived, 1);
	assert_str(r.c.database_url, "");
	assert_str(r.c.secret_key, "");
	assert_str(r.c.role, "all");
	assert_int_equal(r.c.api_limit, 90);
	assert_int_equal(r.c.threads, 0);
	assert_int_equal(r.c.max_body, 1048576);
	assert_int_equal(r.c.timeout, 30);
	assert_int_equal(r.c.access_log, 1);
	assert_int_equal(r.c.rate_limit, 1200);
	assert_int_equal(r.c.overdue_horizon, 172800);
	assert_int_equal(r.c.lease_seconds, 120);
	assert_int_equal(r.c.retry_base_ms, 30000);
	assert_int_equal(r.c.retry_max, 8);
	assert_int_equal(r.c.drain_seconds, 10);
	assert_str(r.c.log_level, "info");
	assert_int_equal(r.argc, 1);
	assert_null(r.argv[1]);
	config_release(&r.c);
	assert_null(r.c.listen);
}

static void test_config_env_and_flags(void **st)
{
	setenv("HERALD_LISTEN", "0.0.0.0:9000", 1);
	setenv("HERALD_THREADS", "4", 1);
	setenv("HERALD_API_LIMIT", "500", 1);
	setenv("HERALD_SECRET_KEY", "abc", 1);
	setenv("HERALD_LOG_LEVEL", "debug", 1);
	struct cfg_run r;
	cfg_run(&r, NULL);
	assert_int_equal(r.rc, 0);
	assert_str(r.c.listen, "0.0.0.0:9000");
	assert_str(r.c.public_url, "http://0.0.0.0:9000"); /* follows listen */
	assert_int_equal(r.c.public_url_derived, 1);
	assert_int_equal(r.c.threads, 4);
	assert_int_equal(r.c.api_limit, 500);
	assert_str(r.c.secret_key, "abc");
	assert_str(r.c.log_level, "debug");
	config_release(&r.c);

	/* flags beat the environment, in both spellings */
	const char *args[] = {"--threads", "8", "--api-limit=7", "--listen=[::1]:1", NULL};
	cfg_run(&r, args);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.threads, 8);
	assert_int_equal(r.c.api_limit, 7);
	assert_str(r.c.listen, "[::1]:1");
	assert_str(r.c.public_url, "http://[::1]:1");
	assert_int_equal(r.argc, 1);
	config_release(&r.c);

	/* the last occurrence wins; "--flag=" may carry '=' in the value */
	const char *args2[] = {"--threads=2", "--threads", "3", "--database-url=postgres://u@h/db?a=b",
			       NULL};
	cfg_run(&r, args2);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.threads, 3);
	assert_str(r.c.database_url, "postgres://u@h/db?a=b");
	config_release(&r.c);
	clear_env(NULL);
}

static void test_config_unknown_left(void **st)
{
	const char *args[] = {"serve", "--verbose", "--threads", "2", "--listening", "x",
			      "--rolex=1", "-t", "--", "--role=api", "tail", NULL};
	struct cfg_run r;
	cfg_run(&r, args);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.threads, 2);
	assert_str(r.c.role, "api");
	assert_int_equal(r.argc, 9);
	assert_string_equal(r.argv[0], "herald");
	assert_string_equal(r.argv[1], "serve");
	assert_string_equal(r.argv[2], "--verbose");
	assert_string_equal(r.argv[3], "--listening");
	assert_string_equal(r.argv[4], "x");
	assert_string_equal(r.argv[5], "--rolex=1");
	assert_string_equal(r.argv[6], "-t");
	assert_string_equal(r.argv[7], "--");
	assert_string_equal(r.argv[8], "tail");
	assert_null(r.argv[9]);
	config_release(&r.c);
}

static void check_cfg_error(const char *env, const char *envval, const char *const *args,
			    const char *want_err)
{
	if (env)
		setenv(env, envval, 1);
	struct cfg_run r;
	cfg_run(&r, args);
	if (env)
		unsetenv(env);
	config_release(&r.c);
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.err, want_err);
}

static void test_config_errors(void **st)
{
	const char *a1[] = {"--threads", "257", NULL};
	check_cfg_error(NULL, NULL, a1, "threads: '257' is not a number from 0 to 256");
	const char *a2[] = {"--threads=-1", NULL};
	check_cfg_error(NULL, NULL, a2, "threads: '-1' is not a number from 0 to 256");
	const char *a3[] = {"--api-limit=abc", NULL};
	check_cfg_error(NULL, NULL, a3, "api-limit: 'abc' is not a number from 1 to 100000000");
	const char *a4[] = {"--timeout=", NULL};
	check_cfg_error(NULL, NULL, a4, "timeout: '' is not a number from 1 to 3600");
	const char *a5[] = {"--max-body", "12x", NULL};
	check_cfg_error(NULL, NULL, a5, "max-body: '12x' is not a number from 1024 to 1073741824");
	const char *a6[] = {"--threads", NULL};
	check_cfg_error(NULL, NULL, a6, "--threads needs a value");
	const char *a7[] = {"--lease=99999999999999999999999", NULL};
	check_cfg_error(NULL, NULL, a7,
			"lease: '99999999999999999999999' is not a number from 5 to 86400");
	check_cfg_error("HERALD_TIMEOUT", "0", NULL, "timeout: '0' is not a number from 1 to 3600");
	check_cfg_error("HERALD_RETRY_MAX", " ", NULL, "retry-max: ' ' is not a number from 1 to 100");
	check_cfg_error("HERALD_ACCESS_LOG", "2", NULL, "access-log: '2' is not a number from 0 to 1");
	check_cfg_error("HERALD_ROLE", "boss", NULL, "role: 'boss' is not one of api, worker, all");
	const char *a8[] = {"--role", "API", NULL};
	check_cfg_error(NULL, NULL, a8, "role: 'API' is not one of api, worker, all");
	/* a bad environment value is overridden by a good flag */
	setenv("HERALD_THREADS", "999", 1);
	const char *ok[] = {"--threads", "1", NULL};
	struct cfg_run r;
	cfg_run(&r, ok);
	unsetenv("HERALD_THREADS");
	long threads = r.c.threads;
	config_release(&r.c);
	/* the documented precedence is flag, then environment: a flag replaces
	 * the environment value, so an unusable value it replaces must not
	 * stop the start */
	if (r.rc) {
		print_error("HERALD_THREADS=999 with --threads 1: config_load failed: %s\n", r.err);
		fail();
	}
	assert_int_equal(threads, 1);
}

static void test_config_public_url(void **st)
{
	struct cfg_run r;
	setenv("HERALD_PUBLIC_URL", "https://h.example/base///", 1);
	cfg_run(&r, NULL);
	assert_int_equal(r.rc, 0);
	assert_str(r.c.public_url, "https://h.example/base");
	assert_int_equal(r.c.public_url_derived, 0);
	config_release(&r.c);

	const char *args[] = {"--public-url", "https://p.example/", NULL};
	cfg_run(&r, args);
	assert_str(r.c.public_url, "https://p.example");
	assert_int_equal(r.c.public_url_derived, 0);
	config_release(&r.c);

	/* empty means "derive" */
	setenv("HERALD_PUBLIC_URL", "", 1);
	const char *args2[] = {"--listen", "10.0.0.1:81", NULL};
	cfg_run(&r, args2);
	assert_str(r.c.public_url, "http://10.0.0.1:81");
	assert_int_equal(r.c.public_url_derived, 1);
	config_release(&r.c);
	unsetenv("HERALD_PUBLIC_URL");
}

static void test_config_print(void **st)
{
	setenv("HERALD_DATABASE_URL", "postgres://user:pw@db/x", 1);
	struct cfg_run r;
	cfg_run(&r, NULL);
	unsetenv("HERALD_DATABASE_URL");
	assert_int_equal(r.rc, 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print(&r.c, f);
	config_help(f);
	fclose(f);
	assert_null(strstr(text, "pw@db")); /* secrets masked */
	assert_non_null(strstr(text, "HERALD_DATABASE_URL      ******** (set)"));
	assert_non_null(strstr(text, "HERALD_THREADS           0\n"));
	assert_non_null(strstr(text, "--api-limit"));
	free(text);
	config_release(&r.c);
}

/* ======================================================================
 * error
 * ==================================================================== */

static void test_herr_info(void **st)
{
	static const struct {
		enum herr e;
		const char *code;
		int status, retryable;
	} want[] = {
		{HERR_OK, "ok", 200, 0},
		{HERR_VALIDATION, "validation_failed", 400, 0},
		{HERR_PREFLIGHT, "preflight_failed", 400, 0},
		{HERR_UNAUTHENTICATED, "unauthenticated", 401, 0},
		{HERR_UNAUTHORIZED, "unauthorized", 403, 0},
		{HERR_NOT_FOUND, "not_found", 404, 0},
		{HERR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, 0},
		{HERR_INVALID_STATE, "invalid_state", 409, 0},
		{HERR_IDEMPOTENCY_CONFLICT, "idempotency_conflict", 409, 0},
		{HERR_IDEMPOTENCY_IN_PROGRESS, "idempotency_in_progress", 409, 1},
		{HERR_PAYLOAD_TOO_LARGE, "payload_too_large", 413, 0},
		{HERR_UNSUPPORTED_MEDIA, "unsupported_media_type", 415, 0},
		{HERR_RATE_LIMITED, "rate_limited", 429, 1},
		{HERR_PLATFORM_AUTH, "platform_auth_failed", 401, 0},
		{HERR_PLATFORM_REJECTED, "platform_rejected", 422, 0},
		{HERR_PLATFORM_RATE_LIMITED, "platform_rate_limited", 429, 1},
		{HERR_PLATFORM_UNAVAILABLE, "platform_unavailable", 502, 1},
		{HERR_INTERNAL, "internal_error", 500, 1},
		{HERR_UNAVAILABLE, "service_unavailable", 503, 1},
		{HERR_NOT_ACCEPTABLE, "not_acceptable", 406, 0},
		{HERR_ORIGIN_FORBIDDEN, "origin_not_allowed", 403, 0},
		{HERR_CREDENTIALS_REJECTED, "credentials_rejected", 400, 0},
	};
	assert_int_equal(sizeof(want) / sizeof(want[0]), HERR__COUNT);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct herr_info *h = herr_info(want[i].e);
		assert_non_null(h);
		assert_str(h->code, want[i].code);
		assert_int_equal(h->status, want[i].status);
		assert_int_equal(h->retryable, want[i].retryable);
		assert_non_null(h->summary);
		assert_true(strlen(h->summary) > 0);
		/* codes are unique */
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(herr_info(want[k].e)->code, h->code);
	}
	/* out of range maps to internal_error */
	assert_string_equal(herr_info(HERR__COUNT)->code, "internal_error");
	assert_string_equal(herr_info((enum herr)-1)->code, "internal_error");
	assert_string_equal(herr_info((enum herr)1000)->code, "internal_error");
}

/* ======================================================================
 * crypto
 * ==================================================================== */

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void test_crypto_no_master(void **st)
{
	/* runs before any secret_load of this process */
	assert_null(secret_seal("x"));
	assert_null(secret_open("00"));
}

static void test_api_key(void **st)
{
	char k1[API_KEY_LEN + 1], k2[API_KEY_LEN + 1];
	api_key_new(k1);
	api_key_new(k2);
	assert_int_equal(strlen(k1), 64);
	assert_int_equal(strspn(k1, "0123456789abcdef"), 64);
	assert_string_not_equal(k1, k2);
	char h1[KEY_HASH_LEN + 1], h1b[KEY_HASH_LEN + 1], h2[KEY_HASH_LEN + 1];
	api_key_hash(k1, h1);
	api_key_hash(k1, h1b);
	api_key_hash(k2, h2);
	assert_int_equal(strlen(h1), 64);
	assert_int_equal(strspn(h1, "0123456789abcdef"), 64);
	assert_string_equal(h1, h1b);
	assert_string_not_equal(h1, h2);
	assert_string_not_equal(h1, k1);
	/* one character differs -> different hash */
	char k3[API_KEY_LEN + 1];
	memcpy(k3, k1, sizeof(k3));
	k3[63] = k3[63] == '0' ? '1' : '0';
	char h3[KEY_HASH_LEN + 1];
	api_key_hash(k3, h3);
	assert_string_not_equal(h1, h3);
	/* the hash does not depend on the server secret */
	char err[256];
	assert_int_equal(secret_load(KEY_B, "/nonexistent", err, sizeof(err)), 0);
	api_key_hash(k1, h1b);
	assert_string_equal(h1, h1b);
}

static void test_secret_env(void **st)
{
	char err[256] = "";
	assert_int_equal(secret_load(KEY_A, "/nonexistent", err, sizeof(err)), 0);
	const char *plains[] = {"", "x", "token with spaces and \xc3\xa9", "{\"a\":1}"};
	for (size_t i = 0; i < 4; i++) {
		char *s = secret_seal(plains[i]);
		assert_non_null(s);
		/* hex(24-byte nonce || 16-byte tag || plaintext) */
		assert_int_equal(strlen(s), 2 * (24 + 16 + strlen(plains[i])));
		assert_int_equal(strspn(s, "0123456789abcdef"), strlen(s));
		char *s2 = secret_seal(plains[i]);
		assert_string_not_equal(s, s2); /* fresh nonce */
		char *p = secret_open(s);
		assert_str(p, plains[i]);
		free(p);
		free(s2);
		free(s);
	}
	char *s = secret_seal("credential");
	size_t n = strlen(s);
	/* tamper: every flipped position must refuse */
	for (size_t pos = 0; pos < n; pos += 7) {
		char *t = xstrdup(s);
		t[pos] = t[pos] == '0' ? '1' : '0';
		assert_null(secret_open(t));
		free(t);
	}
	char *t = xstrdup(s);
	t[n - 2] = 0; /* truncated */
	assert_null(secret_open(t));
	t[n - 3] = 0; /* odd length */
	assert_null(secret_open(t));
	free(t);
	t = xstrdup(s);
	t[10] = 'g'; /* not hex */
	assert_null(secret_open(t));
	free(t);
	assert_null(secret_open(NULL));
	assert_null(secret_open(""));
	assert_null(secret_open("00"));
	/* another key does not open it */
	assert_int_equal(secret_load(KEY_B, "/nonexistent", err, sizeof(err)), 0);
	assert_null(secret_open(s));
	/* back to the first key: opens again */
	assert_int_equal(secret_load(KEY_A, "/nonexistent", err, sizeof(err)), 0);
	char *p = secret_open(s);
	assert_str(p, "credential");
	free(p);
	free(s);
	/* malformed env values */
	assert_int_equal(secret_load("abc", "/nonexistent", err, sizeof(err)), -1);
	assert_string_equal(err, "HERALD_SECRET_KEY must be 64 hex characters");
	assert_int_equal(secret_load(KEY_A "00", "/nonexistent", err, sizeof(err)), -1);
	char bad[65];
	memcpy(bad, KEY_A, 65);
	bad[5] = 'z';
	assert_int_equal(secret_load(bad, "/nonexistent", err, sizeof(err)), -1);
}

static void test_secret_file(void **st)
{
	char dir[] = "/tmp/herald_test_core_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/secret.key", dir);
	char err[256] = "";

	assert_int_equal(secret_load("", dir, err, sizeof(err)), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char line[256] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strlen(line), 65);
	assert_int_equal(strspn(line, "0123456789abcdef"), 64);
	assert_int_equal(line[64], '\n');
	char *s = secret_seal("persisted");
	assert_non_null(s);

	/* switch to another key, then NULL env: the file is reused */
	assert_int_equal(secret_load(KEY_B, dir, err, sizeof(err)), 0);
	assert_null(secret_open(s));
	assert_int_equal(secret_load(NULL, dir, err, sizeof(err)), 0);
	char *p = secret_open(s);
	assert_str(p, "persisted");
	free(p);
	/* the file key is the same as passing its hex in the environment */
	line[64] = 0;
	assert_int_equal(secret_load(line, "/nonexistent", err, sizeof(err)), 0);
	p = secret_open(s);
	assert_str(p, "persisted");
	free(p);
	free(s);
	/* unchanged on disk */
	char again[256] = "";
	f = fopen(path, "r");
	assert_non_null(fgets(again, sizeof(again), f));
	fclose(f);
	assert_int_equal(strncmp(again, line, 64), 0);

	/* a corrupt file is an error, not a silent new key */
	f = fopen(path, "w");
	fputs("not hex\n", f);
	fclose(f);
	assert_int_equal(secret_load("", dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not 64 hex characters"));

	/* an unwritable location is an error with the path in it */
	assert_int_equal(secret_load("", "/nonexistent/dir", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/secret.key"));

	unlink(path);
	rmdir(dir);
	/* leave a known key loaded */
	assert_int_equal(secret_load(KEY_A, "/nonexistent", err, sizeof(err)), 0);
}

/* ======================================================================
 * router
 * ==================================================================== */

static const struct route routes[] = {
	{HM_GET, "/v1/posts", NULL, 0, "listPosts", NULL},
	{HM_POST, "/v1/posts", NULL, 0, "createPost", NULL},
	{HM_GET, "/v1/posts/{id}", NULL, 0, "getPost", NULL},
	{HM_DELETE, "/v1/posts/{id}", NULL, 0, "deletePost", NULL},
	{HM_GET, "/v1/orgs/{org}/posts/{id}", NULL, 0, "getOrgPost", NULL},
	{HM_PUT, "/v1/things/{id}", NULL, 0, "putThing", NULL},
	{HM_GET, "/", NULL, 0, "root", NULL},
	{HM_GET, "/v1/posts/{id}/attempts", NULL, 0, "attempts", NULL},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *match_op(enum http_method m, const char *path, struct arena *a,
			    struct route_match *out)
{
	if (!router_match(routes, NROUTES, m, path, a, out)) {
		assert_null(out->route);
		return NULL;
	}
	assert_non_null(out->route);
	return out->route->op_id;
}

static struct arena *router_arena;

static int router_setup(void **st)
{
	router_arena = arena_new();
	return 0;
}

static int router_teardown(void **st)
{
	arena_free(router_arena);
	router_arena = NULL;
	return 0;
}

static void test_router(void **st)
{
	struct arena *a = router_arena;
	struct route_match m;

	assert_str(match_op(HM_GET, "/v1/posts", a, &m), "listPosts");
	assert_ptr_equal(m.route, &routes[0]);
	assert_int_equal(m.nparams, 0);
	assert_int_equal(m.path_matched, 0);
	assert_str(match_op(HM_POST, "/v1/posts", a, &m), "createPost");
	assert_str(match_op(HM_GET, "/v1/posts/", a, &m), "listPosts"); /* trailing slash */
	assert_str(match_op(HM_GET, "/", a, &m), "root");

	assert_str(match_op(HM_GET, "/v1/posts/abc", a, &m), "getPost");
	assert_int_equal(m.nparams, 1);
	assert_str(m.params[0], "abc");
	assert_str(match_op(HM_GET, "/v1/posts/abc/", a, &m), "getPost");
	assert_int_equal(m.nparams, 1);
	assert_str(m.params[0], "abc");
	assert_str(match_op(HM_DELETE, "/v1/posts/x%20y", a, &m), "deletePost");
	assert_str(m.params[0], "x%20y");
	assert_str(match_op(HM_GET, "/v1/posts/abc/attempts", a, &m), "attempts");
	assert_str(m.params[0], "abc");

	assert_str(match_op(HM_GET, "/v1/orgs/o1/posts/p2", a, &m), "getOrgPost");
	assert_int_equal(m.nparams, 2);
	assert_str(m.params[0], "o1");
	assert_str(m.params[1], "p2");

	/* HEAD is served by the GET route */
	assert_str(match_op(HM_HEAD, "/v1/posts/q", a, &m), "getPost");
	assert_str(m.params[0], "q");
	assert_str(match_op(HM_HEAD, "/v1/posts", a, &m), "listPosts");

	/* 405: the path exists with another method */
	assert_null(match_op(HM_PATCH, "/v1/posts/abc", a, &m));
	assert_int_equal(m.path_matched, 1);
	assert_null(match_op(HM_GET, "/v1/things/abc", a, &m));
	assert_int_equal(m.path_matched, 1);
	assert_null(match_op(HM_HEAD, "/v1/things/abc", a, &m));
	assert_int_equal(m.path_matched, 1);
	assert_null(match_op(HM_DELETE, "/v1/posts", a, &m));
	assert_int_equal(m.path_matched, 1);

	/* 404: extra or missing segments, empty captures, near misses */
	const char *nomatch[] = {
		"/v1/posts/abc/extra", "/v1/posts/abc/attempts/x", "/v1", "/v1/",
		"/v1/orgs/o1/posts", "/v1/orgs/o1/posts/", "/v1/orgs//posts/p2",
		"/v1/orgs/o1/posts//", "/v1/posts//", "/v1//posts", "//v1/posts", "/v1/postsx",
		"/V1/posts", "/v1/post", "/v1/posts/abc//", "/v1/things", "/v1/things/",
		"///", "/x", "/v1/posts/{id}x/y",
	};
	for (size_t i = 0; i < sizeof(nomatch) / sizeof(nomatch[0]); i++) {
		if (match_op(HM_GET, nomatch[i], a, &m)) {
			print_error("router matched \"%s\" to %s\n", nomatch[i], m.route->op_id);
			fail();
		}
		if (m.path_matched) {
			print_error("router reported \"%s\" as path_matched\n", nomatch[i]);
			fail();
		}
	}
	/* the path must be absolute */
	assert_null(match_op(HM_GET, "v1/posts", a, &m));
	assert_null(match_op(HM_GET, "", a, &m));
	assert_null(match_op(HM_GET, NULL, a, &m));
}

static void test_router_capture_limit(void **st)
{
	static const struct route many[] = {
		{HM_GET, "/{a}/{b}/{c}/{d}", NULL, 0, "four", NULL},
		{HM_GET, "/{a}/{b}/{c}/{d}/{e}", NULL, 0, "five", NULL},
	};
	struct arena *a = arena_new();
	struct route_match m;
	assert_int_equal(router_match(many, 2, HM_GET, "/1/2/3/4", a, &m), 1);
	assert_int_equal(m.nparams, 4);
	assert_str(m.params[3], "4");
	/* more captures than ROUTE_MAX_PARAMS never match (no overflow) */
	assert_int_equal(router_match(many, 2, HM_GET, "/1/2/3/4/5", a, &m), 0);
	arena_free(a);
}

/* ======================================================================
 * rate limiter
 * ==================================================================== */

static void test_rl(void **st)
{
	struct rl_result r;
	const int64_t t0 = 5000000;
	const char *key = "test_core:rl:a";
	for (long i = 1; i <= 3; i++) {
		rl_hit(key, 3, 60000, t0 + i, &r);
		assert_int_equal(r.allowed, 1);
		assert_int_equal(r.limit, 3);
		assert_int_equal(r.remaining, 3 - i);
		assert_int_equal(r.reset_s, 60); /* ceil((60000 - i) / 1000) */
	}
	rl_hit(key, 3, 60000, t0 + 30500, &r);
	assert_int_equal(r.allowed, 0);
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.limit, 3);
	assert_int_equal(r.reset_s, 30); /* 29500 ms left */
	rl_hit(key, 3, 60000, t0 + 59999, &r);
	assert_int_equal(r.allowed, 0);
	assert_int_equal(r.reset_s, 1);
	/* another key is independent */
	rl_hit("test_core:rl:b", 3, 60000, t0 + 59999, &r);
	assert_int_equal(r.allowed, 1);
	assert_int_equal(r.remaining, 2);
	/* the window ends at t0 + 1 + 60000: a fresh window */
	rl_hit(key, 3, 60000, t0 + 60001, &r);
	assert_int_equal(r.allowed, 1);
	assert_int_equal(r.remaining, 2);
	assert_int_equal(r.reset_s, 60);
	/* a hit far later also starts over */
	rl_hit(key, 3, 60000, t0 + 10000000, &r);
	assert_int_equal(r.allowed, 1);
	assert_int_equal(r.remaining, 2);
}

static void test_rl_limit_one(void **st)
{
	struct rl_result r;
	const int64_t t0 = 7000000;
	rl_hit("test_core:rl:one", 1, 3600000, t0, &r);
	assert_int_equal(r.allowed, 1);
	assert_int_equal(r.remaining, 0);
	assert_int_equal(r.reset_s, 3600);
	for (int i = 0; i < 5; i++) {
		rl_hit("test_core:rl:one", 1, 3600000, t0 + 1000 * i + 1, &r);
		assert_int_equal(r.allowed, 0);
		assert_int_equal(r.remaining, 0);
	}
	/* many distinct keys: memory stays bounded, nothing crashes */
	char k[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "test_core:bulk:%d", i);
		rl_hit(k, 10, 1000, t0, &r);
		assert_int_equal(r.allowed, 1);
	}
}

/* ======================================================================
 * providers: webhook signature, Retry-After, status classes
 * ==================================================================== */

static void test_webhook_sign(void **st)
{
	/* The Standard Webhooks reference test vector (the same one the
	 * reference libraries assert; recomputed independently with Python
	 * hmac/hashlib/base64 when this test was written). */
	const char *body = "{\"test\": 2432232314}";
	char out[128];
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
				      strlen(body), out),
			 0);
	assert_string_equal(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* the whsec_ prefix is optional */
	assert_int_equal(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
				      strlen(body), out),
			 0);
	assert_string_equal(out, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* body_len is honoured, not strlen: sign a prefix of the body.
	 * Expected: base64(HMAC-SHA256(b64decode(secret),
	 *   b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test"'))
	 * computed with Python hmac/base64 when this test was written. */
	assert_int_equal(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				      "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body, 7, out),
			 0);
	assert_string_equal(out, "v1,MVYS4h4inLaDyVZ+WZRHMJFnKK/txgcSacereJI7UPo=");
	/* malformed secrets */
	assert_int_equal(webhook_sign("whsec_", "m", "1", "", 0, out), -1);
	assert_int_equal(webhook_sign("whsec_!!!notbase64", "m", "1", "", 0, out), -1);
}

/* connect is where a channel's secret is checked ("Connecting checks the
 * URL and the signing secret", webhook.c): a secret that webhook_sign
 * cannot use must be refused there, not accepted and then fail every
 * publish permanently. */
static void test_webhook_connect(void **st)
{
	const struct provider *p = provider_find("webhook");
	assert_non_null(p);
	assert_non_null(p->connect);
	struct arena *a = arena_new();
	const char *profile = NULL, *err = NULL;
	char sig[128];

	/* no secret: one is generated, and it signs */
	json_t *c = json_pack("{s:s}", "url", "https://hooks.example/in");
	assert_int_equal(p->connect(a, c, &profile, &err), 0);
	assert_str(profile, "https://hooks.example/in");
	const char *gen = json_string_value(json_object_get(c, "secret"));
	assert_non_null(gen);
	assert_int_equal(strncmp(gen, "whsec_", 6), 0);
	assert_int_equal(webhook_sign(gen, "msg_1", "1", "{}", 2, sig), 0);
	json_decref(c);

	/* a well-formed secret is accepted */
	c = json_pack("{s:s,s:s}", "url", "http://h.example/x", "secret",
		      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	assert_int_equal(p->connect(a, c, &profile, &err), 0);
	json_decref(c);

	/* bad URLs and short secrets are refused */
	c = json_pack("{s:s}", "url", "ftp://h.example/x");
	assert_int_equal(p->connect(a, c, &profile, &err), -1);
	json_decref(c);
	c = json_pack("{s:s,s:s}", "url", "https://h.example/x", "secret", "whsec_c2hvcnQ=");
	assert_int_equal(p->connect(a, c, &profile, &err), -1);
	json_decref(c);

	/* a secret webhook_sign refuses must be refused at connect */
	static const char *const unusable[] = {
		"this is not base64 at all!",
		"whsec_this-is-not-base64-either!",
	};
	for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
		assert_int_equal(webhook_sign(unusable[i], "m", "1", "", 0, sig), -1);
		c = json_pack("{s:s,s:s}", "url", "https://h.example/x", "secret", unusable[i]);
		int rc = p->connect(a, c, &profile, &err);
		json_decref(c);
		if (rc != -1) {
			print_error("webhook connect accepted secret \"%s\" that webhook_sign "
				    "refuses\n", unusable[i]);
			arena_free(a);
			fail();
		}
	}
	arena_free(a);
}

static void test_classify(void **st)
{
	static const struct {
		long status;
		enum pub_status want;
	} cases[] = {
		{200, PUB_OK},     {201, PUB_OK},     {204, PUB_OK},     {301, PUB_FAILED},
		{400, PUB_FAILED}, {401, PUB_AUTH_EXPIRED}, {403, PUB_FAILED}, {404, PUB_FAILED},
		{408, PUB_RETRY},  {409, PUB_FAILED}, {422, PUB_FAILED}, {425, PUB_RETRY},
		{429, PUB_RETRY},  {500, PUB_RETRY},  {502, PUB_RETRY},  {503, PUB_RETRY},
		{504, PUB_RETRY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (pub_classify_status(cases[i].status) != cases[i].want) {
			print_error("pub_classify_status(%ld) = %d, expected %d\n", cases[i].status,
				    pub_classify_status(cases[i].status), cases[i].want);
			fail();
		}
	}
}

static int64_t retry_after_of(const char *headers)
{
	struct hresp r;
	memset(&r, 0, sizeof(r));
	r.status = 429;
	r.headers = (char *)headers;
	return pub_retry_after(&r);
}

static void http_date(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
				     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void test_retry_after(void **st)
{
	assert_int_equal(retry_after_of("HTTP/1.1 429 Too Many\r\nRetry-After: 120\r\n\r\n"), 120000);
	assert_int_equal(retry_after_of("HTTP/1.1 429 Too Many\r\nretry-after:7\r\n\r\n"), 7000);
	assert_int_equal(retry_after_of("HTTP/1.1 503 x\r\nRETRY-AFTER:   30  \r\n\r\n"), 30000);
	assert_int_equal(retry_after_of("HTTP/1.1 429 x\r\nRetry-After: 0\r\n\r\n"), 0);
	/* absent, empty, negative, junk */
	assert_int_equal(retry_after_of("HTTP/1.1 429 x\r\nContent-Type: text/plain\r\n\r\n"), 0);
	assert_int_equal(retry_after_of(NULL), 0);
	assert_int_equal(retry_after_of(""), 0);
	assert_int_equal(retry_after_of("HTTP/1.1 429 x\r\nRetry-After:\r\n\r\n"), 0);
	assert_int_equal(retry_after_of("HTTP/1.1 429 x\r\nRetry-After: -5\r\n\r\n"), 0);
	assert_int_equal(retry_after_of("HTTP/1.1 429 x\r\nRetry-After: soon\r\n\r\n"), 0);
	assert_int_equal(retry_after_of("HTTP/1.1 429 x\r\nRetry-After: 12abc\r\n\r\n"), 0);

	/* an HTTP-date two minutes ahead */
	char date[64], hdr[160];
	http_date(time(NULL) + 120, date, sizeof(date));
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 503 x\r\nRetry-After: %s\r\n\r\n", date);
	int64_t v = retry_after_of(hdr);
	assert_true(v > 110000 && v <= 120000);
	/* an HTTP-date in the past: retry now */
	http_date(time(NULL) - 3600, date, sizeof(date));
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 503 x\r\nRetry-After: %s\r\n\r\n", date);
	assert_int_equal(retry_after_of(hdr), 0);
	assert_int_equal(
		retry_after_of("HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n"), 0);
}

static void huge_retry_after(void)
{
	/* strtol saturates at LONG_MAX; the result must still be a sane,
	 * non-negative delay and the conversion to ms must not overflow */
	int64_t v = retry_after_of("HTTP/1.1 429 x\r\nRetry-After: 99999999999999999999\r\n\r\n");
	if (v < 0)
		_exit(1);
	v = retry_after_of("HTTP/1.1 429 x\r\nRetry-After: 9223372036854776\r\n\r\n");
	if (v < 0)
		_exit(1);
}

static void test_retry_after_huge(void **st)
{
	/* in a child: signed overflow aborts the process under UBSan */
	assert_int_equal(in_child(huge_retry_after), 0);
}

static int hdr(const char *block, const char *name, char *out, size_t outlen)
{
	struct hresp r;
	memset(&r, 0, sizeof(r));
	r.headers = (char *)block;
	return hresp_header(&r, name, out, outlen);
}

static void test_hresp_header(void **st)
{
	const char *block = "HTTP/1.1 200 OK\r\n"
			    "Content-Type: application/json\r\n"
			    "X-Spaces:    padded value   \r\n"
			    "X-Tab:\tt1\t\r\n"
			    "X-Empty:\r\n"
			    "X-Dup: first\r\n"
			    "x-dup: second\r\n"
			    "X-Colon: a: b\r\n"
			    "X-LF-Only: lf\n"
			    "\r\n";
	char out[64];
	assert_int_equal(hdr(block, "Content-Type", out, sizeof(out)), 0);
	assert_string_equal(out, "application/json");
	assert_int_equal(hdr(block, "content-type", out, sizeof(out)), 0);
	assert_string_equal(out, "application/json");
	assert_int_equal(hdr(block, "CONTENT-TYPE", out, sizeof(out)), 0);
	assert_string_equal(out, "application/json");
	assert_int_equal(hdr(block, "x-spaces", out, sizeof(out)), 0);
	assert_string_equal(out, "padded value");
	assert_int_equal(hdr(block, "X-Empty", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(hdr(block, "X-Dup", out, sizeof(out)), 0);
	assert_string_equal(out, "first");
	assert_int_equal(hdr(block, "X-Colon", out, sizeof(out)), 0);
	assert_string_equal(out, "a: b");
	assert_int_equal(hdr(block, "X-LF-Only", out, sizeof(out)), 0);
	assert_string_equal(out, "lf");
	/* absent; prefixes and suffixes of a name are other names */
	assert_int_equal(hdr(block, "X-Absent", out, sizeof(out)), -1);
	assert_int_equal(hdr(block, "Content", out, sizeof(out)), -1);
	assert_int_equal(hdr(block, "Type", out, sizeof(out)), -1);
	assert_int_equal(hdr(block, "Content-Type-X", out, sizeof(out)), -1);
	assert_int_equal(hdr(NULL, "Content-Type", out, sizeof(out)), -1);
	assert_int_equal(hdr("", "Content-Type", out, sizeof(out)), -1);
	/* last line without a newline */
	assert_int_equal(hdr("A: 1\r\nB: 2", "b", out, sizeof(out)), 0);
	assert_string_equal(out, "2");
	/* truncated to the output size, still terminated */
	char small[5];
	assert_int_equal(hdr(block, "Content-Type", small, sizeof(small)), 0);
	assert_string_equal(small, "appl");
	assert_int_equal(hdr(block, "Content-Type", small, 1), 0);
	assert_string_equal(small, "");
	/* HTTP's optional whitespace is SP or HTAB on both sides (RFC 9110 5.5) */
	assert_int_equal(hdr(block, "X-Tab", out, sizeof(out)), 0);
	assert_string_equal(out, "t1");
}

/* ======================================================================
 * main
 * ==================================================================== */

static int group_setup(void **st)
{
	log_set_level((enum log_level)(LOG_ERROR + 1));
	return crypto_init();
}


/* ---- workq ---- */

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>

struct wq_item {
	pthread_t loop, ran_on, done_on;
	int worked, finished;
	int *remaining;
	struct event_base *base;
};

static void wq_work(void *p)
{
	struct wq_item *it = p;
	it->ran_on = pthread_self();
	it->worked = 1;
}

static void wq_done(void *p)
{
	struct wq_item *it = p;
	it->done_on = pthread_self();
	it->finished = it->worked; /* done only ever after work */
	if (--*it->remaining == 0)
		event_base_loopbreak(it->base);
}

static void wq_guard(evutil_socket_t fd, short what, void *p)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(p);
}

static void test_workq(void **state)
{
	(void)state;
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	assert_non_null(base);
	struct wq_item one = {0};
	/* not started: refused, so the caller runs it inline */
	assert_int_equal(workq_submit(base, wq_work, wq_done, &one), -1);
	assert_int_equal(workq_submit(NULL, wq_work, wq_done, &one), -1);
	assert_int_equal(workq_start(2), 0);
	enum { N = 200 };
	static struct wq_item items[N];
	int remaining = N;
	for (int i = 0; i < N; i++) {
		items[i] = (struct wq_item){.loop = pthread_self(), .remaining = &remaining, .base = base};
		assert_int_equal(workq_submit(base, wq_work, wq_done, &items[i]), 0);
	}
	/* a guard timer keeps the loop running (and bounds the wait) */
	struct event *guard = evtimer_new(base, wq_guard, base);
	struct timeval tv = {10, 0};
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
	assert_int_equal(remaining, 0);
	for (int i = 0; i < N; i++) {
		assert_true(items[i].finished);
		assert_false(pthread_equal(items[i].ran_on, items[i].loop)); /* off the loop */
		assert_true(pthread_equal(items[i].done_on, items[i].loop)); /* back on it */
	}
	workq_stop();
	assert_int_equal(workq_submit(base, wq_work, wq_done, &one), -1);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest time_tests[] = {
		cmocka_unit_test(test_iso_parse_zones),
		cmocka_unit_test(test_iso_parse_fractions),
		cmocka_unit_test(test_iso_parse_dates),
		cmocka_unit_test(test_iso_parse_refused),
		cmocka_unit_test(test_iso_format),
		cmocka_unit_test(test_iso_roundtrip),
		cmocka_unit_test(test_now),
	};
	const struct CMUnitTest mem_tests[] = {
		cmocka_unit_test(test_arena_small),
		cmocka_unit_test(test_arena_big),
		cmocka_unit_test(test_arena_strings),
		cmocka_unit_test(test_arena_defer),
		cmocka_unit_test(test_xalloc),
		cmocka_unit_test(test_buf_bound),
		cmocka_unit_test(test_buf_binary_and_growth),
		cmocka_unit_test(test_buf_take),
	};
	const struct CMUnitTest id_tests[] = {
		cmocka_unit_test(test_ulid),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_id_valid),
	};
	const struct CMUnitTest config_tests[] = {
		cmocka_unit_test_setup_teardown(test_config_defaults, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_config_env_and_flags, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_config_unknown_left, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_config_errors, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_config_public_url, clear_env, clear_env),
		cmocka_unit_test_setup_teardown(test_config_print, clear_env, clear_env),
		cmocka_unit_test(test_herr_info),
	};
	const struct CMUnitTest crypto_tests[] = {
		cmocka_unit_test(test_crypto_no_master), /* must stay first */
		cmocka_unit_test(test_api_key),
		cmocka_unit_test(test_secret_env),
		cmocka_unit_test(test_secret_file),
	};
	const struct CMUnitTest http_tests[] = {
		cmocka_unit_test_setup_teardown(test_router, router_setup, router_teardown),
		cmocka_unit_test(test_router_capture_limit),
		cmocka_unit_test(test_rl),
		cmocka_unit_test(test_rl_limit_one),
		cmocka_unit_test(test_webhook_sign),
		cmocka_unit_test(test_webhook_connect),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_retry_after_huge),
		cmocka_unit_test(test_hresp_header),
		cmocka_unit_test(test_workq),
	};
	int failed = 0;
	failed += cmocka_run_group_tests_name("time", time_tests, group_setup, NULL);
	failed += cmocka_run_group_tests_name("memory", mem_tests, group_setup, NULL);
	failed += cmocka_run_group_tests_name("ids", id_tests, group_setup, NULL);
	failed += cmocka_run_group_tests_name("config", config_tests, group_setup, NULL);
	failed += cmocka_run_group_tests_name("crypto", crypto_tests, group_setup, NULL);
	failed += cmocka_run_group_tests_name("http", http_tests, group_setup, NULL);
	return failed ? 1 : 0;
}
