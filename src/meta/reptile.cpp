#include "croma/meta/reptile.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace croma {

void accumulate_reptile_delta_exact(torch::Tensor sums, const torch::Tensor& fast, const torch::Tensor& meta,
                                    ParamRange range, const FixedPoint& fp, torch::Tensor refused) {
  at::NoGradGuard no_grad;
  if (sums.scalar_type() != torch::kInt64 || !sums.is_contiguous() || sums.device() != meta.device() ||
      refused.device() != meta.device()) {
    throw std::invalid_argument("accumulate_reptile_delta_exact: sums must be a contiguous int64 tensor on the "
                                "parameters' device");
  }
  if (meta.device().is_cpu()) {
    const auto f = slice(fast, range).contiguous();
    const auto m = slice(meta, range).contiguous();
    refused.add_(add_fixed_differences(f.data_ptr<float>(), m.data_ptr<float>(), range.size(), fp,
                                       sums.data_ptr<std::int64_t>() + range.begin));
    return;
  }
  // Elsewhere the same arithmetic in tensor operations: the float difference, then exact.
  add_fixed((slice(fast, range) - slice(meta, range)).to(torch::kFloat64), fp, slice(sums, range), refused);
}

std::int64_t accumulate_reptile_delta_exact(torch::Tensor& sums, const torch::Tensor& fast,
                                            const torch::Tensor& meta, ParamRange range,
                                            const FixedPoint& fp) {
  auto refused = torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt64).device(meta.device()));
  accumulate_reptile_delta_exact(sums, fast, meta, range, fp, refused);
  return refused.item<std::int64_t>();
}

std::vector<TaskCoverage> task_coverage(const std::vector<ParamRange>& ranges, std::int64_t numel) {
  std::vector<std::int64_t> cuts = {0, numel};
  for (const auto& r : ranges) {
    if (r.begin < 0 || r.end > numel || r.begin > r.end) {
      throw std::invalid_argument("task_coverage: range [" + std::to_string(r.begin) + ", " +
                                  std::to_string(r.end) + ") outside the " + std::to_string(numel) + " parameters");
    }
    cuts.push_back(r.begin);
    cuts.push_back(r.end);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<TaskCoverage> out;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    const ParamRange piece{cuts[i], cuts[i + 1]};
    const int tasks = static_cast<int>(std::count_if(ranges.begin(), ranges.end(), [&](const ParamRange& r) {
      return r.begin <= piece.begin && piece.end <= r.end;
    }));
    if (!out.empty() && out.back().tasks == tasks) {
      out.back().range.end = piece.end;  // merge neighbours with the same count
    } else {
      out.push_back({piece, tasks});
    }
  }
  return out;
}

void apply_reptile_update(torch::Tensor& meta, const torch::Tensor& delta_sum,
                          const std::vector<TaskCoverage>& coverage, double slots, double epsilon) {
  if (!(slots > 0)) throw std::invalid_argument("apply_reptile_update: slots must be > 0");
  at::NoGradGuard no_grad;
  for (const auto& c : coverage) {
    if (c.tasks == 0 || c.range.size() == 0) continue;
    slice(meta, c.range).add_(slice(delta_sum, c.range), epsilon / (slots * c.tasks));
  }
}

namespace {

// meta[i] = fma(alpha, float(sums[i] * scale), meta[i]) for i in [0, n): exact_sum.h's
// conversion, then the step.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void step_from_fixed(const std::int64_t* __restrict sums, std::int64_t n, double scale, float alpha,
                     float* __restrict meta) {
  for (std::int64_t i = 0; i < n; ++i) meta[i] = std::fma(alpha, fixed_to_float(sums[i], scale), meta[i]);
}

}  // namespace

void apply_reptile_update_from_fixed(torch::Tensor& meta, const std::int64_t* sums, int frac_bits,
                                     const std::vector<TaskCoverage>& coverage, double slots, double epsilon) {
  if (!(slots > 0)) throw std::invalid_argument("apply_reptile_update_from_fixed: slots must be > 0");
  if (!meta.device().is_cpu() || meta.scalar_type() != torch::kFloat32 || !meta.is_contiguous()) {
    throw std::invalid_argument("apply_reptile_update_from_fixed: meta must be a contiguous CPU float tensor");
  }
  at::NoGradGuard no_grad;
  const double scale = std::ldexp(1.0, -frac_bits);
  float* m = meta.data_ptr<float>();
  for (const auto& c : coverage) {
    if (c.tasks == 0 || c.range.size() == 0) continue;
    if (c.range.end > meta.numel()) throw std::invalid_argument("apply_reptile_update_from_fixed: coverage beyond meta");
    // The scale as ATen's add_ takes it: the double quotient, then a float.
    const auto alpha = static_cast<float>(epsilon / (slots * c.tasks));
    step_from_fixed(sums + c.range.begin, c.range.size(), scale, alpha, m + c.range.begin);
  }
}

}  // namespace croma
