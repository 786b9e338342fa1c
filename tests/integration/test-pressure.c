/* SPDX-License-Identifier: MIT */
/*
 * Memory pressure purges volatile buffers: a real iobufd with a PSI trigger
 * on /proc/pressure/memory, and real pressure, a memory cgroup with a small
 * limit streaming a file from disk. The volatile buffer is emptied, the
 * non-volatile one keeps its contents, and the daemon says why. A bad
 * memory-pressure stops the start with file:line; "off" arms nothing; SIGHUP
 * arms the file's new trigger; the command line wins over the file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define KIB 1024
#define MIB (1024 * KIB)
#define PSI_PATH "/proc/pressure/memory"
/* 20 ms stalled within 2 s: what the streaming below causes in a fraction of that. */
#define TEST_TRIGGER "some 20000 2000000"
#define TEST_STALL_US 20000
#define BUFFER_SIZE (256 * KIB)
/* Far past the cgroup's limit, so every pass reads the disk again. */
#define STREAM_FILE_BYTES (256 * MIB)
#define STREAM_PASSES 64
#define CGROUP_LIMIT "16777216"
/* Generous: the daemon may run under valgrind. */
#define WAIT_MS 30000
#define PATH_SIZE 1024

struct logged_daemon {
	struct test_daemon d;
	char config[96];
	char log[96];
};

/* What a test made, for the teardown when it fails half-way. */
static struct {
	struct logged_daemon *daemon;
	pid_t child;
	char cgroup[PATH_SIZE + 32];
	char file[PATH_SIZE + 32];
} made;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void die_with_test(void *data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/*
 * Starts iobufd on a config file that says config_text, with option (may be
 * NULL), its stdout and stderr in d->log.
 */
static void start(struct logged_daemon *d, const char *config_text, const char *option)
{
	char config_arg[128];
	const char *args[] = { "--no-dbus", "--heaps=memfd", "--socket", d->d.socket,
			       config_arg, option, NULL };
	int log_fd, sock;

	snprintf(d->config, sizeof(d->config), "/tmp/iobufd-pressure.%d.conf", (int)getpid());
	snprintf(d->log, sizeof(d->log), "/tmp/iobufd-pressure.%d.log", (int)getpid());
	snprintf(config_arg, sizeof(config_arg), "--config=%s", d->config);
	write_config(d->config, config_text);
	snprintf(d->d.dir, sizeof(d->d.dir), "/tmp/iobufd-test.XXXXXX");
	assert_non_null(mkdtemp(d->d.dir));
	snprintf(d->d.socket, sizeof(d->d.socket), "%s/iobufd.sock", d->d.dir);
	log_fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	assert_true(log_fd >= 0);
	d->d.pid = spawn_iobufd(args, log_fd, die_with_test, NULL);
	close(log_fd);
	made.daemon = d;
	for (int waited = 0; waited < 60000; waited += 10) {
		sock = raw_connect(d->d.socket);
		if (sock >= 0) {
			close(sock);
			return;
		}
		if (!test_daemon_alive(&d->d))
			fail_msg("iobufd exited during start-up");
		sleep_ms(10);
	}
	fail_msg("iobufd did not accept connections on %s", d->d.socket);
}

static void stop(struct logged_daemon *d)
{
	test_daemon_stop(&d->d);
	made.daemon = NULL;
	unlink(d->config);
	unlink(d->log);
}

/* How often the daemon's log has text so far. */
static int log_count(const struct logged_daemon *d, const char *text)
{
	static char log[64 * KIB];
	int fd = open(d->log, O_RDONLY | O_CLOEXEC), count = 0;
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, log, sizeof(log) - 1);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
	for (const char *at = log; (at = strstr(at, text)); at += strlen(text))
		count++;
	return count;
}

/* Waits until the daemon's log has text count times. */
static void wait_log(const struct logged_daemon *d, const char *text, int count)
{
	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		if (log_count(d, text) >= count)
			return;
		sleep_ms(20);
	}
	fail_msg("the daemon did not log \"%s\" %d times", text, count);
}

