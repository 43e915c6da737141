#include "croma/tasks/source_classes_task.h"

#include <algorithm>
#include <stdexcept>

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

void SourceClassesTask::sample(Rng& rng) {
  const auto n = std::min<std::int64_t>(ctx_.meta.ways * ctx_.meta.shots, static_cast<std::int64_t>(items_.size()));
  std::vector<std::int64_t> chosen, labels;
  for (auto i : rng.sample_without_replacement(static_cast<std::int64_t>(items_.size()), n)) {
    chosen.push_back(items_[static_cast<std::size_t>(i)]);
    labels.push_back(labels_[static_cast<std::size_t>(i)]);
  }
  episode_.first = gather_rows(ctx_.source_features, chosen);
  episode_.first_labels = to_index_tensor(labels, ctx_.device);
}

}  // namespace croma
