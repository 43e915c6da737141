#pragma once
// The linear-Gaussian model both trial engines of the study draw explicitly (the direct route
// of study/alignment_study.cpp and the weak-alignment study of study/weak_alignment.cpp), as
// batched float64 tensors with one leading slice per trial: [T, rows, cols].
//
//   teacher:    u1 ~ N(0, I_d) as a row; W = U diag(s) V' with Haar U, V and singular values s
//               by the condition number (W = U when it is 1); u2 = u1 W, so u1.x1 = u2.x2
//               for x1 = W x2
//   a fit:      least squares on rows x with labels y = x u' + sigma eps, by a Cholesky solve
//               of the normal equations
//   the source: that fit on n1 rows x1 = W g (g ~ N(0, I_d)) with the teacher u1
// docs/study.md states the model and the errors measured on it.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace croma {

// [count, per] standard normals; row t is drawn from its own Rng(seed, first_stream + t), so
// how trials are chunked or threaded never changes a trial's numbers.
torch::Tensor trial_normals(std::int64_t count, std::int64_t per, std::uint64_t seed,
                            std::uint64_t first_stream);

// Consecutive blocks of a [T, per] tensor, each viewed as [T, rows, cols], in the order taken.
class TrialBlocks {
 public:
  explicit TrialBlocks(torch::Tensor buffer) : buffer_(std::move(buffer)) {}
  torch::Tensor take(std::int64_t rows, std::int64_t cols);

 private:
  torch::Tensor buffer_;
  std::int64_t at_ = 0;
};

// Solves A x = b for symmetric positive definite A: [T, d, d], b: [T, d, k].
torch::Tensor spd_solve(const torch::Tensor& a, const torch::Tensor& b);
// Haar-distributed orthogonal matrices from Gaussian ones: QR with R's diagonal made positive.
torch::Tensor haar_orthogonal(const torch::Tensor& gaussian);
// The least-squares map of rows x [T, n, d] onto rows y [T, n, k], as rows: [T, k, d].
torch::Tensor least_squares(const torch::Tensor& x, const torch::Tensor& y);

struct Teacher {
  torch::Tensor u1;  // [T, 1, d]
  torch::Tensor w;   // [T, d, d]
  torch::Tensor u2;  // u1 W
};
// From standard normals u1 [T, 1, d] and gu, gv [T, d, d]; gv is not used (and may be
// undefined) when condition is 1.
Teacher make_teacher(const torch::Tensor& u1, const torch::Tensor& gu, const torch::Tensor& gv,
                     double condition);

// The fit [T, 1, d] of teacher u [T, 1, d] from rows x [T, n, d] and labels x u' + sigma eps
// (eps [T, n, 1] standard normal).
torch::Tensor fit_teacher(const torch::Tensor& x, const torch::Tensor& u, const torch::Tensor& eps,
                          double sigma);
// The source predictor w1: fit_teacher on x1 = W g (rows g [T, n1, d]) with teacher u1.
torch::Tensor fit_source(const Teacher& teacher, const torch::Tensor& g, const torch::Tensor& eps,
                         double sigma);

// Appends each trial's sum of squares of error [T, ...] to out (E over x ~ N(0, I) of a
// predictor's squared error, for error = predictor - teacher).
void append_squared_norms(const torch::Tensor& error, std::vector<double>& out);

}  // namespace croma