/* The daemon's fds on the PSI file. */
static int psi_fds(const struct logged_daemon *d)
{
	char dir[64], target[sizeof(PSI_PATH) + 1];
	struct dirent *entry;
	int count = 0;
	DIR *fds;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)d->d.pid);
	fds = opendir(dir);
	assert_non_null(fds);
	while ((entry = readdir(fds))) {
		ssize_t n = readlinkat(dirfd(fds), entry->d_name, target, sizeof(target) - 1);

		if (n < 0)
			continue;
		target[n] = '\0';
		count += strcmp(target, PSI_PATH) == 0;
	}
	closedir(fds);
	return count;
}

static void wait_psi_fds(const struct logged_daemon *d, int count)
{
	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		if (psi_fds(d) == count)
			return;
		sleep_ms(20);
	}
	fail_msg("the daemon holds %d fds on " PSI_PATH ", not %d", psi_fds(d), count);
}

/* Why this process cannot arm TEST_TRIGGER, or NULL when it can. */
static const char *psi_refusal(void)
{
	static char why[160];
	int fd = open(PSI_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open " PSI_PATH ": %s", strerror(errno));
		return why;
	}
	if (write(fd, TEST_TRIGGER, sizeof(TEST_TRIGGER)) < 0) {
		snprintf(why, sizeof(why), "the kernel refuses the trigger '%s': %s", TEST_TRIGGER,
			 strerror(errno));
		close(fd);
		return why;
	}
	close(fd);
	return NULL;
}

/* Microseconds some task stalled on memory since boot. */
static uint64_t memory_stall_us(void)
{
	unsigned long long total = 0;
	FILE *f = fopen(PSI_PATH, "re");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "some avg10=%*f avg60=%*f avg300=%*f total=%llu", &total), 1);
	fclose(f);
	return total;
}

static void skip_because(const char *why)
{
	print_message("[          ] cannot create memory pressure here: %s\n", why);
	skip();
}

/* Whether the comma-separated list has word. */
static bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);

	for (const char *at = list; (at = strstr(at, word)); at += len)
		if ((at == list || at[-1] == ',') && (at[len] == ',' || at[len] == '\0' ||
						      at[len] == '\n' || at[len] == ' '))
			return true;
	return false;
}

/*
 * The mount point of the cgroup hierarchy of fstype ("cgroup" with the
 * memory controller, or "cgroup2") and its root in the hierarchy.
 */
static bool find_hierarchy(const char *fstype, char *mount, char *root)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], type[64], super[1024];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *rest = strstr(line, " - ");

		if (!rest || sscanf(rest, " - %63s %*s %1023s", type, super) != 2 ||
		    strcmp(type, fstype) != 0)
			continue;
		if (strcmp(fstype, "cgroup") == 0 && !has_word(super, "memory"))
			continue;
		found = sscanf(line, "%*s %*s %*s %1023s %1023s", root, mount) == 2;
	}
	fclose(f);
	return found;
}

