#pragma once
// The parameters one evaluation task fine-tunes on the fused kernels (eval/fused_fine_tune.h,
// eval/fused_retrieval_fine_tune.h): the start every task begins from, the fast copy the
// kernels read and write, its flat gradient, and Adam over the stretches a kernel writes.
//
// Only the stretches of the fine-tuned range that some kernel writes a gradient into move: the
// rest of the range keeps zero gradients, where Adam from zero moments leaves the weights
// exactly where they are (the autograd path's arithmetic), so Adam runs on those stretches only.
#include <cstdint>
#include <vector>

#include "croma/meta/flat_adam.h"
#include "croma/model/param_layout.h"

namespace croma {

class FineTunedWeights {
 public:
  // `numel` parameters; `written`: where the kernels write gradients (any order, may
  // overlap); `range`: what the task fine-tunes. Adam runs where the two meet.
  FineTunedWeights(std::int64_t numel, std::vector<ParamRange> written, ParamRange range);

  // Every later task starts from these parameters (numel floats, any device).
  void set_start(const torch::Tensor& parameters);
  // Before a task: the adapted stretches back at the start, Adam's moments cleared.
  void restart();
  // One Adam step of every adapted stretch on the gradient the kernels wrote.
  void adam_step(const AdamSettings& settings);

  const torch::Tensor& fast() const { return fast_; }
  const torch::Tensor& grad() const { return grad_; }
  const std::vector<ParamRange>& adapted() const { return adapted_; }

 private:
  std::vector<ParamRange> adapted_;
  torch::Tensor start_, fast_, grad_;
  std::vector<FlatAdam> adam_;  // one per adapted stretch
};

}  // namespace croma
