/*
 * ssrf: which addresses a fetch of a user-supplied URL may connect to.
 *
 * Refused: loopback, unspecified, RFC 1918 private, CGNAT (100.64/10, which
 * also holds Alibaba's metadata address), link-local (169.254/16, with the
 * AWS/GCP/Azure metadata address 169.254.169.254), multicast, reserved and
 * documentation ranges, and their IPv6 counterparts (::1, fc00::/7 with
 * AWS's fd00:ec2::254, fe80::/10, ff00::/8), IPv4-mapped/compatible and
 * NAT64 addresses judged by the IPv4 address inside.  The check runs on the
 * address a socket is about to connect to (client.h sock_check), so DNS
 * answers cannot change between the check and the connection.
 */
#ifndef HERALD_SSRF_H
#define HERALD_SSRF_H

#include <stddef.h>

struct sockaddr;

/* 1 when the address must not be reached, 0 when it is public. */
int ssrf_blocked(const struct sockaddr *sa, unsigned len);
/* 1 when the address is inside one of the comma-separated CIDR ranges of
 * `list` ("127.0.0.1/32,fd00::/8"; a bare address means /32 or /128);
 * the operator's exceptions (HERALD_FETCH_ALLOW_CIDRS). */
int ssrf_in_list(const char *list, const struct sockaddr *sa, unsigned len);
/* Same for a numeric address string (tests, logs); -1 when not numeric. */
int ssrf_blocked_str(const char *ip);
/* The whole guard of a connection to a URL someone else chose: 1 when
 * sa is blocked and neither allow_private nor allow_cidrs (may be NULL or
 * empty) lets it through, with its numeric form in ip for the message;
 * 0 when it may be reached. */
int ssrf_refuse(const struct sockaddr *sa, unsigned len, int allow_private, const char *allow_cidrs,
		char *ip, size_t iplen);

#endif
