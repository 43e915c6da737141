#pragma once
// Few-shot classification in the target modality (the paper's meta-test protocol, §5.1).
//
// For each of a fixed set of N-way k-shot tasks drawn from a seed, start from the target path
// (e_t, or the shared encoder and its input map) and the classifier phi of the given
// parameters, fine-tune them (or phi only) with a fresh Adam on the k*N labelled support items,
// and measure accuracy on the query items. Support labels may carry symmetric noise (§5.4);
// query labels never do. The same seed gives the same tasks and the same noise, so two
// parameter sets (say, the untrained start and the meta-trained result) are compared on
// identical tasks. The protocol is repeated over several seeds and reported as mean +- std of
// the per-seed means.
//
// Where the target path and phi are MLPs on the CPU, each task is fine-tuned on the fused
// kernels (eval/fused_fine_tune.h). Elsewhere, or with --eval-fine-tune autograd, through
// autograd: with an all-MLP target path --eval-batch tasks at once (each task keeps its own
// copy of the parameters, but every layer of all copies is one batched product). All paths
// agree to float rounding.
#include <cstdint>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/eval/frozen_heads.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/croma_model.h"

namespace croma {

// One seed's task set.
struct FewShotResult {
  std::int64_t shots = 0;
  double label_noise = 0;
  std::uint64_t seed = 0;
  double mean = 0;
  double std = 0;  // over tasks
  std::vector<double> task_accuracy;
};

// Several seeds.
struct FewShotSummary {
  std::int64_t shots = 0;
  double label_noise = 0;
  double mean = 0;  // of the per-seed means
  double std = 0;   // of the per-seed means (sample std; 0 for one seed)
  std::vector<FewShotResult> per_seed;

  // Every episode's accuracy, seed after seed: the sample of the 95 % interval, and the
  // pairing key of comparisons (two parameter sets evaluated with the same seed see the
  // same episodes in the same order).
  std::vector<double> episode_accuracy() const;
};

// Sample mean and standard deviation (n - 1 denominator; 0 for fewer than two values).
std::pair<double, double> mean_and_std(const std::vector<double>& values);

// The seed of repeat r of an evaluation seeded by `seed`.
std::uint64_t repeat_seed(std::uint64_t seed, std::int64_t repeat);

class FewShotEvaluator {
 public:
  // Copies the target features to `device`.
  FewShotEvaluator(const CromaModel& model, const EpisodeSampler& sampler, const torch::Device& device);
  // Reads `target_features` (every target item, on the device to evaluate on) without copying
  // them: pass the trainer's device copy (TaskContext::target_features) so that a run holds its
  // dataset on a GPU once.
  FewShotEvaluator(const CromaModel& model, const EpisodeSampler& sampler, FeatureBatch target_features);

  // One task set (seed), `eval.tasks` tasks. `parameters` may live on any device.
  FewShotResult evaluate_shots(const torch::Tensor& parameters, Split split, const EvalOptions& eval,
                               std::int64_t shots, std::uint64_t seed, double label_noise = 0.0) const;
  // eval.repeats task sets, seeds repeat_seed(seed, r).
  FewShotSummary evaluate_repeated(const torch::Tensor& parameters, Split split,
                                   const EvalOptions& eval, std::int64_t shots, std::uint64_t seed,
                                   double label_noise) const;

  // The tasks of one task set: (seed, split, k) decide them, never what is evaluated on them,
  // so every head and parameter set sees the same episodes.
  std::vector<FewShotTask> draw_tasks(Split split, const EvalOptions& eval, std::int64_t shots, std::uint64_t seed,
                                      double label_noise) const;
  // Every target item's embedding under `parameters` [items, embed_dim], nothing fine-tuned:
  // what the frozen heads read.
  torch::Tensor embed_all(const torch::Tensor& parameters) const;
  // One task set scored by a frozen head (eval/frozen_heads.h) fitted on rows of
  // `item_features` [target items, d]: embed_all()'s embeddings, or the standardised target
  // features themselves (the raw row).
  FewShotResult evaluate_frozen_shots(FrozenHead head, const torch::Tensor& item_features, Split split,
                                      const EvalOptions& eval, std::int64_t shots, std::uint64_t seed,
                                      double label_noise = 0.0) const;
  FewShotSummary evaluate_frozen_repeated(FrozenHead head, const torch::Tensor& item_features, Split split,
                                          const EvalOptions& eval, std::int64_t shots, std::uint64_t seed,
                                          double label_noise) const;

 private:
  // Fine-tune from `meta` on one task and return its query accuracy (any encoder); `fast`
  // and `adam` are working buffers reused from task to task.
  double fine_tune_one(const torch::Tensor& meta, const EvalOptions& eval, const FewShotTask& task,
                       FastWeights& fast, FlatAdam& adam) const;
  // The same for many tasks at once, as the rows of one FastWeightBatch (an all-MLP target
  // path): one batched product per layer instead of one small product per task. Equal to
  // fine_tune_one per task up to float rounding (tests/eval/few_shot_test.cpp).
  std::vector<double> fine_tune_batch(const torch::Tensor& meta, const EvalOptions& eval,
                                      const std::vector<FewShotTask>& tasks) const;

  const CromaModel& model_;
  const EpisodeSampler& sampler_;
  torch::Device device_;
  FeatureBatch target_features_;
};

}  // namespace croma
