#include "croma/tasks/reconstruction_task.h"

namespace croma {

void ReconstructionTask::sample(Rng& rng, const torch::Tensor& /*meta*/) {
  // An episode is ways * shots unlabelled target items, the same size as a labelled episode.
  const auto n = std::min<std::int64_t>(ctx_.meta.ways * ctx_.meta.shots, static_cast<std::int64_t>(items_.size()));
  std::vector<std::int64_t> chosen;
  for (auto i : rng.sample_without_replacement(static_cast<std::int64_t>(items_.size()), n)) {
    chosen.push_back(items_[static_cast<std::size_t>(i)]);
  }
  x_ = gather_rows(ctx_.target_features, chosen).values();  // vectors: the decoder needs them
  if (ctx_.usage) ctx_.usage->saw(chosen, false);
}

torch::Tensor ReconstructionTask::step_loss(const Weights& fast, Rng& rng) {
  const auto rows = minibatch_rows(rng, x_.size(0), ctx_.meta.inner_batch, ctx_.device);
  const auto x = x_.index_select(0, rows);
  return (ctx_.model.decode(fast, ctx_.model.embed_target(fast, x)) - x).pow(2).mean();
}

}  // namespace croma
