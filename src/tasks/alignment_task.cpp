#include "croma/tasks/alignment_task.h"

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

torch::Tensor AlignmentTask::step_loss(const Weights& fast, Rng& rng) {
  // Strong pairs keep rows matched; weak pairs draw source and target rows independently.
  const auto rows_s = minibatch_rows(rng, xs_.size(0), ctx_.meta.align_batch, ctx_.device);
  const auto rows_t = ctx_.meta.pairs == PairKind::kStrong
                          ? rows_s
                          : minibatch_rows(rng, xt_.size(0), ctx_.meta.align_batch, ctx_.device);
  const auto zs = ctx_.model.embed_source(fast, xs_.index_select(0, rows_s));
  const auto zt = ctx_.model.embed_target(fast, xt_.index_select(0, rows_t));
  const auto bs = gs_.index_select(0, rows_s);
  const auto bt = gt_.index_select(0, rows_t);
  return alignment_loss(ctx_.meta, zs, zt, bs, bt);
}

}  // namespace croma
