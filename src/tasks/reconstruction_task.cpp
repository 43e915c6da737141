#include "croma/tasks/reconstruction_task.h"

namespace croma {

void ReconstructionTask::sample(Rng& rng) {
  // An episode is ways * shots unlabelled target items, the same size as a labelled episode.
  const auto n = std::min<std::int64_t>(ctx_.meta.ways * ctx_.meta.shots, static_cast<std::int64_t>(items_.size()));
  std::vector<std::int64_t> chosen;
  for (auto i : rng.sample_without_replacement(static_cast<std::int64_t>(items_.size()), n)) {
    chosen.push_back(items_[static_cast<std::size_t>(i)]);
  }
  episode_.first = gather_rows(ctx_.target_features, chosen).values();  // vectors: the decoder needs them
  if (ctx_.usage) ctx_.usage->saw(chosen, false);
}

}  // namespace croma