/* This process's cgroup in the v1 memory hierarchy, or in cgroup v2. */
static bool own_memory_cgroup(bool v1_memory, char *path, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *controllers = strchr(line, ':'), *cgroup;

		if (!controllers || !(cgroup = strchr(controllers + 1, ':')))
			continue;
		*controllers++ = '\0';
		*cgroup++ = '\0';
		if (v1_memory ? has_word(controllers, "memory")
			      : strcmp(line, "0") == 0 && !controllers[0]) {
			cgroup[strcspn(cgroup, "\n")] = '\0';
			snprintf(path, size, "%s", cgroup);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* The directory of cgroup (a path in the hierarchy) under its mount. */
static void cgroup_dir(char *dir, size_t size, const char *mount, const char *root,
		       const char *cgroup)
{
	size_t root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);

	if (root_len && strncmp(cgroup, root, root_len) == 0)
		cgroup += root_len;
	snprintf(dir, size, "%s%s", mount, strcmp(cgroup, "/") == 0 ? "" : cgroup);
}

/*
 * Where a memory cgroup can be made, and its limit file: under our own
 * cgroup on v1; on v2, where the memory controller is enabled for children
 * (beside our cgroup, whose processes keep it from enabling controllers,
 * unless it is the root). NULL, or why not.
 */
static const char *memory_cgroup_parent(char parent[PATH_SIZE], const char **limit_file)
{
	static char why[2 * PATH_SIZE];
	char mount[PATH_SIZE], root[PATH_SIZE], cgroup[PATH_SIZE], path[PATH_SIZE + 32];
	char controllers[256] = "";
	FILE *f;

	if (find_hierarchy("cgroup", mount, root) && own_memory_cgroup(true, cgroup, sizeof(cgroup))) {
		cgroup_dir(parent, PATH_SIZE, mount, root, cgroup);
		*limit_file = "memory.limit_in_bytes";
		return NULL;
	}
	if (!find_hierarchy("cgroup2", mount, root) || !own_memory_cgroup(false, cgroup, sizeof(cgroup)))
		return "no cgroup hierarchy with the memory controller";
	cgroup_dir(parent, PATH_SIZE, mount, root, cgroup);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", parent);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(controllers, sizeof(controllers), f))
			controllers[0] = '\0';
		fclose(f);
	}
	if (!strstr(controllers, "memory")) {
		snprintf(why, sizeof(why), "no memory controller in %s", parent);
		return why;
	}
	*limit_file = "memory.max";
	if (strcmp(cgroup, "/") != 0) {
		*strrchr(parent, '/') = '\0';
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
	if (write_file(path, "+memory") < 0) {
		snprintf(why, sizeof(why), "cannot enable the memory controller in %s", path);
		return why;
	}
	return NULL;
}

/* Makes made.cgroup, limited to CGROUP_LIMIT; NULL, or why not. */
static const char *make_cgroup(void)
{
	static char why[2 * PATH_SIZE];
	char parent[PATH_SIZE], limit[PATH_SIZE + 64];
	const char *limit_file, *wrong = memory_cgroup_parent(parent, &limit_file);
	int r;

	if (wrong)
		return wrong;
	snprintf(made.cgroup, sizeof(made.cgroup), "%s/iobufd-pressure.%d", parent, (int)getpid());
	if (mkdir(made.cgroup, 0755) < 0) {
		snprintf(why, sizeof(why), "cannot make the cgroup %s: %s", made.cgroup,
			 strerror(errno));
		made.cgroup[0] = '\0';
		return why;
	}
	snprintf(limit, sizeof(limit), "%s/%s", made.cgroup, limit_file);
	r = write_file(limit, CGROUP_LIMIT);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot write %s: %s", limit, strerror(-r));
		return why;
	}
	return NULL;
}

/* The directory this program is in: the build directory's. */
static bool own_dir(char *dir, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", dir, size - 1);

	if (n <= 0)
		return false;
	dir[n] = '\0';
	*strrchr(dir, '/') = '\0';
	return true;
}

static int write_stream_file(int fd)
{
	char *chunk = malloc(MIB);
	int r = 0;

	assert_non_null(chunk);
	memset(chunk, 0x5a, MIB);
	for (size_t done = 0; done < STREAM_FILE_BYTES && r == 0; done += MIB) {
		ssize_t n = write(fd, chunk, MIB);

		if (n != MIB)
			r = n < 0 ? -errno : -ENOSPC;
	}
	free(chunk);
	/* On disk and out of the page cache: the streaming reads it in again. */
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (r == 0)
		r = -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return r;
}

