#pragma once
// Unsupervised target-modality task: reconstruct target features through the aligned space
// (e_t then the decoder), mean squared error. Adapts e_t and the decoder (the range also
// covers phi, which this loss leaves with zero gradient, so Adam leaves it unchanged).
#include "croma/tasks/inner_task.h"

namespace croma {

class ReconstructionTask : public InnerTask {
 public:
  ReconstructionTask(const TaskContext& ctx, std::vector<std::int64_t> items)
      : ctx_(ctx), items_(std::move(items)) {}
  std::string name() const override { return "recon"; }
  ParamRange range() const override {
    return {ctx_.model.target_encoder().begin, ctx_.model.decoder().end};
  }
  InnerProblem problem() const override {
    return {InnerLoss::kReconstruction, RowPath::kTarget, RowPath::kNone, ctx_.meta.inner_batch};
  }
  void sample(Rng& rng) override;

 private:
  const TaskContext& ctx_;
  std::vector<std::int64_t> items_;
};

}  // namespace croma
