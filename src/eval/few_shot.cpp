#include "croma/eval/few_shot.h"

#include <cmath>
#include <stdexcept>

#include "croma/meta/flat_adam.h"
#include "croma/model/losses.h"
#include "croma/util/rng.h"

namespace croma {

FewShotEvaluator::FewShotEvaluator(const CromaModel& model, const EpisodeSampler& sampler,
                                   const torch::Device& device)
    : model_(model), sampler_(sampler), device_(device),
      target_features_(sampler.data().target.features.to(device)) {}

std::vector<FewShotResult> FewShotEvaluator::evaluate(const torch::Tensor& parameters, Split split,
                                                      const EvalOptions& eval,
                                                      std::uint64_t seed) const {
  std::vector<FewShotResult> results;
  for (auto k : eval.shots) results.push_back(evaluate_shots(parameters, split, eval, k, seed));
  return results;
}

FewShotResult FewShotEvaluator::evaluate_shots(const torch::Tensor& parameters, Split split,
                                               const EvalOptions& eval, std::int64_t shots,
                                               std::uint64_t seed) const {
  if (eval.ways > model_.shape().ways) {
    throw std::runtime_error("--eval-ways " + std::to_string(eval.ways) +
                             " exceeds the classifier's " + std::to_string(model_.shape().ways) +
                             " outputs (the --ways it was meta-trained with)");
  }
  // Tasks depend on (seed, split, k) only, never on the parameters being evaluated.
  Rng rng(seed, streams::kEvalTasks + static_cast<std::uint64_t>(split) * 1000 +
                    static_cast<std::uint64_t>(shots));
  const auto range = eval.head_only ? model_.classifier() : model_.target_and_classifier();
  const auto meta = parameters.to(device_, torch::kFloat32);
  auto fast = torch::empty_like(meta).requires_grad_(true);
  FlatAdam adam;
  const AdamSettings settings{eval.lr, 0.9, 0.999, 1e-8};

  FewShotResult result;
  result.shots = shots;
  for (std::int64_t task_index = 0; task_index < eval.tasks; ++task_index) {
    const auto task = sampler_.sample_target_task(rng, split, eval.ways, shots, eval.queries);
    const auto xs = target_features_.index_select(0, to_index_tensor(task.support_items, device_));
    const auto ys = to_index_tensor(task.support_labels, device_);
    const auto xq = target_features_.index_select(0, to_index_tensor(task.query_items, device_));
    const auto yq = to_index_tensor(task.query_labels, device_);
    {
      at::NoGradGuard no_grad;
      fast.copy_(meta);
    }
    adam.reset(range.size(), device_);
    for (std::int64_t s = 0; s < eval.steps; ++s) {
      auto logits = model_.classify(fast, model_.embed_target(fast, xs)).narrow(1, 0, eval.ways);
      cross_entropy(logits, ys).backward();
      auto grad = fast.mutable_grad();
      adam.step(slice(fast, range), slice(grad, range), settings);
      grad.zero_();
    }
    at::NoGradGuard no_grad;
    const auto logits = model_.classify(fast, model_.embed_target(fast, xq)).narrow(1, 0, eval.ways);
    result.task_accuracy.push_back(accuracy(logits, yq));
  }
  double sum = 0, sq = 0;
  for (double a : result.task_accuracy) sum += a;
  result.mean = sum / static_cast<double>(result.task_accuracy.size());
  for (double a : result.task_accuracy) sq += (a - result.mean) * (a - result.mean);
  result.std = result.task_accuracy.size() > 1
                   ? std::sqrt(sq / static_cast<double>(result.task_accuracy.size() - 1))
                   : 0.0;
  return result;
}

}  // namespace croma
