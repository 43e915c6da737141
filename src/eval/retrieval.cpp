#include "croma/eval/retrieval.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "croma/eval/few_shot.h"
#include "croma/eval/fused_retrieval_fine_tune.h"
#include "croma/meta/fine_tune.h"
#include "croma/model/losses.h"
#include "croma/util/rng.h"

namespace croma {

std::vector<std::int64_t> true_pair_ranks(const torch::Tensor& similarity) {
  if (similarity.dim() != 2 || similarity.size(0) != similarity.size(1)) {
    throw std::invalid_argument("true_pair_ranks: need a square similarity matrix");
  }
  const auto s = similarity.to(torch::kCPU, torch::kFloat64).contiguous();
  const auto diagonal = s.diagonal().unsqueeze(1);
  // Count of candidates at least as similar as the true one, the true one included.
  const auto at_least = (s >= diagonal).sum(1);
  std::vector<std::int64_t> ranks(static_cast<std::size_t>(s.size(0)));
  for (std::int64_t i = 0; i < s.size(0); ++i) ranks[static_cast<std::size_t>(i)] = at_least[i].item<std::int64_t>();
  return ranks;
}

RetrievalMetrics retrieval_metrics(const torch::Tensor& similarity) {
  auto ranks = true_pair_ranks(similarity);
  RetrievalMetrics m;
  const double n = static_cast<double>(ranks.size());
  for (auto r : ranks) {
    m.recall_at_1 += r <= 1;
    m.recall_at_5 += r <= 5;
    m.recall_at_10 += r <= 10;
  }
  m.recall_at_1 /= n;
  m.recall_at_5 /= n;
  m.recall_at_10 /= n;
  std::sort(ranks.begin(), ranks.end());
  const auto mid = ranks.size() / 2;
  const double median0 = ranks.size() % 2 ? static_cast<double>(ranks[mid] - 1)
                                          : 0.5 * static_cast<double>(ranks[mid - 1] + ranks[mid] - 2);
  m.median_rank = std::floor(median0) + 1.0;
  m.mean_cosine_loss = (1.0 - similarity.diagonal().to(torch::kFloat64)).mean().item<double>();
  return m;
}

namespace {

void accumulate(RetrievalMetrics& sum, const RetrievalMetrics& m, double weight) {
  sum.recall_at_1 += weight * m.recall_at_1;
  sum.recall_at_5 += weight * m.recall_at_5;
  sum.recall_at_10 += weight * m.recall_at_10;
  sum.median_rank += weight * m.median_rank;
  sum.mean_cosine_loss += weight * m.mean_cosine_loss;
}

}  // namespace

RetrievalEvaluator::RetrievalEvaluator(const CromaModel& model, const EpisodeSampler& sampler,
                                       const MetaOptions& alignment, const torch::Device& device)
    : RetrievalEvaluator(model, sampler, alignment, sampler.data().source.batch().to(device),
                         sampler.data().target.batch().to(device)) {}

RetrievalEvaluator::RetrievalEvaluator(const CromaModel& model, const EpisodeSampler& sampler,
                                       const MetaOptions& alignment, FeatureBatch source_features,
                                       FeatureBatch target_features)
    : model_(model), sampler_(sampler), alignment_(alignment), device_(target_features.values().device()),
      source_features_(std::move(source_features)), target_features_(std::move(target_features)) {
  if (source_features_.size(0) != sampler.data().source.batch().size(0) ||
      target_features_.size(0) != sampler.data().target.batch().size(0)) {
    throw std::invalid_argument("RetrievalEvaluator: the features are not the sampler's");
  }
}

torch::Tensor RetrievalEvaluator::autograd_similarity(const torch::Tensor& meta, const EvalOptions& eval,
                                                   const RetrievalTask& task, FastWeights& fast, FlatAdam& adam,
                                                   const AdamSettings& settings) const {
  const auto xs = gather_rows(source_features_, task.support_source);
  const auto xt = gather_rows(target_features_, task.support_target);
  const auto groups = to_index_tensor(task.support_groups, device_);
  // One support pair per group: with k = 1 and N = 1 there would be no negative, and the
  // loss (and its gradient) is zero; otherwise the other support pairs are the negatives.
  fine_tune(fast, meta, model_.encoders(), eval.steps, adam, settings, [&](const FastWeights& w) {
    return alignment_loss(alignment_, model_.embed_source(w, xs), model_.embed_target(w, xt), groups, groups);
  });
  at::NoGradGuard no_grad;
  const auto qs = model_.embed_source(fast, gather_rows(source_features_, task.query_source));
  const auto qt = model_.embed_target(fast, gather_rows(target_features_, task.query_target));
  return qs.matmul(qt.t());
}

RetrievalResult RetrievalEvaluator::evaluate(const torch::Tensor& parameters, Split split,
                                             const EvalOptions& eval, std::int64_t shots,
                                             std::uint64_t seed) const {
  const auto meta = parameters.to(device_, torch::kFloat32);
  // The fused kernels fine-tune each task to the autograd path's weights up to float rounding.
  const auto fused = choose_fused_fine_tuning(
      eval.fine_tune,
      [&] {
        return FusedRetrievalFineTune::create(model_, alignment_, source_features_.values(), target_features_.values());
      },
      "this model's encoders for retrieval", "MLP encoders on the CPU");
  if (fused) fused->set_start(meta);
  // The autograd path's fine-tuning state: a copy of the whole model and its gradient, only
  // where the fused kernels do not run.
  std::optional<FastWeights> fast;
  if (!fused) fast.emplace(model_.layout(), meta.options());
  FlatAdam adam;
  const AdamSettings settings = fine_tuning_adam(eval.lr);
  RetrievalResult result;
  result.shots = shots;
  const double weight = 1.0 / static_cast<double>(eval.tasks);
  for (std::int64_t r = 0; r < eval.repeats; ++r) {
    Rng rng(repeat_seed(seed, r), streams::kEvalTasks + 500 + static_cast<std::uint64_t>(split) * 1000 +
                                      static_cast<std::uint64_t>(shots));
    RetrievalMetrics st, ts;
    for (std::int64_t t = 0; t < eval.tasks; ++t) {
      const auto task = sampler_.sample_retrieval_task(rng, split, eval.ways, shots, eval.queries);
      const auto similarity = fused ? fused->run(eval, task) : autograd_similarity(meta, eval, task, *fast, adam, settings);
      accumulate(st, retrieval_metrics(similarity), weight);
      accumulate(ts, retrieval_metrics(similarity.t()), weight);
    }
    result.per_seed_source_to_target.push_back(st);
    result.per_seed_target_to_source.push_back(ts);
    const double w = 1.0 / static_cast<double>(eval.repeats);
    accumulate(result.source_to_target, st, w);
    accumulate(result.target_to_source, ts, w);
  }
  return result;
}

}  // namespace croma
