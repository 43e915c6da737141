#pragma once
// Alignment task (eq. 2 strong pairs / eq. 3 weak pairs): adapts both encoders on the
// alignment loss of an episode of paired source and target items.
#include <vector>

#include "croma/tasks/inner_task.h"

namespace croma {

class AlignmentTask : public InnerTask {
 public:
  explicit AlignmentTask(const TaskContext& ctx) : ctx_(ctx) {}
  std::string name() const override { return "align"; }
  ParamRange range() const override { return ctx_.model.encoders(); }
  void sample(Rng& rng, const torch::Tensor& meta) override;
  torch::Tensor step_loss(const Weights& fast, Rng& rng) override;

  // The episode of the last sample(): features and group ids of its source and target items
  // (for the fused inner loop, meta/fused_inner_loop.h, which runs the same steps without
  // autograd).
  // (Vectors only: the fused loop runs MLP encoders; sequence lengths are not passed on.)
  const torch::Tensor& source_features() const { return xs_.values(); }
  const torch::Tensor& target_features() const { return xt_.values(); }
  const torch::Tensor& source_groups() const { return gs_; }
  const torch::Tensor& target_groups() const { return gt_; }
  // Episode rows of one inner step's minibatch, drawn from rng exactly as step_loss() draws
  // them for an episode of these sizes.
  std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> draw_minibatch(
      Rng& rng, std::int64_t source_rows, std::int64_t target_rows) const;

 private:
  const TaskContext& ctx_;
  FeatureBatch xs_, xt_;
  torch::Tensor gs_, gt_;
};

}  // namespace croma
