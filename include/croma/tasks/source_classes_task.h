#pragma once
// Align + Classify's classifier (paper §5.1, "training a shared classifier" [50]): one
// C_train-way classifier over every meta-train class, trained the ordinary way on the source
// items of those classes under their fixed labels, with e_s frozen at the aligned encoder.
// An "episode" is N*K items drawn from the whole pool (not N classes: nothing is re-labelled),
// so the classifier sees as many items per inner step and per meta-step as CroMA's
// classification task. phi's hidden layer feeds a class head of C_train logits; phi's own
// N-way output layer is never trained here and serves as the fresh N-way head that few-shot
// fine-tuning starts from at test time.
#include <cstdint>
#include <string>
#include <vector>

#include "croma/tasks/inner_task.h"

namespace croma {

class SourceClassesTask : public InnerTask {
 public:
  // `items_by_class[c]`: source item ids of meta-train class c (the label is c).
  SourceClassesTask(const TaskContext& ctx, const std::vector<std::vector<std::int64_t>>& items_by_class);
  std::string name() const override { return "class_all"; }
  ParamRange range() const override { return ctx_.model.classifier_with_class_head(); }
  // e_s is frozen: its rows are embedded once per episode from the meta-parameters.
  InnerProblem problem() const override {
    return {InnerLoss::kSourceClasses, RowPath::kFrozenSource, RowPath::kNone, ctx_.meta.inner_batch};
  }
  void sample(Rng& rng) override;

 private:
  const TaskContext& ctx_;
  std::vector<std::int64_t> items_, labels_;
};

}  // namespace croma
