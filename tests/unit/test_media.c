/*
 * test_media: the pure parts of the media pipeline: the SSRF address
 * classifier and allow list, object names, the multipart parser and the
 * MP4 box walker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "media/media.h"
#include "media/multipart.h"
#include "media/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

static void test_ssrf_blocked(void **state)
{
	(void)state;
	static const char *const blocked[] = {
		"127.0.0.1", "127.8.9.10", "0.0.0.0", "10.0.0.1", "10.255.255.255", "172.16.0.1",
		"172.31.255.254", "192.168.0.1", "169.254.169.254", "169.254.0.1", "100.64.0.1",
		"100.100.100.200", "100.127.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1",
		"255.255.255.255", "192.0.2.1", "198.18.0.1", "::", "::1", "::ffff:127.0.0.1",
		"::ffff:169.254.169.254", "::ffff:10.1.2.3", "fd00:ec2::254", "fc00::1", "fe80::1",
		"ff02::1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "2001:db8::1", "::127.0.0.1",
	};
	static const char *const open[] = {
		"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"192.167.255.255", "169.253.255.255", "93.184.216.34", "2606:4700:4700::1111",
		"::ffff:8.8.8.8", "2a00:1450:4007:80e::200e", "64:ff9b::808:808",
	};
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		if (ssrf_blocked_str(blocked[i]) != 1)
			fail_msg("%s should be blocked", blocked[i]);
	}
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
		if (ssrf_blocked_str(open[i]) != 0)
			fail_msg("%s should be allowed", open[i]);
	}
	assert_int_equal(ssrf_blocked_str("localhost"), -1);
	struct sockaddr_un_like {
		sa_family_t f;
		char p[20];
	} un = {AF_UNIX, "/tmp/x"};
	assert_int_equal(ssrf_blocked((const struct sockaddr *)&un, sizeof(un)), 1);
}

static void test_ssrf_list(void **state)
{
	(void)state;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct sockaddr_in6 b = {.sin6_family = AF_INET6};
	inet_pton(AF_INET, "10.1.2.3", &a.sin_addr);
	inet_pton(AF_INET6, "fd00:ec2::254", &b.sin6_addr);
	const struct sockaddr *sa = (const struct sockaddr *)&a, *sb = (const struct sockaddr *)&b;
	assert_true(ssrf_in_list("10.1.2.0/24", sa, sizeof(a)));
	assert_true(ssrf_in_list("192.168.0.0/16, 10.1.2.3 ", sa, sizeof(a)));
	assert_true(ssrf_in_list("192.168.0.0/16,10.1.2.3", sa, sizeof(a)));
	assert_false(ssrf_in_list("10.1.3.0/24", sa, sizeof(a)));
	assert_false(ssrf_in_list("10.1.2.0/33", sa, sizeof(a)));
	assert_false(ssrf_in_list("", sa, sizeof(a)));
	assert_false(ssrf_in_list("fd00::/8", sa, sizeof(a)));
	assert_true(ssrf_in_list("fd00::/8", sb, sizeof(b)));
	assert_true(ssrf_in_list("10.0.0.0/8,fd00:ec2::254", sb, sizeof(b)));
	assert_false(ssrf_in_list("fd00:ec2::255", sb, sizeof(b)));
	assert_true(ssrf_in_list("0.0.0.0/0", sa, sizeof(a)));
}

static void test_names(void **state)
{
	(void)state;
	assert_true(media_name_ok("01m826h716bavvxs5pwd17m6pp.png"));
	assert_true(media_name_ok("01m826h716bavvxs5pwd17m6pp.b1m.jpg"));
	assert_false(media_name_ok("01m826h716bavvxs5pwd17m6pp"));
	assert_false(media_name_ok("01M826H716BAVVXS5PWD17M6PP.png"));
	assert_false(media_name_ok("01m826h716bavvxs5pwd17m6pp.a.b.c"));
	assert_false(media_name_ok("../../../../etc/passwd"));
	assert_false(media_name_ok("01m826h716bavvxs5pwd17m6pp./png"));
	assert_false(media_name_ok("01m826h716bavvxs5pwd17m6pp..png"));
	assert_false(media_name_ok(".tmp"));
	assert_false(media_name_ok(""));
	assert_string_equal(media_mime_for_name("x.jpg"), "image/jpeg");
	assert_string_equal(media_mime_for_name("x.mp4"), "video/mp4");
	assert_null(media_ext_for("text/html"));
	assert_string_equal(media_ext_for("image/webp"), "webp");
	assert_non_null(media_fit_for("bluesky"));
	assert_int_equal(media_fit_for("bluesky")->max_bytes, 1000000);
	assert_null(media_fit_for("mastodon"));
}

struct got {
	char names[8][128], files[8][256];
	char data[8][256];
	size_t len[8];
	int n, ends;
};

static int g_begin(void *u, const struct mp_part *p)
{
	struct got *g = u;
	snprintf(g->names[g->n], sizeof(g->names[0]), "%s", p->name);
	snprintf(g->files[g->n], sizeof(g->files[0]), "%s", p->has_filename ? p->filename : "-");
	g->len[g->n] = 0;
	g->n++;
	return 0;
}

static int g_data(void *u, const char *d, size_t n)
{
	struct got *g = u;
	size_t i = (size_t)g->n - 1;
	if (g->len[i] + n > sizeof(g->data[0]))
		return 1;
	memcpy(g->data[i] + g->len[i], d, n);
	g->len[i] += n;
	return 0;
}

static int g_end(void *u)
{
	((struct got *)u)->ends++;
	return 0;
}

static const struct mp_callbacks gcb = {g_begin, g_data, g_end};

static int parse(const char *boundary, const char *body, size_t n, size_t step, struct got *g)
{
	struct mp p;
	memset(g, 0, sizeof(*g));
	if (mp_init(&p, boundary, &gcb, g))
		return -2;
	for (size_t off = 0; off < n; off += step)
		if (mp_feed(&p, body + off, n - off < step ? n - off : step))
			return -1;
	return mp_finish(&p);
}

static void test_multipart(void **state)
{
	(void)state;
	static const char body[] =
		"preamble\r\n--XyZ\r\n"
		"Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\n"
		"Content-Type: image/png\r\n\r\n"
		"\r\n--XyQ not a delimiter \r\n-\r\n--XyZ\r\n"
		"content-disposition: form-data; name=alt\r\n\r\n"
		"cat\r\n--XyZ--\r\nepilogue";
	for (size_t step = 1; step <= sizeof(body); step++) {
		struct got g;
		assert_int_equal(parse("XyZ", body, sizeof(body) - 1, step, &g), 0);
		assert_int_equal(g.n, 2);
		assert_int_equal(g.ends, 2);
		assert_string_equal(g.names[0], "file");
		assert_string_equal(g.files[0], "a \"b\".png");
		assert_int_equal(g.len[0], strlen("\r\n--XyQ not a delimiter \r\n-"));
		assert_memory_equal(g.data[0], "\r\n--XyQ not a delimiter \r\n-", g.len[0]);
		assert_string_equal(g.names[1], "alt");
		assert_string_equal(g.files[1], "-");
		assert_memory_equal(g.data[1], "cat", 3);
	}
	struct got g;
	static const char cut[] = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc\r\n--Xy";
	assert_int_equal(parse("XyZ", cut, sizeof(cut) - 1, 5, &g), -1);
	static const char nodisp[] = "--XyZ\r\nContent-Type: text/plain\r\n\r\nabc\r\n--XyZ--";
	assert_int_equal(parse("XyZ", nodisp, sizeof(nodisp) - 1, 100, &g), -1);
	assert_int_equal(parse("bad\rboundary", nodisp, 3, 1, &g), -2);
	char b[80];
	assert_int_equal(mp_boundary("multipart/form-data; boundary=----abc123", b, sizeof(b)), 0);
	assert_string_equal(b, "----abc123");
	assert_int_equal(mp_boundary("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b\"", b, sizeof(b)), 0);
	assert_string_equal(b, "a b");
	assert_int_equal(mp_boundary("multipart/mixed; boundary=x", b, sizeof(b)), -1);
	assert_int_equal(mp_boundary("multipart/form-data", b, sizeof(b)), -1);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=", b, sizeof(b)), -1);
	assert_int_equal(mp_boundary(NULL, b, sizeof(b)), -1);
	char longb[200];
	memset(longb, 0, sizeof(longb));
	strcpy(longb, "multipart/form-data; boundary=");
	memset(longb + strlen(longb), 'a', 71);
	assert_int_equal(mp_boundary(longb, b, sizeof(b)), -1);
}

static size_t put_box(unsigned char *o, const char *type, const unsigned char *p, size_t n)
{
	uint32_t s = (uint32_t)(8 + n);
	o[0] = (unsigned char)(s >> 24);
	o[1] = (unsigned char)(s >> 16);
	o[2] = (unsigned char)(s >> 8);
	o[3] = (unsigned char)s;
	memcpy(o + 4, type, 4);
	if (n)
		memcpy(o + 8, p, n);
	return 8 + n;
}

static void test_mp4(void **state)
{
	(void)state;
	unsigned char mvhd[100] = {0}, tkhd[84] = {0}, trak[200], moov[400], file[600];
	/* mvhd v0: timescale 600, duration 1500 -> 2500 ms */
	mvhd[14] = 0x02;
	mvhd[15] = 0x58;
	mvhd[18] = 0x05;
	mvhd[19] = 0xdc;
	/* tkhd v0: width 1280, height 720 at offset 76/80 (16.16) */
	tkhd[76] = 0x05;
	tkhd[80] = 0x02;
	tkhd[81] = 0xd0;
	size_t tl = put_box(trak, "tkhd", tkhd, sizeof(tkhd));
	unsigned char trakbox[300];
	size_t trl = put_box(trakbox, "trak", trak, tl);
	unsigned char inner[400];
	size_t il = put_box(inner, "mvhd", mvhd, sizeof(mvhd));
	memcpy(inner + il, trakbox, trl);
	il += trl;
	size_t ml = put_box(moov, "moov", inner, il);
	size_t fl = put_box(file, "ftyp", (const unsigned char *)"isom\0\0\0\0", 8);
	memcpy(file + fl, moov, ml);
	fl += ml;
	int64_t d;
	int w, h;
	assert_int_equal(mp4_probe_mem(file, fl, &d, &w, &h), 0);
	assert_int_equal(d, 2500);
	assert_int_equal(w, 1280);
	assert_int_equal(h, 720);
	/* truncated anywhere: never a read outside, never a crash */
	for (size_t n = 0; n < fl; n++)
		mp4_probe_mem(file, n, &d, &w, &h);
	assert_int_equal(mp4_probe_mem((const unsigned char *)"\0\0\0\1moov", 8, &d, &w, &h), -1);
}

