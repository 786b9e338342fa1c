/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "iobuf/iobuf.h"

#define START_DEADLINE_MS 60000

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static size_t split_words(char *text, const char **argv, size_t max)
{
	size_t n = 0;

	for (char *w = strtok(text, " "); w && n < max; w = strtok(NULL, " "))
		argv[n++] = w;
	return n;
}

pid_t spawn_iobufd(const char *const *args, int output_fd, void (*in_child)(void *),
		   void *data)
{
	static char wrapper[512];
	const char *binary = getenv("IOBUFD_BINARY");
	const char *argv[64];
	size_t n = 0;
	pid_t pid;

	assert_non_null(binary);
	if (getenv("IOBUFD_WRAPPER")) {
		snprintf(wrapper, sizeof(wrapper), "%s", getenv("IOBUFD_WRAPPER"));
		n = split_words(wrapper, argv, 32);
	}
	argv[n++] = binary;
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (output_fd >= 0) {
			dup2(output_fd, STDOUT_FILENO);
			dup2(output_fd, STDERR_FILENO);
		}
		if (in_child)
			in_child(data);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int run_iobufd(const char *const *args, char *output, size_t size)
{
	size_t used = 0;
	ssize_t got;
	int pipefd[2], status;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = spawn_iobufd(args, pipefd[1], NULL, NULL);
	close(pipefd[1]);
	while ((got = read(pipefd[0], output + used, size - 1 - used)) > 0)
		used += (size_t)got;
	output[used] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Daemons a failed test left running, killed when the test program exits. */
static pid_t running[16];

static void kill_leftovers(void)
{
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (running[i] > 0 && kill(running[i], SIGKILL) == 0)
			waitpid(running[i], NULL, 0);
}

static void track(pid_t pid, pid_t replaced)
{
	static bool registered;

	if (!registered)
		atexit(kill_leftovers);
	registered = true;
	for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
		if (running[i] == replaced) {
			running[i] = pid;
			return;
		}
}

/* Starts a daemon on d->socket and waits until it accepts. */
static void launch(struct test_daemon *d, const char *const *extra_args, bool pass_socket)
{
	/* These suites test the socket and the memfd heap, whatever else the machine has. */
	/* No config file of the machine's: an empty one, unless the test gives its own. */
	/* Volatile buffers go by the tests' own budgets, not by the machine's memory pressure. */
	const char *args[32] = { "--no-dbus", "--heaps=memfd", "--config=/dev/null",
				 "--memory-pressure=off", "--socket", d->socket };
	size_t n = pass_socket ? 6 : 4;
	int sock;

	setenv("IOBUFD_SOCKET", d->socket, 1);
	for (size_t i = 0; extra_args && extra_args[i] && n < 31; i++)
		args[n++] = extra_args[i];
	args[n] = NULL;
	d->pid = spawn_iobufd(args, -1, NULL, NULL);
	track(d->pid, 0);

	for (int waited = 0; waited < START_DEADLINE_MS; waited += 10) {
		sock = raw_connect(d->socket);
		if (sock >= 0) {
			close(sock);
			return;
		}
		if (!test_daemon_alive(d))
			fail_msg("iobufd exited during start-up");
		sleep_ms(10);
	}
	fail_msg("iobufd did not accept connections on %s", d->socket);
}

static void start(struct test_daemon *d, const char *socket_path, const char *const *extra_args,
		  bool pass_socket)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/iobufd-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	if (socket_path)
		snprintf(d->socket, sizeof(d->socket), "%s", socket_path);
	else
		snprintf(d->socket, sizeof(d->socket), "%s/iobufd.sock", d->dir);
	launch(d, extra_args, pass_socket);
}

void test_daemon_start(struct test_daemon *d, const char *const *extra_args)
{
	start(d, NULL, extra_args, true);
}

void test_daemon_start_at(struct test_daemon *d, const char *socket_path)
{
	start(d, socket_path, NULL, true);
}

void test_daemon_start_from_env(struct test_daemon *d)
{
	start(d, NULL, NULL, false);
}

void test_daemon_kill(struct test_daemon *d)
{
	int status;

	assert_int_equal(kill(d->pid, SIGKILL), 0);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	track(0, d->pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(access(d->socket, F_OK), 0);
}

void test_daemon_restart(struct test_daemon *d)
{
	launch(d, NULL, true);
}

int test_daemon_alive(const struct test_daemon *d)
{
	return waitpid(d->pid, NULL, WNOHANG) == 0;
}

void test_daemon_stop(struct test_daemon *d)
{
	assert_int_equal(kill(d->pid, SIGTERM), 0);
	test_daemon_wait_stopped(d);
}

void test_daemon_wait_stopped(struct test_daemon *d)
{
	int status;

	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	track(0, d->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(d->socket, F_OK), -1);
	assert_int_equal(rmdir(d->dir), 0);
}

int raw_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(sock);
		return -1;
	}
	return sock;
}

