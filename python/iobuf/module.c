/* SPDX-License-Identifier: MIT */
/* iobuf._iobuf: libiobuf's constants, its allocate call, and the types. */
#include "binding.h"

PyMODINIT_FUNC PyInit__iobuf(void);

static PyObject *module_allocate(PyObject *module, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "capacity", "options", "alignment", "task", "label", "heap",
				    NULL };
	PyObject *capacity, *options = NULL, *alignment = NULL, *task_obj = Py_None, *buffer;
	PyObject *label = NULL, *heap = NULL;
	struct allocation_args request;
	struct iobuf_task *task = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OOO$OO:allocate", keywords, &capacity,
					 &options, &alignment, &task_obj, &label, &heap) ||
	    !allocation_args(capacity, options, alignment, &request) ||
	    !placement_args(heap, label, &request))
		return NULL;
	if (task_obj != Py_None && !(task = task_begin(task_obj)))
		return NULL;
	/* No task: libiobuf's own, connected on first use. */
	buffer = buffer_allocate(task, &request);
	if (task)
		task_end(task_obj);
	return buffer;
}

static PyMethodDef module_methods[] = {
	{ "allocate", (PyCFunction)(void (*)(void))module_allocate, METH_VARARGS | METH_KEYWORDS,
	  "allocate(capacity, options=0, alignment=0, task=None, *, label=None, heap=None)\n--\n\n"
	  "Allocates capacity bytes and maps them: iobuf_in_task_with_options().\n\n"
	  "options is an Options value; alignment a power of two (0 means 1) that the\n"
	  "mapping's address honours; task the Task to charge (None: this process's\n"
	  "own connection, at $IOBUFD_SOCKET or /run/iobufd/iobufd.sock). label names\n"
	  "the buffer (at most 31 bytes of UTF-8, no control characters; None: the\n"
	  "task's label). heap, e.g. 'dma-heap/system', is the one heap that may serve\n"
	  "(ENODEV when the daemon serves none of that name). Returns a Buffer.\n"
	  "OSError on failure, its subclass picked by the errno and its message the\n"
	  "daemon's reason: EINVAL for capacity 0, a bad alignment, PURGEABLE without\n"
	  "PAGEABLE or a bad label, EOPNOTSUPP when no heap offers the options, EFBIG\n"
	  "over the daemon's maximum buffer size, EDQUOT over a limit." },
	{ NULL },
};

struct constant {
	const char *name;
	long value;
};

#define CONSTANT(name) { #name, IOBUF_##name }

/* The values of iobuf.h, from which __init__.py builds its enums. */
static const struct constant constants[] = {
	CONSTANT(DIRECTION_IN),
	CONSTANT(DIRECTION_OUT),
	CONSTANT(DIRECTION_INOUT),
	CONSTANT(DIRECTION_MASK),
	CONSTANT(PHYSICALLY_CONTIGUOUS),
	CONSTANT(PAGEABLE),
	CONSTANT(PURGEABLE),
	CONSTANT(KERNEL_USER_SHARED),
	CONSTANT(CACHE_SHIFT),
	CONSTANT(CACHE_MASK),
	CONSTANT(CACHE_DEFAULT),
	CONSTANT(CACHE_INHIBIT),
	CONSTANT(CACHE_WRITETHRU),
	CONSTANT(CACHE_COPYBACK),
	CONSTANT(CACHE_WRITECOMBINE),
	CONSTANT(OPTIONS_KNOWN),
	CONSTANT(PURGEABLE_KEEP_CURRENT),
	CONSTANT(PURGEABLE_NON_VOLATILE),
	CONSTANT(PURGEABLE_VOLATILE),
	CONSTANT(PURGEABLE_EMPTY),
	CONSTANT(IMAGE_SCANOUT),
	CONSTANT(IMAGE_RENDERING),
	CONSTANT(IMAGE_LINEAR),
	CONSTANT(IMAGE_USAGE_KNOWN),
	CONSTANT(IMAGE_MAX_PLANES),
	CONSTANT(IMAGE_MAX_MODIFIERS),
	CONSTANT(HEAP_NAME_MAX),
};

static int add_constants(PyObject *module)
{
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++)
		if (PyModule_AddIntConstant(module, constants[i].name, constants[i].value) < 0)
			return -1;
	return PyModule_AddStringConstant(module, "__version__", IOBUF_PY_VERSION);
}

/* Single-phase: the types are static and the module made once per process. */
static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "iobuf._iobuf",
	.m_doc = "The C half of the iobuf package: libiobuf's calls and types. Import iobuf.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__iobuf(void)
{
	PyObject *module = PyModule_Create(&module_def);

	if (!module)
		return NULL;
	if (add_constants(module) < 0 || buffer_types_init(module) < 0 ||
	    task_types_init(module) < 0) {
		Py_DECREF(module);
		return NULL;
	}
	return module;
}
