#include "croma/tasks/source_classification_task.h"

namespace croma {

void SourceClassificationTask::sample(Rng& rng) {
  const auto ep = ctx_.sampler.sample_classification(rng, ctx_.meta.ways, ctx_.meta.shots);
  episode_.first = gather_rows(ctx_.source_features, ep.items);
  episode_.first_labels = to_index_tensor(ep.labels, ctx_.device);
}

}  // namespace croma
