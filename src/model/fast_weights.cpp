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
    : values_(torch::zeros({copies, layout.numel()}, options.dtype(torch::kFloat32))),
      grad_(torch::zeros({copies, layout.numel()}, options.dtype(torch::kFloat32))) {
  for (std::size_t i = 0; i < layout.entries().size(); ++i) {
    auto leaf = layout.view(values_, i).detach().requires_grad_(true);
    leaf.mutable_grad() = layout.view(grad_, i);
    leaves_.push_back(std::move(leaf));
  }
}

}  // namespace croma
