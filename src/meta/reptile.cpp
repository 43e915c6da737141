#include "croma/meta/reptile.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace croma {

void accumulate_reptile_delta(torch::Tensor& delta_sum, const torch::Tensor& fast,
                              const torch::Tensor& meta, ParamRange range) {
  at::NoGradGuard no_grad;
  auto out = slice(delta_sum, range);
  out.add_(slice(fast, range)).sub_(slice(meta, range));
}

std::int64_t accumulate_reptile_delta_exact(torch::Tensor& sums, const torch::Tensor& fast,
                                            const torch::Tensor& meta, ParamRange range,
                                            const FixedPoint& fp) {
  at::NoGradGuard no_grad;
  if (sums.scalar_type() != torch::kInt64 || !sums.is_contiguous() || sums.device() != meta.device()) {
    throw std::invalid_argument("accumulate_reptile_delta_exact: sums must be a contiguous int64 tensor on the "
                                "parameters' device");
  }
  if (meta.device().is_cpu()) {
    const auto f = slice(fast, range).contiguous();
    const auto m = slice(meta, range).contiguous();
    return add_fixed_differences(f.data_ptr<float>(), m.data_ptr<float>(), range.size(), fp,
                                 sums.data_ptr<std::int64_t>() + range.begin);
  }
  // Elsewhere the same arithmetic in tensor operations: the float difference, scaled exactly
  // (in double), rounded half to even as llrint does.
  const auto d = (slice(fast, range) - slice(meta, range)).to(torch::kFloat64);
  const auto ok = d.abs() < fp.limit;  // false for NaN
  const auto q = torch::where(ok, (d * std::ldexp(1.0, fp.frac_bits)).round(),
                              torch::zeros({}, d.options()));
  auto out = slice(sums, range);
  out.add_(q.to(torch::kInt64));
  return (ok.numel() - ok.sum()).item<std::int64_t>();
}

void apply_reptile_update(torch::Tensor& meta, const torch::Tensor& delta_sum, double task_count,
                          double epsilon) {
  if (!(task_count > 0)) throw std::invalid_argument("apply_reptile_update: task_count must be > 0");
  at::NoGradGuard no_grad;
  meta.add_(delta_sum, epsilon / task_count);
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

}  // namespace croma
