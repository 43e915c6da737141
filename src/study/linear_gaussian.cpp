#include "croma/study/linear_gaussian.h"

#include <ATen/Parallel.h>

#include "croma/study/alignment_theory.h"
#include "croma/study/wishart.h"
#include "croma/util/rng.h"

namespace croma {

torch::Tensor trial_normals(std::int64_t count, std::int64_t per, std::uint64_t seed,
                            std::uint64_t first_stream) {
  auto buffer = torch::empty({count, per}, torch::kFloat64);
  double* p = buffer.data_ptr<double>();
  // Trials write disjoint rows from their own streams: any thread split gives the same bits.
  at::parallel_for(0, count, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      Rng rng(seed, first_stream + static_cast<std::uint64_t>(t));
      fill_normal(rng, p + t * per, per);
    }
  });
  return buffer;
}

torch::Tensor TrialBlocks::take(std::int64_t rows, std::int64_t cols) {
  auto block = buffer_.narrow(1, at_, rows * cols).reshape({buffer_.size(0), rows, cols});
  at_ += rows * cols;
  return block;
}

torch::Tensor spd_solve(const torch::Tensor& a, const torch::Tensor& b) {
  return at::cholesky_solve(b, at::linalg_cholesky(a));
}

torch::Tensor haar_orthogonal(const torch::Tensor& gaussian) {
  auto qr = at::linalg_qr(gaussian);
  const auto& q = std::get<0>(qr);
  const auto& r = std::get<1>(qr);
  return q * at::sign(at::diagonal(r, 0, -2, -1)).unsqueeze(-2);
}

torch::Tensor least_squares(const torch::Tensor& x, const torch::Tensor& y) {
  const auto xt = x.transpose(-2, -1);
  return spd_solve(at::matmul(xt, x), at::matmul(xt, y)).transpose(-2, -1);
}

Teacher make_teacher(const torch::Tensor& u1, const torch::Tensor& gu, const torch::Tensor& gv,
                     double condition) {
  Teacher t;
  t.u1 = u1;
  t.w = haar_orthogonal(gu);
  if (condition != 1.0) {
    const auto d = gu.size(-1);
    const auto sv = torch::tensor(singular_values(d, condition), torch::kFloat64).to(gu.device());
    t.w = at::matmul(t.w * sv.unsqueeze(0), haar_orthogonal(gv).transpose(-2, -1));
  }
  t.u2 = at::matmul(u1, t.w);
  return t;
}

torch::Tensor fit_teacher(const torch::Tensor& x, const torch::Tensor& u, const torch::Tensor& eps,
                          double sigma) {
  return least_squares(x, at::matmul(x, u.transpose(-2, -1)) + sigma * eps);
}

torch::Tensor fit_source(const Teacher& teacher, const torch::Tensor& g, const torch::Tensor& eps,
                         double sigma) {
  return fit_teacher(at::matmul(g, teacher.w.transpose(-2, -1)), teacher.u1, eps, sigma);
}

void append_squared_norms(const torch::Tensor& error, std::vector<double>& out) {
  const auto s = error.pow(2).flatten(1).sum(1).to(torch::kCPU).contiguous();
  const double* p = s.data_ptr<double>();
  out.insert(out.end(), p, p + s.numel());
}

}  // namespace croma
