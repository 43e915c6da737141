#include "croma/meta/flat_adam.h"

#include <cmath>
#include <stdexcept>

namespace croma {

void FlatAdam::reset(std::int64_t numel, const torch::Device& device) {
  if (!m_.defined() || m_.numel() != numel || m_.device() != device) {
    auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    m_ = torch::zeros({numel}, opts);
    v_ = torch::zeros({numel}, opts);
    denom_ = torch::empty({numel}, opts);
  } else {
    m_.zero_();
    v_.zero_();
  }
  t_ = 0;
}

void FlatAdam::step(torch::Tensor params, const torch::Tensor& grad, const AdamSettings& s) {
  if (params.numel() != m_.numel() || grad.numel() != m_.numel()) {
    throw std::logic_error("FlatAdam::step: parameter range does not match reset()");
  }
  at::NoGradGuard no_grad;
  ++t_;
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(s.beta2, static_cast<double>(t_));
  m_.mul_(s.beta1).add_(grad, 1.0 - s.beta1);
  v_.mul_(s.beta2).addcmul_(grad, grad, 1.0 - s.beta2);
  // Same arithmetic as torch.optim.Adam: p -= lr/bias1 * m / (sqrt(v)/sqrt(bias2) + eps).
  at::sqrt_out(denom_, v_);
  denom_.div_(std::sqrt(bias2)).add_(s.eps);
  params.addcdiv_(m_, denom_, -s.lr / bias1);
}

}  // namespace croma
