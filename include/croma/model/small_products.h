#pragma once
// The three matrix products of a dense layer on a few rows (an inner-loop minibatch or an
// episode: 4 to a few dozen rows), all row-major:
//   forward      Y[m, n]  = X[m, k] W[n, k]^T
//   weight grad  dW[n, k] = G[m, n]^T X[m, k]      (or dW += ..., `accumulate`)
//   input grad   dX[m, k] = G[m, n] W[n, k]
// Built with libxsmm (CMake finds it: CROMA_HAVE_LIBXSMM), they run its just-in-time kernels
// for small products; without it, or for a shape its code generator declines, at::mm_out
// (OpenBLAS). At 8 rows OpenBLAS spends most of a product packing the whole weight matrix;
// libxsmm's kernels read it in place (measured: docs/results/, the performance history).
//
// A product's kernel is chosen by its shape alone, so a task slot computes the same bits
// whatever else its rank runs (meta/exact_sum.h). The two back ends round differently; a
// build keeps one.
#include <cstdint>
#include <string>
#include <vector>

namespace croma {

class SmallProducts {
 public:
  // Whether this build runs libxsmm's kernels (else every product is at::mm_out).
  static bool accelerated();
  // Which kernels run the products on this machine: "libxsmm <instruction set>" (the code
  // libxsmm generates for the CPU it finds, e.g. "libxsmm avx512_skx"), or "at::mm_out". Two
  // machines with other answers round the products differently.
  static std::string kernel_target();

  void forward(const float* x, const float* w, float* y, std::int64_t m, std::int64_t k, std::int64_t n);
  void weight_grad(const float* g, const float* x, float* dw, std::int64_t m, std::int64_t k, std::int64_t n,
                   bool accumulate);
  void input_grad(const float* g, const float* w, float* dx, std::int64_t m, std::int64_t k, std::int64_t n);

 private:
  // In libxsmm's column-major terms the forward product needs X and Y transposed (a few kB
  // each); the weights are read where they are.
  std::vector<float> x_t_, y_t_;
};

}  // namespace croma
