#include "croma/tasks/target_classification_task.h"

#include <algorithm>

#include "croma/model/losses.h"

namespace croma {

void TargetClassificationTask::sample(Rng& rng, const torch::Tensor& /*meta*/) {
  const auto ep = sample_from_pools(rng, groups_, ctx_.meta.ways, ctx_.meta.shots);
  x_ = gather_rows(ctx_.target_features, ep.items);
  labels_ = to_index_tensor(ep.labels, ctx_.device);
  if (!ctx_.usage) return;
  if (labelled_ || revealing_.empty()) {
    ctx_.usage->saw(ep.items, labelled_);
    return;
  }
  std::vector<std::int64_t> plain, revealed;
  for (auto item : ep.items) {
    (std::binary_search(revealing_.begin(), revealing_.end(), item) ? revealed : plain).push_back(item);
  }
  ctx_.usage->saw(plain, false);
  ctx_.usage->saw(revealed, true);
}

torch::Tensor TargetClassificationTask::step_loss(const Weights& fast, Rng& rng) {
  const auto rows = minibatch_rows(rng, x_.size(0), ctx_.meta.inner_batch, ctx_.device);
  const auto z = ctx_.model.embed_target(fast, x_.index_select(0, rows));
  return cross_entropy(ctx_.model.classify(fast, z), labels_.index_select(0, rows));
}

}  // namespace croma
