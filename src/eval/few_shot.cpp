#include "croma/eval/few_shot.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "croma/data/label_noise.h"
#include "croma/eval/fused_fine_tune.h"
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
    : FewShotEvaluator(model, sampler, sampler.data().target.batch().to(device)) {}

FewShotEvaluator::FewShotEvaluator(const CromaModel& model, const EpisodeSampler& sampler,
                                   FeatureBatch target_features)
    : model_(model), sampler_(sampler), device_(target_features.values().device()),
      target_features_(std::move(target_features)) {
  if (target_features_.size(0) != sampler.data().target.batch().size(0)) {
    throw std::invalid_argument("FewShotEvaluator: the target features are not the sampler's");
  }
}

namespace {

// eval.repeats task sets, seeds repeat_seed(seed, r), each evaluated by `one_set(seed)`.
template <class OneSet>
FewShotSummary repeated(const EvalOptions& eval, std::int64_t shots, std::uint64_t seed, double label_noise,
                        const OneSet& one_set) {
  FewShotSummary summary;
  summary.shots = shots;
  summary.label_noise = label_noise;
  std::vector<double> means;
  for (std::int64_t r = 0; r < eval.repeats; ++r) {
    summary.per_seed.push_back(one_set(repeat_seed(seed, r)));
    means.push_back(summary.per_seed.back().mean);
  }
  std::tie(summary.mean, summary.std) = mean_and_std(means);
  return summary;
}

}  // namespace

FewShotSummary FewShotEvaluator::evaluate_repeated(const torch::Tensor& parameters, Split split,
                                                   const EvalOptions& eval, std::int64_t shots,
                                                   std::uint64_t seed, double label_noise) const {
  return repeated(eval, shots, seed, label_noise, [&](std::uint64_t s) {
    return evaluate_shots(parameters, split, eval, shots, s, label_noise);
  });
}

FewShotSummary FewShotEvaluator::evaluate_frozen_repeated(FrozenHead head, const torch::Tensor& item_features,
                                                          Split split, const EvalOptions& eval, std::int64_t shots,
                                                          std::uint64_t seed, double label_noise) const {
  return repeated(eval, shots, seed, label_noise, [&](std::uint64_t s) {
    return evaluate_frozen_shots(head, item_features, split, eval, shots, s, label_noise);
  });
}

std::vector<FewShotTask> FewShotEvaluator::draw_tasks(Split split, const EvalOptions& eval, std::int64_t shots,
                                                      std::uint64_t seed, double label_noise) const {
  // The noise has a stream of its own so that p = 0 and p > 0 see the same tasks. All tasks
  // are drawn before any is evaluated, so one-at-a-time and batched fine-tuning see the same
  // ones.
  const auto stream = static_cast<std::uint64_t>(split) * 1000 + static_cast<std::uint64_t>(shots);
  Rng rng(seed, streams::kEvalTasks + stream);
  Rng noise_rng(seed, streams::kEvalNoise + stream);
  std::vector<FewShotTask> tasks;
  tasks.reserve(static_cast<std::size_t>(eval.tasks));
  for (std::int64_t t = 0; t < eval.tasks; ++t) {
    tasks.push_back(sampler_.sample_target_task(rng, split, eval.ways, shots, eval.queries));
    tasks.back().support_labels = symmetric_label_noise(tasks.back().support_labels, eval.ways, label_noise, noise_rng);
  }
  return tasks;
}

torch::Tensor FewShotEvaluator::embed_all(const torch::Tensor& parameters) const {
  at::NoGradGuard no_grad;
  const auto meta = parameters.to(device_, torch::kFloat32);
  return model_.embed_target(meta, target_features_).cpu();
}

FewShotResult FewShotEvaluator::evaluate_frozen_shots(FrozenHead head, const torch::Tensor& item_features,
                                                      Split split, const EvalOptions& eval, std::int64_t shots,
                                                      std::uint64_t seed, double label_noise) const {
  if (item_features.dim() != 2 || item_features.size(0) != target_features_.size(0)) {
    throw std::invalid_argument("FewShotEvaluator: frozen-head features must be [target items, d]");
  }
  FewShotResult result;
  result.shots = shots;
  result.label_noise = label_noise;
  result.seed = seed;
  for (const auto& task : draw_tasks(split, eval, shots, seed, label_noise)) {
    result.task_accuracy.push_back(frozen_head_accuracy(head, select_rows(item_features, task.support_items),
                                                        task.support_labels, select_rows(item_features, task.query_items),
                                                        task.query_labels, eval.ways));
  }
  std::tie(result.mean, result.std) = mean_and_std(result.task_accuracy);
  return result;
}

