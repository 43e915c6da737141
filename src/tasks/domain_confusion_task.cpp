#include "croma/tasks/domain_confusion_task.h"

#include <algorithm>

namespace croma {

namespace {
std::vector<std::int64_t> draw_items(Rng& rng, const std::vector<std::int64_t>& pool, std::int64_t n) {
  std::vector<std::int64_t> out;
  for (auto i : rng.sample_without_replacement(static_cast<std::int64_t>(pool.size()),
                                               std::min<std::int64_t>(n, static_cast<std::int64_t>(pool.size())))) {
    out.push_back(pool[static_cast<std::size_t>(i)]);
  }
  return out;
}
}  // namespace

void DomainConfusionTask::sample(Rng& rng) {
  const auto n = ctx_.meta.ways * ctx_.meta.shots;
  const auto s = draw_items(rng, source_items_, n);
  const auto t = draw_items(rng, target_items_, n);
  episode_.first = gather_rows(ctx_.source_features, s);
  episode_.second = gather_rows(ctx_.target_features, t);
  if (ctx_.usage) ctx_.usage->saw(t, false);
}

}  // namespace croma