/* Writes made.file on the disk beside this program; NULL, or why not. */
static const char *make_stream_file(void)
{
	static char why[2 * PATH_SIZE];
	char dir[PATH_SIZE];
	struct statfs fs;
	int fd, r;

	if (!own_dir(dir, sizeof(dir)) || statfs(dir, &fs) < 0)
		return "cannot find the build directory";
	/* Pages of tmpfs cannot be dropped and read again: no reclaim to stall on. */
	if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
		snprintf(why, sizeof(why), "%s is on tmpfs, not a disk", dir);
		return why;
	}
	if ((uint64_t)fs.f_bavail * fs.f_bsize < 2ull * STREAM_FILE_BYTES) {
		snprintf(why, sizeof(why), "%s has no room for a %d MiB file", dir,
			 STREAM_FILE_BYTES / MIB);
		return why;
	}
	snprintf(made.file, sizeof(made.file), "%s/pressure-stream.%d", dir, (int)getpid());
	fd = open(made.file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot write in %s: %s", dir, strerror(errno));
		made.file[0] = '\0';
		return why;
	}
	r = write_stream_file(fd);
	close(fd);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot write %s: %s", made.file, strerror(-r));
		return why;
	}
	return NULL;
}

/*
 * Forks made.child, moves it into made.cgroup and has it read made.file
 * STREAM_PASSES times; NULL, or why not.
 */
static const char *start_streaming(void)
{
	static char why[2 * PATH_SIZE];
	char procs[sizeof(made.cgroup) + 16], pid[16], go;
	int sync[2], r;

	assert_int_equal(pipe2(sync, O_CLOEXEC), 0);
	made.child = fork();
	assert_true(made.child >= 0);
	if (made.child == 0) {
		const char *argv[STREAM_PASSES + 2] = { "cat" };
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sync[1]);
		/* Once the parent moved it into the cgroup. */
		if (read(sync[0], &go, 1) != 1 || null < 0 || dup2(null, STDOUT_FILENO) < 0)
			_exit(1);
		for (int i = 1; i <= STREAM_PASSES; i++)
			argv[i] = made.file;
		execvp("cat", (char *const *)argv);
		_exit(127);
	}
	close(sync[0]);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", made.cgroup);
	snprintf(pid, sizeof(pid), "%d", (int)made.child);
	r = write_file(procs, pid);
	if (r == 0)
		assert_int_equal(write(sync[1], "", 1), 1);
	close(sync[1]);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot move a process into %s: %s", made.cgroup,
			 strerror(-r));
		return why;
	}
	return NULL;
}

/* Ends the streaming and removes what it needed. */
static void stop_streaming(void)
{
	if (made.child > 0) {
		kill(made.child, SIGKILL);
		waitpid(made.child, NULL, 0);
		made.child = 0;
	}
	/* The cgroup empties once its last process is gone. */
	for (int tries = 0; made.cgroup[0] && rmdir(made.cgroup) < 0 && errno == EBUSY &&
			    tries < 200; tries++)
		sleep_ms(10);
	made.cgroup[0] = '\0';
	if (made.file[0])
		unlink(made.file);
	made.file[0] = '\0';
}

static int teardown(void **state)
{
	stop_streaming();
	if (made.daemon) {
		kill(made.daemon->d.pid, SIGKILL);
		waitpid(made.daemon->d.pid, NULL, 0);
		unlink(made.daemon->d.socket);
		rmdir(made.daemon->d.dir);
		unlink(made.daemon->config);
		unlink(made.daemon->log);
		made.daemon = NULL;
	}
	return 0;
}

/* Polls until the buffer reports EMPTY; how long that took, or -1 when it did not. */
static double wait_purged(struct iobuf *buf, const struct timespec *since)
{
	for (int waited = 0; waited < WAIT_MS; waited += 20) {
		if (set_state(buf, IOBUF_PURGEABLE_KEEP_CURRENT) == IOBUF_PURGEABLE_EMPTY)
			return seconds_since(since);
		sleep_ms(20);
	}
	return -1;
}

/*
 * Under real memory pressure every volatile buffer is purged: it reports
 * EMPTY and reads as zero; a non-volatile buffer keeps its contents.
 */
