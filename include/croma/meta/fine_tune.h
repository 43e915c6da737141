#pragma once
// Few-shot adaptation at evaluation time: start the fast weights from given parameters and
// run `steps` Adam steps, with fresh moments, over one parameter range on a loss that the
// caller computes from the fast weights. Used by few-shot classification and retrieval.
#include <cstdint>
#include <functional>

#include "croma/meta/flat_adam.h"
#include "croma/model/fast_weights.h"

namespace croma {

void fine_tune(FastWeights& fast, const torch::Tensor& start, ParamRange range, std::int64_t steps,
               FlatAdam& adam, const AdamSettings& settings,
               const std::function<torch::Tensor(const FastWeights&)>& loss);

}  // namespace croma