int raw_call(int sock, struct wire_message *msg, struct wire_message *reply, int *fd)
{
	const char *reason;
	int ignored;

	assert_int_equal(wire_send(sock, msg, -1, 0), 0);
	return wire_recv(sock, reply, fd ? fd : &ignored, 0, &reason);
}

void raw_hello(int sock)
{
	struct wire_message msg = { .header = { WIRE_HELLO, 0, 1 }, .hello.version = WIRE_VERSION };
	struct wire_message reply;

	assert_int_equal(raw_call(sock, &msg, &reply, NULL), 0);
	assert_int_equal(reply.header.opcode, WIRE_HELLO_REPLY);
	assert_int_equal(reply.hello_reply.version, WIRE_VERSION);
}

/* Sends bytes as one record with fd_count fds (open /dev/null) in SCM_RIGHTS. */
void raw_send_with_fds(int sock, const void *bytes, size_t len, size_t fd_count)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} control = { 0 };
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * fd_count) };
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
	int fds[16];

	assert_true(fd_count >= 1 && fd_count <= 16);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
	for (size_t i = 0; i < fd_count; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * fd_count);
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
	for (size_t i = 0; i < fd_count; i++)
		close(fds[i]);
}

int raw_closed(int sock)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char byte;

	/* Drain replies until the end of the stream. */
	while (poll(&pfd, 1, 1000) == 1) {
		ssize_t n = recv(sock, &byte, 1, MSG_DONTWAIT | MSG_TRUNC);

		if (n == 0)
			return 1;
		if (n < 0 && errno != EAGAIN)
			return errno == ECONNRESET;
	}
	return 0;
}

size_t count_fds(pid_t pid)
{
	char path[32];
	DIR *dir;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

size_t count_open_fds(void)
{
	return count_fds(getpid());
}

long process_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	assert_true(kib > 0);
	return kib;
}

struct iobuf_usage usage_of(struct iobuf_task *task)
{
	struct iobuf_usage usage;

	assert_int_equal(iobuf_task_get_usage(task, &usage), 0);
	return usage;
}

void wait_total_buffers(struct iobuf_task *task, uint64_t total_buffers)
{
	for (int waited = 0; waited < 10000; waited += 10) {
		if (usage_of(task).total_buffers == total_buffers)
			return;
		sleep_ms(10);
	}
	fail_msg("the daemon still holds %llu buffers, expected %llu",
		 (unsigned long long)usage_of(task).total_buffers,
		 (unsigned long long)total_buffers);
}

void assert_refused(const void *result, int err, const char *message)
{
	int saved = errno;

	assert_null(result);
	assert_int_equal(saved, err);
	if (!strstr(iobuf_last_error(), message))
		fail_msg("message \"%s\" lacks \"%s\"", iobuf_last_error(), message);
}

void assert_refused_r(int r, int err, const char *message)
{
	assert_int_equal(r, -err);
	if (!strstr(iobuf_last_error(), message))
		fail_msg("message \"%s\" lacks \"%s\"", iobuf_last_error(), message);
}

int group_daemon_start(void **state)
{
	struct test_daemon *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	test_daemon_start(d, NULL);
	*state = d;
	return 0;
}

