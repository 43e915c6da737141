#pragma once
// Few-shot retrieval's fine-tuning (eval/retrieval.h) on the fused MLP kernels, one task at a
// time.
//
// Retrieval fine-tunes both encoders of the evaluated parameters on each task's support pairs
// with the run's alignment loss (fresh Adam, --eval-steps at --eval-lr), then embeds the query
// pairs. That inner problem is the alignment task's, on full batches: the same kernels
// (model/mlp_kernels.h: the encoders' forward and backward, the normalisation, the margin or
// InfoNCE loss and its gradient) run it here without a graph, and FlatAdam's fused pass
// updates the stretches a kernel writes. The arithmetic is CromaModel's, losses.h's and
// FlatAdam's, so the fine-tuned weights equal the autograd path's to float rounding
// (tests/eval/fused_retrieval_fine_tune_test.cpp).
//
// It applies where both encoder paths are MLPs on the CPU (separate encoders, or the shared
// encoder behind the target modality's input map); elsewhere create() returns nullptr and the
// evaluator keeps the autograd path.
#include <cstdint>
#include <memory>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/eval/fine_tuned_weights.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/croma_model.h"
#include "croma/model/losses.h"
#include "croma/model/mlp_kernels.h"

namespace croma {

class FusedRetrievalFineTune : public FusedFineTuning {
 public:
  // The fused fine-tuning of `model`'s encoders with `alignment`'s loss on these features
  // (every item of each modality, [items, dim]), or nullptr where it does not apply. The
  // kernels are checked once against the model's own embedding functions on a few real rows.
  static std::unique_ptr<FusedRetrievalFineTune> create(const CromaModel& model, const AlignmentLossSettings& alignment,
                                                        const torch::Tensor& source_features,
                                                        const torch::Tensor& target_features);

  // Fine-tunes a copy of the start on the task's support pairs and returns the cosine
  // similarities of its query pairs, [queries, queries]: source query i against target
  // query j (a CPU float tensor, the autograd path's qs qtᵀ).
  torch::Tensor run(const EvalOptions& eval, const RetrievalTask& task);

 private:
  // Both encoder paths on one row count: one set for the support rows, one for the query
  // rows, so that neither reallocates its activations from task to task. With a shared
  // encoder the target path is the input map, then e_s once more (its gradient adds to the
  // source path's).
  struct Net {
    std::vector<std::unique_ptr<MlpKernel>> owned;
    KernelPath source, target;
  };
  FusedRetrievalFineTune(const CromaModel& model, const AlignmentLossSettings& alignment, const torch::Tensor& source_features,
                         const torch::Tensor& target_features, std::vector<DenseLayer> source_layers,
                         std::vector<DenseLayer> target_layers, FineTunedWeights weights);
  Net make_net() const;
  // The rows of both modalities through their paths, normalised, into zs_ and zt_.
  void embed(Net& net, const std::vector<std::int64_t>& source_items, const std::vector<std::int64_t>& target_items);
  bool agrees_with_model();

  AlignmentLossSettings alignment_;  // the run's alignment loss
  torch::Tensor source_features_, target_features_;  // contiguous CPU floats
  std::vector<DenseLayer> source_layers_;  // e_s
  std::vector<DenseLayer> target_layers_;  // e_t, or the shared encoder's input map
  bool shared_;
  Net support_, query_;
  std::vector<float> zs_, zt_, ns_, nt_, dzs_, dzt_;
};

}  // namespace croma