/* A PNG the platform refuses (jpeg_only) becomes a cached JPEG copy; the
 * original is untouched and a second call reuses the copy. */
static void test_fit(void **state)
{
	(void)state;
	char dir[] = "/tmp/herald-media-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct media_storage_cfg sc = {.data_dir = dir};
	char err[256];
	assert_int_equal(media_storage_init(&sc, err, sizeof(err)), 0);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "vips black %s/uploads/01m826h716bavvxs5pwd17m6pp.png 300 200 --bands 3 "
		 ">/dev/null 2>&1", dir);
	if (system(cmd) != 0) {
		skip();
		return;
	}
	struct arena *a = arena_new();
	char p[300];
	snprintf(p, sizeof(p), "%s/uploads/01m826h716bavvxs5pwd17m6pp.png", dir);
	struct media_facts f;
	assert_int_equal(media_facts(p, &f), 0);
	assert_string_equal(f.mime, "image/png");
	assert_int_equal(f.width, 300);
	assert_int_equal(f.height, 200);
	struct stat before;
	assert_int_equal(stat(p, &before), 0);
	struct media_fit jpg = {"jpg", 0, 100, 1};
	const char *out = NULL;
	assert_int_equal(media_fit(a, "01m826h716bavvxs5pwd17m6pp.png", "image/png", before.st_size, 300,
				   200, &jpg, &out), 0);
	assert_string_equal(out, "01m826h716bavvxs5pwd17m6pp.jpg.jpg");
	snprintf(p, sizeof(p), "%s/uploads/%s", dir, out);
	assert_int_equal(media_facts(p, &f), 0);
	assert_string_equal(f.mime, "image/jpeg");
	assert_int_equal(f.width, 100);
	assert_int_equal(f.height, 67);
	struct stat after;
	snprintf(p, sizeof(p), "%s/uploads/01m826h716bavvxs5pwd17m6pp.png", dir);
	assert_int_equal(stat(p, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(after.st_mtime, before.st_mtime);
	/* already fitting: the original itself */
	struct media_fit loose = {"b1m", 1000000, 2000, 0};
	assert_int_equal(media_fit(a, "01m826h716bavvxs5pwd17m6pp.png", "image/png", before.st_size, 300,
				   200, &loose, &out), 0);
	assert_string_equal(out, "01m826h716bavvxs5pwd17m6pp.png");
	/* a video is never fitted: over every cap of the fit (even jpeg_only),
	 * the answer is the original and no copy is made */
	out = NULL;
	assert_int_equal(media_fit(a, "01m826h716bavvxs5pwd17m6pq.mp4", "video/mp4", 50000000, 3840,
				   2160, &jpg, &out), 0);
	assert_string_equal(out, "01m826h716bavvxs5pwd17m6pq.mp4");
	assert_false(media_exists("01m826h716bavvxs5pwd17m6pq.jpg.jpg"));
	assert_int_equal(media_delete("01m826h716bavvxs5pwd17m6pp.png"), 0);
	assert_false(media_exists("01m826h716bavvxs5pwd17m6pp.jpg.jpg"));
	arena_free(a);
	media_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssrf_blocked), cmocka_unit_test(test_ssrf_list),
		cmocka_unit_test(test_names),        cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_mp4),          cmocka_unit_test(test_fit),
	};
	return cmocka_run_group_tests_name("media", tests, NULL, NULL);
}
