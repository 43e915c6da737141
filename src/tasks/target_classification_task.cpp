#include "croma/tasks/target_classification_task.h"

#include <algorithm>

namespace croma {

void TargetClassificationTask::sample(Rng& rng) {
  const auto ep = sample_from_pools(rng, groups_, ctx_.meta.ways, ctx_.meta.shots);
  episode_.first = gather_rows(ctx_.target_features, ep.items);
  episode_.first_labels = to_index_tensor(ep.labels, ctx_.device);
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

}  // namespace croma
