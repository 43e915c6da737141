#include "croma/tasks/source_classification_task.h"

#include <algorithm>

#include "croma/model/losses.h"

namespace croma {

void SourceClassificationTask::draw_episode(Rng& rng) {
  const auto ep = ctx_.sampler.sample_classification(rng, ctx_.meta.ways, ctx_.meta.shots);
  x_ = gather_rows(ctx_.source_features, ep.items);
  labels_ = to_index_tensor(ep.labels, ctx_.device);
  embedding_ = torch::Tensor();
}

void SourceClassificationTask::sample(Rng& rng, const torch::Tensor& meta) {
  draw_episode(rng);
  if (!adapt_encoder_) {
    at::NoGradGuard no_grad;
    embedding_ = ctx_.model.embed_source(meta, x_);
  }
}

std::vector<std::int64_t> SourceClassificationTask::draw_minibatch(Rng& rng, std::int64_t rows) const {
  return rng.sample_without_replacement(rows, std::min(rows, ctx_.meta.inner_batch));
}

torch::Tensor SourceClassificationTask::step_loss(const Weights& fast, Rng& rng) {
  const auto rows = to_index_tensor(draw_minibatch(rng, x_.size(0)), ctx_.device);
  const auto z = adapt_encoder_ ? ctx_.model.embed_source(fast, x_.index_select(0, rows))
                                : embedding_.index_select(0, rows);
  return cross_entropy(ctx_.model.classify(fast, z), labels_.index_select(0, rows));
}

}  // namespace croma
