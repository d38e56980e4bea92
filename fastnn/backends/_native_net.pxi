# The network layer of the native backend (csrc/net.c, loss.c, optim.c, dropout.c,
# activations.c): whole-network passes over a C description of the network that is
# built once, the optimizer step, and each kernel on its own for the cross-checks.
#
# Every entry point checks each array once (type, dtype, dimensions, contiguity,
# alignment, shape, writability) and each description object's type, and raises
# TypeError/ValueError naming the argument, so the C layer never sees an array it
# cannot handle; then it takes raw pointers and calls C with the GIL released. The
# steady-state training calls (forward, loss_grad, backward, step) create no arrays:
# forward returns a cached view, loss_grad a float.

cimport numpy as cnp
import numpy as np

import weakref

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc

from ._fastnn cimport *

from .spec import Act, LayerKind, LossSpec, NetSpec, StepSpec

cnp.import_array()

cdef object _MASK64 = (1 << 64) - 1
# Predict's scratch lives on the C stack up to this many doubles (32 KiB: batches of
# up to ~30 rows of a 784-256-128-10 net); above it, one malloc per call.
cdef enum:
    _STACK_DOUBLES = 4096

C_CODES = {
    "FNN_ACT_LINEAR": FNN_ACT_LINEAR,
    "FNN_ACT_RELU": FNN_ACT_RELU,
    "FNN_ACT_LEAKY_RELU": FNN_ACT_LEAKY_RELU,
    "FNN_ACT_SIGMOID": FNN_ACT_SIGMOID,
    "FNN_ACT_TANH": FNN_ACT_TANH,
    "FNN_ACT_SOFTMAX": FNN_ACT_SOFTMAX,
    "FNN_ACT_ELU": FNN_ACT_ELU,
    "FNN_ACT_GELU": FNN_ACT_GELU,
    "FNN_ACT_SOFTPLUS": FNN_ACT_SOFTPLUS,
    "FNN_ACT_STEP": FNN_ACT_STEP,
    "FNN_LOSS_MSE": FNN_LOSS_MSE,
    "FNN_LOSS_MAE": FNN_LOSS_MAE,
    "FNN_LOSS_HUBER": FNN_LOSS_HUBER,
    "FNN_LOSS_CROSS_ENTROPY": FNN_LOSS_CROSS_ENTROPY,
    "FNN_LOSS_BINARY_CROSS_ENTROPY": FNN_LOSS_BINARY_CROSS_ENTROPY,
    "FNN_LOSS_KL_DIVERGENCE": FNN_LOSS_KL_DIVERGENCE,
    "FNN_OPT_SGD": FNN_OPT_SGD,
    "FNN_OPT_ADAM": FNN_OPT_ADAM,
    "FNN_OPT_ADAMW": FNN_OPT_ADAMW,
    "FNN_OPT_RMSPROP": FNN_OPT_RMSPROP,
    "FNN_OPT_ADAGRAD": FNN_OPT_ADAGRAD,
    "FNN_LAYER_DENSE": FNN_LAYER_DENSE,
    "FNN_LAYER_DROPOUT": FNN_LAYER_DROPOUT,
    "FNN_METRIC_ACCURACY": FNN_METRIC_ACCURACY,
    "FNN_METRIC_BINARY_ACCURACY": FNN_METRIC_BINARY_ACCURACY,
    "FNN_METRIC_MSE": FNN_METRIC_MSE,
    "FNN_METRIC_MAE": FNN_METRIC_MAE,
    "FNN_SIMD_SCALAR": FNN_SIMD_SCALAR,
    "FNN_SIMD_AVX2": FNN_SIMD_AVX2,
    "FNN_SIMD_AVX512": FNN_SIMD_AVX512,
    "FNN_PRECISION_FLOAT32": FNN_PRECISION_FLOAT32,
    "FNN_PRECISION_BF16": FNN_PRECISION_BF16,
}


# ------------------------------------------------------------------ argument checks

cdef inline str _typenum_name(int typenum):
    return "float64" if typenum == cnp.NPY_FLOAT64 else "float32"


cdef int _float_typenum(cnp.ndarray a, str name) except -1:
    cdef int typenum = cnp.PyArray_TYPE(a)
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"{name} must have dtype float32 or float64, got {(<object>a).dtype}")
    return typenum


cdef int _check(cnp.ndarray a, str name, int typenum, int ndim, bint writable=False) except -1:
    """a has dtype `typenum`, `ndim` dimensions, C order and aligned data (and is
    writable if asked)."""
    if cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"{name} must have dtype {_typenum_name(typenum)}, got {(<object>a).dtype}")
    if cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {_shape(a)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous")
    if not cnp.PyArray_ISALIGNED(a):
        raise ValueError(f"{name} must be aligned (its data starts at an odd address)")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} must be writable")
    return 0


cdef int _check_rows(cnp.ndarray a, str name, int typenum, Py_ssize_t cols,
                     Py_ssize_t max_rows) except -1:
    """a is a C-order (n, cols) array of `typenum` with n <= max_rows (max_rows < 0: any)."""
    _check(a, name, typenum, 2)
    if a.shape[1] != cols:
        raise ValueError(f"{name} must have {cols} columns, got shape {_shape(a)}")
    if max_rows >= 0 and a.shape[0] > max_rows:
        raise ValueError(f"{name} has {a.shape[0]} rows, more than the workspace's batch "
                         f"of {max_rows}")
    return 0


