/* SPDX-License-Identifier: MIT */
/* iobuf.Task: a connection to iobufd, to which the buffers made in it are charged. */
#include <errno.h>
#include <stdbool.h>

#include "binding.h"

struct task_object {
	PyObject_HEAD
	struct iobuf_task *task; /* NULL once closed */
	unsigned calls;          /* calls using task with the GIL released */
	bool closing;            /* close() came during such a call: the last one unrefs */
	PyObject *path;          /* str or bytes as given, or None: for repr */
	int pidfd;               /* the pidfd it charges, -1 for none: for repr */
};

PyTypeObject *UsageType;
PyTypeObject *QueryResultType;

static struct task_object *new_task_object(struct iobuf_task *task, PyObject *path, int pidfd)
{
	struct task_object *self = PyObject_New(struct task_object, &TaskType);

	if (!self) {
		iobuf_task_unref(task);
		return NULL;
	}
	self->task = task;
	self->calls = 0;
	self->closing = false;
	self->path = Py_NewRef(path);
	self->pidfd = pidfd;
	return self;
}

struct iobuf_task *task_begin(PyObject *obj)
{
	struct task_object *self = (struct task_object *)obj;

	if (!PyObject_TypeCheck(obj, &TaskType)) {
		PyErr_Format(PyExc_TypeError, "task must be an iobuf.Task or None, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return NULL;
	}
	if (!self->task || self->closing) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed iobuf.Task");
		return NULL;
	}
	self->calls++;
	return self->task;
}

static void unref(struct task_object *self)
{
	iobuf_task_unref(self->task);
	self->task = NULL;
}

void task_end(PyObject *obj)
{
	struct task_object *self = (struct task_object *)obj;

	if (--self->calls == 0 && self->closing)
		unref(self);
}

/*
 * Runs call(task, data) on the Task self with the GIL released. 0, or -1
 * with the exception set: the call's OSError, or why self cannot be used.
 */
static int task_call_unlocked(PyObject *self, int (*call)(struct iobuf_task *, void *),
			      void *data)
{
	struct call_error error;
	struct iobuf_task *task;
	int r;

	task = task_begin(self);
	if (!task)
		return -1;
	Py_BEGIN_ALLOW_THREADS
	r = call(task, data);
	if (r < 0)
		call_error_capture(&error, -r);
	Py_END_ALLOW_THREADS
	task_end(self);
	if (r < 0) {
		call_error_raise(&error);
		return -1;
	}
	return 0;
}

static PyObject *task_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "path", NULL };
	PyObject *path = Py_None, *path_bytes = NULL, *self;
	struct call_error error;
	struct iobuf_task *task;
	const char *c_path = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:Task", keywords, &path))
		return NULL;
	if (path != Py_None) {
		if (!PyUnicode_FSConverter(path, &path_bytes))
			return NULL;
		c_path = PyBytes_AS_STRING(path_bytes);
	}
	Py_BEGIN_ALLOW_THREADS
	task = iobuf_task_connect(c_path);
	if (!task)
		call_error_capture(&error, errno);
	Py_END_ALLOW_THREADS
	Py_XDECREF(path_bytes);
	if (!task)
		return call_error_raise(&error);
	self = (PyObject *)new_task_object(task, path, -1);
	return self;
}

static PyObject *task_for_pidfd(PyObject *cls, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "pidfd", "via", NULL };
	struct iobuf_task *via = NULL, *task;
	PyObject *pidfd_obj, *via_obj = Py_None;
	struct call_error error;
	int pidfd;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:for_pidfd", keywords, &pidfd_obj,
					 &via_obj))
		return NULL;
	/* An int or an object with fileno(); ValueError for a negative one. */
	pidfd = PyObject_AsFileDescriptor(pidfd_obj);
	if (pidfd < 0)
		return NULL;
	if (via_obj != Py_None && !(via = task_begin(via_obj)))
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	task = iobuf_task_for_pidfd(via, pidfd);
	if (!task)
		call_error_capture(&error, errno);
	Py_END_ALLOW_THREADS
	if (via)
		task_end(via_obj);
	if (!task)
		return call_error_raise(&error);
	return (PyObject *)new_task_object(task, Py_None, pidfd);
}

