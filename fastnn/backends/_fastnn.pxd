# Declarations of csrc/fastnn.h for Cython (keep in step with the header).
from libc.stdint cimport int64_t, uint64_t


cdef extern from "fastnn.h" nogil:
    int fnn_simd_detected()
    int fnn_simd_level()
    int fnn_set_simd_level(int level)
    int fnn_openmp_enabled()
    void fnn_set_num_threads(int n)
    int fnn_get_num_threads()

    enum:
        FNN_EPI_NONE
        FNN_EPI_FORWARD
        FNN_EPI_ACT_GRAD

    ctypedef struct fnn_epilogue:
        int mode
        int act
        double act_param
        const void *bias
        void *z
        ptrdiff_t ldz
        const void *aux
        ptrdiff_t ld_aux

    void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                   float beta, float *c, ptrdiff_t ldc,
                   const fnn_epilogue *epi, void *scratch)
    void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                   const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const double *b, ptrdiff_t rsb, ptrdiff_t csb,
                   double beta, double *c, ptrdiff_t ldc,
                   const fnn_epilogue *epi, void *scratch)
    size_t fnn_gemm_scratch_bytes(int is_double, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                  int threads)

    void fnn_act_forward_f32(int act, double param, float *x, ptrdiff_t n)
    void fnn_act_forward_f64(int act, double param, double *x, ptrdiff_t n)
    void fnn_act_grad_f32(int act, double param, const float *a, const float *z,
                          float *d, ptrdiff_t n)
    void fnn_act_grad_f64(int act, double param, const double *a, const double *z,
                          double *d, ptrdiff_t n)

    ctypedef struct fnn_layer:
        int kind
        int act
        double act_param
        ptrdiff_t n_in, n_out
        ptrdiff_t w_offset
        ptrdiff_t b_offset
        double rate
        double l1, l2
        int trainable