cdef int _check_same(cnp.ndarray a, str name, cnp.ndarray like, str like_name,
                     bint writable=False) except -1:
    """a has like's dtype and shape, C order."""
    _check(a, name, cnp.PyArray_TYPE(like), cnp.PyArray_NDIM(like), writable)
    cdef int i
    for i in range(cnp.PyArray_NDIM(a)):
        if a.shape[i] != like.shape[i]:
            raise ValueError(f"{name} must have the shape of {like_name} {_shape(like)}, "
                             f"got {_shape(a)}")
    return 0


cdef inline tuple _shape(cnp.ndarray a):
    return (<object>a).shape


cdef inline uint64_t _u64(object value):
    """A Python int as uint64 modulo 2^64 (as spec.dropout_key's arithmetic)."""
    if 0 <= value <= _MASK64:
        return <uint64_t>value
    return <uint64_t>(value & _MASK64)


cdef inline void *_data(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


# ------------------------------------------------------------------ the network in C

cdef class NetDesc:
    """The C description (an array of fnn_layer) of one spec.NetSpec, validated once."""

    cdef fnn_layer *layers
    cdef fnn_net net
    cdef readonly int typenum
    cdef readonly Py_ssize_t n_in, n_out, n_params, width
    # Why backward / loss_grad cannot run (the reference raises there too), or None.
    cdef readonly str backward_error, loss_error

    def __cinit__(self, net):
        self.layers = NULL

    def __init__(self, net):
        if not isinstance(net, NetSpec):
            raise TypeError(f"net must be a fastnn.backends.spec.NetSpec, "
                            f"got {type(net).__name__}")
        cdef Py_ssize_t count = len(net.layers), i
        if count == 0:
            raise ValueError("net has no layers")
        dtype = np.dtype(net.dtype)
        if dtype == np.float32:
            self.typenum = cnp.NPY_FLOAT32
        elif dtype == np.float64:
            self.typenum = cnp.NPY_FLOAT64
        else:
            raise TypeError(f"net.dtype must be float32 or float64, got {dtype}")
        self.n_params = net.n_params
        self.layers = <fnn_layer *>malloc(count * sizeof(fnn_layer))
        if self.layers == NULL:
            raise MemoryError()
        for i, layer in enumerate(net.layers):
            self._set_layer(i, layer, net.layers[i - 1] if i > 0 else None)
        self.net.layers = self.layers
        self.net.n_layers = <int>count
        self.n_in = net.layers[0].n_in
        self.n_out = net.n_out
        self.width = max(layer.n_out for layer in net.layers)
        self.backward_error = self.loss_error = None
        step_msg = "the 'step' activation has no useful gradient; train it with fn.Perceptron"
        stop = net.lowest_trainable()
        for i in range(stop, count - 1):
            below = net.layers[i]
            if below.kind == LayerKind.DENSE and below.act == Act.STEP:
                self.backward_error = step_msg
        last = net.layers[count - 1]
        if last.kind != LayerKind.DENSE:
            self.loss_error = "the last layer must be Dense to compute a loss"
        elif last.act == Act.STEP:
            self.loss_error = step_msg

    cdef _set_layer(self, Py_ssize_t i, layer, below):
        cdef fnn_layer *l = &self.layers[i]
        l.kind = <int>int(layer.kind)
        l.act = <int>int(layer.act)
        l.act_param = layer.act_param
        l.n_in = layer.n_in
        l.n_out = layer.n_out
        l.w_offset = layer.w_offset
        l.b_offset = layer.b_offset
        l.rate = layer.rate
        l.l1 = layer.l1
        l.l2 = layer.l2
        l.trainable = 1 if layer.trainable else 0
        l.precision = <int>int(layer.precision)
        where = f"net.layers[{i}]"
        if l.precision != FNN_PRECISION_FLOAT32 and l.precision != FNN_PRECISION_BF16:
            raise ValueError(f"{where}: unknown precision code {l.precision}")
        if l.precision == FNN_PRECISION_BF16 and self.typenum != cnp.NPY_FLOAT32:
            raise ValueError(f"{where}: bf16 products need a float32 net, not float64")
        if l.n_in < 1 or l.n_out < 1:
            raise ValueError(f"{where}: sizes must be >= 1, got {l.n_in} -> {l.n_out}")
        if below is not None and below.n_out != l.n_in:
            raise ValueError(f"{where} takes {l.n_in} inputs but the layer below gives "
                             f"{below.n_out}")
        if l.kind == FNN_LAYER_DENSE:
            if not FNN_ACT_LINEAR <= l.act <= FNN_ACT_STEP:
                raise ValueError(f"{where}: unknown activation code {l.act}")
            if l.w_offset < 0 or l.w_offset + l.n_in * l.n_out > self.n_params:
                raise ValueError(f"{where}: W at {l.w_offset} does not fit in "
                                 f"{self.n_params} parameters")
            if l.b_offset != -1 and (l.b_offset < 0 or l.b_offset + l.n_out > self.n_params):
                raise ValueError(f"{where}: b at {l.b_offset} does not fit in "
                                 f"{self.n_params} parameters")
        elif l.kind == FNN_LAYER_DROPOUT:
            if l.n_in != l.n_out:
                raise ValueError(f"{where}: Dropout needs n_in == n_out")
            if not 0.0 <= l.rate < 1.0:
                raise ValueError(f"{where}: Dropout rate must be in [0, 1), got {l.rate}")
        else:
            raise ValueError(f"{where}: unknown layer kind {l.kind}")

    def __dealloc__(self):
        free(self.layers)

    cdef int check_params(self, cnp.ndarray params, str name, bint writable) except -1:
        _check(params, name, self.typenum, 1, writable)
        if params.shape[0] != self.n_params:
            raise ValueError(f"{name} must hold {self.n_params} values, got {params.shape[0]}")
        return 0


# A NetSpec's description, found by identity (hashing a NetSpec costs microseconds):
# id(net) -> (weakref to net, NetDesc); an entry leaves with its net.
cdef dict _descs = {}


cdef NetDesc _desc_for(net):
    entry = _descs.get(id(net))
    if entry is not None and (<tuple>entry)[0]() is net:
        return <NetDesc>(<tuple>entry)[1]
    desc = NetDesc(net)
    key = id(net)

    def forget(ref, key=key):
        current = _descs.get(key)
        if current is not None and current[0] is ref:
            del _descs[key]

    _descs[key] = (weakref.ref(net, forget), desc)
    return desc


def net_desc(net):
    """The (cached) C description of a spec.NetSpec."""
    return _desc_for(net)


cdef class NetBuffers:
    """The native half of a workspace: the C view (fnn_workspace) of its NumPy buffers,
    the GEMM scratch, and the description of the net it was made for."""

    cdef readonly NetDesc desc
    cdef readonly object net
    cdef fnn_workspace ws
    cdef void **pointers          # acts, pres, masks: 3 x n_layers
    cdef object keep              # the arrays the pointers point into
    cdef object scratch_array
    cdef int threads              # the thread count the scratch was sized for
    cdef readonly Py_ssize_t n    # rows of the last forward pass (-1: none yet)
    cdef object out_view          # ws.acts[-1][:n], made once per n
    cdef object gathered          # train_step's gather buffers (made at its first use)

    def __cinit__(self):
        self.pointers = NULL
        self.gathered = None

    def __init__(self, net, ws):
        cdef Py_ssize_t count, i
        self.net = net
        self.desc = _desc_for(net)
        count = self.desc.net.n_layers
        self.pointers = <void **>malloc(3 * count * sizeof(void *))
        if self.pointers == NULL:
            raise MemoryError()
        batch = ws.batch
        typenum = self.desc.typenum
        for i in range(count):
            layer = net.layers[i]
            self.pointers[i] = _data(self._buffer(ws.acts[i], f"ws.acts[{i}]", typenum,
                                                  batch, layer.n_out))
            pre = ws.pres[i]
            self.pointers[count + i] = NULL if pre is None else _data(
                self._buffer(pre, f"ws.pres[{i}]", typenum, batch, layer.n_out))
            if net.keeps_preactivation(i) and pre is None:
                raise ValueError(f"ws.pres[{i}] is missing")
            mask = ws.masks[i]
            self.pointers[2 * count + i] = NULL if mask is None else _data(
                self._buffer(mask, f"ws.masks[{i}]", cnp.NPY_UINT8, batch, layer.n_out))
            if layer.kind == LayerKind.DROPOUT and mask is None:
                raise ValueError(f"ws.masks[{i}] is missing")
        self.ws.batch = batch
        self.ws.gather_x = self.ws.gather_labels = NULL
        self.ws.gather_targets = self.ws.gather_weights = NULL
        self.ws.acts = self.pointers
        self.ws.pres = self.pointers + count
        self.ws.masks = <uint8_t **>(self.pointers + 2 * count)
        self.ws.dout = _data(self._buffer(ws.dout, "ws.dout", typenum, batch, self.desc.n_out))
        for i in range(2):
            self.ws.delta[i] = _data(self._buffer(ws.deltas[i], f"ws.deltas[{i}]", typenum,
                                                  batch, self.desc.width))
        self.keep = (tuple(ws.acts), tuple(ws.pres), tuple(ws.masks), ws.dout, tuple(ws.deltas))
        self.n = -1
        self.size_scratch(fnn_get_num_threads())

    cdef cnp.ndarray _buffer(self, a, str name, int typenum, Py_ssize_t rows, Py_ssize_t cols):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
        _check(a, name, typenum, 2, True)
        if a.shape[0] != rows or a.shape[1] != cols:
            raise ValueError(f"{name} must have shape ({rows}, {cols}), got {_shape(a)}")
        return a

    cdef int size_scratch(self, int threads) except -1:
        """(Re)allocate the GEMM scratch for `threads` threads: once per workspace, and
        again only when the thread count changes."""
        cdef size_t need = fnn_net_scratch_bytes(&self.desc.net, self.desc.typenum ==
                                                 cnp.NPY_FLOAT64, self.ws.batch, threads)
        cdef uintptr_t address
        self.threads = threads
        if need == 0:
            self.scratch_array = None
            self.ws.scratch = NULL
            self.ws.scratch_bytes = 0
            return 0
        self.scratch_array = np.empty(need + 64, np.uint8)
        address = <uintptr_t>_data(self.scratch_array)
        self.ws.scratch = <void *>((address + 63) & ~(<uintptr_t>63))
        self.ws.scratch_bytes = need
        return 0

    cdef int make_gather_buffers(self) except -1:
        """Where train_step gathers batches given as row indices: made once."""
        cdef Py_ssize_t batch = self.ws.batch
        dtype = np.float32 if self.desc.typenum == cnp.NPY_FLOAT32 else np.float64
        x = np.empty((batch, self.desc.n_in), dtype)
        labels = np.empty(batch, np.int64)
        targets = np.empty((batch, self.desc.n_out), dtype)
        weights = np.empty(batch, dtype)
        self.ws.gather_x = _data(x)
        self.ws.gather_labels = <int64_t *>_data(labels)
        self.ws.gather_targets = _data(targets)
        self.ws.gather_weights = _data(weights)
        self.gathered = (x, labels, targets, weights)
        return 0

    cdef int rows_done(self, ws, Py_ssize_t n) except -1:
        """Record that the workspace now holds a pass over n rows."""
        if n != self.n:
            self.n = n
            self.out_view = ws.acts[self.desc.net.n_layers - 1][:n]
            ws.n = n
        return 0

    cdef inline int ready(self) except -1:
        cdef int threads = fnn_get_num_threads()
        if threads != self.threads:
            self.size_scratch(threads)
        return 0

    def __dealloc__(self):
        free(self.pointers)


cdef NetBuffers _buffers_of(ws, net):
    """The native buffers of workspace ws, checked to belong to `net`."""
    bufs = getattr(ws, "native", None)
    if not isinstance(bufs, NetBuffers):
        raise TypeError("ws must be a workspace made by NativeBackend.workspace(net, batch), "
                        f"got {type(ws).__name__}")
    if (<NetBuffers>bufs).net is not net and (<NetBuffers>bufs).net != net:
        raise ValueError("ws was made for a different network")
    return <NetBuffers>bufs


# ------------------------------------------------------------------ whole-network passes

def net_forward(net, cnp.ndarray params not None, cnp.ndarray x not None, ws,
                bint training, seed, step):
    """NativeBackend.forward: the forward pass into ws; returns ws.acts[-1][:n]."""
    cdef NetBuffers bufs = _buffers_of(ws, net)
    cdef NetDesc desc = bufs.desc
    desc.check_params(params, "params", False)
    _check_rows(x, "x", desc.typenum, desc.n_in, bufs.ws.batch)
    cdef Py_ssize_t n = x.shape[0]
    cdef uint64_t c_seed = _u64(seed), c_step = _u64(step)
    cdef int c_training = training
    bufs.ready()
    cdef void *p_params = _data(params)
    cdef void *p_x = _data(x)
    with nogil:
        if desc.typenum == cnp.NPY_FLOAT32:
            fnn_net_forward_f32(&desc.net, <float *>p_params, <float *>p_x, n,
                                &bufs.ws, c_training, c_seed, c_step)
        else:
            fnn_net_forward_f64(&desc.net, <double *>p_params, <double *>p_x, n,
                                &bufs.ws, c_training, c_seed, c_step)
    bufs.rows_done(ws, n)
    return bufs.out_view


cdef int _targets(cnp.ndarray y, int typenum, Py_ssize_t n, Py_ssize_t k,
                  int64_t **labels, void **targets) except -1:
    """Labels (int64, (n,)) or targets ((n, k), or (n,) when k == 1) for the C loss."""
    if cnp.PyArray_ISINTEGER(y):
        if cnp.PyArray_TYPE(y) != cnp.NPY_INT64:
            raise TypeError(f"y: integer labels must be int64, got {y.dtype}")
        _check(y, "y", cnp.NPY_INT64, 1)
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} labels for {n} rows")
        labels[0] = <int64_t *>_data(y)
        return 0
    if cnp.PyArray_NDIM(y) == 1 and k == 1:
        _check(y, "y", typenum, 1)
    else:
        _check_rows(y, "y", typenum, k, -1)
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows for {n} rows of output")
    targets[0] = _data(y)
    return 0


