/*
 * test_analytics: the sampling schedule of published posts' metrics
 * (analytics_next_due, src/engine/analytics.c) and the option that sets it
 * (HERALD_ANALYTICS_INTERVALS / HERALD_ANALYTICS_DAYS, src/core/config.c).
 *
 * Default: 1 h, 6 h and 24 h after publishing, then daily until 30 days;
 * a sample that is late (downtime) is followed by the next one still
 * ahead, never by a burst of the missed ones; the schedule ends (0) after
 * the horizon; a bad interval list is refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/config.h"
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

#define H 3600000LL
#define D 86400000LL

static int load(struct config *c, const char *iv, const char *days, char *err, size_t n)
{
	if (iv)
		setenv("HERALD_ANALYTICS_INTERVALS", iv, 1);
	else
		unsetenv("HERALD_ANALYTICS_INTERVALS");
	if (days)
		setenv("HERALD_ANALYTICS_DAYS", days, 1);
	else
		unsetenv("HERALD_ANALYTICS_DAYS");
	char *argv[] = {"herald", NULL};
	int argc = 1;
	return config_load(c, &argc, argv, err, n);
}

static void test_default_schedule(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(load(&c, NULL, NULL, err, sizeof(err)), 0);
	int64_t p = 1700000000000LL;
	assert_int_equal(analytics_next_due(&c, p, p), p + H);
	assert_int_equal(analytics_next_due(&c, p, p + H), p + 6 * H);
	assert_int_equal(analytics_next_due(&c, p, p + 6 * H + 5), p + 24 * H);
	assert_int_equal(analytics_next_due(&c, p, p + D), p + 2 * D);
	assert_int_equal(analytics_next_due(&c, p, p + 2 * D + 1), p + 3 * D);
	/* late by days (downtime): the next one ahead, not the missed ones */
	assert_int_equal(analytics_next_due(&c, p, p + 10 * D + 7), p + 11 * D);
	assert_int_equal(analytics_next_due(&c, p, p + 29 * D), p + 30 * D);
	assert_int_equal(analytics_next_due(&c, p, p + 30 * D), 0);
	assert_int_equal(analytics_next_due(&c, p, p + 400 * D), 0);
	config_release(&c);
}

static void test_custom_and_off(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(load(&c, "2,5", "0", err, sizeof(err)), 0);
	int64_t p = 1000;
	assert_int_equal(analytics_next_due(&c, p, p), p + 2000);
	assert_int_equal(analytics_next_due(&c, p, p + 2000), p + 5000);
	assert_int_equal(analytics_next_due(&c, p, p + 5000), 0);
	config_release(&c);
	/* empty: no sampling at all */
	assert_int_equal(load(&c, "", NULL, err, sizeof(err)), 0);
	assert_int_equal(c.analytics_niv, 0);
	assert_int_equal(analytics_next_due(&c, p, p), 0);
	config_release(&c);
}

static void test_bad_lists_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {"abc", "5,5", "10,2", "0", "-1", "1,,2", "1,2,",
					  "1;2", "99999999999", NULL};
	for (int i = 0; bad[i]; i++) {
		struct config c;
		char err[256] = "";
		assert_int_equal(load(&c, bad[i], NULL, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "analytics-intervals"));
		config_release(&c);
	}
	unsetenv("HERALD_ANALYTICS_INTERVALS");
	unsetenv("HERALD_ANALYTICS_DAYS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_schedule),
		cmocka_unit_test(test_custom_and_off),
		cmocka_unit_test(test_bad_lists_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
