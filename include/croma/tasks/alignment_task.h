#pragma once
// Alignment task (eq. 2 strong pairs / eq. 3 weak pairs): adapts both encoders on the
// alignment loss of an episode of paired source and target items.
#include "croma/tasks/inner_task.h"

namespace croma {

class AlignmentTask : public InnerTask {
 public:
  explicit AlignmentTask(const TaskContext& ctx) : ctx_(ctx) {}
  std::string name() const override { return "align"; }
  ParamRange range() const override { return ctx_.model.encoders(); }
  void sample(Rng& rng, const torch::Tensor& meta) override;
  torch::Tensor step_loss(const Weights& fast, Rng& rng) override;

 private:
  const TaskContext& ctx_;
  FeatureBatch xs_, xt_;
  torch::Tensor gs_, gt_;
};

}  // namespace croma