int group_daemon_stop(void **state)
{
	if (!*state)
		return 0; /* the setup failed */
	test_daemon_stop(*state);
	free(*state);
	return 0;
}

/* This process's command name, as the daemon reads it (a wrapper may change it). */
const char *own_comm(void)
{
	static char comm[32];
	FILE *f = fopen("/proc/self/comm", "re");

	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return comm;
}

int test_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	assert_true(fd >= 0);
	return fd;
}

pid_t idle_child(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return pid;
}

int exited_child_pidfd(pid_t *pid)
{
	struct pollfd exited;
	int pidfd;

	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0)
		_exit(0);
	pidfd = test_pidfd_open(*pid);
	exited = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	assert_int_equal(poll(&exited, 1, 5000), 1);
	return pidfd;
}

const char *own_unit(void)
{
	static char unit[128];
	char *name = NULL;

	unit[0] = '\0';
	if (sd_pid_get_user_unit(0, &name) >= 0 || sd_pid_get_unit(0, &name) >= 0)
		snprintf(unit, sizeof(unit), "%s", name);
	free(name);
	return unit;
}

const char *own_cgroup(void)
{
	static char path[512];
	char line[600];
	FILE *f = fopen("/proc/self/cgroup", "re");

	assert_non_null(f);
	path[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0)
			snprintf(path, sizeof(path), "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
	fclose(f);
	return path;
}

struct iobuf *purgeable_filled(struct iobuf_task *task, size_t size, unsigned char fill)
{
	struct iobuf *buf = iobuf_in_task_with_options(task, IOBUF_PAGEABLE | IOBUF_PURGEABLE,
						       size, 0);

	assert_non_null(buf);
	memset(iobuf_get_bytes_no_copy(buf), fill, size);
	return buf;
}

enum iobuf_purgeable_state set_state(struct iobuf *buf, enum iobuf_purgeable_state state)
{
	enum iobuf_purgeable_state old;

	assert_int_equal(iobuf_set_purgeable(buf, state, &old), 0);
	return old;
}

bool holds(struct iobuf *buf, unsigned char fill)
{
	const unsigned char *bytes = iobuf_get_bytes_no_copy(buf);

	for (size_t i = 0; i < iobuf_get_capacity(buf); i++)
		if (bytes[i] != fill)
			return false;
	return true;
}

void write_config(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

void assert_config_refused(const char *text, const char *error)
{
	char path[64], arg[96], out[2048];

	snprintf(path, sizeof(path), "/tmp/iobufd-bad.%d.conf", (int)getpid());
	snprintf(arg, sizeof(arg), "--config=%s", path);
	write_config(path, text);
	assert_int_equal(run_iobufd((const char *[]){ arg, "--no-dbus", "--socket",
						      "/nonexistent/s", NULL },
				    out, sizeof(out)), 1);
	unlink(path);
	if (!strstr(out, error))
		fail_msg("for \"%s\": \"%s\" lacks \"%s\"", text, out, error);
}

static char admin_group_file[64];

void test_admin_group_begin(gid_t gid)
{
	char line[512];
	FILE *in, *out;
	int fd;

	assert_null(getgrgid(gid));
	assert_null(getgrnam("iobufd-admin"));
	snprintf(admin_group_file, sizeof(admin_group_file), "/tmp/iobuf-test-group.XXXXXX");
	fd = mkstemp(admin_group_file);
	assert_true(fd >= 0);
	in = fopen("/etc/group", "r");
	out = fdopen(fd, "w");
	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in))
		fputs(line, out);
	fprintf(out, "iobufd-admin:x:%d:\n", (int)gid);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(chmod(admin_group_file, 0644), 0);
	assert_int_equal(unshare(CLONE_NEWNS), 0);
	assert_int_equal(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mount(admin_group_file, "/etc/group", "none", MS_BIND, NULL), 0);
	assert_non_null(getgrnam("iobufd-admin"));
}

void test_admin_group_end(void)
{
	umount("/etc/group");
	unlink(admin_group_file);
}
