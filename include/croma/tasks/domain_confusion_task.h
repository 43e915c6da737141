#pragma once
// Domain confusion (Tzeng et al.; Ganin & Lempitsky's gradient reversal): a domain head
// learns to tell source from target embeddings while the encoders receive the reversed
// gradient and learn to make them indistinguishable. Unlabelled items of meta-train classes.
#include "croma/tasks/inner_task.h"

namespace croma {

class DomainConfusionTask : public InnerTask {
 public:
  DomainConfusionTask(const TaskContext& ctx, std::vector<std::int64_t> source_items,
                      std::vector<std::int64_t> target_items, double reversal_weight = 1.0)
      : ctx_(ctx), source_items_(std::move(source_items)), target_items_(std::move(target_items)),
        weight_(reversal_weight) {}
  std::string name() const override { return "confusion"; }
  ParamRange range() const override { return {0, ctx_.model.domain_head().end}; }
  void sample(Rng& rng, const torch::Tensor& meta) override;
  torch::Tensor step_loss(const Weights& fast, Rng& rng) override;

 private:
  const TaskContext& ctx_;
  std::vector<std::int64_t> source_items_, target_items_;
  double weight_;
  FeatureBatch xs_, xt_;
};

// Identity forward, gradient multiplied by -weight backward.
torch::Tensor reverse_gradient(const torch::Tensor& x, double weight);

}  // namespace croma
