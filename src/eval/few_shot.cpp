#include "croma/eval/few_shot.h"

#include <cmath>
#include <stdexcept>

#include "croma/data/label_noise.h"
#include "croma/meta/fine_tune.h"
#include "croma/model/losses.h"
#include "croma/util/rng.h"

namespace croma {

std::pair<double, double> mean_and_std(const std::vector<double>& values) {
  if (values.empty()) return {0.0, 0.0};
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return {mean, 0.0};
  double sq = 0;
  for (double v : values) sq += (v - mean) * (v - mean);
  return {mean, std::sqrt(sq / static_cast<double>(values.size() - 1))};
}

std::vector<double> FewShotSummary::episode_accuracy() const {
  std::vector<double> all;
  for (const auto& r : per_seed) all.insert(all.end(), r.task_accuracy.begin(), r.task_accuracy.end());
  return all;
}

std::uint64_t repeat_seed(std::uint64_t seed, std::int64_t repeat) {
  return repeat == 0 ? seed : splitmix64(seed ^ (0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(repeat)));
}

FewShotEvaluator::FewShotEvaluator(const CromaModel& model, const EpisodeSampler& sampler,
                                   const torch::Device& device)
    : model_(model), sampler_(sampler), device_(device),
      target_features_(sampler.data().target.batch().to(device)) {}

FewShotSummary FewShotEvaluator::evaluate_repeated(const torch::Tensor& parameters, Split split,
                                                   const EvalOptions& eval, std::int64_t shots,
                                                   std::uint64_t seed, double label_noise) const {
  FewShotSummary summary;
  summary.shots = shots;
  summary.label_noise = label_noise;
  std::vector<double> means;
  for (std::int64_t r = 0; r < eval.repeats; ++r) {
    summary.per_seed.push_back(
        evaluate_shots(parameters, split, eval, shots, repeat_seed(seed, r), label_noise));
    means.push_back(summary.per_seed.back().mean);
  }
  std::tie(summary.mean, summary.std) = mean_and_std(means);
  return summary;
}

FewShotResult FewShotEvaluator::evaluate_shots(const torch::Tensor& parameters, Split split,
                                               const EvalOptions& eval, std::int64_t shots,
                                               std::uint64_t seed, double label_noise) const {
  if (eval.ways > model_.shape().ways) {
    throw OptionError("--eval-ways " + std::to_string(eval.ways) + " exceeds the classifier's " +
                      std::to_string(model_.shape().ways) +
                      " outputs (the --ways it was meta-trained with)");
  }
  // Tasks depend on (seed, split, k) only, never on the parameters being evaluated; the
  // noise has a stream of its own so that p = 0 and p > 0 see the same tasks.
  const auto stream = static_cast<std::uint64_t>(split) * 1000 + static_cast<std::uint64_t>(shots);
  Rng rng(seed, streams::kEvalTasks + stream);
  Rng noise_rng(seed, streams::kEvalNoise + stream);
  const auto range = eval.head_only ? model_.classifier() : model_.target_and_classifier();
  const auto meta = parameters.to(device_, torch::kFloat32);
  FastWeights fast(model_.layout(), meta.options());
  FlatAdam adam;
  const AdamSettings settings{eval.lr, 0.9, 0.999, 1e-8};

  FewShotResult result;
  result.shots = shots;
  result.label_noise = label_noise;
  result.seed = seed;
  for (std::int64_t task_index = 0; task_index < eval.tasks; ++task_index) {
    const auto task = sampler_.sample_target_task(rng, split, eval.ways, shots, eval.queries);
    const auto support_labels = symmetric_label_noise(task.support_labels, eval.ways, label_noise, noise_rng);
    const auto xs = gather_rows(target_features_, task.support_items);
    const auto ys = to_index_tensor(support_labels, device_);
    const auto xq = gather_rows(target_features_, task.query_items);
    const auto yq = to_index_tensor(task.query_labels, device_);
    fine_tune(fast, meta, range, eval.steps, adam, settings, [&](const FastWeights& w) {
      return cross_entropy(model_.classify(w, model_.embed_target(w, xs)).narrow(1, 0, eval.ways), ys);
    });
    at::NoGradGuard no_grad;
    const auto logits = model_.classify(fast, model_.embed_target(fast, xq)).narrow(1, 0, eval.ways);
    result.task_accuracy.push_back(accuracy(logits, yq));
  }
  std::tie(result.mean, result.std) = mean_and_std(result.task_accuracy);
  return result;
}

}  // namespace croma
