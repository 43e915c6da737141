#include "croma/tasks/domain_confusion_task.h"

#include "croma/model/losses.h"

namespace croma {

torch::Tensor reverse_gradient(const torch::Tensor& x, double weight) {
  // (1 + w) * stop_gradient(x) - w * x: the value is x, the gradient -w.
  return x.detach() * (1.0 + weight) - x * weight;
}

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
  const auto z = torch::cat({ctx_.model.embed_source(fast, xs_.index_select(0, rs)),
                             ctx_.model.embed_target(fast, xt_.index_select(0, rt))});
  auto domain = torch::cat({torch::zeros({rs.size(0)}, rs.options()), torch::ones({rt.size(0)}, rt.options())});
  return cross_entropy(ctx_.model.domain_logits(fast, reverse_gradient(z, weight_)), domain);
}

}  // namespace croma
