/*
 * mkf_python.c - the parts of memkind_fixed._native that cffi cannot express.
 *
 * cffi binds the C API (see memkind_fixed.cdef); what needs Python objects written
 * in C is added to the module by mkf_python_init():
 *
 * - Block, the base type of memkind_fixed.Allocation: one block of a kind that
 *   exports its bytes through the buffer protocol and counts the exports, so that
 *   freeing or moving the block while a memoryview or numpy array still points at
 *   it raises BufferError instead of leaving a dangling view (Python 3.11 classes
 *   cannot implement the buffer protocol in Python). A block holds a reference to
 *   its owner, the Python object that keeps the kind alive, and frees itself when
 *   it is collected: no block outlives its kind. Python cannot construct one:
 *   every Block is made here, by KindBase, from memory the kind just handed out,
 *   so each live block has exactly one Block.
 *
 * - SharedBlock, a Block of a shared kind under SharedArrays (their numpy base):
 *   freed when collected only in the process that owns it (a pid: after fork()
 *   the child's copy of the object frees nothing), which may give the block up
 *   (disown) or free it at once whatever views still point at it (free_array,
 *   whose contract is that none is used afterwards). Non-owning SharedBlocks are
 *   the views that unpickling makes over this process's mapping of a block; one
 *   that memkind_fixed.dask made gives its lease back when it is collected.
 *
 * - KindBase, the base type of memkind_fixed.FixedKind: malloc(), calloc() and
 *   free() in C (the cost of a small block in Python is then one method call),
 *   the C halves of memalign and realloc, the only other makers of Blocks, and
 *   the numpy array constructors empty/zeros/full/array ("Arrays" below says how
 *   their arrays own their data).
 *
 * - SharedArray, the ndarray subclass of SharedKind's arrays, a static type whose
 *   methods _shared.py writes in Python (see shared_array_type).
 *
 * - numpy's NEP 49 memory handler (a PyDataMem_Handler in a "mem_handler"
 *   capsule) whose malloc/calloc/realloc/free serve a kind. numpy stores the
 *   capsule on every array whose data it allocated and frees the data through it,
 *   even after the handler is no longer installed. The capsule holds a reference
 *   to the owner, so the kind lives at least as long as any such array; it also
 *   counts its live blocks and never drops the owner while one remains.
 *
 * Everything here runs with the GIL held (mkf_python_init takes it itself because
 * cffi releases it around calls), except the memkind calls that may take long,
 * which release it. Calls on blocks of at most MKF_HOLD_GIL_MAX bytes keep it:
 * the thread cache serves those in nanoseconds, less than releasing and taking
 * the GIL back costs (the 64 B allocate + free of the Python benchmark). numpy's
 * C API is only loaded when a handler is installed, an array is made or
 * array_data() is called, so the module imports without numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memkind_fixed.h"

/* Build against numpy 2.x headers, run on numpy >= 1.22 (NEP 49 appeared there). */
#define NPY_NO_DEPRECATED_API NPY_1_22_API_VERSION
#define NPY_TARGET_VERSION NPY_1_22_API_VERSION
#include <numpy/arrayobject.h>

int mkf_python_init(void);
int mkf_populate(void *addr, size_t size);

#define MKF_MODULE "memkind_fixed._native"
#define MKF_HOLD_GIL_MAX 16384
/* Zeroed blocks up to this size are malloc + memset: the thread cache's small blocks
 * are cleared by memset whichever call makes them, and memkind_calloc's own path
 * costs more than that (170 ns for 128 B of a shared kind, 40 of a private one). */
#define MKF_MEMSET_MAX 4096
#define MKF_HANDLER_NAME "memkind_fixed"

/* ------------------------------------------------------------------ Block */

typedef struct {
    PyObject_HEAD
    char *ptr;            /* the block; NULL once released or moved */
    Py_ssize_t size;      /* bytes exported through the buffer protocol */
    memkind_t kind;
    PyObject *owner;      /* keeps `kind` alive; NULL once released */
    Py_ssize_t exports;   /* live Py_buffer views of the block */
} Block;

static int block_check_movable(Block *self)
{
    if (self->ptr == NULL) {
        PyErr_SetString(PyExc_ValueError, "the allocation was already released");
        return -1;
    }
    if (self->exports > 0) {
        PyErr_Format(PyExc_BufferError,
                     "the allocation is still exported %zd time(s) (memoryview, numpy "
                     "array, ...): release those first",
                     self->exports);
        return -1;
    }
    return 0;
}

/* No tp_new: Python code cannot make a Block (nor an Allocation, nor a subclass of
 * either; object.__new__ refuses them too). Were it possible, a second Block of a
 * live block would free it twice, and a Block of any other address would "free"
 * memory the kind never handed out. Blocks come from block_adopt() only. */

static void block_dealloc(Block *self)
{
    /* No export can exist: every view holds a reference to the block. */
    if (self->ptr != NULL)
        memkind_free(self->kind, self->ptr);
    self->ptr = NULL;
    Py_CLEAR(self->owner); /* after the free: this may destroy the kind */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *block_release(Block *self, PyObject *Py_UNUSED(ignored))
{
    if (self->ptr == NULL)
        Py_RETURN_NONE; /* releasing twice is harmless, as for files */
    if (block_check_movable(self) < 0)
        return NULL;
    char *ptr = self->ptr;
    Py_ssize_t size = self->size;
    self->ptr = NULL;
    self->size = 0;
    if (size <= MKF_HOLD_GIL_MAX) {
        memkind_free(self->kind, ptr);
    } else {
        Py_BEGIN_ALLOW_THREADS
        memkind_free(self->kind, ptr);
        Py_END_ALLOW_THREADS
    }
    Py_CLEAR(self->owner);
    Py_RETURN_NONE;
}

static PyObject *block_get_address(Block *self, void *Py_UNUSED(closure))
{
    if (self->ptr == NULL) {
        PyErr_SetString(PyExc_ValueError, "the allocation was already released");
        return NULL;
    }
    return PyLong_FromUnsignedLongLong((uintptr_t)self->ptr);
}

static PyObject *block_get_size(Block *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->ptr == NULL ? 0 : self->size);
}

static PyObject *block_get_exports(Block *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->exports);
}

static PyObject *block_get_released(Block *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->ptr == NULL);
}

static PyObject *block_get_kind_address(Block *self, void *Py_UNUSED(closure))
{
    return PyLong_FromUnsignedLongLong((uintptr_t)self->kind);
}