cdef void *_weights(sample_weight, int typenum, Py_ssize_t n) except? NULL:
    if sample_weight is None:
        return NULL
    if not isinstance(sample_weight, np.ndarray):
        raise TypeError("sample_weight must be a numpy.ndarray or None, got "
                        f"{type(sample_weight).__name__}")
    _check(sample_weight, "sample_weight", typenum, 1)
    if sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} values for {n} rows")
    return _data(sample_weight)


cdef object _loss_status(int status):
    if status == -1:
        raise ValueError("y: a class label is outside [0, number of outputs)")
    if status == -2:
        raise ValueError("unknown loss code")
    if status == -3:
        raise ValueError("the last layer must be Dense to compute a loss")
    return None


def net_loss_grad(net, loss, cnp.ndarray params not None, ws, cnp.ndarray y not None,
                  sample_weight=None):
    """NativeBackend.loss_grad: mean loss + penalty (a float); writes ws.dout[:n]."""
    cdef NetBuffers bufs = _buffers_of(ws, net)
    cdef NetDesc desc = bufs.desc
    if bufs.n <= 0:
        raise ValueError("loss_grad needs a forward pass over at least one row first")
    if desc.loss_error is not None:
        raise ValueError(desc.loss_error)
    desc.check_params(params, "params", False)
    cdef Py_ssize_t n = bufs.n
    cdef int64_t *labels = NULL
    cdef void *targets = NULL
    _targets(y, desc.typenum, n, desc.n_out, &labels, &targets)
    cdef void *weights = _weights(sample_weight, desc.typenum, n)
    if not isinstance(loss, LossSpec):
        raise TypeError(f"loss must be a fastnn.backends.spec.LossSpec, "
                        f"got {type(loss).__name__}")
    cdef int code = loss.code, status
    cdef double param = loss.param, value = 0
    cdef void *p_params = _data(params)
    with nogil:
        if desc.typenum == cnp.NPY_FLOAT32:
            status = fnn_net_loss_grad_f32(&desc.net, code, param, <float *>p_params,
                                           &bufs.ws, n, labels, <float *>targets,
                                           <float *>weights, &value)
        else:
            status = fnn_net_loss_grad_f64(&desc.net, code, param, <double *>p_params,
                                           &bufs.ws, n, labels, <double *>targets,
                                           <double *>weights, &value)
    if status != 0:
        _loss_status(status)
    return value


