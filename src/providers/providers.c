/*
 * providers: the table of every platform herald knows.  Order is the order
 * listed by /v1/platforms and the docs.
 */
#include "provider.h"

#include <string.h>

extern const struct provider provider_webhook;

static const struct provider *const table[] = {
	&provider_webhook,
};

#define NPROV (sizeof(table) / sizeof(table[0]))

const struct provider *provider_find(const char *identifier)
{
	if (!identifier)
		return NULL;
	for (size_t i = 0; i < NPROV; i++)
		if (!strcmp(table[i]->identifier, identifier))
			return table[i];
	return NULL;
}

size_t provider_count(void)
{
	return NPROV;
}

const struct provider *provider_at(size_t i)
{
	return i < NPROV ? table[i] : NULL;
}
