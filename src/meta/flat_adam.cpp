#include "croma/meta/flat_adam.h"

#include <cmath>
#include <stdexcept>

#include "croma/meta/adam_kernel.h"

namespace croma {

void FlatAdam::reset(std::int64_t numel, const torch::Device& device) {
  // The moments are views of buffers that only grow: alternating task kinds with ranges of
  // different sizes reuse one allocation instead of making a new one per episode.
  if (!m_store_.defined() || m_store_.numel() < numel || m_store_.device() != device) {
    auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    m_store_ = torch::zeros({numel}, opts);
    v_store_ = torch::zeros({numel}, opts);
    denom_ = torch::Tensor();  // only step_reference() needs it; allocated there on demand
    m_ = torch::Tensor();
  }
  if (!m_.defined() || m_.numel() != numel || m_.device() != device) {
    m_ = m_store_.narrow(0, 0, numel);
    v_ = v_store_.narrow(0, 0, numel);
  }
  // The fused CPU step writes the moments on the first step without reading them; other
  // devices (step_reference) clear them on their first step.
  moments_stale_ = true;
  t_ = 0;
}

void FlatAdam::check(const torch::Tensor& params, const torch::Tensor& grad) const {
  if (!m_.defined() || params.numel() != m_.numel() || grad.numel() != m_.numel() ||
      params.sizes() != grad.sizes() || params.dim() < 1 || params.dim() > 2) {
    throw std::logic_error("FlatAdam::step: parameter range does not match reset()");
  }
}

void FlatAdam::step(torch::Tensor params, const torch::Tensor& grad, const AdamSettings& s) {
  check(params, grad);
  const bool cpu_floats = params.device().is_cpu() && grad.device().is_cpu() && m_.device().is_cpu() &&
                          params.scalar_type() == torch::kFloat32 && grad.scalar_type() == torch::kFloat32;
  const bool rows_contiguous = params.stride(-1) == 1 && grad.stride(-1) == 1;
  if (!cpu_floats || !rows_contiguous) {
    step_reference(std::move(params), grad, s);
    return;
  }
  ++t_;
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(s.beta2, static_cast<double>(t_));
  const AdamScalars k{static_cast<float>(s.beta1),     static_cast<float>(1.0 - s.beta1),
                      static_cast<float>(s.beta2),     static_cast<float>(1.0 - s.beta2),
                      static_cast<float>(std::sqrt(bias2)), static_cast<float>(s.lr / bias1),
                      static_cast<float>(s.eps)};
  const std::int64_t rows = params.dim() == 2 ? params.size(0) : 1;
  const std::int64_t cols = params.size(-1);
  const std::int64_t p_stride = params.dim() == 2 ? params.stride(0) : 0;
  const std::int64_t g_stride = grad.dim() == 2 ? grad.stride(0) : 0;
  float* p = params.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = m_.data_ptr<float>();
  float* v = v_.data_ptr<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    adam_pass(p + r * p_stride, g + r * g_stride, m + r * cols, v + r * cols, cols, k, moments_stale_);
  }
  moments_stale_ = false;
}

void FlatAdam::step_reference(torch::Tensor params, const torch::Tensor& grad, const AdamSettings& s) {
  check(params, grad);
  at::NoGradGuard no_grad;
  if (moments_stale_) {
    m_.zero_();
    v_.zero_();
    moments_stale_ = false;
  }
  ++t_;
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(t_));
  const double bias2 = 1.0 - std::pow(s.beta2, static_cast<double>(t_));
  auto m = m_.view(params.sizes());
  auto v = v_.view(params.sizes());
  if (!denom_.defined() || denom_.numel() < m_.numel() || denom_.device() != m_.device()) {
    denom_ = torch::empty({m_store_.numel()}, m_.options());
  }
  auto denom = denom_.narrow(0, 0, m_.numel()).view(params.sizes());
  m.mul_(s.beta1).add_(grad, 1.0 - s.beta1);
  v.mul_(s.beta2).addcmul_(grad, grad, 1.0 - s.beta2);
  // Same arithmetic as torch.optim.Adam: p -= lr/bias1 * m / (sqrt(v)/sqrt(bias2) + eps).
  at::sqrt_out(denom, v);
  denom.div_(std::sqrt(bias2)).add_(s.eps);
  params.addcdiv_(m, denom, -s.lr / bias1);
}

}  // namespace croma
