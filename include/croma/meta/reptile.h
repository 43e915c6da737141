#pragma once
// First-order meta-updates (Reptile, Nichol et al. 2018), as used by Algorithm 1:
//   theta_meta <- theta_meta + epsilon * mean_tasks(theta_task - theta_meta)
#include "croma/model/param_layout.h"

namespace croma {

// delta_sum[range] += fast[range] - meta[range]
void accumulate_reptile_delta(torch::Tensor& delta_sum, const torch::Tensor& fast,
                              const torch::Tensor& meta, ParamRange range);

// meta += epsilon * delta_sum / task_count
void apply_reptile_update(torch::Tensor& meta, const torch::Tensor& delta_sum,
                          double task_count, double epsilon);

}  // namespace croma