static void task_dealloc(struct task_object *self)
{
	/* No call is running: each holds a reference to self. */
	if (self->task)
		unref(self);
	Py_XDECREF(self->path);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *task_allocate(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "capacity", "options", "alignment", "label", "heap", NULL };
	PyObject *capacity, *options = NULL, *alignment = NULL, *label = NULL, *heap = NULL;
	struct allocation_args request;
	struct iobuf_task *task;
	PyObject *buffer;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO$OO:allocate", keywords, &capacity,
					 &options, &alignment, &label, &heap) ||
	    !allocation_args(capacity, options, alignment, &request) ||
	    !placement_args(heap, label, &request))
		return NULL;
	task = task_begin(self);
	if (!task)
		return NULL;
	buffer = buffer_allocate(task, &request);
	task_end(self);
	return buffer;
}

/* A count from 1 (or from 0 when zero_ok) to IOBUF_BATCH_MAX; 0 with the exception set. */
static int batch_count_arg(const char *name, PyObject *obj, bool zero_ok, uint32_t *count)
{
	if (!u32_arg(name, obj, count))
		return 0;
	if ((*count == 0 && !zero_ok) || *count > IOBUF_BATCH_MAX) {
		PyErr_Format(PyExc_ValueError, "%s must be from %d to %d, not %u", name,
			     zero_ok ? 0 : 1, IOBUF_BATCH_MAX, *count);
		return 0;
	}
	return 1;
}

/* A batch's or a pool's arguments. */
struct batch_call {
	const struct allocation_args *request;
	uint32_t count;
	struct iobuf **bufs; /* allocate_n: count of them */
};

static int allocate_n_call(struct iobuf_task *task, void *data)
{
	const struct batch_call *c = data;

	return iobuf_in_task_with_options_n(task, c->request->options, c->request->capacity,
					    c->request->alignment, c->count, c->bufs);
}

static PyObject *task_allocate_n(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "n", "capacity", "options", "alignment", NULL };
	PyObject *n_obj, *capacity, *options = NULL, *alignment = NULL;
	struct iobuf *bufs[IOBUF_BATCH_MAX];
	struct allocation_args request;
	struct batch_call call = { &request, 0, bufs };

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OO:allocate_n", keywords, &n_obj,
					 &capacity, &options, &alignment) ||
	    !batch_count_arg("n", n_obj, false, &call.count) ||
	    !allocation_args(capacity, options, alignment, &request) ||
	    task_call_unlocked(self, allocate_n_call, &call) < 0)
		return NULL;
	return buffer_list(bufs, call.count);
}

static int set_pool_call(struct iobuf_task *task, void *data)
{
	const struct batch_call *c = data;

	return iobuf_task_set_pool(task, c->request->options, c->request->capacity,
				   c->request->alignment, c->count);
}

static PyObject *task_set_pool(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "count", "capacity", "options", "alignment", NULL };
	PyObject *count_obj, *capacity = NULL, *options = NULL, *alignment = NULL;
	struct allocation_args request = { 0 };
	struct batch_call call = { &request, 0, NULL };

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO:set_pool", keywords, &count_obj,
					 &capacity, &options, &alignment) ||
	    !batch_count_arg("count", count_obj, true, &call.count))
		return NULL;
	if (call.count > 0 && !capacity) {
		PyErr_SetString(PyExc_TypeError, "set_pool() needs a capacity for a count above 0");
		return NULL;
	}
	if ((capacity && !allocation_args(capacity, options, alignment, &request)) ||
	    task_call_unlocked(self, set_pool_call, &call) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *query_result(const struct iobuf_match *match)
{
	PyObject *result = PyStructSequence_New(QueryResultType);
	PyObject *size, *options, *heap;

	if (!result)
		return NULL;
	size = PyLong_FromUnsignedLongLong(match->size);
	options = package_enum("Options", match->options);
	heap = PyUnicode_FromString(match->heap);
	PyStructSequence_SetItem(result, 0, size);
	PyStructSequence_SetItem(result, 1, options);
	PyStructSequence_SetItem(result, 2, heap);
	if (!size || !options || !heap)
		Py_CLEAR(result);
	return result;
}

struct query_call {
	const struct allocation_args *request;
	struct iobuf_match match;
};

static int query_call(struct iobuf_task *task, void *data)
{
	struct query_call *c = data;

	if (c->request->heap)
		return iobuf_task_query_heap(task, c->request->heap, c->request->options,
					     c->request->capacity, c->request->alignment, &c->match);
	return iobuf_task_query(task, c->request->options, c->request->capacity,
				c->request->alignment, &c->match);
}

static PyObject *task_query(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "capacity", "options", "alignment", "heap", NULL };
	PyObject *capacity, *options = NULL, *alignment = NULL, *heap = NULL;
	struct allocation_args request;
	struct query_call call = { &request };

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO$O:query", keywords, &capacity,
					 &options, &alignment, &heap) ||
	    !allocation_args(capacity, options, alignment, &request) ||
	    !placement_args(heap, NULL, &request) ||
	    task_call_unlocked(self, query_call, &call) < 0)
		return NULL;
	return query_result(&call.match);
}

