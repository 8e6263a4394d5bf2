/*
 * mkf_python.c - the parts of memkind_fixed._native that cffi cannot express.
 *
 * cffi binds the C API (see memkind_fixed.cdef); three things need Python objects
 * written in C and are added to the module by mkf_python_init():
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
 *   the views that unpickling makes over this process's mapping of a block.
 *
 * - KindBase, the base type of memkind_fixed.FixedKind: malloc() and free() in C
 *   (the cost of a small block in Python is then one method call), and the C
 *   halves of calloc, memalign and realloc, the only other makers of Blocks.
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
 * C API is only loaded when a handler is installed or array_data() is called, so
 * the module imports without numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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
    Py_CLEAR(self->block.owner);
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
} KindBase;

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

/* _calloc(num, size): FixedKind.calloc after it checked the numbers. */
static PyObject *kind_calloc(KindBase *self, PyObject *args)
{
    Py_ssize_t num, size;
    if (!PyArg_ParseTuple(args, "nn:_calloc", &num, &size))
        return NULL;
    if (num < 0 || size < 0) {
        PyErr_SetString(PyExc_ValueError, "sizes must not be negative");
        return NULL;
    }
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        return NULL;
    if (num != 0 && size > PY_SSIZE_T_MAX / num) /* larger than any buffer */
        return kind_failed(self, ENOMEM, "calloc(%zd, %zd)", num, size);
    memkind_t kind = self->kind;
    void *ptr;
    int err;
    Py_INCREF(heap);
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    ptr = memkind_calloc(kind, (size_t)num, (size_t)size);
    err = errno;
    Py_END_ALLOW_THREADS
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

/* _shared_block(size, zero, alignment): a SharedBlock of `size` bytes (zeroed when
 * `zero`; at a multiple of `alignment` when it is above 16, a power of two),
 * owned by this process: SharedKind's arrays. The numbers are the caller's
 * (checked by _array_layout). */
static PyObject *kind_shared_block(KindBase *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_shared_block(size, zero, alignment)");
        return NULL;
    }
    Py_ssize_t size = PyLong_AsSsize_t(args[0]);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    int zero = PyObject_IsTrue(args[1]);
    if (zero < 0)
        return NULL;
    Py_ssize_t alignment = PyLong_AsSsize_t(args[2]);
    if (alignment == -1 && PyErr_Occurred())
        return NULL;
    if (size < 0 || alignment < 0) {
        PyErr_SetString(PyExc_ValueError, "size and alignment must not be negative");
        return NULL;
    }
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        return NULL;
    memkind_t kind = self->kind;
    void *ptr = NULL;
    int err = 0;
    int hold = size <= MKF_HOLD_GIL_MAX && alignment <= 16;
    Py_INCREF(heap); /* close() in another thread must not destroy the kind meanwhile */
    PyThreadState *state = hold ? NULL : PyEval_SaveThread();
    errno = 0;
    if (alignment > 16) {
        err = memkind_posix_memalign(kind, &ptr, (size_t)alignment, (size_t)size);
        if (err == 0 && ptr != NULL && zero)
            memset(ptr, 0, (size_t)size);
    } else {
        ptr = zero ? memkind_calloc(kind, 1, (size_t)size) : memkind_malloc(kind, (size_t)size);
        err = errno;
    }
    if (state != NULL)
        PyEval_RestoreThread(state);
    PyObject *block = ptr != NULL ? shared_block_new(heap, kind, ptr, size, current_pid)
                                  : kind_failed(self, err, "an array of %zd bytes", size);
    Py_DECREF(heap);
    return block;
}

/* _shared_view(address, size): a SharedBlock that frees nothing over `size` bytes
 * at `address`, which must lie inside this shared kind's heap (unpickling). */
static PyObject *kind_shared_view(KindBase *self, PyObject *args)
{
    unsigned long long address;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "Kn:_shared_view", &address, &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    PyObject *heap = kind_heap(self);
    if (heap == NULL)
        return NULL;
    char *ptr = (char *)(uintptr_t)address;
    if (memkind_shared_offset(self->kind, ptr) == 0
        || (size > 0 && memkind_shared_offset(self->kind, ptr + size - 1) == 0)) {
        PyErr_Format(PyExc_ValueError, "%zd bytes at %p are not in this shared heap", size,
                     (void *)ptr);
        return NULL;
    }
    return shared_block_new(heap, self->kind, ptr, size, 0);
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
    return 0;
}

static int kind_clear(KindBase *self)
{
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
    {"_calloc", (PyCFunction)kind_calloc, METH_VARARGS,
     "_calloc(num, size) -> Allocation of num * size zeroed bytes (numbers checked)."},
    {"_memalign", (PyCFunction)kind_memalign, METH_VARARGS,
     "_memalign(alignment, size) -> aligned Allocation (numbers checked)."},
    {"_realloc", (PyCFunction)kind_realloc, METH_VARARGS,
     "_realloc(allocation, size) -> the moved Allocation; the old one is released."},
    {"_shared_block", (PyCFunction)(void (*)(void))kind_shared_block, METH_FASTCALL,
     "_shared_block(size, zero, alignment) -> SharedBlock owned by this process."},
    {"_shared_view", (PyCFunction)kind_shared_view, METH_VARARGS,
     "_shared_view(address, size) -> SharedBlock that frees nothing."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef kind_getset[] = {
    {"_heap_ref", (getter)kind_get_heap_ref, (setter)kind_set_heap_ref,
     "the kind's owner, None once closed", NULL},
    {NULL, NULL, NULL, NULL, NULL},
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
    h->kind = (memkind_t)(uintptr_t)kind;
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
