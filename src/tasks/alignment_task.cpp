#include "croma/tasks/alignment_task.h"

#include <algorithm>

#include "croma/model/losses.h"

namespace croma {

void AlignmentTask::sample(Rng& rng, const torch::Tensor& /*meta*/) {
  const auto ep = ctx_.sampler.sample_alignment(rng, ctx_.meta.pairs, ctx_.meta.ways, ctx_.meta.shots);
  xs_ = gather_rows(ctx_.source_features, ep.source_items);
  xt_ = gather_rows(ctx_.target_features, ep.target_items);
  gs_ = to_index_tensor(ep.source_groups, ctx_.device);
  gt_ = to_index_tensor(ep.target_groups, ctx_.device);
  if (ctx_.usage) ctx_.usage->saw(ep.target_items, false);
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> AlignmentTask::draw_minibatch(
    Rng& rng, std::int64_t source_rows, std::int64_t target_rows) const {
  // Strong pairs keep rows matched; weak pairs draw source and target rows independently.
  const auto batch = ctx_.meta.align_batch;
  auto rows_s = rng.sample_without_replacement(source_rows, std::min(source_rows, batch));
  auto rows_t = ctx_.meta.pairs == PairKind::kStrong
                    ? rows_s
                    : rng.sample_without_replacement(target_rows, std::min(target_rows, batch));
  return {std::move(rows_s), std::move(rows_t)};
}

torch::Tensor AlignmentTask::step_loss(const Weights& fast, Rng& rng) {
  const auto [ids_s, ids_t] = draw_minibatch(rng, xs_.size(0), xt_.size(0));
  const auto rows_s = to_index_tensor(ids_s, ctx_.device);
  const auto rows_t = to_index_tensor(ids_t, ctx_.device);
  const auto zs = ctx_.model.embed_source(fast, xs_.index_select(0, rows_s));
  const auto zt = ctx_.model.embed_target(fast, xt_.index_select(0, rows_t));
  const auto bs = gs_.index_select(0, rows_s);
  const auto bt = gt_.index_select(0, rows_t);
  return alignment_loss(ctx_.meta, zs, zt, bs, bt);
}

}  // namespace croma
