#include "croma/tasks/domain_confusion_task.h"

#include <algorithm>

#include "croma/model/losses.h"

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

void DomainConfusionTask::sample(Rng& rng, const torch::Tensor& /*meta*/) {
  const auto n = ctx_.meta.ways * ctx_.meta.shots;
  const auto s = draw_items(rng, source_items_, n);
  const auto t = draw_items(rng, target_items_, n);
  xs_ = gather_rows(ctx_.source_features, s);
  xt_ = gather_rows(ctx_.target_features, t);
  if (ctx_.usage) ctx_.usage->saw(t, false);
}

torch::Tensor DomainConfusionTask::step_loss(const Weights& fast, Rng& rng) {
  const auto rs = minibatch_rows(rng, xs_.size(0), ctx_.meta.inner_batch, ctx_.device);
  const auto rt = minibatch_rows(rng, xt_.size(0), ctx_.meta.inner_batch, ctx_.device);
  const auto zs = ctx_.model.embed_source(fast, xs_.index_select(0, rs));
  const auto zt = ctx_.model.embed_target(fast, xt_.index_select(0, rt));
  const auto z = torch::cat({zs, zt});
  const auto domain = torch::cat({torch::zeros({rs.size(0)}, rs.options()), torch::ones({rt.size(0)}, rt.options())});
  // D learns the true domains from fixed embeddings.
  const auto discriminator = cross_entropy(ctx_.model.domain_logits(fast, z.detach()), domain);
  // The encoder learns against a fixed D.
  const auto frozen = fast.frozen();
  if (objective_ == DomainObjective::kAdversarialMap) {
    const auto as_source = torch::zeros({rt.size(0)}, rt.options());
    return discriminator + cross_entropy(ctx_.model.domain_logits(frozen, zt), as_source);
  }
  // Cross-entropy against the uniform distribution over the two domains.
  const auto log_p = torch::log_softmax(ctx_.model.domain_logits(frozen, z), 1);
  return discriminator - log_p.mean(1).mean();
}

}  // namespace croma
