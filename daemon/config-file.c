/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "config-file.h"
#include "log.h"
#include "core/pressure.h"
#include "names.h"

struct parse {
	const char *path;
	FILE *file;
	int line;     /* lines read so far */
	struct limits limits;
	struct file_settings settings;
	struct reason why; /* the first problem, on why_line; "" for none */
	int why_line;
};

/* On failure why says "memory-pressure 'VALUE': what is wrong; the forms". */
static int memory_pressure_key(struct parse *p, const char *value)
{
	struct reason why;

	if (pressure_trigger_parse(value, p->settings.memory_pressure, &why) == 0)
		return 1;
	reason_set(&p->why, -EINVAL, IOBUF_SETTING_MEMORY_PRESSURE " %s", why.text);
	return 0;
}

static int heap_list_key(struct parse *p, const char *key, const char *value, char *out,
			 size_t size)
{
	if (strlen(value) < size) {
		memcpy(out, value, strlen(value) + 1);
		return 1;
	}
	reason_set(&p->why, -EINVAL, "%s: the list is longer than %zu characters", key, size - 1);
	return 0;
}

static int daemon_key(struct parse *p, const char *key, const char *value)
{
	uint64_t n;

	if (strcmp(key, IOBUF_SETTING_HEAPS) == 0)
		return heap_list_key(p, key, value, p->settings.heaps, sizeof(p->settings.heaps));
	if (strcmp(key, IOBUF_SETTING_CONTIGUOUS_HEAPS) == 0)
		return heap_list_key(p, key, value, p->settings.contiguous,
				     sizeof(p->settings.contiguous));
	if (strcmp(key, IOBUF_SETTING_MAX_CLIENTS) == 0) {
		if (args_parse_bytes(value, &n) < 0 || n == 0 || n > 65536) {
			reason_set(&p->why, -EINVAL,
				   IOBUF_SETTING_MAX_CLIENTS " must be 1 to 65536, not '%s'", value);
			return 0;
		}
		p->settings.max_clients = (unsigned)n;
		return 1;
	}
	if (strcmp(key, IOBUF_SETTING_MEMORY_PRESSURE) == 0)
		return memory_pressure_key(p, value);
	reason_set(&p->why, -EINVAL, "unknown key '%s' in [daemon]", key);
	return 0;
}

/* A limit: in [limits] under its own name, in a rule's section as "SECTION KEY". */
static int limit_key(struct parse *p, const char *section, const char *key, const char *value)
{
	char name[LIMIT_NAME_MAX + 32];
	uint64_t n;

	if (args_parse_bytes(value, &n) < 0) {
		reason_set(&p->why, -EINVAL, "%s: '%s' is not a number (K, M, G allowed)", key,
			 value);
		return 0;
	}
	if (strcmp(section, "limits") == 0)
		snprintf(name, sizeof(name), "%s", key);
	else
		snprintf(name, sizeof(name), "%s %s", section, key);
	return limits_set(&p->limits, name, n, &p->why) == 0;
}

static int entry(struct parse *p, const char *section, const char *key, const char *value)
{
	if (!key) /* a new section */
		return 1;
	if (strcmp(section, "daemon") == 0)
		return daemon_key(p, key, value);
	if (!section[0]) {
		reason_set(&p->why, -EINVAL, "'%s' outside any section", key);
		return 0;
	}
	return limit_key(p, section, key, value);
}

/* inih goes on after a problem: only the first one is told, with its line. */
static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;

	if (p->why.text[0])
		return 0;
	if (entry(p, section, key, value))
		return 1;
	p->why_line = p->line;
	return 0;
}

/*
 * Reads one line for inih, counting them. A line longer than inih takes is
 * a problem of its own: inih would read the rest as another line.
 */
static char *read_line(char *buffer, int size, void *user)
{
	struct parse *p = user;
	size_t len;

	if (p->why.text[0] || !fgets(buffer, size, p->file))
		return NULL;
	p->line++;
	len = strlen(buffer);
	if (len + 1 == (size_t)size && buffer[len - 1] != '\n' && !feof(p->file)) {
		reason_set(&p->why, -EINVAL, "the line is longer than %d characters", size - 2);
		p->why_line = p->line;
		return NULL;
	}
	return buffer;
}

int config_file_load(const char *path, bool must_exist, struct limits *limits,
		     struct file_settings *settings)
{
	struct parse p = { .path = path, .limits = *limits, .file = fopen(path, "re") };
	int line;

	if (!p.file) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return log_error_errno(-errno, "cannot read %s", path);
	}
	line = ini_parse_stream(read_line, &p, on_entry, &p);
	fclose(p.file);
	if (line < 0)
		return log_error_errno(-EIO, "%s: cannot be read", path);
	/* A line inih cannot parse comes before the first problem of ours, or is the only one. */
	if (line > 0 && (!p.why.text[0] || line < p.why_line)) {
		log_error("%s:%d: not INI syntax", path, line);
		return -EINVAL;
	}
	if (p.why.text[0]) {
		log_error("%s:%d: %s", path, p.why_line, p.why.text);
		return -EINVAL;
	}
	*limits = p.limits;
	*settings = p.settings;
	return 0;
}