def net_backward(net, cnp.ndarray params not None, cnp.ndarray grads not None, ws,
                 cnp.ndarray x not None):
    """NativeBackend.backward: gradients of the trainable layers into grads."""
    cdef NetBuffers bufs = _buffers_of(ws, net)
    cdef NetDesc desc = bufs.desc
    if bufs.n < 0:
        raise ValueError("backward needs a forward pass first")
    if desc.backward_error is not None:
        raise ValueError(desc.backward_error)
    desc.check_params(params, "params", False)
    desc.check_params(grads, "grads", True)
    if _data(grads) == _data(params):
        raise ValueError("grads must not be the params buffer")
    _check_rows(x, "x", desc.typenum, desc.n_in, -1)
    if x.shape[0] != bufs.n:
        raise ValueError(f"x has {x.shape[0]} rows but the forward pass had {bufs.n}")
    cdef Py_ssize_t n = bufs.n
    bufs.ready()
    cdef void *p_params = _data(params)
    cdef void *p_grads = _data(grads)
    cdef void *p_x = _data(x)
    with nogil:
        if desc.typenum == cnp.NPY_FLOAT32:
            fnn_net_backward_f32(&desc.net, <float *>p_params, <float *>p_grads,
                                 &bufs.ws, <float *>p_x, n)
        else:
            fnn_net_backward_f64(&desc.net, <double *>p_params, <double *>p_grads,
                                 &bufs.ws, <double *>p_x, n)


