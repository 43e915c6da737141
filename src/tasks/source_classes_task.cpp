#include "croma/tasks/source_classes_task.h"

#include <algorithm>
#include <stdexcept>

#include "croma/model/losses.h"

namespace croma {

SourceClassesTask::SourceClassesTask(const TaskContext& ctx,
                                     const std::vector<std::vector<std::int64_t>>& items_by_class)
    : ctx_(ctx) {
  for (std::size_t c = 0; c < items_by_class.size(); ++c) {
    for (auto item : items_by_class[c]) {
      items_.push_back(item);
      labels_.push_back(static_cast<std::int64_t>(c));
    }
  }
  if (items_.empty()) throw std::invalid_argument("SourceClassesTask: no source items");
}

void SourceClassesTask::sample(Rng& rng, const torch::Tensor& meta) {
  const auto n = std::min<std::int64_t>(ctx_.meta.ways * ctx_.meta.shots, static_cast<std::int64_t>(items_.size()));
  std::vector<std::int64_t> chosen, labels;
  for (auto i : rng.sample_without_replacement(static_cast<std::int64_t>(items_.size()), n)) {
    chosen.push_back(items_[static_cast<std::size_t>(i)]);
    labels.push_back(labels_[static_cast<std::size_t>(i)]);
  }
  // e_s is frozen: embed once from the meta-parameters.
  at::NoGradGuard no_grad;
  embedding_ = ctx_.model.embed_source(meta, gather_rows(ctx_.source_features, chosen));
  episode_labels_ = to_index_tensor(labels, ctx_.device);
}

torch::Tensor SourceClassesTask::step_loss(const Weights& fast, Rng& rng) {
  const auto rows = minibatch_rows(rng, embedding_.size(0), ctx_.meta.inner_batch, ctx_.device);
  return cross_entropy(ctx_.model.classify_source_classes(fast, embedding_.index_select(0, rows)),
                       episode_labels_.index_select(0, rows));
}

}  // namespace croma
