#pragma once
// N-way K-shot classification in the source modality, from meta-train classes.
// CroMA adapts phi only, over embeddings from the meta e_s (Algorithm 1); the shared-encoder
// baselines adapt the encoder too (`adapt_encoder`).
#include <vector>

#include "croma/tasks/inner_task.h"

namespace croma {

class SourceClassificationTask : public InnerTask {
 public:
  SourceClassificationTask(const TaskContext& ctx, bool adapt_encoder)
      : ctx_(ctx), adapt_encoder_(adapt_encoder) {}
  std::string name() const override { return "class"; }
  ParamRange range() const override {
    return adapt_encoder_ ? ctx_.model.source_and_classifier() : ctx_.model.classifier();
  }
  InnerProblem problem() const override {
    return {InnerLoss::kClassification, adapt_encoder_ ? RowPath::kSource : RowPath::kFrozenSource,
            RowPath::kNone, ctx_.meta.inner_batch};
  }
  void sample(Rng& rng) override;

 private:
  const TaskContext& ctx_;
  bool adapt_encoder_;
};

}  // namespace croma
