/* SPDX-License-Identifier: MIT */
/*
 * iobuf.Buffer: one libiobuf buffer descriptor, its mapped memory exported
 * through the buffer protocol (memoryview, numpy) without a copy.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "binding.h"

struct buffer_object {
	PyObject_HEAD
	struct iobuf *buf;  /* NULL once closed */
	Py_ssize_t exports; /* views of the memory handed out and not yet released */
};

PyTypeObject *ImageType;
PyTypeObject *ImagePlaneType;

static struct iobuf *open_buffer(struct buffer_object *self)
{
	if (!self->buf)
		PyErr_SetString(PyExc_ValueError, "operation on a closed iobuf.Buffer");
	return self->buf;
}

static void release_unlocked(struct iobuf *buf)
{
	/* The last reference tells the daemon: do not hold the GIL meanwhile. */
	Py_BEGIN_ALLOW_THREADS
	iobuf_release(buf);
	Py_END_ALLOW_THREADS
}

PyObject *buffer_wrap(struct iobuf *buf)
{
	struct buffer_object *self = PyObject_New(struct buffer_object, &BufferType);

	if (!self) {
		release_unlocked(buf);
		return NULL;
	}
	self->buf = buf;
	self->exports = 0;
	return (PyObject *)self;
}

PyObject *buffer_list(struct iobuf **bufs, size_t n)
{
	PyObject *list = PyList_New((Py_ssize_t)n);
	size_t i = 0;

	for (; list && i < n; i++) {
		PyObject *item = buffer_wrap(bufs[i]);

		if (!item) {
			Py_CLEAR(list);
			i++; /* buffer_wrap released it */
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	for (; i < n; i++)
		release_unlocked(bufs[i]);
	return list;
}

PyObject *buffer_allocate(struct iobuf_task *task, const struct allocation_args *request)
{
	struct call_error error;
	struct iobuf *buf;

	Py_BEGIN_ALLOW_THREADS
	if (request->heap)
		buf = iobuf_in_task_from_heap(task, request->heap, request->options,
					      request->capacity, request->alignment);
	else if (request->label)
		buf = iobuf_in_task_with_label(task, request->options, request->capacity,
					       request->alignment, request->label);
	else
		buf = iobuf_in_task_with_options(task, request->options, request->capacity,
						 request->alignment);
	if (!buf)
		call_error_capture(&error, errno);
	Py_END_ALLOW_THREADS
	if (!buf)
		return call_error_raise(&error);
	return buffer_wrap(buf);
}

/*
 * Runs call(buf, data) with the GIL released. It holds a reference of its
 * own meanwhile, so a close() from another thread frees nothing under it.
 */
static int call_unlocked(struct iobuf *buf, int (*call)(struct iobuf *, void *), void *data,
			 struct call_error *error)
{
	int r;

	iobuf_retain(buf);
	Py_BEGIN_ALLOW_THREADS
	r = call(buf, data);
	if (r < 0)
		call_error_capture(error, -r);
	iobuf_release(buf);
	Py_END_ALLOW_THREADS
	return r;
}

static void buffer_dealloc(struct buffer_object *self)
{
	/* No view is left: each holds a reference to self. */
	if (self->buf)
		release_unlocked(self->buf);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int buffer_getbuffer(struct buffer_object *self, Py_buffer *view, int flags)
{
	struct iobuf *buf = open_buffer(self);
	void *bytes;

	if (!buf)
		goto fail;
	bytes = iobuf_get_bytes_no_copy(buf);
	if (!bytes) {
		PyErr_SetString(PyExc_BufferError, iobuf_last_error());
		goto fail;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, bytes,
			      (Py_ssize_t)iobuf_get_capacity(buf), 0, flags) < 0)
		return -1;
	self->exports++;
	return 0;

fail:
	view->obj = NULL;
	return -1;
}

static void buffer_releasebuffer(struct buffer_object *self, Py_buffer *view)
{
	self->exports--;
}

static PyObject *buffer_fileno(struct buffer_object *self, PyObject *unused)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? PyLong_FromLong(iobuf_get_fd(buf)) : NULL;
}

static PyObject *buffer_set_length(struct buffer_object *self, PyObject *arg)
{
	struct iobuf *buf = open_buffer(self);
	struct call_error error;
	size_t length;
	int r;

	if (!buf || !size_arg("length", arg, &length))
		return NULL;
	r = iobuf_set_length(buf, length);
	if (r < 0) {
		call_error_capture(&error, -r);
		return call_error_raise(&error);
	}
	Py_RETURN_NONE;
}

/* Whether data lies, even partly, in buf's own mapping. */
static bool overlaps(struct iobuf *buf, const Py_buffer *data)
{
	uintptr_t start = (uintptr_t)iobuf_get_bytes_no_copy(buf);
	uintptr_t end = start + iobuf_get_capacity(buf);
	uintptr_t from = (uintptr_t)data->buf;

	return from < end && from + (size_t)data->len > start;
}

static size_t append(struct iobuf *buf, const Py_buffer *data)
{
	void *copy;
	size_t n;

	if (!overlaps(buf, data))
		return iobuf_append_bytes(buf, data->buf, (size_t)data->len);
	/* A view of this very buffer: memcpy() must not see source and target overlap. */
	copy = PyMem_Malloc((size_t)data->len);
	if (!copy) {
		PyErr_NoMemory();
		return 0;
	}
	memcpy(copy, data->buf, (size_t)data->len);
	n = iobuf_append_bytes(buf, copy, (size_t)data->len);
	PyMem_Free(copy);
	return n;
}

static PyObject *buffer_append(struct buffer_object *self, PyObject *arg)
{
	struct iobuf *buf = open_buffer(self);
	struct call_error error;
	Py_buffer data;
	size_t n = 0;

	if (!buf || PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
		return NULL;
	if (!iobuf_get_bytes_no_copy(buf)) {
		call_error_capture(&error, errno);
		PyBuffer_Release(&data);
		return call_error_raise(&error);
	}
	if (data.len > 0)
		n = append(buf, &data);
	PyBuffer_Release(&data);
	if (PyErr_Occurred())
		return NULL;
	return PyLong_FromSize_t(n);
}

struct purgeable_call {
	enum iobuf_purgeable_state new_state;
	enum iobuf_purgeable_state old_state;
};

static int call_set_purgeable(struct iobuf *buf, void *data)
{
	struct purgeable_call *call = data;

	return iobuf_set_purgeable(buf, call->new_state, &call->old_state);
}

static PyObject *buffer_set_purgeable(struct buffer_object *self, PyObject *arg)
{
	struct iobuf *buf = open_buffer(self);
	struct purgeable_call call = { 0 };
	struct call_error error;
	uint32_t state;

	if (!buf || !u32_arg("state", arg, &state))
		return NULL;
	call.new_state = (enum iobuf_purgeable_state)state;
	if (call_unlocked(buf, call_set_purgeable, &call, &error) < 0)
		return call_error_raise(&error);
	return package_enum("PurgeableState", call.old_state);
}

static int call_prepare(struct iobuf *buf, void *data)
{
	return iobuf_prepare(buf);
}

static int call_complete(struct iobuf *buf, void *data)
{
	return iobuf_complete(buf);
}

static PyObject *run(struct buffer_object *self, int (*call)(struct iobuf *, void *))
{
	struct iobuf *buf = open_buffer(self);
	struct call_error error;

	if (!buf)
		return NULL;
	if (call_unlocked(buf, call, NULL, &error) < 0)
		return call_error_raise(&error);
	Py_RETURN_NONE;
}

static PyObject *buffer_prepare(struct buffer_object *self, PyObject *unused)
{
	return run(self, call_prepare);
}

static PyObject *buffer_complete(struct buffer_object *self, PyObject *unused)
{
	return run(self, call_complete);
}

static PyObject *buffer_close(struct buffer_object *self, PyObject *unused)
{
	struct iobuf *buf = self->buf;

	if (!buf)
		Py_RETURN_NONE;
	if (self->exports > 0)
		return PyErr_Format(PyExc_BufferError,
				    "cannot close buffer %llu: %zd view(s) of its memory "
				    "(memoryviews, arrays) are still exported; release them first",
				    (unsigned long long)iobuf_get_id(buf), self->exports);
	self->buf = NULL;
	release_unlocked(buf);
	Py_RETURN_NONE;
}

static PyObject *buffer_enter(struct buffer_object *self, PyObject *unused)
{
	if (!open_buffer(self))
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *buffer_exit(struct buffer_object *self, PyObject *args)
{
	return buffer_close(self, NULL);
}

static PyObject *buffer_repr(struct buffer_object *self)
{
	PyObject *options, *names, *repr;
	struct iobuf *buf = self->buf;

	if (!buf)
		return PyUnicode_FromString("<iobuf.Buffer closed>");
	options = package_enum("Options", iobuf_get_options(buf));
	if (!options)
		return NULL;
	names = PyObject_GetAttrString(options, "names");
	Py_DECREF(options);
	if (!names)
		return NULL;
	repr = PyUnicode_FromFormat("<iobuf.Buffer id=%llu heap=%s capacity=%zu length=%zu "
				    "options=%U>",
				    (unsigned long long)iobuf_get_id(buf), iobuf_get_heap(buf),
				    iobuf_get_capacity(buf), iobuf_get_length(buf), names);
	Py_DECREF(names);
	return repr;
}

static PyObject *get_length(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? PyLong_FromSize_t(iobuf_get_length(buf)) : NULL;
}

static PyObject *get_capacity(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? PyLong_FromSize_t(iobuf_get_capacity(buf)) : NULL;
}

static PyObject *get_options(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? package_enum("Options", iobuf_get_options(buf)) : NULL;
}

static PyObject *get_label(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? PyUnicode_FromString(iobuf_get_label(buf)) : NULL;
}

static PyObject *get_heap(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? PyUnicode_FromString(iobuf_get_heap(buf)) : NULL;
}

static PyObject *get_id(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);

	return buf ? PyLong_FromUnsignedLongLong(iobuf_get_id(buf)) : NULL;
}

static PyObject *get_closed(struct buffer_object *self, void *closure)
{
	return PyBool_FromLong(!self->buf);
}

/* Sets item i of a struct sequence to value; -1 when value is NULL (an exception). */
static int fill(PyObject *seq, Py_ssize_t i, PyObject *value)
{
	if (!value)
		return -1;
	PyStructSequence_SetItem(seq, i, value);
	return 0;
}

static PyObject *image_plane(uint32_t offset, uint32_t stride)
{
	PyObject *plane = PyStructSequence_New(ImagePlaneType);

	if (!plane)
		return NULL;
	if (fill(plane, 0, PyLong_FromUnsignedLong(offset)) < 0 ||
	    fill(plane, 1, PyLong_FromUnsignedLong(stride)) < 0) {
		Py_DECREF(plane);
		return NULL;
	}
	return plane;
}

static PyObject *image_planes(const struct iobuf_image *image)
{
	PyObject *planes = PyTuple_New(image->plane_count);

	for (unsigned i = 0; planes && i < image->plane_count; i++) {
		PyObject *plane = image_plane(image->planes[i].offset, image->planes[i].stride);

		if (!plane) {
			Py_CLEAR(planes);
			break;
		}
		PyTuple_SET_ITEM(planes, i, plane);
	}
	return planes;
}

static PyObject *get_image(struct buffer_object *self, void *closure)
{
	struct iobuf *buf = open_buffer(self);
	struct iobuf_image image;
	PyObject *result;

	if (!buf)
		return NULL;
	if (iobuf_get_image(buf, &image) < 0)
		Py_RETURN_NONE; /* not an image */
	result = PyStructSequence_New(ImageType);
	if (!result)
		return NULL;
	if (fill(result, 0, PyLong_FromUnsignedLong(image.width)) < 0 ||
	    fill(result, 1, PyLong_FromUnsignedLong(image.height)) < 0 ||
	    fill(result, 2, PyLong_FromUnsignedLong(image.drm_fourcc)) < 0 ||
	    fill(result, 3, PyLong_FromUnsignedLongLong(image.modifier)) < 0 ||
	    fill(result, 4, image_planes(&image)) < 0) {
		Py_DECREF(result);
		return NULL;
	}
	return result;
}

static PyMethodDef buffer_methods[] = {
	{ "fileno", (PyCFunction)buffer_fileno, METH_NOARGS,
	  "fileno()\n--\n\n"
	  "The buffer's fd (a memfd or dma-buf), owned by the buffer: os.dup() it to\n"
	  "keep it past close(), or pass it to a device API or another process." },
	{ "set_length", (PyCFunction)buffer_set_length, METH_O,
	  "set_length(length)\n--\n\n"
	  "Sets the length in use. OSError (ERANGE) past the capacity, leaving it\n"
	  "unchanged." },
	{ "append", (PyCFunction)buffer_append, METH_O,
	  "append(data)\n--\n\n"
	  "Copies as much of the bytes-like data as fits after the current length,\n"
	  "moves the length past it and returns how many bytes were copied (0 when\n"
	  "the buffer is full)." },
	{ "set_purgeable", (PyCFunction)buffer_set_purgeable, METH_O,
	  "set_purgeable(state)\n--\n\n"
	  "Moves a purgeable buffer to state (a PurgeableState; KEEP_CURRENT only\n"
	  "reads) and returns the state it had before. A buffer the daemon purged,\n"
	  "or one made EMPTY, reads as zero and stays EMPTY until made NON_VOLATILE,\n"
	  "which then returns EMPTY. OSError (EINVAL) for a buffer that is not\n"
	  "purgeable." },
	{ "prepare", (PyCFunction)buffer_prepare, METH_NOARGS,
	  "prepare()\n--\n\n"
	  "Hands the buffer to the device after the CPU wrote it (cache maintenance\n"
	  "for a dma-buf; nothing for a memfd). Nests with complete()." },
	{ "complete", (PyCFunction)buffer_complete, METH_NOARGS,
	  "complete()\n--\n\n"
	  "Gives the buffer back to the CPU after the device is done with it; only\n"
	  "the complete() matching the first prepare() does so." },
	{ "close", (PyCFunction)buffer_close, METH_NOARGS,
	  "close()\n--\n\n"
	  "Releases the buffer: unmaps it, closes its fd and tells the daemon, which\n"
	  "drops the charge when nothing else refers to the memory. BufferError while\n"
	  "memoryviews or arrays of it are exported. A closed buffer closes again as a\n"
	  "no-op." },
	{ "release", (PyCFunction)buffer_close, METH_NOARGS,
	  "release()\n--\n\n"
	  "The same as close(), by libiobuf's name." },
	{ "__enter__", (PyCFunction)buffer_enter, METH_NOARGS,
	  "__enter__()\n--\n\nReturns the buffer itself." },
	{ "__exit__", (PyCFunction)buffer_exit, METH_VARARGS,
	  "__exit__(*exc_info)\n--\n\nCloses the buffer." },
	{ NULL },
};

static PyGetSetDef buffer_getset[] = {
	{ "length", (getter)get_length, NULL,
	  "The length in use: starts equal to the capacity; set_length() and append()\n"
	  "move it." },
	{ "capacity", (getter)get_capacity, NULL,
	  "The capacity asked for, in bytes: the length of the buffer's memoryview." },
	{ "options", (getter)get_options, NULL,
	  "The Options granted: exactly what the buffer is (cache mode resolved)." },
	{ "heap", (getter)get_heap, NULL, "The name of the heap that served the buffer, e.g. 'memfd'." },
	{ "id", (getter)get_id, NULL, "The daemon's id for the buffer." },
	{ "label", (getter)get_label, NULL,
	  "The buffer's label: the name admins see (dma-buf name, iobufctl buffers,\n"
	  "the journal); '' for none." },
	{ "image", (getter)get_image, NULL,
	  "An Image (size, fourcc, modifier, planes) for a buffer from Task.image(),\n"
	  "None for others." },
	{ "closed", (getter)get_closed, NULL, "True once close() or release() was called." },
	{ NULL },
};

static PyBufferProcs buffer_as_buffer = {
	.bf_getbuffer = (getbufferproc)buffer_getbuffer,
	.bf_releasebuffer = (releasebufferproc)buffer_releasebuffer,
};

PyTypeObject BufferType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "iobuf.Buffer",
	.tp_doc = "A device-shareable buffer from iobufd, mapped in this process.\n\n"
		  "Made by iobuf.allocate(), Task.allocate() and Task.image(). It exports\n"
		  "its memory through the buffer protocol: memoryview(buf) and\n"
		  "numpy.frombuffer(buf, dtype=numpy.uint8) are writable views of the\n"
		  "mapping itself, capacity bytes long, with no copy. While such a view is\n"
		  "alive the buffer cannot be closed (BufferError), as a bytearray cannot be\n"
		  "resized. Use it as a context manager to close it at the end of a block.",
	.tp_basicsize = sizeof(struct buffer_object),
	.tp_dealloc = (destructor)buffer_dealloc,
	.tp_repr = (reprfunc)buffer_repr,
	.tp_as_buffer = &buffer_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
	.tp_methods = buffer_methods,
	.tp_getset = buffer_getset,
};

static PyStructSequence_Field image_fields[] = {
	{ "width", "Width in pixels." },
	{ "height", "Height in pixels." },
	{ "fourcc", "The DRM_FORMAT_* code." },
	{ "modifier", "The DRM format modifier chosen." },
	{ "planes", "A tuple of ImagePlane, one per plane." },
	{ NULL },
};

static PyStructSequence_Desc image_desc = {
	"iobuf.Image",
	"The layout of an image buffer, as a GPU API imports it.",
	image_fields,
	5,
};

static PyStructSequence_Field image_plane_fields[] = {
	{ "offset", "Where the plane starts in the buffer's fd." },
	{ "stride", "Bytes per row." },
	{ NULL },
};

static PyStructSequence_Desc image_plane_desc = {
	"iobuf.ImagePlane",
	"One plane of an Image.",
	image_plane_fields,
	2,
};

int buffer_types_init(PyObject *module)
{
	if (PyType_Ready(&BufferType) < 0 || PyModule_AddType(module, &BufferType) < 0)
		return -1;
	ImageType = PyStructSequence_NewType(&image_desc);
	if (!ImageType || PyModule_AddType(module, ImageType) < 0)
		return -1;
	ImagePlaneType = PyStructSequence_NewType(&image_plane_desc);
	if (!ImagePlaneType || PyModule_AddType(module, ImagePlaneType) < 0)
		return -1;
	return 0;
}
