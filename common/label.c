/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "label.h"

/* The length of the UTF-8 sequence at s and its code point, or 0 when it is not one. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (len <= 1) {
		*cp = s[0];
		return len;
	}
	*cp = s[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3fu);
	}
	/* Overlong forms, UTF-16 surrogates and code points past Unicode's end. */
	if (*cp < min[len] || (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff)
		return 0;
	return len;
}

static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

const char *label_problem(const char *label)
{
	const unsigned char *s = (const unsigned char *)label;
	uint32_t cp;
	size_t len;

	if (strlen(label) > LABEL_MAX)
		return "is longer than 31 bytes";
	for (; *s; s += len) {
		len = utf8_decode(s, &cp);
		if (len == 0)
			return "is not valid UTF-8";
		if (is_control(cp))
			return "holds a control character";
	}
	return NULL;
}
