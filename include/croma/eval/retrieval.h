#pragma once
// Few-shot cross-modal retrieval (paper §5.3, Table 4).
//
// For each of a fixed set of tasks drawn from a seed (N meta-test classes, k support and Q
// query strong pairs per class): copy both encoders, fine-tune them on the support pairs with
// the run's alignment loss (fresh Adam, --eval-steps at --eval-lr), embed the N*Q query pairs,
// and rank, for each source query, all N*Q query targets by cosine similarity (and the
// reverse). Reported per direction: R@1, R@5, R@10 (fractions), the median rank, and the mean
// cosine loss 1 - cos of the true pairs, averaged over tasks.
//
// Ties count against the query: the rank of the true item is 1 + the number of other
// candidates whose similarity is greater than *or equal to* its own, so a constant embedding
// ranks last rather than first.
#include <cstdint>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/croma_model.h"
#include "croma/model/losses.h"
#include "croma/model/fast_weights.h"

namespace croma {

struct RetrievalMetrics {
  double recall_at_1 = 0, recall_at_5 = 0, recall_at_10 = 0;
  double median_rank = 0;
  double mean_cosine_loss = 0;
};

// Rank (1-based) of the true candidate i for each query row i of a square similarity matrix.
std::vector<std::int64_t> true_pair_ranks(const torch::Tensor& similarity);
// Metrics of one square similarity matrix whose true pairs lie on the diagonal; the median
// rank follows the authors' code: floor(median of 0-based ranks) + 1.
RetrievalMetrics retrieval_metrics(const torch::Tensor& similarity);

struct RetrievalResult {
  std::int64_t shots = 0;
  RetrievalMetrics source_to_target, target_to_source;  // means over tasks and seeds
  std::vector<RetrievalMetrics> per_seed_source_to_target, per_seed_target_to_source;
};

class RetrievalEvaluator {
 public:
  // Reads features already on the evaluation device (shared with a FewShotEvaluator or the
  // trainer, so that the dataset is held there once), or copies them to `device`.
  RetrievalEvaluator(const CromaModel& model, const EpisodeSampler& sampler, const MetaOptions& alignment,
                     FeatureBatch source_features, FeatureBatch target_features);
  RetrievalEvaluator(const CromaModel& model, const EpisodeSampler& sampler,
                     const MetaOptions& alignment, const torch::Device& device);
  // eval.repeats task sets of eval.tasks tasks each. Each task's encoders are fine-tuned on
  // the fused kernels (eval/fused_retrieval_fine_tune.h) where both are MLPs on the CPU,
  // else (or with eval.fine_tune == "autograd") through autograd.
  RetrievalResult evaluate(const torch::Tensor& parameters, Split split, const EvalOptions& eval,
                           std::int64_t shots, std::uint64_t seed) const;

 private:
  // The autograd path: fine-tunes `fast` from `meta` on the task's support pairs and returns
  // the query pairs' similarities (source rows, target columns).
  torch::Tensor autograd_similarity(const torch::Tensor& meta, const EvalOptions& eval, const RetrievalTask& task,
                                    FastWeights& fast, FlatAdam& adam, const AdamSettings& settings) const;

  const CromaModel& model_;
  const EpisodeSampler& sampler_;
  AlignmentLossSettings alignment_;  // the run's alignment loss
  torch::Device device_;
  FeatureBatch source_features_, target_features_;
};

}  // namespace croma
