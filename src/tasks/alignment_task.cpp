#include "croma/tasks/alignment_task.h"

namespace croma {

void AlignmentTask::sample(Rng& rng) {
  const auto ep = ctx_.sampler.sample_alignment(rng, ctx_.meta.pairs, ctx_.meta.ways, ctx_.meta.shots);
  episode_.first = gather_rows(ctx_.source_features, ep.source_items);
  episode_.second = gather_rows(ctx_.target_features, ep.target_items);
  episode_.first_labels = to_index_tensor(ep.source_groups, ctx_.device);
  episode_.second_labels = to_index_tensor(ep.target_groups, ctx_.device);
  if (ctx_.usage) ctx_.usage->saw(ep.target_items, false);
}

}  // namespace croma
