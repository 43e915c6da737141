#include "croma/tasks/source_classification_task.h"

#include "croma/model/losses.h"

namespace croma {

void SourceClassificationTask::sample(Rng& rng, const torch::Tensor& meta) {
  const auto ep = ctx_.sampler.sample_classification(rng, ctx_.meta.ways, ctx_.meta.shots);
  x_ = gather_rows(ctx_.source_features, ep.items);
  labels_ = to_index_tensor(ep.labels, ctx_.device);
  if (!adapt_encoder_) {
    at::NoGradGuard no_grad;
    embedding_ = ctx_.model.embed_source(meta, x_);
  }
}

torch::Tensor SourceClassificationTask::step_loss(const Weights& fast, Rng& rng) {
  const auto rows = minibatch_rows(rng, x_.size(0), ctx_.meta.inner_batch, ctx_.device);
  const auto z = adapt_encoder_ ? ctx_.model.embed_source(fast, x_.index_select(0, rows))
                                : embedding_.index_select(0, rows);
  return cross_entropy(ctx_.model.classify(fast, z), labels_.index_select(0, rows));
}

}  // namespace croma