FewShotResult FewShotEvaluator::evaluate_shots(const torch::Tensor& parameters, Split split,
                                               const EvalOptions& eval, std::int64_t shots,
                                               std::uint64_t seed, double label_noise) const {
  if (eval.ways > model_.shape().ways) {
    throw OptionError("--eval-ways " + std::to_string(eval.ways) + " exceeds the classifier's " +
                      std::to_string(model_.shape().ways) +
                      " outputs (the --ways it was meta-trained with)");
  }
  const auto tasks = draw_tasks(split, eval, shots, seed, label_noise);
  const auto meta = parameters.to(device_, torch::kFloat32);

  FewShotResult result;
  result.shots = shots;
  result.label_noise = label_noise;
  result.seed = seed;
  const auto fused = choose_fused_fine_tuning(
      eval.fine_tune, [&] { return FusedFineTune::create(model_, target_features_.values(), eval.head_only); },
      "this model", "an MLP target path and classifier on the CPU");
  if (fused) {
    fused->set_start(meta);
    for (const auto& task : tasks) result.task_accuracy.push_back(fused->run(eval, task));
  } else if (model_.target_path_batches() && eval.batch > 1) {
    for (std::size_t first = 0; first < tasks.size(); first += static_cast<std::size_t>(eval.batch)) {
      const auto last = std::min(tasks.size(), first + static_cast<std::size_t>(eval.batch));
      const auto acc = fine_tune_batch(meta, eval, {tasks.begin() + first, tasks.begin() + last});
      result.task_accuracy.insert(result.task_accuracy.end(), acc.begin(), acc.end());
    }
  } else {
    // One set of fast weights and Adam buffers for every task: reused, not reallocated.
    FastWeights fast(model_.layout(), meta.options());
    FlatAdam adam;
    for (const auto& task : tasks) result.task_accuracy.push_back(fine_tune_one(meta, eval, task, fast, adam));
  }
  std::tie(result.mean, result.std) = mean_and_std(result.task_accuracy);
  return result;
}

double FewShotEvaluator::fine_tune_one(const torch::Tensor& meta, const EvalOptions& eval,
                                       const FewShotTask& task, FastWeights& fast, FlatAdam& adam) const {
  const auto range = eval.head_only ? model_.classifier() : model_.target_and_classifier();
  const AdamSettings settings = fine_tuning_adam(eval.lr);
  const auto xs = gather_rows(target_features_, task.support_items);
  const auto ys = to_index_tensor(task.support_labels, device_);
  const auto xq = gather_rows(target_features_, task.query_items);
  const auto yq = to_index_tensor(task.query_labels, device_);
  fine_tune(fast, meta, range, eval.steps, adam, settings, [&](const FastWeights& w) {
    return cross_entropy(model_.classify(w, model_.embed_target(w, xs)).narrow(1, 0, eval.ways), ys);
  });
  at::NoGradGuard no_grad;
  const auto logits = model_.classify(fast, model_.embed_target(fast, xq)).narrow(1, 0, eval.ways);
  return accuracy(logits, yq);
}

namespace {

// Rows of every task's items, stacked: values [tasks, rows per task, dim].
torch::Tensor stacked_rows(const FeatureBatch& features, const std::vector<FewShotTask>& tasks,
                           bool support) {
  std::vector<std::int64_t> ids;
  for (const auto& t : tasks) {
    const auto& items = support ? t.support_items : t.query_items;
    ids.insert(ids.end(), items.begin(), items.end());
  }
  const auto rows = gather_rows(features, ids).values();
  return rows.view({static_cast<std::int64_t>(tasks.size()), -1, rows.size(1)});
}

torch::Tensor stacked_labels(const std::vector<FewShotTask>& tasks, bool support, const torch::Device& device) {
  std::vector<std::int64_t> labels;
  for (const auto& t : tasks) {
    const auto& l = support ? t.support_labels : t.query_labels;
    labels.insert(labels.end(), l.begin(), l.end());
  }
  return to_index_tensor(labels, device).view({static_cast<std::int64_t>(tasks.size()), -1});
}

}  // namespace

std::vector<double> FewShotEvaluator::fine_tune_batch(const torch::Tensor& meta, const EvalOptions& eval,
                                                      const std::vector<FewShotTask>& tasks) const {
  const auto range = eval.head_only ? model_.classifier() : model_.target_and_classifier();
  const auto copies = static_cast<std::int64_t>(tasks.size());
  FastWeightBatch fast(model_.layout(), copies, meta.options());
  const auto xs = stacked_rows(target_features_, tasks, true);
  const auto ys = stacked_labels(tasks, true, device_);
  const auto xq = stacked_rows(target_features_, tasks, false);
  const auto yq = stacked_labels(tasks, false, device_);
  fast.assign(meta);
  // Each task's copy gets the gradient of its own mean cross-entropy: the loss is their sum.
  // Adam is element-wise, so one pass over every copy's range is each task's own Adam.
  FlatAdam adam;
  adam.reset(copies * range.size(), device_);
  const AdamSettings settings = fine_tuning_adam(eval.lr);
  for (std::int64_t s = 0; s < eval.steps; ++s) {
    const auto logits = model_.classify(fast, model_.embed_target(fast, xs)).narrow(2, 0, eval.ways);
    // Every task has the same number of rows, so the mean over all rows times the number of
    // tasks is the sum of the tasks' own means.
    (cross_entropy(logits.flatten(0, 1), ys.flatten()) * static_cast<double>(copies)).backward();
    adam.step(fast.range_values(range), fast.range_grad(range), settings);
    fast.zero_grad();
  }
  at::NoGradGuard no_grad;
  const auto logits = model_.classify(fast, model_.embed_target(fast, xq)).narrow(2, 0, eval.ways);
  const auto correct = logits.argmax(2).eq(yq).to(torch::kFloat64).mean(1).cpu();
  return {correct.data_ptr<double>(), correct.data_ptr<double>() + copies};
}

}  // namespace croma
