/* SPDX-License-Identifier: MIT */
/* What the fuzzers share: the libFuzzer entry points, checks, fds and records. */
#ifndef IOBUF_FUZZ_COMMON_H
#define IOBUF_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * A property of the code under test that the input broke: says which on
 * fd 2 (not through stdio's stderr, which fuzz-daemon sends to /dev/null)
 * and aborts, which libFuzzer reports as a crash and saves the input of.
 */
#define fuzz_assert(cond, ...)                                                      \
	do {                                                                        \
		if (!(cond)) {                                                      \
			dprintf(STDERR_FILENO, "%s:%d: %s does not hold: ", __FILE__, \
				__LINE__, #cond);                                   \
			dprintf(STDERR_FILENO, __VA_ARGS__);                        \
			dprintf(STDERR_FILENO, "\n");                               \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* Open fds of this process. */
size_t fuzz_count_fds(void);
/* Lists them on fd 2, each with what it is, to say what leaked. */
void fuzz_print_fds(void);

/*
 * A new fd of a kind the input chooses (FUZZ_FD_*), to send along with a
 * record: fds the receiver must close or keep, never lose. Aborts when
 * none can be made.
 */
enum {
	FUZZ_FD_NULL,   /* /dev/null */
	FUZZ_FD_MEMFD,  /* a one-page memfd */
	FUZZ_FD_PIDFD,  /* a pidfd of this process */
	FUZZ_FD_SOCKET, /* one end of a socketpair, its peer closed */
	FUZZ_FD_KINDS,
};
int fuzz_make_fd(unsigned kind);

/* Closes every fd of fds[0..n). */
void fuzz_close_fds(const int *fds, size_t n);

/*
 * Sends data[0..len) as one SOCK_SEQPACKET record with fds[0..n) in
 * SCM_RIGHTS (MSG_NOSIGNAL | flags). Returns 0 or a negative errno.
 */
/* The most fds fuzz_send_record() sends with a record. */
#define FUZZ_MAX_FDS 95

int fuzz_send_record(int sock, const void *data, size_t len, const int *fds, size_t n,
		     int flags);

#endif