static void test_purged_under_pressure(void **state)
{
	static struct logged_daemon d;
	struct iobuf_task *task;
	struct iobuf *lost, *kept;
	struct timespec since;
	const char *why;
	uint64_t stall_us;
	double took;

	if (geteuid() != 0)
		skip_because("not root: cannot make a memory cgroup");
	if ((why = psi_refusal()) || (why = make_cgroup()) || (why = make_stream_file())) {
		stop_streaming();
		skip_because(why);
	}
	start(&d, "[daemon]\nmemory-pressure = " TEST_TRIGGER "\n", NULL);
	wait_log(&d, "volatile buffers are purged under memory pressure '" TEST_TRIGGER "'", 1);
	task = iobuf_task_connect(d.d.socket);
	assert_non_null(task);
	lost = purgeable_filled(task, BUFFER_SIZE, 0xa5);
	kept = purgeable_filled(task, BUFFER_SIZE, 0x3c);
	assert_int_equal(set_state(lost, IOBUF_PURGEABLE_VOLATILE), IOBUF_PURGEABLE_NON_VOLATILE);
	assert_true(holds(lost, 0xa5));

	clock_gettime(CLOCK_MONOTONIC, &since);
	stall_us = memory_stall_us();
	why = start_streaming();
	if (why) {
		stop_streaming();
		skip_because(why);
	}
	took = wait_purged(lost, &since);
	stop_streaming();
	stall_us = memory_stall_us() - stall_us;
	/* A file system whose pages cannot be reclaimed (an overlay on tmpfs) causes no stall. */
	if (took < 0 && stall_us < TEST_STALL_US)
		skip_because("streaming the file caused no memory stall");
	if (took < 0)
		fail_msg("the volatile buffer was not purged within %d s of memory pressure "
			 "(%llu us of stall)", WAIT_MS / 1000, (unsigned long long)stall_us);
	print_message("[          ] the volatile buffer was purged %.2f s after the streaming "
		      "began; tasks stalled on memory for %llu us meanwhile\n", took,
		      (unsigned long long)stall_us);

	/* Made volatile again, what was purged stays EMPTY, as XNU keeps it. */
	assert_int_equal(set_state(lost, IOBUF_PURGEABLE_VOLATILE), IOBUF_PURGEABLE_EMPTY);
	assert_int_equal(set_state(lost, IOBUF_PURGEABLE_NON_VOLATILE), IOBUF_PURGEABLE_EMPTY);
	assert_true(holds(lost, 0));
	assert_int_equal(set_state(kept, IOBUF_PURGEABLE_KEEP_CURRENT),
			 IOBUF_PURGEABLE_NON_VOLATILE);
	assert_true(holds(kept, 0x3c));
	assert_int_equal(log_count(&d, "purged 1 volatile buffer, 262144 bytes: memory pressure"),
			 1);
	iobuf_release(lost);
	iobuf_release(kept);
	iobuf_task_unref(task);
	stop(&d);
}

/* A bad memory-pressure stops the start with file:line, the key and the forms. */
static void test_bad_values(void **state)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "[daemon]\nmemory-pressure = some 0 2000000\n",
		  ":2: memory-pressure 'some 0 2000000': STALL_US is 0; expected 'off' or "
		  "'some|full STALL_US WINDOW_US' with 0 < STALL_US <= WINDOW_US and WINDOW_US "
		  "500000 to 10000000" },
		{ "[daemon]\nmax-clients = 4\nmemory-pressure = full 3000000 2000000\n",
		  ":3: memory-pressure 'full 3000000 2000000': STALL_US is over WINDOW_US" },
		{ "[daemon]\nmemory-pressure = some 20000 100000\n",
		  ":2: memory-pressure 'some 20000 100000': WINDOW_US is not 500000 to 10000000" },
		{ "[daemon]\nmemory-pressure = some 20000 20000000\n",
		  ":2: memory-pressure 'some 20000 20000000': WINDOW_US is not 500000 to 10000000" },
		{ "[daemon]\nmemory-pressure = on\n",
		  ":2: memory-pressure 'on': not a trigger; expected 'off' or" },
		{ "[daemon]\nmemory-pressure = some 20000\n",
		  ":2: memory-pressure 'some 20000': not a trigger" },
		{ "[daemon]\nmemory-pressure = some -1 2000000\n",
		  ":2: memory-pressure 'some -1 2000000': not a trigger" },
	};
	char out[2048];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_config_refused(cases[i].text, cases[i].error);
	assert_int_equal(run_iobufd((const char *[]){ "--memory-pressure=some 20000 3000",
						      "--no-dbus", NULL }, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "invalid --memory-pressure 'some 20000 3000': WINDOW_US is "
				    "not 500000 to 10000000; expected 'off' or"));
}

