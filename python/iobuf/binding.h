/* SPDX-License-Identifier: MIT */
/* iobuf._iobuf, the C half of the iobuf package: what its files share. */
#ifndef IOBUF_PY_BINDING_H
#define IOBUF_PY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include <iobuf/iobuf.h>

/*
 * A failed libiobuf call, captured where it failed. iobuf_last_error() is
 * per thread and the next libiobuf call may overwrite it (a release does),
 * so the message is copied before anything else runs, usually while the GIL
 * is still released.
 */
struct call_error {
	int errnum;
	char message[1024];
};

void call_error_capture(struct call_error *error, int errnum);

/* Raises OSError(errno, "strerror: daemon's message") and returns NULL. */
PyObject *call_error_raise(const struct call_error *error);

/*
 * Argument name's value obj as a C number: TypeError unless it is an int
 * (or has __index__), ValueError when it is negative or too large. 1 on
 * success, 0 with the exception set.
 */
int size_arg(const char *name, PyObject *obj, size_t *out);
int u32_arg(const char *name, PyObject *obj, uint32_t *out);
int u64_arg(const char *name, PyObject *obj, uint64_t *out);

/* What every allocation and query takes; options and alignment may be NULL (0). */
struct allocation_args {
	size_t capacity;
	uint32_t options;
	size_t alignment;
	const char *heap;  /* only this heap serves; NULL: the daemon chooses */
	const char *label; /* the buffer's label; NULL: the task's */
};

int allocation_args(PyObject *capacity, PyObject *options, PyObject *alignment,
		    struct allocation_args *out);
/*
 * The heap and label keywords (NULL or None: not given) into out, borrowed
 * from the str objects. 1, or 0 with TypeError/ValueError set (both given:
 * libiobuf labels a buffer of a named heap with the task's label).
 */
int placement_args(PyObject *heap, PyObject *label, struct allocation_args *out);
/* A str without NUL into *out (borrowed), or None into NULL. 1, or 0 with an exception. */
int optional_text_arg(const char *name, PyObject *obj, const char **out);

/* iobuf.<name>(value): the package's enums, defined in __init__.py. */
PyObject *package_enum(const char *name, unsigned long value);

extern PyTypeObject BufferType;
extern PyTypeObject TaskType;
extern PyTypeObject *UsageType;
extern PyTypeObject *QueryResultType;
extern PyTypeObject *ImageType;
extern PyTypeObject *ImagePlaneType;

int buffer_types_init(PyObject *module);
int task_types_init(PyObject *module);

/* A Buffer object owning buf; on failure buf is released and NULL returned. */
PyObject *buffer_wrap(struct iobuf *buf);

/* A list of n Buffer objects owning bufs[]; on failure every one is released and NULL returned. */
PyObject *buffer_list(struct iobuf **bufs, size_t n);

/* Allocates in task (NULL: the own task) with the GIL released. */
PyObject *buffer_allocate(struct iobuf_task *task, const struct allocation_args *request);

/*
 * The libiobuf task of a Task object, usable without the GIL until
 * task_end(): a close() meanwhile waits for the call to end. NULL with
 * TypeError when obj is no Task, ValueError when it is closed.
 */
struct iobuf_task *task_begin(PyObject *obj);
void task_end(PyObject *obj);

#endif
