#pragma once
// First-order meta-updates (Reptile, Nichol et al. 2018), as used by Algorithm 1:
//   theta_meta <- theta_meta + epsilon * mean_tasks(theta_task - theta_meta)
#include <cstdint>
#include <vector>

#include "croma/meta/exact_sum.h"
#include "croma/model/param_layout.h"

namespace croma {

// How MetaTrainer sums a slot's delta, exactly (meta/exact_sum.h): sums[range] +=
// round((fast - meta)[range] * 2^fp.frac_bits), sums an int64 tensor on the device of fast and
// meta. Each slot's delta is rounded on its own, so the sum over slots does not depend on their
// order or on which rank holds them. Returns the number of entries refused (not finite or out of range).
std::int64_t accumulate_reptile_delta_exact(torch::Tensor& sums, const torch::Tensor& fast,
                                            const torch::Tensor& meta, ParamRange range,
                                            const FixedPoint& fp);
// The same adding the refused count into `refused` (one int64 element on the parameters'
// device) instead of returning it: off the CPU, tensor operations only and no host
// synchronisation (exact_sum.h's tensor add_fixed).
void accumulate_reptile_delta_exact(torch::Tensor sums, const torch::Tensor& fast, const torch::Tensor& meta,
                                    ParamRange range, const FixedPoint& fp, torch::Tensor refused);

// A stretch of parameters and how many of a meta-step's task kinds adapt it.
struct TaskCoverage {
  ParamRange range;
  int tasks = 0;
};

// The parameters split into maximal stretches covered by the same number of the given
// ranges, in order, covering [0, numel).
std::vector<TaskCoverage> task_coverage(const std::vector<ParamRange>& ranges, std::int64_t numel);

// The Reptile step when several task kinds may adapt the same parameters (e_s in the shared
// baselines): each parameter moves by epsilon times the mean of the deltas of the episodes
// that adapted it, i.e. delta_sum / (slots * tasks covering it); parameters no task adapts
// stay. With disjoint ranges this is meta += epsilon * delta_sum / slots on every range.
void apply_reptile_update(torch::Tensor& meta, const torch::Tensor& delta_sum,
                          const std::vector<TaskCoverage>& coverage, double slots, double epsilon);

// The same step straight from the exact sums on the CPU: fixed_to_float and then the update
// above, in one pass over the parameters instead of two (no float delta written and read
// back). Bit for bit what the two give (the update's a + alpha * b is one fused multiply-add,
// as ATen computes it). meta: a contiguous CPU float tensor of the sums' length.
void apply_reptile_update_from_fixed(torch::Tensor& meta, const std::int64_t* sums, int frac_bits,
                                     const std::vector<TaskCoverage>& coverage, double slots, double epsilon);

}  // namespace croma
