/* SPDX-License-Identifier: MIT */
/*
 * A process's cgroup and systemd unit from one read of /proc/PID/cgroup,
 * read as libsystemd's sd_pid_get_user_unit() and sd_pid_get_unit() read
 * it (which cost four reads of cgroup files per process): the systemd
 * hierarchy (the unified one, or name=systemd on a legacy machine), made
 * relative to PID 1's root, then the first unit after the
 * slices, or after the user manager for a user's service.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define PATH_MAX_LEN 512

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool unified;              /* /sys/fs/cgroup is cgroup2: systemd's hierarchy is "0::" */
static char root[PATH_MAX_LEN];   /* PID 1's, without its init.scope; "" for "/" */

/* Reads /proc/PID/cgroup; the systemd hierarchy's path into systemd, the unified one's into v2. */
static bool read_paths(pid_t pid, char *systemd, char *v2, size_t size)
{
	char path[64], text[4096], *line, *next;
	ssize_t n;
	int fd;

	systemd[0] = v2[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(v2, size, "%s", line + 3);
			if (unified)
				snprintf(systemd, size, "%s", line + 3);
		} else if (!unified && strstr(line, ":name=systemd:")) {
			snprintf(systemd, size, "%s", strstr(line, ":name=systemd:") + 14);
		}
	}
	return true;
}

static bool ends_with_n(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && strncmp(s + n - m, suffix, m) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	return ends_with_n(s, strlen(s), suffix);
}

static bool is_cgroup2(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

static void learn_root(void)
{
	char v2[PATH_MAX_LEN];

	/*
	 * As libsystemd: systemd's hierarchy is the unified one on a unified
	 * machine and on a hybrid one (cgroup2 at /sys/fs/cgroup/unified); only
	 * a legacy machine tracks units in name=systemd.
	 */
	unified = is_cgroup2("/sys/fs/cgroup") || is_cgroup2("/sys/fs/cgroup/unified") ||
		  is_cgroup2("/sys/fs/cgroup/systemd");
	if (!read_paths(1, root, v2, sizeof(root)))
		root[0] = '\0';
	/* As libsystemd: PID 1 sits in init.scope (or, on older systems, the system slice). */
	if (ends_with(root, "/init.scope"))
		root[strlen(root) - strlen("/init.scope")] = '\0';
	else if (ends_with(root, "/system.slice"))
		root[strlen(root) - strlen("/system.slice")] = '\0';
	else if (ends_with(root, "/system"))
		root[strlen(root) - strlen("/system")] = '\0';
	if (strcmp(root, "/") == 0)
		root[0] = '\0';
}

static bool is_unit_suffix(const char *name, size_t len)
{
	static const char *const suffixes[] = {
		".service", ".socket", ".target", ".device", ".mount", ".automount",
		".swap", ".timer", ".path", ".slice", ".scope",
	};

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (len > strlen(suffixes[i]) && ends_with_n(name, len, suffixes[i]))
			return true;
	return false;
}

/* Whether the path component at p (len bytes) names a unit; *name and *name_len its unescaped name. */
static bool unit_component(const char *p, size_t len, const char **name, size_t *name_len)
{
	/* systemd escapes a cgroup name that could mean something else with a leading '_'. */
	if (len > 0 && p[0] == '_') {
		p++;
		len--;
	}
	if (len == 0 || len >= 128 || !is_unit_suffix(p, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@",
			    p[i]))
			return false;
	*name = p;
	*name_len = len;
	return true;
}

/* The component at *path, moving *path past it; its length (0 at the end). */
static size_t next_component(const char **path, const char **start)
{
	size_t len;

	*path += strspn(*path, "/");
	*start = *path;
	len = strcspn(*path, "/");
	*path += len;
	return len;
}

/*
 * The first unit after the slices at the start of path, into unit; and in
 * *rest what follows it. false when there is none.
 */
static bool first_unit(const char *path, char unit[128], const char **rest)
{
	const char *component, *name;
	size_t len, name_len;

	while ((len = next_component(&path, &component)) > 0) {
		if (!unit_component(component, len, &name, &name_len))
			return false;
		if (ends_with_n(name, name_len, ".slice"))
			continue;
		snprintf(unit, 128, "%.*s", (int)name_len, name);
		*rest = path;
		return true;
	}
	return false;
}

void cgroup_unit_of_path(const char *path, const char *root_path, char unit[128])
{
	size_t root_len = strcmp(root_path, "/") == 0 ? 0 : strlen(root_path);
	char user_unit[128];
	const char *rest;

	unit[0] = '\0';
	if (root_len && strncmp(path, root_path, root_len) == 0 &&
	    (path[root_len] == '/' || path[root_len] == '\0'))
		path += root_len;
	if (!first_unit(path, unit, &rest)) {
		unit[0] = '\0';
		return;
	}
	/* A process of a user's service is that service's, not user@UID.service's. */
	if (strncmp(unit, "user@", 5) == 0 && ends_with(unit, ".service") &&
	    first_unit(rest, user_unit, &rest))
		snprintf(unit, 128, "%s", user_unit);
}

void cgroup_identity(pid_t pid, char cgroup[256], char unit[128])
{
	char systemd[PATH_MAX_LEN], v2[PATH_MAX_LEN];

	pthread_once(&once, learn_root);
	cgroup[0] = unit[0] = '\0';
	if (!read_paths(pid, systemd, v2, sizeof(systemd)))
		return;
	snprintf(cgroup, 256, "%.255s", v2);
	cgroup_unit_of_path(systemd, root, unit);
}
