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
  // Source rows through e_s, target rows through e_t, group ids as labels. Strong pairs keep
  // a minibatch's rows matched; weak pairs draw source and target rows independently.
  InnerProblem problem() const override {
    return {InnerLoss::kAlignment, RowPath::kSource, RowPath::kTarget, ctx_.meta.align_batch,
            ctx_.meta.pairs == PairKind::kStrong};
  }
  void sample(Rng& rng) override;

 private:
  const TaskContext& ctx_;
};

}  // namespace croma