def net_predict(net, cnp.ndarray params not None, cnp.ndarray x not None,
                Py_ssize_t chunk=FNN_PREDICT_CHUNK):
    """NativeBackend.predict: a new (n, n_out) array, `chunk` rows through the whole net
    at a time; thread-safe (scratch per call: on the stack when small)."""
    cdef NetDesc desc = _desc_for(net)
    desc.check_params(params, "params", False)
    _check_rows(x, "x", desc.typenum, desc.n_in, -1)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    cdef Py_ssize_t n = x.shape[0]
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = desc.n_out
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, desc.typenum, 0)
    cdef int is_double = desc.typenum == cnp.NPY_FLOAT64
    cdef size_t need = fnn_net_predict_scratch_bytes(&desc.net, is_double, min(n, chunk),
                                                     fnn_get_num_threads())
    cdef double stack[_STACK_DOUBLES + 8]
    cdef void *block = NULL
    cdef void *scratch
    if need + 64 <= sizeof(stack):
        scratch = <void *>((<uintptr_t>stack + 63) & ~(<uintptr_t>63))
    else:
        block = malloc(need + 64)
        if block == NULL:
            raise MemoryError()
        scratch = <void *>((<uintptr_t>block + 63) & ~(<uintptr_t>63))
    cdef void *p_params = _data(params)
    cdef void *p_x = _data(x)
    cdef void *p_out = _data(out)
    cdef ptrdiff_t bad
    with nogil:
        if is_double:
            bad = fnn_net_predict_f64(&desc.net, <double *>p_params, <double *>p_x, n, chunk,
                                      <double *>p_out, scratch, need)
        else:
            bad = fnn_net_predict_f32(&desc.net, <float *>p_params, <float *>p_x, n, chunk,
                                      <float *>p_out, scratch, need)
    free(block)
    if bad >= 0:
        from fastnn.validation import require_finite
        require_finite("X", x)  # raises, naming the count and the first bad index
    return out


# ------------------------------------------------------------------ optimizer step

cdef object _last_spec = None     # the StepSpec last converted, and its C form
cdef fnn_step_spec _last_c_spec


