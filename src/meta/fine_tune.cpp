#include "croma/meta/fine_tune.h"

namespace croma {

void fine_tune(FastWeights& fast, const torch::Tensor& start, ParamRange range, std::int64_t steps,
               FlatAdam& adam, const AdamSettings& settings,
               const std::function<torch::Tensor(const FastWeights&)>& loss) {
  {
    at::NoGradGuard no_grad;
    fast.values().copy_(start);
  }
  adam.reset(range.size(), fast.values().device());
  for (std::int64_t s = 0; s < steps; ++s) {
    loss(fast).backward();
    adam.step(slice(fast.values(), range), slice(fast.grad(), range), settings);
    fast.zero_grad();
  }
}

}  // namespace croma
