/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl-options.h"
#include "iobuf/iobuf.h"
#include "names.h"

struct option_word {
	const char *name;
	uint32_t bits;
};

/* Flags, in the order they are written. in + out is written inout. */
static const struct option_word flag_words[] = {
	{ "inout", IOBUF_DIRECTION_INOUT },
	{ "in", IOBUF_DIRECTION_IN },
	{ "out", IOBUF_DIRECTION_OUT },
	{ "contiguous", IOBUF_PHYSICALLY_CONTIGUOUS },
	{ "pageable", IOBUF_PAGEABLE },
	{ "purgeable", IOBUF_PURGEABLE },
	{ "kernel-user-shared", IOBUF_KERNEL_USER_SHARED },
};

/* Cache modes, indexed by the value of the cache field. */
static const char *const cache_words[] = {
	"cache=default", "cache=inhibit", "cache=writethru", "cache=copyback", "cache=writecombine",
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

const char ctl_options_vocabulary[] =
	"in, out, inout, contiguous, pageable, purgeable, kernel-user-shared, "
	"cache=default|inhibit|writethru|copyback|writecombine";

/* The bits of one word, as a flag or (with *is_cache set) a cache mode; -EINVAL. */
static int word_bits(const char *word, size_t len, uint32_t *bits, int *is_cache)
{
	for (size_t i = 0; i < N_ELEMENTS(flag_words); i++)
		if (strlen(flag_words[i].name) == len && memcmp(flag_words[i].name, word, len) == 0) {
			*bits = flag_words[i].bits;
			*is_cache = 0;
			return 0;
		}
	for (size_t i = 0; i < N_ELEMENTS(cache_words); i++)
		if (strlen(cache_words[i]) == len && memcmp(cache_words[i], word, len) == 0) {
			*bits = (uint32_t)i << IOBUF_CACHE_SHIFT;
			*is_cache = 1;
			return 0;
		}
	return -EINVAL;
}

int ctl_options_parse(const char *list, uint32_t *bits, const char **bad, size_t *bad_len)
{
	uint32_t result = 0, word;
	int have_cache = 0, is_cache;

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		*bad = p;
		*bad_len = len;
		if (word_bits(p, len, &word, &is_cache) < 0)
			return -EINVAL;
		if (is_cache && have_cache && (result & IOBUF_CACHE_MASK) != word)
			return -EEXIST;
		have_cache |= is_cache;
		result |= word;
		p += len;
		if (*p == ',' && !*++p) {
			*bad = p; /* a trailing comma: an empty last word */
			*bad_len = 0;
			return -EINVAL;
		}
	}
	*bits = result;
	return 0;
}

/* The flag words that name bits, each bit once: inout rather than in and out. */
static int flag_word_matches(size_t i, uint32_t bits, uint32_t *done)
{
	uint32_t w = flag_words[i].bits;

	if ((bits & w) != w || (*done & w))
		return 0;
	*done |= w;
	return 1;
}

void ctl_options_foreach(uint32_t bits, void (*fn)(const char *name, void *data), void *data)
{
	uint32_t done = 0, mode = (bits & IOBUF_CACHE_MASK) >> IOBUF_CACHE_SHIFT;
	uint32_t unknown = bits & ~(uint32_t)IOBUF_OPTIONS_KNOWN;
	char text[32];

	for (size_t i = 0; i < N_ELEMENTS(flag_words); i++)
		if (flag_word_matches(i, bits, &done))
			fn(flag_words[i].name, data);
	if (mode >= N_ELEMENTS(cache_words)) {
		snprintf(text, sizeof(text), "cache=%u", mode);
		fn(text, data);
	} else if (mode) {
		fn(cache_words[mode], data);
	}
	if (unknown) {
		snprintf(text, sizeof(text), "0x%x", unknown);
		fn(text, data);
	}
}

struct format_state {
	char *out;
	size_t size, used;
};

static void append_name(const char *name, void *data)
{
	struct format_state *s = data;
	int n;

	if (s->used >= s->size)
		return;
	n = snprintf(s->out + s->used, s->size - s->used, "%s%s", s->used ? "," : "", name);
	if (n > 0)
		s->used += (size_t)n;
}

void ctl_options_format(uint32_t bits, char *out, size_t size)
{
	struct format_state s = { out, size, 0 };

	if (size)
		out[0] = '\0';
	ctl_options_foreach(bits, append_name, &s);
}

/* The shift of a size suffix (0 for none), or -1 when it is not one. */
static int suffix_shift(const char *suffix)
{
	if (!suffix[0])
		return 0;
	if (suffix[1])
		return -1;
	switch (suffix[0]) {
	case 'K': case 'k': return 10;
	case 'M': case 'm': return 20;
	case 'G': case 'g': return 30;
	}
	return -1;
}

/* A plain decimal without sign or spaces: strtoull would take both. */
static int parse_decimal(const char *text, uint64_t *value, const char **end)
{
	uint64_t v = 0;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	*value = v;
	*end = p;
	return 0;
}

int ctl_parse_size(const char *text, uint64_t *value)
{
	const char *end;
	uint64_t v;
	int shift, r;

	r = parse_decimal(text, &v, &end);
	if (r == -ERANGE && suffix_shift(text + strspn(text, "0123456789")) < 0)
		return -EINVAL; /* not a size at all, however long */
	if (r < 0)
		return r;
	shift = suffix_shift(end);
	if (shift < 0)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*value = v << shift;
	return 0;
}

/* A whole decimal from min to 2^32-1. */
static int parse_u32(const char *text, uint32_t min, uint32_t *value)
{
	const char *end;
	uint64_t v;
	int r;

	r = parse_decimal(text, &v, &end);
	if (r == 0 && *end)
		r = -EINVAL;
	if (r == 0 && (v < min || v > UINT32_MAX))
		r = -ERANGE;
	if (r == 0)
		*value = (uint32_t)v;
	return r;
}

int ctl_parse_client(const char *text, uint32_t *id)
{
	return parse_u32(text, 1, id);
}

int ctl_parse_uid(const char *text, uint32_t *uid)
{
	return parse_u32(text, 0, uid);
}

const char ctl_usage_by_vocabulary[] =
	IOBUF_SCOPE_UID ", " IOBUF_SCOPE_UNIT ", " IOBUF_SCOPE_CGROUP ", " IOBUF_SCOPE_HEAP;

bool ctl_usage_by_known(const char *word)
{
	static const char *const words[] = {
		IOBUF_SCOPE_UID, IOBUF_SCOPE_UNIT, IOBUF_SCOPE_CGROUP, IOBUF_SCOPE_HEAP,
	};

	for (size_t i = 0; i < N_ELEMENTS(words); i++)
		if (strcmp(words[i], word) == 0)
			return true;
	return false;
}

const char *ctl_state_name(uint32_t state)
{
	switch (state) {
	case IOBUF_PURGEABLE_KEEP_CURRENT: return "keep-current";
	case IOBUF_PURGEABLE_NON_VOLATILE: return "non-volatile";
	case IOBUF_PURGEABLE_VOLATILE: return "volatile";
	case IOBUF_PURGEABLE_EMPTY: return "empty";
	}
	return NULL;
}

bool ctl_limit_counts_bytes(const char *name)
{
	return strstr(name, "bytes") || strstr(name, "size");
}