cdef int _c_step_spec(spec, fnn_step_spec *out) except -1:
    global _last_spec, _last_c_spec
    if spec is not _last_spec:
        if not isinstance(spec, StepSpec):
            raise TypeError(f"spec must be a fastnn.backends.spec.StepSpec, "
                            f"got {type(spec).__name__}")
        kind = int(spec.kind)
        if not FNN_OPT_SGD <= kind <= FNN_OPT_ADAGRAD:
            raise ValueError(f"unknown optimizer code {kind}")
        _last_c_spec.kind = kind
        _last_c_spec.nesterov = 1 if spec.nesterov else 0
        _last_c_spec.momentum = spec.momentum
        _last_c_spec.beta1 = spec.beta1
        _last_c_spec.beta2 = spec.beta2
        _last_c_spec.eps = spec.eps
        _last_c_spec.rho = spec.rho
        _last_c_spec.weight_decay = spec.weight_decay
        _last_c_spec.clipnorm = spec.clipnorm
        _last_spec = spec
    out[0] = _last_c_spec
    return 0


cdef int _check_segments(cnp.ndarray segments, Py_ssize_t size) except -1:
    """segments: int64 (s, 2), increasing non-overlapping [start, stop) within size."""
    cdef Py_ssize_t s, count
    cdef int64_t *seg
    cdef int64_t last = 0
    _check(segments, "segments", cnp.NPY_INT64, 2)
    if segments.shape[1] != 2:
        raise ValueError(f"segments must have shape (s, 2), got {_shape(segments)}")
    count = segments.shape[0]
    seg = <int64_t *>_data(segments)
    for s in range(count):
        if not (last <= seg[2 * s] <= seg[2 * s + 1] <= size):
            raise ValueError("segments must be increasing, non-overlapping [start, stop) "
                             f"ranges within the {size} parameters; got {segments.tolist()}")
        last = seg[2 * s + 1]
    return 0


cdef int _state_buffers(states, int count, cnp.ndarray params, void **out) except -1:
    """out[i] = states[i]'s data for the `count` state arrays (each like params, writable);
    NULL for the others of out's two."""
    out[0] = out[1] = NULL
    if len(states) < count:
        raise ValueError(f"states: this optimizer needs {count} arrays, got {len(states)}")
    for i in range(count):
        state = states[i]
        if not isinstance(state, np.ndarray):
            raise TypeError(f"states[{i}] must be a numpy.ndarray")
        _check_same(<cnp.ndarray>state, f"states[{i}]", params, "params", True)
        out[i] = _data(<cnp.ndarray>state)
    return 0


def step(spec, cnp.ndarray params not None, cnp.ndarray grads not None, states,
         cnp.ndarray segments not None, double lr, t):
    """NativeBackend.step: one optimizer update of params' segments, in place."""
    cdef fnn_step_spec c_spec
    _c_step_spec(spec, &c_spec)
    cdef int typenum = _float_typenum(params, "params")
    _check(params, "params", typenum, 1, True)
    _check_same(grads, "grads", params, "params")
    cdef Py_ssize_t size = params.shape[0]
    _check_segments(segments, size)
    cdef void *state_ptrs[2]
    _state_buffers(states, fnn_step_n_states(&c_spec), params, state_ptrs)
    if t < 1:
        raise ValueError(f"t counts steps from 1, got {t}")
    cdef int64_t c_t = t
    cdef const int64_t *seg = <int64_t *>_data(segments)
    cdef Py_ssize_t n_seg = segments.shape[0]
    cdef void *p_params = _data(params)
    cdef void *p_grads = _data(grads)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            fnn_step_f32(&c_spec, <float *>p_params, <float *>p_grads,
                         <float **>state_ptrs, seg, n_seg, lr, c_t)
        else:
            fnn_step_f64(&c_spec, <double *>p_params, <double *>p_grads,
                         <double **>state_ptrs, seg, n_seg, lr, c_t)


def grad_norm(cnp.ndarray grads not None, cnp.ndarray segments not None):
    """The L2 norm of grads over the segments, as clipnorm computes it."""
    cdef int typenum = _float_typenum(grads, "grads")
    _check(grads, "grads", typenum, 1)
    _check_segments(segments, grads.shape[0])
    if typenum == cnp.NPY_FLOAT32:
        return fnn_grad_norm_f32(<float *>_data(grads), <int64_t *>_data(segments),
                                 segments.shape[0])
    return fnn_grad_norm_f64(<double *>_data(grads), <int64_t *>_data(segments),
                             segments.shape[0])


# ------------------------------------------------------------------ a whole training step

cdef enum:
    _MAX_METRICS = 16


cdef object _train_status(int status):
    if status == -4:
        raise ValueError("rows: an index is outside the rows of x")
    return _loss_status(status)