static int block_getbuffer(Block *self, Py_buffer *view, int flags)
{
    if (self->ptr == NULL) {
        PyErr_SetString(PyExc_ValueError, "the allocation was already released");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->ptr, self->size, 0, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void block_releasebuffer(Block *self, Py_buffer *Py_UNUSED(view))
{
    self->exports--;
}

static PyBufferProcs block_as_buffer = {
    .bf_getbuffer = (getbufferproc)block_getbuffer,
    .bf_releasebuffer = (releasebufferproc)block_releasebuffer,
};

static PyMethodDef block_methods[] = {
    {"release", (PyCFunction)block_release, METH_NOARGS,
     "release($self, /)\n--\n\n"
     "Free the block now. BufferError while exported; no-op once released."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef block_getset[] = {
    {"address", (getter)block_get_address, NULL, "start address of the block", NULL},
    {"size", (getter)block_get_size, NULL, "bytes requested (0 once released)", NULL},
    {"exports", (getter)block_get_exports, NULL, "live buffer exports", NULL},
    {"released", (getter)block_get_released, NULL, "True once freed or moved", NULL},
    {"_kind_address", (getter)block_get_kind_address, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = MKF_MODULE ".Block",
    .tp_basicsize = sizeof(Block),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A block of a fixed kind that exports its bytes (base of Allocation).",
    .tp_dealloc = (destructor)block_dealloc,
    .tp_as_buffer = &block_as_buffer,
    .tp_methods = block_methods,
    .tp_getset = block_getset,
};

/* ------------------------------------------------------------------ SharedBlock */

/*
 * SharedBlock (memkind_fixed._native.SharedBlock), what SharedKind.empty/zeros/array
 * and unpickling put under a SharedArray. A Block whose `pid` says which process
 * frees it when it is collected (0: none). The package's SharedArray is a numpy
 * array with the SharedBlock as its base (ndarray(buffer=block) holds no export),
 * so making one costs an allocation, this object and the ndarray.
 *
 * The owner object is the SharedKind's heap (the _SharedHeap): it is kept until
 * the SharedBlock goes, even after _free(), so that the mapping stays while any
 * view of it lives.
 */
typedef struct {
    Block block;
    long pid; /* the process that frees the block when collected; 0: none */
    /* A lease: a counter in the shared heap that this view holds one unit of and
     * gives back when it is collected (memkind_fixed.dask: the sender keeps the
     * array until every view it lent is gone); NULL: none. */
    int64_t *lease;
} SharedBlock;

/* getpid(), kept in a variable: a system call per collected array is measurable.
 * The atfork handler runs in every child that fork() makes (os.fork included). */
static long current_pid;

static void shared_after_fork(void)
{
    current_pid = (long)getpid();
}

static void shared_block_dealloc(SharedBlock *self)
{
    if (self->block.ptr != NULL && self->pid != 0 && self->pid == current_pid)
        memkind_free(self->block.kind, self->block.ptr);
    self->block.ptr = NULL;
    if (self->lease != NULL)
        __atomic_sub_fetch(self->lease, 1, __ATOMIC_RELEASE);
    Py_CLEAR(self->block.owner); /* after the lease: it lies in the mapping */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _free(): free the block now, whatever views of it exist (the caller promises
 * that none is used again); ValueError the second time. */
static PyObject *shared_block_free(SharedBlock *self, PyObject *Py_UNUSED(ignored))
{
    char *ptr = self->block.ptr;
    if (ptr == NULL) {
        PyErr_SetString(PyExc_ValueError, "the block was freed already");
        return NULL;
    }
    self->block.ptr = NULL;
    if (self->block.size <= MKF_HOLD_GIL_MAX) {
        memkind_free(self->block.kind, ptr);
    } else {
        Py_BEGIN_ALLOW_THREADS
        memkind_free(self->block.kind, ptr);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

/* Block.release() would drop the owner with the block, and so perhaps the mapping
 * under views that still point into it: a SharedBlock is freed by _free() only. */
static PyObject *shared_block_release(SharedBlock *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    PyErr_SetString(PyExc_TypeError,
                    "a SharedArray's block is freed by SharedKind.free_array, not release()");
    return NULL;
}

static PyObject *shared_block_get_pid(SharedBlock *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLong(self->pid);
}

static int shared_block_set_pid(SharedBlock *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL || !PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "pid must be an int");
        return -1;
    }
    long pid = PyLong_AsLong(value);
    if (pid == -1 && PyErr_Occurred())
        return -1;
    if (pid < 0) {
        PyErr_SetString(PyExc_ValueError, "pid must not be negative");
        return -1;
    }
    self->pid = pid;
    return 0;
}

static PyObject *shared_block_get_heap(SharedBlock *self, void *Py_UNUSED(closure))
{
    PyObject *heap = self->block.owner ? self->block.owner : Py_None;
    Py_INCREF(heap);
    return heap;
}

static PyMethodDef shared_block_methods[] = {
    {"_free", (PyCFunction)shared_block_free, METH_NOARGS,
     "Free the block now, whatever views of it exist. ValueError once freed."},
    {"release", (PyCFunction)shared_block_release, METH_NOARGS,
     "release($self, /)\n--\n\n"
     "TypeError: SharedKind.free_array frees a SharedArray's block."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef shared_block_getset[] = {
    {"pid", (getter)shared_block_get_pid, (setter)shared_block_set_pid,
     "the process that frees the block when this object is collected; 0: none", NULL},
    {"heap", (getter)shared_block_get_heap, NULL, "the owner of the kind", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SharedBlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = MKF_MODULE ".SharedBlock",
    .tp_basicsize = sizeof(SharedBlock),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A block of a shared kind under SharedArrays, freed by its owner process.",
    .tp_base = &BlockType,
    .tp_dealloc = (destructor)shared_block_dealloc,
    .tp_methods = shared_block_methods,
    .tp_getset = shared_block_getset,
};

/* A SharedBlock over `ptr` (`size` bytes) of `kind`, kept alive by `owner`, freed
 * by process `pid` (0: none). With pid != 0 the block is freed again if this fails. */
static PyObject *shared_block_new(PyObject *owner, memkind_t kind, void *ptr, Py_ssize_t size,
                                  long pid)
{
    SharedBlock *block = PyObject_New(SharedBlock, &SharedBlockType);
    if (block == NULL) {
        if (pid != 0)
            memkind_free(kind, ptr);
        return NULL;
    }
    block->block.ptr = ptr;
    block->block.size = size;
    block->block.kind = kind;
    Py_INCREF(owner);
    block->block.owner = owner;
    block->block.exports = 0;
    block->pid = pid;
    block->lease = NULL;
    return (PyObject *)block;
}

/* ------------------------------------------------------------------ KindBase */

/*
 * KindBase, the base type of memkind_fixed.FixedKind: it holds the kind's owner
 * (the package's _Heap, which keeps the kind alive) and the memkind_t, and
 * implements the two calls a program makes most, malloc() and free(), in C, so
 * that a small block costs one method call (the Python benchmark's 64 B
 * allocate + free). malloc() leaves everything but non-negative exact ints to
 * the subclass's checked path, `_malloc(size)`, which raises or calls malloc()
 * again with an exact int.
 *
 * It also makes every Block: malloc() and the C halves of calloc, memalign and
 * realloc (`_calloc`, `_memalign`, `_realloc`, called by FixedKind after it has
 * checked the numbers) allocate and wrap the block in one step, so no address
 * ever passes through Python on its way into a Block. A failed allocation is
 * reported through the subclass's `_alloc_failed(what, errno)`, so errors and
 * messages are the package's own.
 */
typedef struct {
    PyObject_HEAD
    PyObject *heap;        /* the owner of the kind; NULL once closed */
    memkind_t kind;
    PyObject *arrays;      /* the mem_handler capsule of its arrays' data (lazy; NULL) */
    char shared;           /* its arrays are SharedArrays over SharedBlocks */
} KindBase;

/* The array constructors (see "Arrays" below). */
static PyObject *kind_empty(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames);
static PyObject *kind_zeros(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames);
static PyObject *kind_full(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames);
static PyObject *kind_array(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames);

/* The Block subclass that malloc() makes (memkind_fixed.Allocation). */
static PyTypeObject *allocation_type;

static PyObject *kind_get_heap_ref(KindBase *self, void *Py_UNUSED(closure))
{
    PyObject *heap = self->heap ? self->heap : Py_None;
    Py_INCREF(heap);
    return heap;
}

/* _heap_ref = heap (an object with an int `kind_address`) or None (closed). */
static int kind_set_heap_ref(KindBase *self, PyObject *value, void *Py_UNUSED(closure))
{
    memkind_t kind = NULL;
    if (value != NULL && value != Py_None) {
        PyObject *address = PyObject_GetAttrString(value, "kind_address");
        if (address == NULL)
            return -1;
        kind = (memkind_t)(uintptr_t)PyLong_AsUnsignedLongLong(address);
        Py_DECREF(address);
        if (PyErr_Occurred())
            return -1;
        Py_INCREF(value);
    } else {
        value = NULL;
    }
    PyObject *old = self->heap;
    self->heap = value;
    self->kind = kind;
    Py_CLEAR(self->arrays); /* arrays made so far keep their own reference */
    Py_XDECREF(old);
    return 0;
}

/* The owner of the kind, or NULL with ValueError once it is closed (RuntimeError
 * should the package not have named its Allocation type yet). */
static PyObject *kind_heap(KindBase *self)
{
    if (self->heap == NULL) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed FixedKind");
        return NULL;
    }
    if (allocation_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "memkind_fixed: set_allocation_type() not called");
        return NULL;
    }
    return self->heap;
}

/* A new Allocation owning `ptr`, a block of `size` bytes that `kind` has just
 * handed out; the block is freed again if that fails. The only maker of Blocks. */
static PyObject *block_adopt(PyObject *owner, memkind_t kind, void *ptr, Py_ssize_t size)
{
    Block *block = (Block *)allocation_type->tp_alloc(allocation_type, 0);
    if (block == NULL) {
        memkind_free(kind, ptr);
        return NULL;
    }
    block->ptr = ptr;
    block->size = size;
    block->kind = kind;
    Py_INCREF(owner);
    block->owner = owner;
    block->exports = 0;
    return (PyObject *)block;
}

/* Raise the package's exception for an allocation (described by `format`) that
 * failed with errno `err`: self._alloc_failed(what, err). Returns NULL. */
static PyObject *kind_failed(KindBase *self, int err, const char *format, ...)
{
    va_list va;
    va_start(va, format);
    PyObject *what = PyUnicode_FromFormatV(format, va);
    va_end(va);
    if (what == NULL)
        return NULL;
    PyObject *result = PyObject_CallMethod((PyObject *)self, "_alloc_failed", "Oi", what,
                                           err != 0 ? err : ENOMEM);
    Py_DECREF(what);
    if (result != NULL) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_SystemError, "_alloc_failed() returned instead of raising");
    }
    return NULL;
}

static PyObject *kind_malloc(KindBase *self, PyObject *arg)
{
    Py_ssize_t size = -1;
    if (self->heap != NULL && PyLong_CheckExact(arg)) {
        size = PyLong_AsSsize_t(arg);
        if (size == -1 && PyErr_Occurred())
            PyErr_Clear(); /* out of range: the checked path says why */
    }
    if (size < 0)
        return PyObject_CallMethod((PyObject *)self, "_malloc", "O", arg);
    if (allocation_type == NULL)
        return kind_heap(self); /* raises */
    PyObject *heap = self->heap;
    memkind_t kind = self->kind;
    void *ptr;
    int err;
    if (size <= MKF_HOLD_GIL_MAX) {
        errno = 0;
        ptr = memkind_malloc(kind, (size_t)size);
        err = errno;
        if (ptr == NULL)
            return kind_failed(self, err, "malloc(%zd)", size);
        return block_adopt(heap, kind, ptr, size);
    }
    Py_INCREF(heap); /* close() in another thread must not destroy the kind meanwhile */
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    ptr = memkind_malloc(kind, (size_t)size);
    err = errno;
    Py_END_ALLOW_THREADS
    PyObject *block = ptr != NULL ? block_adopt(heap, kind, ptr, size)
                                  : kind_failed(self, err, "malloc(%zd)", size);
    Py_DECREF(heap);
    return block;
}

/* `size` zeroed bytes of `kind` (see MKF_MEMSET_MAX), or NULL with errno set. */
static void *kind_zeroed(memkind_t kind, size_t size)
{
    if (size > MKF_MEMSET_MAX)
        return memkind_calloc(kind, 1, size);
    void *ptr = memkind_malloc(kind, size);
    if (ptr != NULL)
        memset(ptr, 0, size);
    return ptr;
}

/* calloc(num, size): exact non-negative ints whose product fits a Py_ssize_t are
 * served here; anything else goes to the subclass's checked path,
 * `_calloc(num, size)`, which raises or calls calloc() again with exact ints. Small
 * blocks keep the GIL, as in malloc(): the thread cache serves them in nanoseconds. */
static PyObject *kind_calloc(KindBase *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "calloc() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t num = -1, size = -1;
    if (self->heap != NULL && PyLong_CheckExact(args[0]) && PyLong_CheckExact(args[1])) {
        num = PyLong_AsSsize_t(args[0]);
        size = num < 0 ? -1 : PyLong_AsSsize_t(args[1]);
        if (size == -1 && PyErr_Occurred())
            PyErr_Clear(); /* out of range: the checked path says why */
        if (num > 0 && size > PY_SSIZE_T_MAX / num)
            size = -1;
    }
    if (num < 0 || size < 0)
        return PyObject_CallMethod((PyObject *)self, "_calloc", "OO", args[0], args[1]);
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        return NULL;
    memkind_t kind = self->kind;
    void *ptr;
    int err;
    Py_INCREF(heap); /* close() in another thread must not destroy the kind meanwhile */
    PyThreadState *state = num * size <= MKF_HOLD_GIL_MAX ? NULL : PyEval_SaveThread();
    errno = 0;
    ptr = kind_zeroed(kind, (size_t)(num * size));
    err = errno;
    if (state != NULL)
        PyEval_RestoreThread(state);
    PyObject *block = ptr != NULL ? block_adopt(heap, kind, ptr, num * size)
                                  : kind_failed(self, err, "calloc(%zd, %zd)", num, size);
    Py_DECREF(heap);
    return block;
}

/* _memalign(alignment, size): FixedKind.memalign after it checked the numbers. */
static PyObject *kind_memalign(KindBase *self, PyObject *args)
{
    Py_ssize_t alignment, size;
    if (!PyArg_ParseTuple(args, "nn:_memalign", &alignment, &size))
        return NULL;
    if (alignment < 0 || size < 0) {
        PyErr_SetString(PyExc_ValueError, "alignment and size must not be negative");
        return NULL;
    }
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        return NULL;
    memkind_t kind = self->kind;
    void *ptr = NULL;
    int err;
    Py_INCREF(heap);
    Py_BEGIN_ALLOW_THREADS
    err = memkind_posix_memalign(kind, &ptr, (size_t)alignment, (size_t)size);
    Py_END_ALLOW_THREADS
    PyObject *block = err == 0 && ptr != NULL
                          ? block_adopt(heap, kind, ptr, size)
                          : kind_failed(self, err, "memalign(%zd, %zd)", alignment, size);
    Py_DECREF(heap);
    return block;
}

/* Whether [ptr, ptr + size) lies inside this shared kind's heap; ValueError if not. */
static int kind_shared_span(KindBase *self, char *ptr, Py_ssize_t size)
{
    if (memkind_shared_offset(self->kind, ptr) != 0
        && (size == 0 || memkind_shared_offset(self->kind, ptr + size - 1) != 0))
        return 0;
    PyErr_Format(PyExc_ValueError, "%zd bytes at %p are not in this shared heap", size,
                 (void *)ptr);
    return -1;
}

/* _shared_view(address, size, lease=0): a SharedBlock that frees nothing over `size`
 * bytes at `address`, which must lie inside this shared kind's heap (unpickling).
 * With a lease (the address of an int64 counter in the heap, which the sender
 * incremented for this view), the view gives that unit back when it is collected. */
static PyObject *kind_shared_view(KindBase *self, PyObject *args)
{
    unsigned long long address, lease = 0;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "Kn|K:_shared_view", &address, &size, &lease))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        return NULL;
    char *ptr = (char *)(uintptr_t)address;
    if (kind_shared_span(self, ptr, size) < 0)
        return NULL;
    if (lease != 0 && (lease % sizeof(int64_t) != 0
                       || kind_shared_span(self, (char *)(uintptr_t)lease, sizeof(int64_t)) < 0)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "a lease must be an aligned int64");
        return NULL;
    }
    PyObject *block = shared_block_new(heap, self->kind, ptr, size, 0);
    if (block != NULL)
        ((SharedBlock *)block)->lease = (int64_t *)(uintptr_t)lease;
    return block;
}

/* lease_add(allocation, delta) -> the counter in the first 8 bytes of an Allocation
 * of a shared kind, after adding `delta` (0: read it), atomically: the lender's
 * side of SharedBlock.lease. */
static PyObject *mkf_lease_add(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *arg;
    long long delta;
    if (!PyArg_ParseTuple(args, "OL:lease_add", &arg, &delta))
        return NULL;
    if (!PyObject_TypeCheck(arg, &BlockType) || Py_TYPE(arg) == &SharedBlockType) {
        PyErr_Format(PyExc_TypeError, "expected an Allocation, not %s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Block *block = (Block *)arg; /* alive, so its kind is */
    if (block->ptr == NULL || block->size < (Py_ssize_t)sizeof(int64_t)
        || memkind_shared_offset(block->kind, block->ptr) == 0) {
        PyErr_SetString(PyExc_ValueError, "not a live lease in a shared heap");
        return NULL;
    }
    int64_t *counter = (int64_t *)(void *)block->ptr;
    return PyLong_FromLongLong(__atomic_add_fetch(counter, delta, __ATOMIC_ACQ_REL));
}

/* The Block `arg` if it is a block of this kind, else NULL with TypeError /
 * ValueError set. */
static Block *kind_own_block(KindBase *self, PyObject *arg)
{
    /* A SharedBlock is freed through SharedKind.free_array only (see release). */
    if (!PyObject_TypeCheck(arg, &BlockType) || Py_TYPE(arg) == &SharedBlockType) {
        PyErr_Format(PyExc_TypeError, "expected an Allocation, not %s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (((Block *)arg)->kind != self->kind) {
        PyErr_SetString(PyExc_ValueError, "the allocation belongs to another kind");
        return NULL;
    }
    return (Block *)arg;
}

static PyObject *kind_own(KindBase *self, PyObject *arg)
{
    if (kind_own_block(self, arg) == NULL)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *kind_free(KindBase *self, PyObject *arg)
{
    if (self->heap == NULL) {
        PyErr_SetString(PyExc_ValueError, "operation on a closed FixedKind");
        return NULL;
    }
    Block *block = kind_own_block(self, arg);
    return block != NULL ? block_release(block, NULL) : NULL;
}

/* _realloc(allocation, size): FixedKind.realloc after it checked the size. Returns
 * a new Allocation and retires the old one, which passes its owner reference on;
 * when the kind cannot serve the request the old one is left as it was. */
static PyObject *kind_realloc(KindBase *self, PyObject *args)
{
    PyObject *arg;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "On:_realloc", &arg, &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    if (kind_heap(self) == NULL)
        return NULL;
    Block *block = kind_own_block(self, arg);
    if (block == NULL || block_check_movable(block) < 0)
        return NULL;
    char *old = block->ptr;
    void *moved;
    int err;
    block->ptr = NULL; /* no new export, release or realloc while the GIL is released */
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    moved = memkind_realloc(block->kind, old, (size_t)size);
    err = errno;
    Py_END_ALLOW_THREADS
    PyObject *result;
    if (moved == NULL) {
        block->ptr = old;
        result = kind_failed(self, err, "realloc to %zd", size);
    } else {
        result = block_adopt(block->owner, block->kind, moved, size);
        block->size = 0;
        Py_CLEAR(block->owner); /* after the adoption: it may have been the last reference */
    }
    return result;
}

static int kind_traverse(KindBase *self, visitproc visit, void *arg)
{
    Py_VISIT(self->heap);
    Py_VISIT(self->arrays);
    return 0;
}

static int kind_clear(KindBase *self)
{
    Py_CLEAR(self->arrays);
    Py_CLEAR(self->heap);
    return 0;
}

static void kind_dealloc(KindBase *self)
{
    PyObject_GC_UnTrack(self);
    kind_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef kind_methods[] = {
    /* "name($self, ...)\n--\n\n": the signature that inspect.signature() reads. */
    {"malloc", (PyCFunction)kind_malloc, METH_O,
     "malloc($self, size, /)\n--\n\n"
     "Allocation of `size` uninitialised bytes (16-byte aligned)."},
    {"free", (PyCFunction)kind_free, METH_O,
     "free($self, allocation, /)\n--\n\n"
     "Free a block now (same as allocation.release())."},
    {"_own", (PyCFunction)kind_own, METH_O,
     "_own(allocation): TypeError unless a block, ValueError unless of this kind."},
    {"calloc", (PyCFunction)(void (*)(void))kind_calloc, METH_FASTCALL,
     "calloc($self, num, size, /)\n--\n\n"
     "Allocation of num * size zeroed bytes."},
    {"empty", (PyCFunction)(void (*)(void))kind_empty, METH_FASTCALL | METH_KEYWORDS,
     "empty($self, shape, dtype=None)\n--\n\n"
     "A C-ordered array of uninitialised data in the region (dtype: float64 by default)."},
    {"zeros", (PyCFunction)(void (*)(void))kind_zeros, METH_FASTCALL | METH_KEYWORDS,
     "zeros($self, shape, dtype=None)\n--\n\n"
     "A C-ordered array of zeros in the region (dtype: float64 by default)."},
    {"full", (PyCFunction)(void (*)(void))kind_full, METH_FASTCALL | METH_KEYWORDS,
     "full($self, shape, fill_value, dtype=None)\n--\n\n"
     "A C-ordered array of fill_value in the region (as numpy.full)."},
    {"array", (PyCFunction)(void (*)(void))kind_array, METH_FASTCALL | METH_KEYWORDS,
     "array($self, obj, dtype=None)\n--\n\n"
     "A C-ordered copy of obj (anything numpy.asarray takes) in the region."},
    {"_memalign", (PyCFunction)kind_memalign, METH_VARARGS,
     "_memalign(alignment, size) -> aligned Allocation (numbers checked)."},
    {"_realloc", (PyCFunction)kind_realloc, METH_VARARGS,
     "_realloc(allocation, size) -> the moved Allocation; the old one is released."},
    {"_shared_view", (PyCFunction)kind_shared_view, METH_VARARGS,
     "_shared_view(address, size, lease=0) -> SharedBlock that frees nothing."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef kind_getset[] = {
    {"_heap_ref", (getter)kind_get_heap_ref, (setter)kind_set_heap_ref,
     "the kind's owner, None once closed", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef kind_members[] = {
    {"_shared_arrays", T_BOOL, offsetof(KindBase, shared), 0,
     "empty/zeros/full/array make SharedArrays over SharedBlocks (SharedKind)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject KindBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = MKF_MODULE ".KindBase",
    .tp_basicsize = sizeof(KindBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C part of FixedKind: its owner, malloc() and free().",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)kind_dealloc,
    .tp_traverse = (traverseproc)kind_traverse,
    .tp_clear = (inquiry)kind_clear,
    .tp_methods = kind_methods,
    .tp_getset = kind_getset,
    .tp_members = kind_members,
};

/* set_allocation_type(cls): the Block subclass that KindBase.malloc() makes. */
static PyObject *mkf_set_allocation_type(PyObject *Py_UNUSED(module), PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &BlockType)) {
        PyErr_SetString(PyExc_TypeError, "expected a subclass of Block");
        return NULL;
    }
    Py_INCREF(cls);
    Py_XSETREF(allocation_type, (PyTypeObject *)cls);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ NEP 49 handler */

typedef struct {
    PyDataMem_Handler handler; /* handler.allocator.ctx points back here */
    memkind_t kind;
    PyObject *owner;           /* keeps the kind alive */
    atomic_long live;          /* blocks allocated through this handler, not freed */
} Handler;

/* numpy asks for 0 bytes for empty arrays; a minimal block keeps "NULL means out
 * of memory" true. */
static void *handler_malloc(void *ctx, size_t size)
{
    Handler *h = ctx;
    void *p = memkind_malloc(h->kind, size ? size : 1);
    if (p != NULL)
        atomic_fetch_add(&h->live, 1);
    return p;
}

static void *handler_calloc(void *ctx, size_t nelem, size_t elsize)
{
    Handler *h = ctx;
    void *p = (nelem == 0 || elsize == 0) ? memkind_calloc(h->kind, 1, 1)
                                          : memkind_calloc(h->kind, nelem, elsize);
    if (p != NULL)
        atomic_fetch_add(&h->live, 1);
    return p;
}

static void *handler_realloc(void *ctx, void *ptr, size_t new_size)
{
    Handler *h = ctx;
    void *p = memkind_realloc(h->kind, ptr, new_size ? new_size : 1);
    if (p != NULL && ptr == NULL)
        atomic_fetch_add(&h->live, 1);
    return p;
}

static void handler_free(void *ctx, void *ptr, size_t Py_UNUSED(size))
{
    Handler *h = ctx;
    if (ptr == NULL)
        return;
    memkind_free(h->kind, ptr);
    atomic_fetch_sub(&h->live, 1);
}

static void handler_capsule_destructor(PyObject *capsule)
{
    Handler *h = PyCapsule_GetPointer(capsule, "mem_handler");
    if (h == NULL) {
        PyErr_Clear();
        return;
    }
    /* Arrays hold the capsule, so no block can remain here; should numpy ever
     * keep one, leaking the kind beats freeing memory that is in use. */
    if (atomic_load(&h->live) == 0)
        Py_CLEAR(h->owner);
    PyMem_RawFree(h);
}

static int numpy_ready(void)
{
    if (PyArray_API != NULL)
        return 0;
    if (_import_array() < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ImportError, "numpy's C API could not be imported");
        return -1;
    }
    return 0;
}

/* A new "mem_handler" capsule whose handler serves `kind` and holds `owner`. */
static PyObject *handler_new(PyObject *owner, memkind_t kind)
{
    Handler *h = PyMem_RawCalloc(1, sizeof(*h));
    if (h == NULL)
        return PyErr_NoMemory();
    strncpy(h->handler.name, MKF_HANDLER_NAME, sizeof(h->handler.name) - 1);
    h->handler.version = 1;
    h->handler.allocator.ctx = h;
    h->handler.allocator.malloc = handler_malloc;
    h->handler.allocator.calloc = handler_calloc;
    h->handler.allocator.realloc = handler_realloc;
    h->handler.allocator.free = handler_free;
    h->kind = kind;
    atomic_init(&h->live, 0);
    PyObject *capsule = PyCapsule_New(h, "mem_handler", handler_capsule_destructor);
    if (capsule == NULL) {
        PyMem_RawFree(h);
        return NULL;
    }
    Py_INCREF(owner);
    h->owner = owner;
    return capsule;
}

/* numpy_handler(owner, kind_address) -> a "mem_handler" capsule serving the kind */
static PyObject *mkf_numpy_handler(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *owner;
    unsigned long long kind;
    if (!PyArg_ParseTuple(args, "OK", &owner, &kind))
        return NULL;
    if (kind == 0) {
        PyErr_SetString(PyExc_ValueError, "no kind");
        return NULL;
    }
    return handler_new(owner, (memkind_t)(uintptr_t)kind);
}

/* numpy_set_handler(capsule or None) -> the handler it replaces (None: numpy's
 * default). Applies to the current context (thread, asyncio task) only. */
static PyObject *mkf_numpy_set_handler(PyObject *Py_UNUSED(module), PyObject *handler)
{
    if (numpy_ready() < 0)
        return NULL;
    if (handler != Py_None && !PyCapsule_IsValid(handler, "mem_handler")) {
        PyErr_SetString(PyExc_TypeError, "expected a mem_handler capsule or None");
        return NULL;
    }
    return PyDataMem_SetHandler(handler == Py_None ? NULL : handler);
}

/* handler_live_blocks(capsule) -> blocks allocated through a handler of this module
 * and not freed yet */
static PyObject *mkf_handler_live_blocks(PyObject *Py_UNUSED(module), PyObject *capsule)
{
    Handler *h = PyCapsule_GetPointer(capsule, "mem_handler");
    if (h == NULL)
        return NULL;
    if (h->handler.allocator.malloc != handler_malloc) {
        PyErr_SetString(PyExc_TypeError, "not a memkind_fixed handler");
        return NULL;
    }
    return PyLong_FromLong(atomic_load(&h->live));
}

/* array_data(arr) -> the address of a numpy array's first element (what
 * arr.ctypes.data says, without building a ctypes object: SharedArray's pickling). */
static PyObject *mkf_array_data(PyObject *Py_UNUSED(module), PyObject *arr)
{
    if (numpy_ready() < 0)
        return NULL;
    if (!PyArray_Check(arr)) {
        PyErr_Format(PyExc_TypeError, "expected a numpy array, not %s", Py_TYPE(arr)->tp_name);
        return NULL;
    }
    return PyLong_FromUnsignedLongLong((uintptr_t)PyArray_DATA((PyArrayObject *)arr));
}

/* ------------------------------------------------------------------ Arrays */

/*
 * FixedKind/SharedKind.empty, zeros, full and array. The ndarray is made here, with
 * numpy's C API, around a block the kind has just handed out, so that a small array
 * costs about what numpy's own constructor does: one call, one block, one ndarray,
 * and the zeroing decided here: memset for a small block, memkind_calloc (which
 * knows what memory is already zero) for a larger one.
 *
 * - FixedKind: the array owns its data as one that numpy allocated through a NEP 49
 *   handler does: NPY_ARRAY_OWNDATA, with the kind's handler capsule (KindBase.arrays)
 *   as its mem_handler. numpy frees the block through it, and it keeps the kind alive;
 *   no base object, and resize() reallocates in the region. numpy has no call that
 *   sets mem_handler on an array made around given data, so it is written here
 *   (PyArrayObject_fields.mem_handler, in numpy's public header since 1.22).
 * - SharedKind (KindBase.shared): a SharedArray whose base is a SharedBlock owned by
 *   this process, what its pickling (a handle) and free_array/disown work on.
 *
 * Shapes other than an exact non-negative int or a tuple of them, unusable dtypes
 * and sizes past a Py_ssize_t go to the subclass's `_array_args(shape, dtype)`,
 * which raises the package's error or returns (dims, dtype) normalised.
 */

static PyTypeObject *shared_array_type; /* memkind_fixed.SharedArray */
static PyObject *numpy_copyto;          /* numpy.copyto, for full() */
static PyObject *kwnames_casting;       /* ("casting",) */
static PyObject *str_unsafe;            /* "unsafe" */

typedef struct {
    int nd;
    npy_intp dims[NPY_MAXDIMS];
} Shape;

/* numpy_ready(), with the package's word when numpy is not installed. */
static int numpy_for_arrays(void)
{
    if (numpy_ready() == 0)
        return 0;
    if (PyErr_ExceptionMatches(PyExc_ImportError)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ImportError, "FixedKind.empty/zeros/full/array need numpy");
    }
    return -1;
}

/* Positional and keyword arguments into out[0..n) by `names`; the first `required`
 * must be there, the others are NULL when absent. 0, or -1 with TypeError. */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames, const char *const *names, int n, int required,
                      PyObject **out)
{
    for (int i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname, n,
                     nargs);
        return -1;
    }
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
            i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         fname, key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* 1: `obj` is an exact non-negative int or a tuple of them, now in `shape`; 0: not
 * (nothing raised). */
static int shape_fast(PyObject *obj, Shape *shape)
{
    if (PyLong_CheckExact(obj)) {
        Py_ssize_t n = PyLong_AsSsize_t(obj);
        if (n < 0) {
            PyErr_Clear();
            return 0;
        }
        shape->nd = 1;
        shape->dims[0] = n;
        return 1;
    }
    if (!PyTuple_CheckExact(obj) || PyTuple_GET_SIZE(obj) > NPY_MAXDIMS)
        return 0;
    shape->nd = (int)PyTuple_GET_SIZE(obj);
    for (int i = 0; i < shape->nd; i++) {
        PyObject *item = PyTuple_GET_ITEM(obj, i);
        Py_ssize_t n = PyLong_CheckExact(item) ? PyLong_AsSsize_t(item) : -1;
        if (n < 0) {
            PyErr_Clear();
            return 0;
        }
        shape->dims[i] = n;
    }
    return 1;
}

/* 1: an array of `shape` and `descr` can live in a region, `*nbytes` bytes; 0: not
 * (objects, 0-byte items, larger than any buffer), nothing raised. */
static int layout_fast(const Shape *shape, PyArray_Descr *descr, Py_ssize_t *nbytes)
{
    Py_ssize_t size = (Py_ssize_t)PyDataType_ELSIZE(descr);
    if (size <= 0 || PyDataType_FLAGCHK(descr, NPY_ITEM_HASOBJECT))
        return 0;
    for (int i = 0; i < shape->nd; i++) {
        if (shape->dims[i] != 0 && size > PY_SSIZE_T_MAX / shape->dims[i])
            return 0;
        size *= shape->dims[i];
    }
    *nbytes = size;
    return 1;
}

/* The slow path: self._array_args(shape, dtype) raises, or gives (dims, dtype) that
 * pass the fast checks. 0 with *shape, *descr (a new reference) and *nbytes set, or -1. */
static int layout_checked(KindBase *self, PyObject *shape_obj, PyObject *dtype_obj,
                          Shape *shape, PyArray_Descr **descr, Py_ssize_t *nbytes)
{
    PyObject *r = PyObject_CallMethod((PyObject *)self, "_array_args", "OO", shape_obj,
                                      dtype_obj != NULL ? dtype_obj : Py_None);
    if (r == NULL)
        return -1;
    int ok = PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2
             && PyArray_DescrCheck(PyTuple_GET_ITEM(r, 1))
             && shape_fast(PyTuple_GET_ITEM(r, 0), shape)
             && layout_fast(shape, (PyArray_Descr *)PyTuple_GET_ITEM(r, 1), nbytes);
    if (ok) {
        *descr = (PyArray_Descr *)PyTuple_GET_ITEM(r, 1);
        Py_INCREF(*descr);
    } else {
        PyErr_SetString(PyExc_SystemError, "_array_args() returned an unusable layout");
    }
    Py_DECREF(r);
    return ok ? 0 : -1;
}

/* The dtype of empty/zeros: float64 for none, else what numpy.dtype(dtype) is. */
static PyArray_Descr *descr_of(PyObject *dtype)
{
    if (dtype == NULL || dtype == Py_None)
        return PyArray_DescrFromType(NPY_DOUBLE);
    if (PyArray_DescrCheck(dtype)) {
        Py_INCREF(dtype);
        return (PyArray_Descr *)dtype;
    }
    PyArray_Descr *descr = NULL;
    return PyArray_DescrConverter(dtype, &descr) ? descr : NULL;
}

/* A new array of `shape` and `descr` (stolen; `nbytes` from layout_fast) in the
 * kind's region, zero-filled when `zero`. */
static PyObject *array_in_kind(KindBase *self, const Shape *shape, PyArray_Descr *descr,
                               Py_ssize_t nbytes, int zero)
{
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        goto fail;
    if (self->shared && shared_array_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "memkind_fixed: shared_array_type() not called");
        goto fail;
    }
    if (!self->shared && self->arrays == NULL
        && (self->arrays = handler_new(heap, self->kind)) == NULL)
        goto fail;
    memkind_t kind = self->kind;
    size_t alignment = (size_t)PyDataType_ALIGNMENT(descr);
    void *ptr = NULL;
    int err = 0;
    Py_INCREF(heap); /* close() in another thread must not destroy the kind meanwhile */
    PyThreadState *state =
        nbytes <= MKF_HOLD_GIL_MAX && alignment <= 16 ? NULL : PyEval_SaveThread();
    errno = 0;
    if (alignment > 16) {
        err = memkind_posix_memalign(kind, &ptr, alignment, (size_t)nbytes);
        if (err == 0 && ptr != NULL && zero)
            memset(ptr, 0, (size_t)nbytes);
    } else {
        ptr = zero ? kind_zeroed(kind, (size_t)nbytes) : memkind_malloc(kind, (size_t)nbytes);
        err = errno;
    }
    if (state != NULL)
        PyEval_RestoreThread(state);
    if (ptr == NULL) {
        Py_DECREF(heap);
        Py_DECREF(descr);
        return kind_failed(self, err, "an array of %zd bytes", nbytes);
    }
    PyObject *arr;
    npy_intp *dims = (npy_intp *)shape->dims;
    if (self->shared) {
        PyObject *block = shared_block_new(heap, kind, ptr, nbytes, current_pid);
        Py_DECREF(heap);
        if (block == NULL) { /* the block was freed */
            Py_DECREF(descr);
            return NULL;
        }
        arr = PyArray_NewFromDescr(shared_array_type, descr, shape->nd, dims, NULL, ptr,
                                   NPY_ARRAY_CARRAY, NULL);
        if (arr == NULL || PyArray_SetBaseObject((PyArrayObject *)arr, block) < 0) {
            if (arr == NULL)
                Py_DECREF(block); /* frees the block: this process owns it */
            Py_XDECREF(arr);
            return NULL;
        }
        return arr;
    }
    Py_DECREF(heap); /* self->arrays holds it */
    arr = PyArray_NewFromDescr(&PyArray_Type, descr, shape->nd, dims, NULL, ptr,
                               NPY_ARRAY_CARRAY, NULL);
    if (arr == NULL) {
        memkind_free(kind, ptr);
        return NULL;
    }
    Handler *h = PyCapsule_GetPointer(self->arrays, "mem_handler");
    atomic_fetch_add(&h->live, 1);
    Py_INCREF(self->arrays);
    ((PyArrayObject_fields *)arr)->mem_handler = self->arrays;
    PyArray_ENABLEFLAGS((PyArrayObject *)arr, NPY_ARRAY_OWNDATA);
    return arr;
fail:
    Py_DECREF(descr);
    return NULL;
}

/* empty/zeros: the array of (shape, dtype), zeroed when `zero`. */
static PyObject *kind_make(KindBase *self, PyObject *shape_obj, PyObject *dtype_obj, int zero)
{
    if (numpy_for_arrays() < 0)
        return NULL;
    Shape shape;
    Py_ssize_t nbytes = 0;
    PyArray_Descr *descr = descr_of(dtype_obj);
    if (descr == NULL)
        return NULL;
    if (!shape_fast(shape_obj, &shape) || !layout_fast(&shape, descr, &nbytes)) {
        Py_DECREF(descr);
        if (layout_checked(self, shape_obj, dtype_obj, &shape, &descr, &nbytes) < 0)
            return NULL;
    }
    return array_in_kind(self, &shape, descr, nbytes, zero);
}

/* empty/zeros(shape, dtype=float): their arguments, then kind_make. */
static PyObject *kind_make_call(KindBase *self, const char *fname, PyObject *const *args,
                                Py_ssize_t nargs, PyObject *kwnames, int zero)
{
    static const char *const names[] = {"shape", "dtype"};
    PyObject *a[2];
    if (parse_args(fname, args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    return kind_make(self, a[0], a[1], zero);
}

static PyObject *kind_empty(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    return kind_make_call(self, "empty", args, nargs, kwnames, 0);
}

static PyObject *kind_zeros(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    return kind_make_call(self, "zeros", args, nargs, kwnames, 1);
}

/* full(shape, fill_value, dtype=None): as numpy.full, which is empty() and then
 * copyto(a, fill_value, casting="unsafe"), the dtype being fill_value's (as an
 * array) when none is given. */
static PyObject *kind_full(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const names[] = {"shape", "fill_value", "dtype"};
    PyObject *a[3];
    if (parse_args("full", args, nargs, kwnames, names, 3, 2, a) < 0)
        return NULL;
    if (numpy_for_arrays() < 0)
        return NULL;
    PyObject *fill = a[1], *dtype = a[2], *value = NULL, *arr = NULL;
    if (dtype == NULL || dtype == Py_None) {
        value = PyArray_FromAny(fill, NULL, 0, 0, 0, NULL);
        if (value == NULL)
            return NULL;
        dtype = (PyObject *)PyArray_DESCR((PyArrayObject *)value);
        fill = value;
    }
    arr = kind_make(self, a[0], dtype, 0);
    if (arr == NULL)
        goto out;
    if (value != NULL && PyArray_NDIM((PyArrayObject *)value) == 0
        && PyArray_DESCR((PyArrayObject *)value) == PyArray_DESCR((PyArrayObject *)arr)) {
        /* the common case, a scalar of the array's own dtype: no Python call */
        if (PyArray_CopyInto((PyArrayObject *)arr, (PyArrayObject *)value) < 0)
            Py_CLEAR(arr);
        goto out;
    }
    if (numpy_copyto == NULL) {
        PyObject *numpy = PyImport_ImportModule("numpy");
        if (numpy == NULL) {
            Py_CLEAR(arr);
            goto out;
        }
        numpy_copyto = PyObject_GetAttrString(numpy, "copyto");
        Py_DECREF(numpy);
        if (numpy_copyto == NULL) {
            Py_CLEAR(arr);
            goto out;
        }
    }
    PyObject *call[3] = {arr, fill, str_unsafe};
    PyObject *r = PyObject_Vectorcall(numpy_copyto, call, 2, kwnames_casting);
    if (r == NULL)
        Py_CLEAR(arr);
    Py_XDECREF(r);
out:
    Py_XDECREF(value);
    return arr;
}

/* array(obj, dtype=None): a C-ordered copy of numpy.asarray(obj, dtype). */
static PyObject *kind_array(KindBase *self, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    static const char *const names[] = {"obj", "dtype"};
    PyObject *a[2];
    if (parse_args("array", args, nargs, kwnames, names, 2, 1, a) < 0)
        return NULL;
    if (numpy_for_arrays() < 0)
        return NULL;
    PyArray_Descr *want = NULL;
    if (a[1] != NULL && !PyArray_DescrConverter2(a[1], &want))
        return NULL;
    PyArrayObject *src =
        (PyArrayObject *)PyArray_FromAny(a[0], want, 0, 0, NPY_ARRAY_FORCECAST, NULL);
    if (src == NULL)
        return NULL;
    Shape shape;
    shape.nd = PyArray_NDIM(src);
    if (shape.nd > 0) /* a 0-d array has no dims (NULL) */
        memcpy(shape.dims, PyArray_DIMS(src), (size_t)shape.nd * sizeof(npy_intp));
    PyArray_Descr *descr = PyArray_DESCR(src);
    Py_INCREF(descr);
    Py_ssize_t nbytes = 0;
    PyObject *arr = NULL;
    if (!layout_fast(&shape, descr, &nbytes)) {
        Py_DECREF(descr);
        PyObject *dims = PyObject_GetAttrString((PyObject *)src, "shape");
        int rc = dims == NULL ? -1
                              : layout_checked(self, dims, (PyObject *)PyArray_DESCR(src),
                                               &shape, &descr, &nbytes);
        Py_XDECREF(dims);
        if (rc < 0)
            goto out;
    }
    arr = array_in_kind(self, &shape, descr, nbytes, 0);
    if (arr == NULL)
        goto out;
    if (PyArray_IS_C_CONTIGUOUS(src)
        && PyArray_EquivTypes(PyArray_DESCR(src), PyArray_DESCR((PyArrayObject *)arr))) {
        /* the same bytes in the same order (no objects: layout_fast refused them) */
        if (nbytes > 0)
            memcpy(PyArray_DATA((PyArrayObject *)arr), PyArray_DATA(src), (size_t)nbytes);
    } else if (PyArray_CopyInto((PyArrayObject *)arr, src) < 0) {
        Py_CLEAR(arr);
    }
out:
    Py_DECREF(src);
    return arr;
}

/*
 * memkind_fixed.SharedArray, the ndarray subclass of SharedKind's arrays, is a static
 * type made here, with the methods that _shared.py writes in Python copied into its
 * dict. A class statement would make a heap type, and CPython tracks every instance
 * of a heap type in its cyclic garbage collector (the instance holds its type): that
 * and the instance dict cost a third of a small SharedKind.empty(). Like ndarray, a
 * SharedArray then has no __dict__ and is not tracked.
 */
static PyTypeObject SharedArrayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "memkind_fixed.SharedArray",
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
};

/* shared_array_type(cls) -> SharedArray: the static type, readied on the first call
 * (numpy's ndarray as its base and size), with cls's docstring and its functions,
 * properties, class and static methods. */
static PyObject *mkf_shared_array_type(PyObject *Py_UNUSED(module), PyObject *cls)
{
    if (numpy_ready() < 0)
        return NULL;
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "expected a class");
        return NULL;
    }
    if (shared_array_type == NULL) {
        SharedArrayType.tp_base = &PyArray_Type;
        SharedArrayType.tp_basicsize = PyArray_Type.tp_basicsize;
        if (PyType_Ready(&SharedArrayType) < 0)
            return NULL;
        shared_array_type = &SharedArrayType;
    }
    PyObject *key, *value, *dict = ((PyTypeObject *)cls)->tp_dict;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        int copy = PyFunction_Check(value) || PyObject_TypeCheck(value, &PyProperty_Type)
                   || PyObject_TypeCheck(value, &PyClassMethod_Type)
                   || PyObject_TypeCheck(value, &PyStaticMethod_Type)
                   || PyUnicode_CompareWithASCIIString(key, "__doc__") == 0;
        if (copy && PyDict_SetItem(SharedArrayType.tp_dict, key, value) < 0)
            return NULL;
    }
    PyType_Modified(&SharedArrayType);
    Py_INCREF(&SharedArrayType);
    return (PyObject *)&SharedArrayType;
}

static PyMethodDef module_functions[] = {
    {"set_allocation_type", mkf_set_allocation_type, METH_O,
     "set_allocation_type(cls): the Block subclass that KindBase.malloc() makes"},
    {"numpy_handler", mkf_numpy_handler, METH_VARARGS,
     "numpy_handler(owner, kind_address) -> mem_handler capsule"},
    {"numpy_set_handler", mkf_numpy_set_handler, METH_O,
     "numpy_set_handler(capsule or None) -> previous handler"},
    {"handler_live_blocks", mkf_handler_live_blocks, METH_O,
     "handler_live_blocks(capsule) -> int"},
    {"array_data", mkf_array_data, METH_O,
     "array_data(arr) -> int: the address of a numpy array's data"},
    {"lease_add", mkf_lease_add, METH_VARARGS,
     "lease_add(allocation, delta) -> the lease counter in the allocation after the add"},
    {"shared_array_type", mkf_shared_array_type, METH_O,
     "shared_array_type(cls) -> SharedArray, the static type with cls's methods"},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ huge pages */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Fault in [addr, addr + size) for writing. Returns 0 or an errno value. A huge-page
 * mapping made while the huge-page pool is short succeeds, and the first write to a
 * missing page kills the process with SIGBUS; populating reports that as ENOMEM or
 * EFAULT instead (EINVAL: the kernel is older than 5.14 and cannot tell). */
int mkf_populate(void *addr, size_t size)
{
    return madvise(addr, size, MADV_POPULATE_WRITE) == 0 ? 0 : errno;
}

/* ------------------------------------------------------------------ registration */

/* Called through cffi (without the GIL) once the module is imported: adds Block,
 * SharedBlock, KindBase and the module functions to it. Returns 0, or -1 after
 * printing the Python error. */
int mkf_python_init(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = -1;
    PyObject *module = PyImport_ImportModule(MKF_MODULE);
    if (module == NULL)
        goto out;
    if (PyObject_HasAttrString(module, "Block")) {
        rc = 0;
        goto out;
    }
    if (PyType_Ready(&BlockType) < 0)
        goto out;
    Py_INCREF(&BlockType);
    if (PyModule_AddObject(module, "Block", (PyObject *)&BlockType) < 0) {
        Py_DECREF(&BlockType);
        goto out;
    }
    if (PyType_Ready(&SharedBlockType) < 0)
        goto out;
    Py_INCREF(&SharedBlockType);
    if (PyModule_AddObject(module, "SharedBlock", (PyObject *)&SharedBlockType) < 0) {
        Py_DECREF(&SharedBlockType);
        goto out;
    }
    kwnames_casting = Py_BuildValue("(s)", "casting");
    str_unsafe = PyUnicode_InternFromString("unsafe");
    if (kwnames_casting == NULL || str_unsafe == NULL)
        goto out;
    current_pid = (long)getpid();
    if (pthread_atfork(NULL, NULL, shared_after_fork) != 0) {
        PyErr_SetString(PyExc_OSError, "pthread_atfork failed");
        goto out;
    }
    if (PyModule_AddFunctions(module, module_functions) < 0)
        goto out;
    if (PyType_Ready(&KindBaseType) < 0)
        goto out;
    Py_INCREF(&KindBaseType);
    if (PyModule_AddObject(module, "KindBase", (PyObject *)&KindBaseType) < 0) {
        Py_DECREF(&KindBaseType);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        PyErr_Print();
    Py_XDECREF(module);
    PyGILState_Release(gil);
    return rc;
}
