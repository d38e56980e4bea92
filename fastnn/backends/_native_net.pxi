# The network (csrc/train/net.c): its C description, built once per NetSpec (NetDesc), the C
# view of a workspace's buffers (NetBuffers), and the whole-network passes that the
# Model's gradients(), forward_trace() and evaluate() use, and predict. The steady-state
# calls (forward, loss_grad, backward) create no arrays: forward returns a kept view,
# loss_grad a float.

import weakref

from .spec import LayerKind, LossSpec, NetSpec

# Predict's scratch lives on the C stack up to this many doubles (32 KiB: batches of
# up to ~30 rows of a 784-256-128-10 net); above it, one malloc per call.
cdef enum:
    _STACK_DOUBLES = 4096


# ------------------------------------------------------------------ the network in C

cdef class NetDesc:
    """The C description (an array of fnn_layer) of one spec.NetSpec, validated once."""

    cdef fnn_layer *layers
    cdef fnn_net net
    cdef readonly int typenum
    cdef readonly bint f64
    cdef readonly Py_ssize_t n_in, n_out, n_params, width
    # Why backward / loss_grad cannot run (the reference raises there too), or None.
    cdef readonly str backward_error, loss_error
    # predict's last scratch size and the (rows, threads) it is for: the query walks
    # every layer and SIMD level (~0.5 us, as much as a tenth of a batch-1 predict)
    cdef Py_ssize_t predict_rows
    cdef int predict_threads
    cdef size_t predict_need

    def __cinit__(self, net):
        self.layers = NULL
        self.predict_rows = -1

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
        self.f64 = self.typenum == cnp.NPY_FLOAT64
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
            if not 0 <= l.act < _N_ACTS:
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


# The description of each NetSpec object, built at its first use and found again by
# identity (hashing a NetSpec costs microseconds; predict takes a NetSpec per call):
# id(net) -> (weakref to net, NetDesc). An entry leaves with its net, so this holds
# nothing a model does not: it is the NetSpec's own C form, not state.
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
    cdef object gathered          # a session's gather buffers (made at their first use)

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
        cdef size_t need = fnn_net_scratch_bytes(&self.desc.net, self.desc.f64, self.ws.batch,
                                                 threads)
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
        """Where a training step gathers batches given as row indices: made once."""
        cdef Py_ssize_t batch = self.ws.batch
        dtype = np.float64 if self.desc.f64 else np.float32
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
    cdef const void *p_params = _data(params)
    cdef const void *p_x = _data(x)
    with nogil:
        fnn_net_forward(desc.f64, &desc.net, p_params, p_x, n, &bufs.ws, c_training, c_seed,
                        c_step)
    bufs.rows_done(ws, n)
    return bufs.out_view


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
    cdef const void *p_params = _data(params)
    with nogil:
        status = fnn_net_loss_grad(desc.f64, &desc.net, code, param, p_params, &bufs.ws, n,
                                   labels, targets, weights, &value)
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
    cdef const void *p_params = _data(params)
    cdef void *p_grads = _data(grads)
    cdef const void *p_x = _data(x)
    with nogil:
        fnn_net_backward(desc.f64, &desc.net, p_params, p_grads, &bufs.ws, p_x, n)


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
    cdef Py_ssize_t rows = min(n, chunk)
    cdef int threads = fnn_get_num_threads()
    cdef size_t need
    if rows == desc.predict_rows and threads == desc.predict_threads:
        need = desc.predict_need
    else:  # under the GIL: concurrent calls see a consistent triple
        need = fnn_net_predict_scratch_bytes(&desc.net, desc.f64, rows, threads)
        desc.predict_rows, desc.predict_threads, desc.predict_need = rows, threads, need
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
    cdef const void *p_params = _data(params)
    cdef const void *p_x = _data(x)
    cdef void *p_out = _data(out)
    cdef ptrdiff_t bad
    with nogil:
        bad = fnn_net_predict(desc.f64, &desc.net, p_params, p_x, n, chunk, p_out, scratch,
                              need)
    free(block)
    if bad >= 0:
        from fastnn.validation import require_finite
        require_finite("X", x)  # raises, naming the count and the first bad index
    return out