def net_train_step(net, loss, spec, cnp.ndarray params not None, cnp.ndarray grads not None,
                   states, cnp.ndarray segments not None, ws, cnp.ndarray x not None,
                   cnp.ndarray y not None, sample_weight, rows, double lr, t, seed, step,
                   metrics=(), totals=None):
    """NativeBackend.train_step: forward, loss, and (when the loss is finite) metrics,
    backward and the optimizer update in one C call; returns the loss."""
    cdef NetBuffers bufs = _buffers_of(ws, net)
    cdef NetDesc desc = bufs.desc
    if desc.loss_error is not None:
        raise ValueError(desc.loss_error)
    if desc.backward_error is not None:
        raise ValueError(desc.backward_error)
    cdef fnn_train_step c
    cdef fnn_step_spec c_spec
    _c_step_spec(spec, &c_spec)
    desc.check_params(params, "params", True)
    desc.check_params(grads, "grads", True)
    if _data(grads) == _data(params):
        raise ValueError("grads must not be the params buffer")
    _check_segments(segments, desc.n_params)
    cdef void *state_ptrs[2]
    _state_buffers(states, fnn_step_n_states(&c_spec), params, state_ptrs)
    cdef int i
    if t < 1:
        raise ValueError(f"t counts steps from 1, got {t}")
    # the batch: x itself, or the rows of x listed in `rows`
    cdef cnp.ndarray index
    cdef Py_ssize_t n, n_data
    if rows is None:
        _check_rows(x, "x", desc.typenum, desc.n_in, bufs.ws.batch)
        n = n_data = x.shape[0]
        c.rows = NULL
    else:
        if not isinstance(rows, np.ndarray):
            raise TypeError(f"rows must be a numpy.ndarray or None, got {type(rows).__name__}")
        index = <cnp.ndarray>rows
        _check(index, "rows", cnp.NPY_INT64, 1)
        n = index.shape[0]
        if n > bufs.ws.batch:
            raise ValueError(f"rows has {n} indices, more than the workspace's batch of "
                             f"{bufs.ws.batch}")
        _check_rows(x, "x", desc.typenum, desc.n_in, -1)
        n_data = x.shape[0]
        if bufs.gathered is None:
            bufs.make_gather_buffers()
        c.rows = <int64_t *>_data(index)
    if n < 1:
        raise ValueError("a training step needs at least one row")
    cdef int64_t *labels = NULL
    cdef void *targets = NULL
    _targets(y, desc.typenum, n_data, desc.n_out, &labels, &targets)
    c.weights = _weights(sample_weight, desc.typenum, n_data)
    # metrics
    cdef int c_metrics[_MAX_METRICS]
    cdef int n_metrics = len(metrics)
    if n_metrics > _MAX_METRICS:
        raise ValueError(f"at most {_MAX_METRICS} metrics, got {n_metrics}")
    for i in range(n_metrics):
        c_metrics[i] = metrics[i]
        if not FNN_METRIC_ACCURACY <= c_metrics[i] <= FNN_METRIC_MAE:
            raise ValueError(f"unknown metric code {c_metrics[i]}")
    c.totals = NULL
    if n_metrics:
        if not isinstance(totals, np.ndarray):
            raise TypeError("totals must be a float64 numpy.ndarray when metrics are given")
        _check(<cnp.ndarray>totals, "totals", cnp.NPY_FLOAT64, 1, True)
        if (<cnp.ndarray>totals).shape[0] < n_metrics:
            raise ValueError(f"totals holds {(<cnp.ndarray>totals).shape[0]} values for "
                             f"{n_metrics} metrics")
        c.totals = <double *>_data(<cnp.ndarray>totals)
    c.n = n
    c.x = _data(x)
    c.labels = labels
    c.targets = targets
    c.n_data = n_data
    c.loss = loss.code
    c.loss_param = loss.param
    c.seed = _u64(seed)
    c.dropout_step = _u64(step)
    c.opt = &c_spec
    c.params = _data(params)
    c.grads = _data(grads)
    c.states = state_ptrs
    c.segments = <int64_t *>_data(segments)
    c.n_segments = segments.shape[0]
    c.lr = lr
    c.t = t
    c.metrics = c_metrics
    c.n_metrics = n_metrics
    bufs.ready()
    cdef double value = 0
    cdef int status
    with nogil:
        if desc.typenum == cnp.NPY_FLOAT32:
            status = fnn_net_train_step_f32(&desc.net, &bufs.ws, &c, &value)
        else:
            status = fnn_net_train_step_f64(&desc.net, &bufs.ws, &c, &value)
    if status != 0:
        _train_status(status)
    bufs.rows_done(ws, n)
    return value


def metric_sum(int metric, cnp.ndarray out not None, cnp.ndarray y not None):
    """The metric kernel alone: its sum over the rows of `out` (a Python float)."""
    cdef int typenum = _float_typenum(out, "out")
    _check(out, "out", typenum, 2)
    cdef Py_ssize_t n = out.shape[0], k = out.shape[1]
    cdef int64_t *labels = NULL
    cdef void *targets = NULL
    _targets(y, typenum, n, k, &labels, &targets)
    cdef double total = 0
    cdef int status
    if typenum == cnp.NPY_FLOAT32:
        status = fnn_metric_sum_f32(metric, n, k, <float *>_data(out), labels,
                                    <float *>targets, &total)
    else:
        status = fnn_metric_sum_f64(metric, n, k, <double *>_data(out), labels,
                                    <double *>targets, &total)
    if status != 0:
        raise ValueError(f"unknown metric code {metric}")
    return total


# ------------------------------------------------------------------ single kernels

cdef int _check_act(int act) except -1:
    if not FNN_ACT_LINEAR <= act <= FNN_ACT_STEP:
        raise ValueError(f"unknown activation code {act}")
    return 0


