/* ssrf: see ssrf.h. */
#include "ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int v4_blocked(uint32_t a)
{
	static const struct {
		uint32_t net;
		int bits;
	} nets[] = {
		{0x00000000, 8},  /* this network */
		{0x0a000000, 8},  /* private */
		{0x64400000, 10}, /* CGNAT */
		{0x7f000000, 8},  /* loopback */
		{0xa9fe0000, 16}, /* link-local, cloud metadata */
		{0xac100000, 12}, /* private */
		{0xc0000000, 24}, /* IETF protocol assignments */
		{0xc0000200, 24}, /* TEST-NET-1 */
		{0xc0586300, 24}, /* 6to4 relay anycast */
		{0xc0a80000, 16}, /* private */
		{0xc6120000, 15}, /* benchmarking */
		{0xc6336400, 24}, /* TEST-NET-2 */
		{0xcb007100, 24}, /* TEST-NET-3 */
		{0xe0000000, 4},  /* multicast */
		{0xf0000000, 4},  /* reserved, broadcast */
	};
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		uint32_t mask = nets[i].bits ? 0xffffffffu << (32 - nets[i].bits) : 0;
		if ((a & mask) == nets[i].net)
			return 1;
	}
	return 0;
}

static int v6_blocked(const unsigned char *b)
{
	static const unsigned char zero[16];
	uint32_t embedded;
	memcpy(&embedded, b + 12, 4);
	embedded = ntohl(embedded);
	if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1))
		return 1; /* :: and ::1 */
	if (!memcmp(b, zero, 10) && b[10] == 0xff && b[11] == 0xff)
		return v4_blocked(embedded); /* IPv4-mapped */
	if (!memcmp(b, zero, 12))
		return 1; /* IPv4-compatible (deprecated) */
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
	if (!memcmp(b, nat64, 12))
		return v4_blocked(embedded);
	if ((b[0] & 0xfe) == 0xfc)
		return 1; /* unique local, includes fd00:ec2::254 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return 1; /* link-local */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return 1; /* site-local (deprecated) */
	if (b[0] == 0xff)
		return 1; /* multicast */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return 1; /* documentation */
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_blocked((uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5]); /* 6to4 */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
		return 1; /* Teredo: the client address is obfuscated, refuse */
	return 0;
}

int ssrf_blocked(const struct sockaddr *sa, unsigned len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return v4_blocked(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return v6_blocked(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return 1; /* unix sockets and anything else */
}

int ssrf_blocked_str(const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, ip, &a4) == 1)
		return v4_blocked(ntohl(a4.s_addr));
	if (inet_pton(AF_INET6, ip, &a6) == 1)
		return v6_blocked(a6.s6_addr);
	return -1;
}

static int prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
	int full = bits / 8, rest = bits % 8;
	if (memcmp(a, net, (size_t)full))
		return 0;
	if (!rest)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

int ssrf_in_list(const char *list, const struct sockaddr *sa, unsigned len)
{
	const unsigned char *addr;
	int family;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		family = AF_INET;
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		family = AF_INET6;
	} else {
		return 0;
	}
	const char *p = list;
	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, ",");
		size_t k = n;
		while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
			k--;
		char item[64];
		if (k > 0 && k < sizeof(item)) {
			memcpy(item, p, k);
			item[k] = 0;
			char *sl = strchr(item, '/');
			int bits = -1;
			if (sl) {
				*sl = 0;
				bits = 0;
				for (char *d = sl + 1; *d; d++)
					bits = *d >= '0' && *d <= '9' && bits < 1000 ? bits * 10 + (*d - '0') : 1000;
			}
			unsigned char net[16];
			if (family == AF_INET && inet_pton(AF_INET, item, net) == 1) {
				if (bits < 0)
					bits = 32;
				if (bits <= 32 && prefix_match(addr, net, bits))
					return 1;
			} else if (family == AF_INET6 && inet_pton(AF_INET6, item, net) == 1) {
				if (bits < 0)
					bits = 128;
				if (bits <= 128 && prefix_match(addr, net, bits))
					return 1;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int ssrf_refuse(const struct sockaddr *sa, unsigned len, int allow_private, const char *allow_cidrs,
		char *ip, size_t iplen)
{
	if (allow_private || !ssrf_blocked(sa, len) ||
	    (allow_cidrs && *allow_cidrs && ssrf_in_list(allow_cidrs, sa, len)))
		return 0;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, (socklen_t)iplen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, (socklen_t)iplen);
	else
		snprintf(ip, iplen, "a non-IP address");
	return 1;
}
