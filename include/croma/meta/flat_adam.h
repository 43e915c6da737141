#pragma once
// Adam over one contiguous parameter range, with its moment buffers kept between episodes.
//
// Each episode starts with fresh moments (reset()), as a fresh torch.optim.Adam would, but
// the buffers themselves are allocated once and reused: small meta-learning loops otherwise
// spend their time returning freed tensors to the operating system and faulting them back.
#include <cstdint>

namespace croma {

struct AdamSettings {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class FlatAdam {
 public:
  FlatAdam() = default;
  // Zero moments and step count for `numel` parameters on `device`; reuses buffers when
  // size and device match.
  void reset(std::int64_t numel, const torch::Device& device);
  // One Adam update of `params` (1-D, numel elements) from `grad`, in place.
  void step(torch::Tensor params, const torch::Tensor& grad, const AdamSettings& s);
  std::int64_t steps_taken() const { return t_; }

 private:
  torch::Tensor m_, v_, denom_;
  std::int64_t t_ = 0;
};

}  // namespace croma
