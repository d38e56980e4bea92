# TrainSession: one fit's training state (the C struct fnn_train_step) bound once, so
# that a batch is one C call with only its rows, lr, t and the Dropout step crossing
# from Python (base.TrainingSession documents the interface; reference.ReferenceSession
# is the readable definition it must match bit for bit in its results' tolerance).

from cpython.slice cimport PySlice_AdjustIndices, PySlice_Check, PySlice_Unpack
from libc.string cimport memset

cdef enum:
    _MAX_METRICS = 16


cdef class TrainSession:
    """NativeBackend.session(...): the net, its workspace, the parameters, gradients and
    optimizer states, the loss, the metrics and their totals, and the bound training
    rows, all checked once and held as the pointers of one fnn_train_step."""

    cdef NetBuffers bufs
    cdef NetDesc desc
    cdef fnn_train_step c
    cdef fnn_step_spec opt
    cdef void *state_ptrs[2]
    cdef int metric_codes[_MAX_METRICS]
    cdef readonly object net, params, grads, states, totals, trainable_segments
    cdef object workspace
    cdef object data                       # the bound (X, y, sample_weight)
    cdef const char *x_rows                # the bound rows' data, and bytes per row
    cdef const int64_t *label_rows
    cdef const char *target_rows
    cdef const char *weight_rows
    cdef Py_ssize_t x_row_bytes, target_row_bytes, itemsize

    def __init__(self, net, loss, step_spec, buffers, workspace, metrics=(), dropout_seed=0,
                 segments=None):
        memset(&self.c, 0, sizeof(self.c))
        self.bufs = _buffers_of(workspace, net)
        self.desc = self.bufs.desc
        self.net, self.workspace = net, workspace
        if self.desc.loss_error is not None:
            raise ValueError(self.desc.loss_error)
        if self.desc.backward_error is not None:
            raise ValueError(self.desc.backward_error)
        if not isinstance(loss, LossSpec):
            raise TypeError(f"loss must be a fastnn.backends.spec.LossSpec, "
                            f"got {type(loss).__name__}")
        _check_code(loss.code, _N_LOSSES, "loss")
        _c_step_spec(step_spec, &self.opt)
        self._bind_buffers(buffers, segments)
        self._bind_metrics(metrics)
        self.itemsize = 8 if self.desc.f64 else 4
        self.c.loss = loss.code
        self.c.loss_param = loss.param
        self.c.seed = _u64(dropout_seed)
        self.c.opt = &self.opt

    cdef int _bind_buffers(self, buffers, segments) except -1:
        cdef cnp.ndarray params = _array(getattr(buffers, "params", None), "buffers.params")
        cdef cnp.ndarray grads = _array(getattr(buffers, "grads", None), "buffers.grads")
        self.desc.check_params(params, "params", True)
        self.desc.check_params(grads, "grads", True)
        if _data(grads) == _data(params):
            raise ValueError("grads must not be the params buffer")
        self.states = tuple(buffers.states)
        _state_buffers(self.states, fnn_step_n_states(&self.opt), params, self.state_ptrs)
        if segments is None:
            segments = self.net.segments()
        _check_segments(_array(segments, "segments"), self.desc.n_params)
        self.params, self.grads, self.trainable_segments = params, grads, segments
        self.c.params = _data(params)
        self.c.grads = _data(grads)
        self.c.states = self.state_ptrs
        self.c.segments = <int64_t *>_data(<cnp.ndarray>segments)
        self.c.n_segments = (<cnp.ndarray>segments).shape[0]
        return 0

    cdef int _bind_metrics(self, metrics) except -1:
        cdef int i, count = len(metrics)
        if count > _MAX_METRICS:
            raise ValueError(f"at most {_MAX_METRICS} metrics, got {count}")
        for i in range(count):
            self.metric_codes[i] = metrics[i]
            _check_code(self.metric_codes[i], _N_METRICS, "metric")
        self.totals = np.zeros(count)
        self.c.metrics = self.metric_codes
        self.c.n_metrics = count
        self.c.totals = <double *>_data(<cnp.ndarray>self.totals)
        return 0

    # ---------------------------------------------------------------- per fit

    cdef int _made(self) except -1:
        if self.desc is None:  # only a TrainSession.__new__ without __init__
            raise RuntimeError("the TrainSession was not initialised")
        return 0

    def bind_data(self, X, y, sample_weight=None):
        """Train on the rows of X (n, n_in), y (int64 labels (n,), or targets (n, n_out))
        and sample_weight (n,) or None; X may be a np.memmap. Kept until release_data."""
        self._made()
        cdef cnp.ndarray x = _array(X, "X")
        _check_rows(x, "X", self.desc.typenum, self.desc.n_in, -1)
        cdef Py_ssize_t n_data = x.shape[0]
        cdef int64_t *labels = NULL
        cdef void *targets = NULL
        _targets(_array(y, "y"), self.desc.typenum, n_data, self.desc.n_out, &labels,
                 &targets)
        cdef void *weights = _weights(sample_weight, self.desc.typenum, n_data)
        self.data = (X, y, sample_weight)
        self.x_rows = <const char *>_data(x)
        self.label_rows = labels
        self.target_rows = <const char *>targets
        self.weight_rows = <const char *>weights
        self.x_row_bytes = self.desc.n_in * self.itemsize
        self.target_row_bytes = self.desc.n_out * self.itemsize
        self.c.n_data = n_data

    def release_data(self):
        """Forget the bound rows (the session no longer keeps them alive)."""
        self.data = None
        self.x_rows = self.target_rows = self.weight_rows = NULL
        self.label_rows = NULL
        self.c.n_data = 0

    def reset_totals(self):
        """Set every metric's sum to 0."""
        cdef int i
        for i in range(self.c.n_metrics):  # (0 metrics before __init__)
            self.c.totals[i] = 0

    # ---------------------------------------------------------------- per batch

    cdef int _select(self, rows, dropout_step) except -1:
        """The batch: `rows` of the bound data (an int64 index array, gathered in C, or a
        slice of contiguous rows, read in place), with the masks of `dropout_step`."""
        cdef Py_ssize_t start, stop, stride, n
        cdef cnp.ndarray index
        if self.x_rows == NULL:
            raise RuntimeError("bind_data(X, y) first: the session has no training rows")
        if PySlice_Check(rows):
            PySlice_Unpack(rows, &start, &stop, &stride)
            n = PySlice_AdjustIndices(self.c.n_data, &start, &stop, stride)
            if stride != 1:
                raise ValueError(f"rows: a slice of rows must have step 1, got {rows}")
            self.c.rows = NULL
            self.c.x = self.x_rows + start * self.x_row_bytes
            self.c.labels = self.label_rows
            self.c.targets = self.target_rows
            self.c.weights = self.weight_rows
            if self.label_rows != NULL:
                self.c.labels = self.label_rows + start
            if self.target_rows != NULL:
                self.c.targets = self.target_rows + start * self.target_row_bytes
            if self.weight_rows != NULL:
                self.c.weights = self.weight_rows + start * self.itemsize
        else:
            if not isinstance(rows, cnp.ndarray):
                raise TypeError(f"rows must be an int64 numpy.ndarray of indices or a slice, "
                                f"got {type(rows).__name__}")
            index = <cnp.ndarray>rows
            _check(index, "rows", cnp.NPY_INT64, 1)
            n = index.shape[0]
            if self.bufs.gathered is None:
                self.bufs.make_gather_buffers()
            self.c.rows = <const int64_t *>_data(index)
            self.c.x = self.x_rows
            self.c.labels = self.label_rows
            self.c.targets = self.target_rows
            self.c.weights = self.weight_rows
        if n < 1:
            raise ValueError("rows: a training step needs at least one row")
        if n > self.bufs.ws.batch:
            raise ValueError(f"rows: {n} rows, more than the session's batch of "
                             f"{self.bufs.ws.batch}")
        self.c.n = n
        self.c.dropout_step = _u64(dropout_step)
        self.bufs.ready()
        return 0

    def train_step(self, rows, double lr, t, dropout_step):
        """One training step on `rows`: forward, loss, and (only if the loss is finite) the
        metrics' sums, backward and the update, each layer's fused into backprop without
        clipnorm. Returns the loss; a non-finite one changes nothing."""
        self._select(rows, dropout_step)
        self.c.lr = lr
        self.c.t = _check_t(t)
        self.c.row_offset = 0
        self.c.denominator = 0
        self.c.skip_penalty = 0
        cdef double value = 0
        cdef int status
        with nogil:
            status = fnn_net_train_step(self.desc.f64, &self.desc.net, &self.bufs.ws, &self.c,
                                        &value)
        if status != 0:
            _loss_status(status)
        return value

    def compute_gradients(self, rows, dropout_step, *, Py_ssize_t row_offset=0,
                          denominator=None, bint penalty=True):
        """train_step without the update: the loss ((sum over these rows) / denominator,
        + the penalty if asked), the metrics' sums and, if the loss is finite, the
        gradients into grads (else none are written). Returns the loss."""
        self._select(rows, dropout_step)
        if row_offset < 0:
            raise ValueError(f"row_offset must be >= 0, got {row_offset}")
        self.c.row_offset = row_offset
        self.c.denominator = 0 if denominator is None else _denominator(denominator)
        self.c.skip_penalty = not penalty
        cdef double value = 0
        cdef int status
        with nogil:
            status = fnn_net_gradients(self.desc.f64, &self.desc.net, &self.bufs.ws, &self.c,
                                       &value)
        if status != 0:
            _loss_status(status)
        return value

    def apply_gradients(self, double lr, t):
        """The update from grads (as reduced): clipnorm over all of them, then the rule
        over the trainable segments."""
        self._made()
        cdef int64_t c_t = _check_t(t)
        with nogil:
            fnn_step(self.desc.f64, &self.opt, self.c.params, self.c.grads, self.state_ptrs,
                     self.c.segments, self.c.n_segments, lr, c_t)