/*
 * "off" arms nothing; SIGHUP arms the file's new trigger, keeps it through
 * a file that does not parse, and disarms it for "off".
 */
static void test_off_and_reload(void **state)
{
	static struct logged_daemon d;
	const char *refusal = psi_refusal();
	int armed = refusal ? 0 : 1;

	start(&d, "[daemon]\nmemory-pressure = off\n", NULL);
	wait_log(&d, "memory-pressure is off: volatile buffers are purged only past "
		     "max-volatile-bytes and by an admin", 1);
	assert_int_equal(psi_fds(&d), 0);

	write_config(d.config, "[daemon]\nmemory-pressure = " TEST_TRIGGER "\n");
	assert_int_equal(kill(d.d.pid, SIGHUP), 0);
	if (armed)
		wait_log(&d, "volatile buffers are purged under memory pressure '" TEST_TRIGGER
			     "' (" PSI_PATH ")", 1);
	else
		wait_log(&d, "volatile buffers are purged only past", 2);
	wait_psi_fds(&d, armed);

	write_config(d.config, "[daemon]\nmemory-pressure = some 0 2000000\n");
	assert_int_equal(kill(d.d.pid, SIGHUP), 0);
	wait_log(&d, "keeping the limits in force", 1);
	assert_int_equal(log_count(&d, ":2: memory-pressure 'some 0 2000000': STALL_US is 0"), 1);
	assert_int_equal(psi_fds(&d), armed);

	/* The same trigger again: nothing to do. */
	write_config(d.config, "[daemon]\nmemory-pressure = " TEST_TRIGGER "\n");
	assert_int_equal(kill(d.d.pid, SIGHUP), 0);
	wait_log(&d, "reloaded", 2);
	assert_int_equal(log_count(&d, "memory pressure '" TEST_TRIGGER "'"), armed);
	assert_int_equal(psi_fds(&d), armed);

	write_config(d.config, "[daemon]\nmemory-pressure = off\n");
	assert_int_equal(kill(d.d.pid, SIGHUP), 0);
	wait_log(&d, "memory-pressure is off", 2);
	wait_psi_fds(&d, 0);
	stop(&d);
}

/* The default trigger, and --memory-pressure over the file, at start and at a reload. */
static void test_default_and_command_line(void **state)
{
	static struct logged_daemon d;
	int armed = psi_refusal() ? 0 : 1;

	start(&d, "", NULL);
	if (armed)
		wait_log(&d, "volatile buffers are purged under memory pressure "
			     "'some 200000 2000000' (" PSI_PATH ")", 1);
	assert_int_equal(psi_fds(&d), armed);
	stop(&d);

	start(&d, "[daemon]\nmemory-pressure = " TEST_TRIGGER "\n", "--memory-pressure=off");
	wait_log(&d, "memory-pressure is off", 1);
	assert_int_equal(psi_fds(&d), 0);
	assert_int_equal(kill(d.d.pid, SIGHUP), 0);
	wait_log(&d, "reloaded", 1);
	assert_int_equal(psi_fds(&d), 0);
	assert_int_equal(log_count(&d, "memory-pressure is off"), 1);
	stop(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_purged_under_pressure, teardown),
		cmocka_unit_test_teardown(test_bad_values, teardown),
		cmocka_unit_test_teardown(test_off_and_reload, teardown),
		cmocka_unit_test_teardown(test_default_and_command_line, teardown),
	};

	return cmocka_run_group_tests_name("pressure", tests, NULL, NULL);
}
