#include "croma/model/small_products.h"

#include <torch/torch.h>

#ifdef CROMA_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

namespace croma {
namespace {

torch::Tensor matrix(const float* data, std::int64_t rows, std::int64_t cols) {
  return torch::from_blob(const_cast<float*>(data), {rows, cols}, torch::kFloat32);
}

// dst[c, r] = src[r, c] for a row-major [rows, cols] matrix: libxsmm's transposition (2-6x
// faster than the plain loop on these shapes, and exact like it) where it is built in.
void transpose(const float* src, std::int64_t rows, std::int64_t cols, float* dst) {
#ifdef CROMA_HAVE_LIBXSMM
  // In libxsmm's column-major terms: src is [cols x rows] with leading dimension cols.
  libxsmm_otrans(dst, src, sizeof(float), cols, rows, cols, rows);
#else
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
#endif
}

#ifdef CROMA_HAVE_LIBXSMM
// libxsmm looks at the CPU and sets up its code generator once per process.
void init_libxsmm_once() {
  static const bool ready = [] {
    libxsmm_init();
    return true;
  }();
  (void)ready;
}
#endif

// A column-major product C[M, N] = op(A) op(B) (+ C when accumulating), as libxsmm's
// kernels take their operands.
using Kernel = void (*)(const float* a, const float* b, float* c, ...);

// libxsmm's kernel for that product with these leading dimensions; null where this build has
// no libxsmm or it makes no kernel for the shape (the caller then runs ATen).
Kernel kernel(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t lda, std::int64_t ldb, std::int64_t ldc,
              bool transpose_b, bool accumulate) {
#ifdef CROMA_HAVE_LIBXSMM
  init_libxsmm_once();
  const libxsmm_blasint mm = m, nn = n, kk = k, a = lda, b = ldb, c = ldc;
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const int flags = transpose_b ? LIBXSMM_GEMM_FLAG_TRANS_B : LIBXSMM_GEMM_FLAG_NONE;
  return libxsmm_smmdispatch(mm, nn, kk, &a, &b, &c, &alpha, &beta, &flags, nullptr);
#else
  (void)m, (void)n, (void)k, (void)lda, (void)ldb, (void)ldc, (void)transpose_b, (void)accumulate;
  return nullptr;
#endif
}

}  // namespace

bool SmallProducts::accelerated() {
#ifdef CROMA_HAVE_LIBXSMM
  return true;
#else
  return false;
#endif
}

std::string SmallProducts::kernel_target() {
#ifdef CROMA_HAVE_LIBXSMM
  init_libxsmm_once();  // the target is known once libxsmm has looked at the CPU
  return std::string("libxsmm ") + libxsmm_get_target_arch();
#else
  return "at::mm_out";
#endif
}

void SmallProducts::forward(const float* x, const float* w, float* y, std::int64_t m, std::int64_t k,
                            std::int64_t n) {
  // Column-major C[m, n] = A[m, k] B[k, n]: A is X^T's memory (row-major [k, m], so
  // column-major [m, k]: X), B is W's memory (row-major [n, k], so column-major [k, n]: W^T),
  // and C, column-major [m, n], is row-major Y^T [n, m]: transposed back into Y.
  if (const auto f = kernel(m, n, k, m, k, m, false, false)) {
    x_t_.resize(static_cast<std::size_t>(m * k));
    y_t_.resize(static_cast<std::size_t>(m * n));
    transpose(x, m, k, x_t_.data());
    f(x_t_.data(), w, y_t_.data());
    transpose(y_t_.data(), n, m, y);
    return;
  }
  auto out = matrix(y, m, n);
  at::mm_out(out, matrix(x, m, k), matrix(w, n, k).t());
}

void SmallProducts::weight_grad(const float* g, const float* x, float* dw, std::int64_t m, std::int64_t k,
                                std::int64_t n, bool accumulate) {
  // Column-major: C[k, n] = A[k, m] op(B), A = X's memory ([k, m] column-major = X^T),
  // B = G's memory ([n, m] column-major = G^T) transposed, C = dW's memory ([k, n]).
  if (const auto f = kernel(k, n, m, k, n, k, true, accumulate)) {
    f(x, g, dw);
    return;
  }
  auto out = matrix(dw, n, k);
  if (accumulate) {
    at::addmm_out(out, out, matrix(g, m, n).t(), matrix(x, m, k));
  } else {
    at::mm_out(out, matrix(g, m, n).t(), matrix(x, m, k));
  }
}

void SmallProducts::input_grad(const float* g, const float* w, float* dx, std::int64_t m, std::int64_t k,
                               std::int64_t n) {
  // Column-major: C[k, m] = A[k, n] B[n, m], A = W's memory (W^T), B = G's memory (G^T),
  // C = dX's memory (dX^T): dX^T = W^T G^T.
  if (const auto f = kernel(k, m, n, k, n, k, false, false)) {
    f(w, g, dx);
    return;
  }
  auto out = matrix(dx, m, k);
  at::mm_out(out, matrix(g, m, n), matrix(w, n, k));
}

}  // namespace croma