static int usage_call(struct iobuf_task *task, void *usage)
{
	return iobuf_task_get_usage(task, usage);
}

static PyObject *task_usage(PyObject *self, PyObject *unused)
{
	struct iobuf_usage usage;
	PyObject *result;

	if (task_call_unlocked(self, usage_call, &usage) < 0)
		return NULL;
	result = PyStructSequence_New(UsageType);
	if (!result)
		return NULL;
	PyStructSequence_SetItem(result, 0, PyLong_FromUnsignedLongLong(usage.buffers));
	PyStructSequence_SetItem(result, 1, PyLong_FromUnsignedLongLong(usage.bytes));
	PyStructSequence_SetItem(result, 2, PyLong_FromUnsignedLongLong(usage.total_buffers));
	PyStructSequence_SetItem(result, 3, PyLong_FromUnsignedLongLong(usage.total_bytes));
	PyStructSequence_SetItem(result, 4, PyLong_FromUnsignedLong(usage.clients));
	for (Py_ssize_t i = 0; i < 5; i++)
		if (!PyStructSequence_GetItem(result, i)) {
			Py_DECREF(result);
			return NULL;
		}
	return result;
}

/* The modifiers offered, from any sequence of ints. -1 with the exception set. */
static int modifier_list(PyObject *obj, uint64_t *modifiers, unsigned *count)
{
	PyObject *seq = PySequence_Fast(obj, "modifiers must be a sequence of ints");
	Py_ssize_t n;

	if (!seq)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	if (n > IOBUF_IMAGE_MAX_MODIFIERS) {
		PyErr_Format(PyExc_ValueError, "%zd modifiers: at most %d may be offered", n,
			     IOBUF_IMAGE_MAX_MODIFIERS);
		Py_DECREF(seq);
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		if (!u64_arg("each modifier", PySequence_Fast_GET_ITEM(seq, i), &modifiers[i])) {
			Py_DECREF(seq);
			return -1;
		}
	*count = (unsigned)n;
	Py_DECREF(seq);
	return 0;
}

static PyObject *task_image(PyObject *self, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "width", "height", "fourcc", "usage", "modifiers", NULL };
	PyObject *width_obj, *height_obj, *fourcc_obj, *usage_obj, *modifiers_obj = NULL;
	uint64_t modifiers[IOBUF_IMAGE_MAX_MODIFIERS];
	uint32_t width, height, fourcc, usage;
	unsigned modifier_count = 0;
	struct call_error error;
	struct iobuf_task *task;
	struct iobuf *buf;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO|O:image", keywords, &width_obj,
					 &height_obj, &fourcc_obj, &usage_obj, &modifiers_obj))
		return NULL;
	if (!u32_arg("width", width_obj, &width) || !u32_arg("height", height_obj, &height) ||
	    !u32_arg("fourcc", fourcc_obj, &fourcc) || !u32_arg("usage", usage_obj, &usage))
		return NULL;
	if (modifiers_obj && modifier_list(modifiers_obj, modifiers, &modifier_count) < 0)
		return NULL;
	task = task_begin(self);
	if (!task)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	buf = iobuf_image_in_task(task, width, height, fourcc, modifiers, modifier_count, usage);
	if (!buf)
		call_error_capture(&error, errno);
	Py_END_ALLOW_THREADS
	task_end(self);
	if (!buf)
		return call_error_raise(&error);
	return buffer_wrap(buf);
}

static PyObject *task_set_timeout(PyObject *self, PyObject *arg)
{
	struct iobuf_task *task;
	uint32_t msec;

	if (!u32_arg("msec", arg, &msec))
		return NULL;
	task = task_begin(self);
	if (!task)
		return NULL;
	iobuf_task_set_timeout(task, msec);
	task_end(self);
	Py_RETURN_NONE;
}

static PyObject *task_set_label(PyObject *self, PyObject *arg)
{
	struct call_error error;
	struct iobuf_task *task;
	const char *label;
	int r;

	if (!optional_text_arg("label", arg, &label))
		return NULL;
	task = task_begin(self);
	if (!task)
		return NULL;
	r = iobuf_task_set_label(task, label);
	if (r < 0)
		call_error_capture(&error, -r);
	task_end(self);
	if (r < 0)
		return call_error_raise(&error);
	Py_RETURN_NONE;
}

static int flush_call(struct iobuf_task *task, void *unused)
{
	return iobuf_task_flush(task);
}

