/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "config-file.h"
#include "log.h"
#include "names.h"
#include "pressure.h"

struct parse {
	const char *path;
	struct limits limits;
	struct file_settings settings;
	char why[LIMIT_WHY_MAX];
};

/* On failure why says "memory-pressure 'VALUE': what is wrong; the forms". */
static int memory_pressure_key(struct parse *p, const char *value)
{
	static const char key[] = IOBUF_SETTING_MEMORY_PRESSURE " ";
	size_t n = sizeof(key) - 1;

	if (pressure_trigger_parse(value, p->settings.memory_pressure, p->why + n,
				   sizeof(p->why) - n) == 0)
		return 1;
	memcpy(p->why, key, n);
	return 0;
}

static int daemon_key(struct parse *p, const char *key, const char *value)
{
	uint64_t n;

	if (strcmp(key, IOBUF_SETTING_HEAPS) == 0)
		return snprintf(p->settings.heaps, sizeof(p->settings.heaps), "%s", value) <
		       (int)sizeof(p->settings.heaps);
	if (strcmp(key, IOBUF_SETTING_CONTIGUOUS_HEAPS) == 0)
		return snprintf(p->settings.contiguous, sizeof(p->settings.contiguous), "%s",
				value) < (int)sizeof(p->settings.contiguous);
	if (strcmp(key, IOBUF_SETTING_MAX_CLIENTS) == 0) {
		if (args_parse_bytes(value, &n) < 0 || n == 0 || n > 65536) {
			snprintf(p->why, sizeof(p->why),
				 IOBUF_SETTING_MAX_CLIENTS " must be 1 to 65536, not '%s'", value);
			return 0;
		}
		p->settings.max_clients = (unsigned)n;
		return 1;
	}
	if (strcmp(key, IOBUF_SETTING_MEMORY_PRESSURE) == 0)
		return memory_pressure_key(p, value);
	snprintf(p->why, sizeof(p->why), "unknown key '%s' in [daemon]", key);
	return 0;
}

/* A limit: in [limits] under its own name, in a rule's section as "SECTION KEY". */
static int limit_key(struct parse *p, const char *section, const char *key, const char *value)
{
	char name[LIMIT_NAME_MAX + 32];
	uint64_t n;

	if (args_parse_bytes(value, &n) < 0) {
		snprintf(p->why, sizeof(p->why), "%s: '%s' is not a number (K, M, G allowed)", key,
			 value);
		return 0;
	}
	if (strcmp(section, "limits") == 0)
		snprintf(name, sizeof(name), "%s", key);
	else
		snprintf(name, sizeof(name), "%s %s", section, key);
	return limits_set(&p->limits, name, n, p->why) == 0;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;

	if (!key) /* a new section */
		return 1;
	if (strcmp(section, "daemon") == 0)
		return daemon_key(p, key, value);
	if (!section[0]) {
		snprintf(p->why, sizeof(p->why), "'%s' outside any section", key);
		return 0;
	}
	return limit_key(p, section, key, value);
}

int config_file_load(const char *path, bool must_exist, struct limits *limits,
		     struct file_settings *settings)
{
	struct parse p = { .path = path, .limits = *limits };
	FILE *f = fopen(path, "re");
	int line;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return log_error_errno(-errno, "cannot read %s", path);
	}
	line = ini_parse_file(f, on_entry, &p);
	fclose(f);
	if (line != 0) {
		log_error("%s:%d: %s", path, line,
			  p.why[0] ? p.why : line < 0 ? "cannot be read" : "not INI syntax");
		return -EINVAL;
	}
	*limits = p.limits;
	*settings = p.settings;
	return 0;
}
