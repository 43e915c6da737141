#pragma once
// N-way K-shot classification in the target modality during meta-training, over groups of
// target items given by the caller: meta-train classes under their (possibly noisy) labels
// for the oracle and the target-label baseline, or weak clusters for unsupervised
// meta-learning with weak labels. Adapts everything on the target path and phi.
#include "croma/tasks/inner_task.h"

namespace croma {

class TargetClassificationTask : public InnerTask {
 public:
  // `groups_are_labels`: the groups are target labels (counted as labels used).
  // `revealing_items` (sorted): items whose group, though not a label, reveals their class (a
  // weak cluster inside one class); they are counted as labels used too.
  TargetClassificationTask(const TaskContext& ctx, std::vector<std::vector<std::int64_t>> groups,
                           bool groups_are_labels, std::vector<std::int64_t> revealing_items = {})
      : ctx_(ctx), groups_(std::move(groups)), labelled_(groups_are_labels),
        revealing_(std::move(revealing_items)) {}
  std::string name() const override { return labelled_ ? "target_class" : "target_weak"; }
  ParamRange range() const override { return ctx_.model.target_and_classifier(); }
  InnerProblem problem() const override {
    return {InnerLoss::kClassification, RowPath::kTarget, RowPath::kNone, ctx_.meta.inner_batch};
  }
  void sample(Rng& rng) override;

 private:
  const TaskContext& ctx_;
  std::vector<std::vector<std::int64_t>> groups_;
  bool labelled_;
  std::vector<std::int64_t> revealing_;
};

}  // namespace croma
