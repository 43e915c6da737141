#pragma once
// Parameters a forward pass reads, and the fast weights an inner loop trains.
//
// Reading layers as views of one flat tensor that requires grad is simple, but autograd then
// answers every view with a gradient the size of the whole buffer: one full-size zero fill
// and add per layer per backward pass, which dominated the inner loop. FastWeights keeps the
// flat layout (one copy, one delta, one Adam pass over a range) but makes each layer its own
// autograd leaf, a view of the flat values whose .grad is a view of one flat gradient buffer:
// backward writes each layer's gradient straight into place.
#include <stdexcept>
#include <vector>

#include "croma/model/param_layout.h"

namespace croma {

class FastWeights {
 public:
  FastWeights(const ParamLayout& layout, const torch::TensorOptions& options);
  FastWeights(const FastWeights&) = delete;
  FastWeights& operator=(const FastWeights&) = delete;

  // The flat values (no autograd history; modify under at::NoGradGuard) and the flat gradient
  // that backward() accumulates into.
  torch::Tensor& values() { return values_; }
  const torch::Tensor& values() const { return values_; }
  torch::Tensor& grad() { return grad_; }
  void zero_grad() { grad_.zero_(); }
  // One leaf per layout entry.
  const std::vector<torch::Tensor>& leaves() const { return leaves_; }

 private:
  torch::Tensor values_, grad_;
  std::vector<torch::Tensor> leaves_;
};

// Fast weights of many independent copies at once: each layer is one leaf [copies, ...its
// shape] whose .grad is a view of one batched gradient buffer. Model parts that support it
// (CromaModel's MLPs) then run every copy in one batched product: few-shot evaluation
// fine-tunes many episodes this way. A loss that sums the copies' own losses gives each copy
// exactly the gradient it would get alone.
//
// The buffers are entry-major: entry i's block [copies, numel_i] starts at copies * offset_i.
// So every leaf and its gradient are contiguous (what autograd's in-place accumulation wants),
// and a range of whole entries is still one contiguous stretch of values for one Adam pass.
class FastWeightBatch {
 public:
  FastWeightBatch(const ParamLayout& layout, std::int64_t copies, const torch::TensorOptions& options);
  FastWeightBatch(const FastWeightBatch&) = delete;
  FastWeightBatch& operator=(const FastWeightBatch&) = delete;

  std::int64_t copies() const { return copies_; }
  // Every copy := `flat` (1-D, numel, laid out like the model).
  void assign(const torch::Tensor& flat);
  // Copy c := `flat`.
  void assign_copy(std::int64_t c, const torch::Tensor& flat);
  // The values and gradients of every copy over a range of whole layout entries (1-D views,
  // copies * range.size() long), for the optimizer. Throws for a range that cuts an entry.
  torch::Tensor range_values(ParamRange range) const;
  torch::Tensor range_grad(ParamRange range) const;
  // Copy c's parameters or gradient as a flat tensor laid out like the model (a new tensor).
  torch::Tensor values_of(std::int64_t c) const;
  torch::Tensor grad_of(std::int64_t c) const;
  void zero_grad() { grad_.zero_(); }
  const std::vector<torch::Tensor>& leaves() const { return leaves_; }

 private:
  torch::Tensor block(const torch::Tensor& buffer, ParamRange range) const;

  const ParamLayout& layout_;
  std::int64_t copies_;
  torch::Tensor values_, grad_;  // entry-major, copies * numel
  std::vector<torch::Tensor> leaves_, grad_views_;
};

// What a forward pass reads: a flat parameter tensor (layers are views of it) or fast weights.
// A FastWeightBatch holds many copies: its layers have a leading copies dimension.
// Converts implicitly from either, so model functions take both; it only borrows them for
// the duration of a call.
class Weights {
 public:
  Weights(const torch::Tensor& flat) : flat_(&flat) {}        // NOLINT: implicit by design
  Weights(const FastWeights& fast) : fast_(&fast) {}          // NOLINT: implicit by design
  Weights(const FastWeightBatch& batch) : batch_(&batch) {}   // NOLINT: implicit by design
  torch::Tensor entry(const ParamLayout& layout, std::size_t i) const {
    if (fast_) return fast_->leaves()[i];
    if (batch_) return batch_->leaves()[i];
    return layout.view(*flat_, i);
  }
  // The same values with no path for gradients (a discriminator held fixed while the
  // encoder learns to confuse it). Fast weights' flat values carry no autograd history; a
  // flat tensor is returned as it is and must not require grad.
  Weights frozen() const {
    if (fast_) return Weights(fast_->values());
    if (batch_) throw std::logic_error("Weights::frozen: not available for a FastWeightBatch");
    if (flat_->requires_grad()) throw std::logic_error("Weights::frozen: the flat tensor requires grad");
    return *this;
  }

 private:
  const torch::Tensor* flat_ = nullptr;
  const FastWeights* fast_ = nullptr;
  const FastWeightBatch* batch_ = nullptr;
};

}  // namespace croma
