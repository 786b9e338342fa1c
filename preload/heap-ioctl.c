/* SPDX-License-Identifier: MIT */
/*
 * DMA_HEAP_IOCTL_ALLOC on a brokered heap fd, answered as Linux 6.12's
 * dma_heap_ioctl() and dma_heap_ioctl_allocate() (drivers/dma-buf/
 * dma-heap.c) answer it, with the memory from iobufd. The request encodes
 * the size of the caller's struct, which older or newer userspace makes
 * smaller or larger than today's: as much as the request's direction lets
 * in is read, what is missing reads as zero, and as much as it lets out is
 * written back, the fd in its field and the rest as it came. A struct the
 * caller does not have gives EFAULT, not a crash; the fd is kept only when
 * the caller got its number.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#include "shim.h"

/* The kernel keeps structs up to this size on its stack. */
#define ON_STACK 128

bool heap_ioctl_is_alloc(unsigned long request)
{
	unsigned int cmd = (unsigned int)request; /* the kernel takes an unsigned int */

	return _IOC_TYPE(cmd) == DMA_HEAP_IOC_MAGIC && _IOC_NR(cmd) == _IOC_NR(DMA_HEAP_IOCTL_ALLOC);
}

/*
 * Copies size bytes between the caller's memory and this library's as the
 * kernel's copy_from_user() and copy_to_user() do: through the kernel, so
 * memory the caller does not have (or may not write) gives -EFAULT.
 */
static int copy_user(void *to, const void *from, size_t size, bool to_user)
{
	struct iovec ours = { to_user ? (void *)from : to, size };
	struct iovec callers = { to_user ? to : (void *)from, size };
	ssize_t n;

	if (size == 0)
		return 0;
	if (to_user)
		n = process_vm_writev(getpid(), &ours, 1, &callers, 1, 0);
	else
		n = process_vm_readv(getpid(), &ours, 1, &callers, 1, 0);
	if (n == (ssize_t)size)
		return 0;
	if (n >= 0 || errno == EFAULT)
		return -EFAULT;
	/* A seccomp filter or a kernel without these calls: trust the pointer. */
	memcpy(to, from, size);
	return 0;
}

/* dma_heap_ioctl_allocate()'s checks, then iobufd's buffer: its fd or a negative errno. */
static int allocate(const char *name, const struct dma_heap_allocation_data *data)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	if (data->fd != 0)
		return -EINVAL;
	if (data->fd_flags & ~(uint32_t)DMA_HEAP_VALID_FD_FLAGS)
		return -EINVAL;
	if (data->heap_flags & ~(uint64_t)DMA_HEAP_VALID_HEAP_FLAGS)
		return -EINVAL;
	/* PAGE_ALIGN(len) == 0: no length, or one that wraps. */
	if (data->len == 0 || data->len > UINT64_MAX - (page - 1))
		return -EINVAL;
	return daemon_allocate(name, (data->len + page - 1) & ~(page - 1),
			       data->fd_flags & O_CLOEXEC);
}

int heap_ioctl_alloc(const char *name, unsigned int request, void *arg)
{
	const unsigned int known = DMA_HEAP_IOCTL_ALLOC;
	struct dma_heap_allocation_data data;
	unsigned char on_stack[ON_STACK];
	unsigned char *kdata = on_stack;
	size_t out_size = _IOC_SIZE(request);
	size_t in_size = out_size;
	size_t size;
	int fd, r;

	if ((request & known & IOC_IN) == 0)
		in_size = 0;
	if ((request & known & IOC_OUT) == 0)
		out_size = 0;
	size = in_size > out_size ? in_size : out_size;
	if (size < sizeof(data))
		size = sizeof(data);
	if (size > sizeof(on_stack)) {
		kdata = malloc(size);
		if (!kdata)
			return -ENOMEM;
	}

	r = copy_user(kdata, arg, in_size, false);
	if (r < 0)
		goto out;
	memset(kdata + in_size, 0, size - in_size);
	memcpy(&data, kdata, sizeof(data));
	r = fd = allocate(name, &data);
	if (r < 0)
		goto out;
	data.fd = (uint32_t)fd;
	memcpy(kdata + offsetof(struct dma_heap_allocation_data, fd), &data.fd, sizeof(data.fd));
	r = copy_user(arg, kdata, out_size, true);
	if (r < 0)
		close(fd);
out:
	if (kdata != on_stack)
		free(kdata);
	return r < 0 ? r : 0;
}