static PyObject *task_flush(PyObject *self, PyObject *unused)
{
	if (task_call_unlocked(self, flush_call, NULL) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *task_close(struct task_object *self, PyObject *unused)
{
	if (!self->task)
		Py_RETURN_NONE;
	/* A call in another thread uses the task: the last one to end closes it. */
	self->closing = true;
	if (self->calls == 0)
		unref(self);
	Py_RETURN_NONE;
}

static PyObject *task_enter(PyObject *self, PyObject *unused)
{
	if (!task_begin(self))
		return NULL;
	task_end(self);
	return Py_NewRef(self);
}

static PyObject *task_exit(struct task_object *self, PyObject *args)
{
	return task_close(self, NULL);
}

static PyObject *task_repr(struct task_object *self)
{
	if (!self->task || self->closing)
		return PyUnicode_FromString("<iobuf.Task closed>");
	if (self->pidfd >= 0)
		return PyUnicode_FromFormat("<iobuf.Task charging pidfd %d>", self->pidfd);
	if (self->path == Py_None)
		return PyUnicode_FromString("<iobuf.Task at the default socket>");
	return PyUnicode_FromFormat("<iobuf.Task at %R>", self->path);
}

static PyObject *get_closed(struct task_object *self, void *closure)
{
	return PyBool_FromLong(!self->task || self->closing);
}

#define ALLOCATION_ARGS_DOC \
	"capacity is in bytes; options an Options value; alignment a power of two\n" \
	"(0 means 1) that the mapping's address honours.\n"

static PyMethodDef task_methods[] = {
	{ "for_pidfd", (PyCFunction)(void (*)(void))task_for_pidfd,
	  METH_VARARGS | METH_KEYWORDS | METH_CLASS,
	  "for_pidfd(pidfd, via=None)\n--\n\n"
	  "A new connection whose buffers are charged to the process pidfd refers to\n"
	  "(os.pidfd_open(pid)), not to the caller: its uid, unit, cgroup and limits.\n"
	  "via is the Task whose socket to use (None: the default socket). The caller\n"
	  "keeps pidfd. PermissionError for a process the caller may not charge,\n"
	  "ProcessLookupError for one that has exited." },
	{ "allocate", (PyCFunction)(void (*)(void))task_allocate, METH_VARARGS | METH_KEYWORDS,
	  "allocate(capacity, options=0, alignment=0, *, label=None, heap=None)\n--\n\n"
	  "Allocates a Buffer in this task and maps it.\n" ALLOCATION_ARGS_DOC
	  "label names the buffer (None: the task's label, see set_label()); heap,\n"
	  "e.g. 'dma-heap/system', is the one heap that may serve (ENODEV when the\n"
	  "daemon serves none of that name). Not both: ValueError." },
	{ "allocate_n", (PyCFunction)(void (*)(void))task_allocate_n, METH_VARARGS | METH_KEYWORDS,
	  "allocate_n(n, capacity, options=0, alignment=0)\n--\n\n"
	  "n (1 to 64) buffers alike, from one heap, in one request: a list of n\n"
	  "mapped Buffers, all or none.\n" ALLOCATION_ARGS_DOC
	  "They carry the task's label. OSError as allocate() raises it; nothing is\n"
	  "left charged then." },
	{ "set_pool", (PyCFunction)(void (*)(void))task_set_pool, METH_VARARGS | METH_KEYWORDS,
	  "set_pool(count, capacity=None, options=0, alignment=0)\n--\n\n"
	  "Keeps count (0 to 64) buffers of one kind ready in this task, so that\n"
	  "allocate() with these arguments and no label or heap of its own takes one\n"
	  "without waiting for the daemon. They are filled in the background, charged\n"
	  "to the task and counted by its limits; iobufctl lists those not taken yet\n"
	  "as pooled. set_pool(0) gives them back." },
	{ "query", (PyCFunction)(void (*)(void))task_query, METH_VARARGS | METH_KEYWORDS,
	  "query(capacity, options=0, alignment=0, *, heap=None)\n--\n\n"
	  "What allocate() with these arguments would get, without allocating: a\n"
	  "QueryResult (size, options, heap), or the OSError it would raise.\n"
	  ALLOCATION_ARGS_DOC },
	{ "usage", (PyCFunction)task_usage, METH_NOARGS,
	  "usage()\n--\n\n"
	  "A Usage: the buffers and bytes the daemon charges to this task, and its\n"
	  "totals over every connected task." },
	{ "image", (PyCFunction)(void (*)(void))task_image, METH_VARARGS | METH_KEYWORDS,
	  "image(width, height, fourcc, usage, modifiers=())\n--\n\n"
	  "Allocates a GPU image (on a GBM heap): width x height pixels of fourcc (a\n"
	  "DRM_FORMAT_* code, see iobuf.fourcc()), for usage (ImageUsage), with one of\n"
	  "the DRM format modifiers offered (none: the heap chooses). Returns a Buffer\n"
	  "whose image attribute gives the modifier and planes; it is mapped only when\n"
	  "linear. OSError (EOPNOTSUPP) when no heap makes images of that kind." },
	{ "flush", (PyCFunction)task_flush, METH_NOARGS,
	  "flush()\n--\n\n"
	  "Waits until the daemon answered every request sent on this task: a\n"
	  "buffer's close() sends its free without waiting. OSError for the first\n"
	  "free the daemon refused since the last flush()." },
	{ "set_label", (PyCFunction)task_set_label, METH_O,
	  "set_label(label)\n--\n\n"
	  "Labels the task's later buffers that are given none (None or '' clears\n"
	  "it): at most 31 bytes of UTF-8 without control characters, OSError\n"
	  "(EINVAL) otherwise. Admins see it as the dma-buf's name, in iobufctl\n"
	  "buffers and in the journal." },
	{ "set_timeout", (PyCFunction)task_set_timeout, METH_O,
	  "set_timeout(msec)\n--\n\n"
	  "How long each call on this task waits for the daemon, in milliseconds; 0\n"
	  "waits forever. The default is $IOBUF_TIMEOUT_MS, or 5000. A call that waits\n"
	  "longer raises TimeoutError." },
	{ "close", (PyCFunction)task_close, METH_NOARGS,
	  "close()\n--\n\n"
	  "Drops this connection. Buffers made in it keep it open until they are\n"
	  "closed too. Closing again is a no-op." },
	{ "__enter__", (PyCFunction)task_enter, METH_NOARGS,
	  "__enter__()\n--\n\nReturns the task itself." },
	{ "__exit__", (PyCFunction)task_exit, METH_VARARGS,
	  "__exit__(*exc_info)\n--\n\nCloses the task." },
	{ NULL },
};

static PyGetSetDef task_getset[] = {
	{ "closed", (getter)get_closed, NULL, "True once close() was called." },
	{ NULL },
};

PyTypeObject TaskType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "iobuf.Task",
	.tp_doc = "Task(path=None)\n--\n\n"
		  "A connection of its own to iobufd, the task its buffers are charged to.\n\n"
		  "path is the daemon's socket; None means $IOBUFD_SOCKET, or\n"
		  "/run/iobufd/iobufd.sock. FileNotFoundError or ConnectionRefusedError\n"
		  "when no daemon listens there. A task whose connection breaks reconnects\n"
		  "to the same path on its next call. Use it as a context manager to close\n"
		  "it at the end of a block.",
	.tp_basicsize = sizeof(struct task_object),
	.tp_dealloc = (destructor)task_dealloc,
	.tp_repr = (reprfunc)task_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_methods = task_methods,
	.tp_getset = task_getset,
	.tp_new = task_new,
};

static PyStructSequence_Field usage_fields[] = {
	{ "buffers", "Live buffers charged to this task." },
	{ "bytes", "Their bytes, as allocated." },
	{ "total_buffers", "Live buffers over every connected task." },
	{ "total_bytes", "Their bytes." },
	{ "clients", "Connected tasks." },
	{ NULL },
};

static PyStructSequence_Desc usage_desc = {
	"iobuf.Usage",
	"What the daemon charges to a task, and its totals over every task.",
	usage_fields,
	5,
};

static PyStructSequence_Field query_result_fields[] = {
	{ "size", "Bytes the daemon would allocate: the capacity rounded up to pages." },
	{ "options", "The Options it would grant." },
	{ "heap", "The name of the heap that would serve." },
	{ NULL },
};

static PyStructSequence_Desc query_result_desc = {
	"iobuf.QueryResult",
	"What the daemon would grant for a request.",
	query_result_fields,
	3,
};

int task_types_init(PyObject *module)
{
	if (PyType_Ready(&TaskType) < 0 || PyModule_AddType(module, &TaskType) < 0)
		return -1;
	UsageType = PyStructSequence_NewType(&usage_desc);
	if (!UsageType || PyModule_AddType(module, UsageType) < 0)
		return -1;
	QueryResultType = PyStructSequence_NewType(&query_result_desc);
	if (!QueryResultType || PyModule_AddType(module, QueryResultType) < 0)
		return -1;
	return 0;
}
