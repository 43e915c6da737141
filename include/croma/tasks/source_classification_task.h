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
  void sample(Rng& rng, const torch::Tensor& meta) override;
  torch::Tensor step_loss(const Weights& fast, Rng& rng) override;

  // For the fused inner loop (meta/fused_inner_loop.h): whether e_s is adapted too, the
  // episode of the last sample() (meta-e_s embeddings when the encoder is frozen, labels),
  // and the rows of one inner step's minibatch, drawn from rng as step_loss() draws them.
  bool adapts_encoder() const { return adapt_encoder_; }
  // sample() without forming the embeddings (the fused loop forms those of all task slots
  // in one product): the same draws from rng.
  void draw_episode(Rng& rng);
  const torch::Tensor& features() const { return x_.values(); }
  const torch::Tensor& embedding() const { return embedding_; }
  const torch::Tensor& labels() const { return labels_; }
  std::vector<std::int64_t> draw_minibatch(Rng& rng, std::int64_t rows) const;

 private:
  const TaskContext& ctx_;
  bool adapt_encoder_;
  FeatureBatch x_;
  torch::Tensor embedding_, labels_;
};

}  // namespace croma
