#pragma once
// Adam over one contiguous parameter range, with its moment buffers kept between episodes.
//
// Each episode starts with fresh moments (reset()), as a fresh torch.optim.Adam would, but
// the buffers themselves are allocated once and reused: small meta-learning loops otherwise
// spend their time returning freed tensors to the operating system and faulting them back.
//
// On the CPU one step is a single loop that reads gradient, moments and parameters once and
// writes moments and parameters once (the bias corrections hoisted out of it). Written as
// five ATen passes (mul_, add_, addcmul_, sqrt, addcdiv_) the same step streams the range
// about three times as often and pays five dispatches. Other devices keep the ATen
// formulation (step_reference()).
#include <cstdint>

namespace croma {

struct AdamSettings {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

// What evaluation's fine-tunings (few-shot and retrieval, fused and autograd) run: torch's
// default betas and epsilon at the rate --eval-lr.
inline AdamSettings fine_tuning_adam(double lr) {
  AdamSettings s;
  s.lr = lr;
  return s;
}

class FlatAdam {
 public:
  FlatAdam() = default;
  // Zero moments and step count for `numel` parameters on `device`; reuses buffers when
  // size and device match.
  void reset(std::int64_t numel, const torch::Device& device);
  // One Adam update of `params` from `grad`, in place. Either both are 1-D with numel
  // elements, or both are 2-D [rows, cols] with rows * cols = numel and contiguous rows
  // (the range of several fast-weight copies; the row stride may differ from cols).
  void step(torch::Tensor params, const torch::Tensor& grad, const AdamSettings& s);
  // The same update as five ATen passes (what torch.optim.Adam does); used off the CPU, and
  // by tests as the reference for the fused loop.
  void step_reference(torch::Tensor params, const torch::Tensor& grad, const AdamSettings& s);
  std::int64_t steps_taken() const { return t_; }

 private:
  void check(const torch::Tensor& params, const torch::Tensor& grad) const;

  torch::Tensor m_store_, v_store_, m_, v_, denom_;
  std::int64_t t_ = 0;
  bool moments_stale_ = true;  // reset() since the last step: moments count as zero
};

}  // namespace croma