def act_forward(int act, double param, cnp.ndarray x not None):
    """x = act(x) in place (x C-contiguous float32/float64; 2-D rows for softmax)."""
    _check_act(act)
    cdef int typenum = _float_typenum(x, "x")
    _check(x, "x", typenum, cnp.PyArray_NDIM(x), True)
    cdef Py_ssize_t size = x.size, rows, cols
    cdef void *p_x = _data(x)
    if act == FNN_ACT_SOFTMAX:
        if x.ndim != 2:
            raise ValueError(f"softmax works on rows: x must be 2-D, got shape {_shape(x)}")
        rows, cols = x.shape[0], x.shape[1]
        if cols == 0:
            return
        with nogil:
            if typenum == cnp.NPY_FLOAT32:
                fnn_softmax_rows_f32(rows, cols, <float *>p_x, cols)
            else:
                fnn_softmax_rows_f64(rows, cols, <double *>p_x, cols)
        return
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            fnn_act_forward_f32(act, param, <float *>p_x, size)
        else:
            fnn_act_forward_f64(act, param, <double *>p_x, size)


def act_grad(int act, double param, a, z, cnp.ndarray d not None):
    """d *= act'(.) in place, from the output a (GELU: from the input z; the other may be
    None); softmax: the Jacobian-vector product per row of 2-D arrays."""
    _check_act(act)
    if act == FNN_ACT_STEP:
        raise ValueError("the 'step' activation has no useful gradient")
    cdef int typenum = _float_typenum(d, "d")
    _check(d, "d", typenum, cnp.PyArray_NDIM(d), True)
    cdef cnp.ndarray source = z if act == FNN_ACT_GELU else a
    name = "z" if act == FNN_ACT_GELU else "a"
    if act == FNN_ACT_LINEAR:
        return
    if source is None:
        raise ValueError(f"{name} is needed for this activation's derivative")
    _check_same(source, name, d, "d")
    cdef Py_ssize_t size = d.size, rows, cols
    cdef void *p = _data(source)
    cdef void *p_d = _data(d)
    if act == FNN_ACT_SOFTMAX:
        if d.ndim != 2:
            raise ValueError(f"softmax works on rows: d must be 2-D, got shape {_shape(d)}")
        rows, cols = d.shape[0], d.shape[1]
        with nogil:
            if typenum == cnp.NPY_FLOAT32:
                fnn_softmax_grad_rows_f32(rows, cols, <float *>p, cols, <float *>p_d, cols)
            else:
                fnn_softmax_grad_rows_f64(rows, cols, <double *>p, cols, <double *>p_d,
                                          cols)
        return
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            fnn_act_grad_f32(act, param, <float *>p, <float *>p, <float *>p_d, size)
        else:
            fnn_act_grad_f64(act, param, <double *>p, <double *>p, <double *>p_d, size)


def loss_grad(int loss, double loss_param, int act, double act_param,
              cnp.ndarray a not None, cnp.ndarray z not None, cnp.ndarray y not None,
              sample_weight, cnp.ndarray grad not None):
    """The loss kernel alone: mean loss over a's rows (no penalty); dL/dz into grad."""
    cdef int typenum = _float_typenum(a, "a")
    _check(a, "a", typenum, 2)
    _check_same(z, "z", a, "a")
    _check_same(grad, "grad", a, "a", True)
    _check_act(act)
    cdef Py_ssize_t n = a.shape[0], k = a.shape[1]
    cdef int64_t *labels = NULL
    cdef void *targets = NULL
    _targets(y, typenum, n, k, &labels, &targets)
    cdef void *weights = _weights(sample_weight, typenum, n)
    cdef double value = 0
    cdef int status
    cdef void *p_a = _data(a)
    cdef void *p_z = _data(z)
    cdef void *p_grad = _data(grad)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            status = fnn_loss_grad_f32(loss, loss_param, act, act_param, n, k,
                                       <float *>p_a, <float *>p_z, labels,
                                       <float *>targets, <float *>weights,
                                       <float *>p_grad, &value)
        else:
            status = fnn_loss_grad_f64(loss, loss_param, act, act_param, n, k,
                                       <double *>p_a, <double *>p_z, labels,
                                       <double *>targets, <double *>weights,
                                       <double *>p_grad, &value)
    if status != 0:
        _loss_status(status)
    return value


def dropout_mask(seed, step, layer, shape, double rate):
    """The uint8 keep-mask of reference.dropout_mask, from the C kernel."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    shape = tuple(shape)
    cdef cnp.ndarray mask = np.empty(shape, np.uint8)
    cdef uint64_t key = fnn_dropout_key(_u64(seed), _u64(step), _u64(layer))
    cdef uint32_t threshold = fnn_dropout_threshold(rate)
    cdef Py_ssize_t count = mask.size
    cdef void *p_mask = _data(mask)
    with nogil:
        fnn_dropout_mask(key, threshold, 0, count, <uint8_t *>p_mask)
    return mask


def mix64(x):
    """fnn_mix64 (SplitMix64's finaliser) on a Python int, modulo 2^64."""
    return fnn_mix64(_u64(x))
