#include "croma/eval/fine_tuned_weights.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace croma {

FineTunedWeights::FineTunedWeights(std::int64_t numel, std::vector<ParamRange> written, ParamRange range) {
  for (const auto& r : merge_ranges(std::move(written))) {
    const ParamRange inside{std::max(r.begin, range.begin), std::min(r.end, range.end)};
    if (inside.size() > 0) adapted_.push_back(inside);
  }
  adam_.resize(adapted_.size());
  start_ = torch::zeros({numel}, torch::kFloat32);
  fast_ = torch::zeros({numel}, torch::kFloat32);
  grad_ = torch::zeros({numel}, torch::kFloat32);
}

void FineTunedWeights::set_start(const torch::Tensor& parameters) {
  if (parameters.numel() != start_.numel()) {
    throw std::invalid_argument("FineTunedWeights::set_start: expected " + std::to_string(start_.numel()) +
                                " parameters, got " + std::to_string(parameters.numel()));
  }
  at::NoGradGuard no_grad;
  start_.copy_(parameters.reshape({-1}).to(torch::kCPU, torch::kFloat32));
  // Outside the adapted stretches the fast weights never move: copied once here.
  fast_.copy_(start_);
}

void FineTunedWeights::restart() {
  float* fast = fast_.data_ptr<float>();
  const float* start = start_.data_ptr<float>();
  for (std::size_t a = 0; a < adapted_.size(); ++a) {
    const auto& r = adapted_[a];
    std::memcpy(fast + r.begin, start + r.begin, sizeof(float) * static_cast<std::size_t>(r.size()));
    adam_[a].reset(r.size(), torch::kCPU);
  }
}

void FineTunedWeights::adam_step(const AdamSettings& settings) {
  for (std::size_t a = 0; a < adam_.size(); ++a) {
    adam_[a].step(slice(fast_, adapted_[a]), slice(grad_, adapted_[a]), settings);
  }
}

}  // namespace croma
