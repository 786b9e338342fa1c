/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fuzz-common.h"

size_t fuzz_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	size_t n = 0;

	fuzz_assert(dir, "cannot list /proc/self/fd");
	while ((entry = readdir(dir)))
		if (entry->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own */
}

void fuzz_print_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;

	if (!dir)
		return;
	dprintf(STDERR_FILENO, "open fds:\n");
	while ((entry = readdir(dir))) {
		char path[PATH_MAX], target[PATH_MAX];
		ssize_t len;

		if (entry->d_name[0] == '.' || atoi(entry->d_name) == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", entry->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len < 0 ? 0 : len] = '\0';
		dprintf(STDERR_FILENO, "  %s -> %s\n", entry->d_name, target);
	}
	closedir(dir);
}

static int socket_end(void)
{
	int pair[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return -1;
	close(pair[1]);
	return pair[0];
}

int fuzz_make_fd(unsigned kind)
{
	int fd = -1;

	switch (kind % FUZZ_FD_KINDS) {
	case FUZZ_FD_NULL:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case FUZZ_FD_MEMFD:
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, 4096) < 0) {
			close(fd);
			fd = -1;
		}
		break;
	case FUZZ_FD_PIDFD:
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		break;
	case FUZZ_FD_SOCKET:
		fd = socket_end();
		break;
	}
	fuzz_assert(fd >= 0, "cannot make an fd of kind %u: %s", kind % FUZZ_FD_KINDS,
		    strerror(errno));
	return fd;
}

void fuzz_close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

int fuzz_send_record(int sock, const void *data, size_t len, const int *fds, size_t n,
		     int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FUZZ_MAX_FDS)];
	} control;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t sent;

	fuzz_assert(n <= FUZZ_MAX_FDS, "%zu fds, room for %d", n, FUZZ_MAX_FDS);
	if (n) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n);
	}
	do
		sent = sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	return sent < 0 ? -errno : 0;
}
