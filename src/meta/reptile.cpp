#include "croma/meta/reptile.h"

#include <stdexcept>

namespace croma {

void accumulate_reptile_delta(torch::Tensor& delta_sum, const torch::Tensor& fast,
                              const torch::Tensor& meta, ParamRange range) {
  at::NoGradGuard no_grad;
  auto out = slice(delta_sum, range);
  out.add_(slice(fast, range)).sub_(slice(meta, range));
}

void apply_reptile_update(torch::Tensor& meta, const torch::Tensor& delta_sum, double task_count,
                          double epsilon) {
  if (!(task_count > 0)) throw std::invalid_argument("apply_reptile_update: task_count must be > 0");
  at::NoGradGuard no_grad;
  meta.add_(delta_sum, epsilon / task_count);
}

}  // namespace croma
