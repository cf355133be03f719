/*
 * slots: the one slot finder.  Postiz's find-slot and the native queue mode
 * (`queue: true`) both ask it for an account's next free posting time.
 *
 * Posting times are Postiz's format: JSON [{"time": minutes after 00:00
 * UTC}].  A slot is free when no live root post of the organization is at
 * that minute (Postiz checks the whole organization, so two channels do not
 * fire together).
 */
#ifndef HERALD_SLOTS_H
#define HERALD_SLOTS_H

#include <stdint.h>

struct store;

/* 0 with *out set; 1 when there is no free slot within a year; -1 on a
 * storage error. */
int slot_next(struct store *st, const char *org_id, const char *posting_times, int64_t after,
	      int64_t *out);

#endif
