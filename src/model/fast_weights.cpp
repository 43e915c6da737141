#include "croma/model/fast_weights.h"

namespace croma {

FastWeights::FastWeights(const ParamLayout& layout, const torch::TensorOptions& options)
    : values_(torch::zeros({layout.numel()}, options.dtype(torch::kFloat32))),
      grad_(torch::zeros({layout.numel()}, options.dtype(torch::kFloat32))) {
  for (std::size_t i = 0; i < layout.entries().size(); ++i) {
    auto leaf = layout.view(values_, i).detach().requires_grad_(true);
    // A defined .grad is accumulated into in place by backward(): this view is where it lands.
    leaf.mutable_grad() = layout.view(grad_, i);
    leaves_.push_back(std::move(leaf));
  }
}

FastWeightBatch::FastWeightBatch(const ParamLayout& layout, std::int64_t copies,
                                 const torch::TensorOptions& options)
    : layout_(layout), copies_(copies),
      values_(torch::zeros({copies * layout.numel()}, options.dtype(torch::kFloat32))),
      grad_(torch::zeros({copies * layout.numel()}, options.dtype(torch::kFloat32))) {
  if (copies < 1) throw std::invalid_argument("FastWeightBatch: copies must be >= 1");
  for (const auto& e : layout.entries()) {
    std::vector<std::int64_t> shape{copies};
    shape.insert(shape.end(), e.shape.begin(), e.shape.end());
    auto leaf = values_.narrow(0, copies * e.offset, copies * e.numel).view(shape).detach().requires_grad_(true);
    auto grad = grad_.narrow(0, copies * e.offset, copies * e.numel).view(shape);
    leaf.mutable_grad() = grad;
    leaves_.push_back(std::move(leaf));
    grad_views_.push_back(std::move(grad));
  }
}

void FastWeightBatch::assign(const torch::Tensor& flat) {
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    const auto& e = layout_.entry(i);
    leaves_[i].view({copies_, e.numel}).copy_(flat.narrow(0, e.offset, e.numel).unsqueeze(0).expand({copies_, e.numel}));
  }
}

void FastWeightBatch::assign_copy(std::int64_t c, const torch::Tensor& flat) {
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    leaves_[i][c].copy_(layout_.view(flat, i));
  }
}

torch::Tensor FastWeightBatch::block(const torch::Tensor& buffer, ParamRange range) const {
  bool begins = range.begin == layout_.numel(), ends = range.end == layout_.numel();
  for (const auto& e : layout_.entries()) {
    begins = begins || e.offset == range.begin;
    ends = ends || e.offset == range.end;
  }
  if (!begins || !ends || range.begin > range.end) {
    throw std::invalid_argument("FastWeightBatch: range [" + std::to_string(range.begin) + ", " +
                                std::to_string(range.end) + ") does not consist of whole layout entries");
  }
  return buffer.narrow(0, copies_ * range.begin, copies_ * range.size());
}

torch::Tensor FastWeightBatch::range_values(ParamRange range) const { return block(values_, range); }
torch::Tensor FastWeightBatch::range_grad(ParamRange range) const { return block(grad_, range); }

torch::Tensor FastWeightBatch::values_of(std::int64_t c) const {
  std::vector<torch::Tensor> parts;
  for (const auto& leaf : leaves_) parts.push_back(leaf.detach()[c].reshape({-1}));
  return torch::cat(parts);
}

torch::Tensor FastWeightBatch::grad_of(std::int64_t c) const {
  std::vector<torch::Tensor> parts;
  for (const auto& g : grad_views_) parts.push_back(g[c].reshape({-1}));
  return torch::cat(parts);
}

}  // namespace croma
