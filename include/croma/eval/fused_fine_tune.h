#pragma once
// Few-shot fine-tuning (eval/few_shot.h) on the fused MLP kernels, one task at a time.
//
// The evaluation protocol fine-tunes the target path and phi (or phi only) of the evaluated
// parameters for 50 full-batch Adam steps on each task's 5-50 support rows: 600 tasks x
// three shot counts x two starts is millions of products of a few rows. Through autograd
// each step is some sixty small ATen operations; batching tasks into one product per layer
// (--eval-fine-tune autograd, --eval-batch) helps little, because the products stay small
// and OpenBLAS packs their weights every time. Here a step is the hand-derived forward and
// backward of model/mlp_kernels.h (products on model/small_products.h), the loss and its
// gradient written straight into one flat gradient buffer, and FlatAdam's fused pass over
// the stretches a kernel writes: the arithmetic of CromaModel and FlatAdam, so the
// fine-tuned weights equal the autograd path's to float rounding
// (tests/eval/fused_fine_tune_test.cpp).
//
// It applies where every part of the target path and phi is an MLP on the CPU (the built-in
// world and every vector-feature benchmark, separate or shared encoders); elsewhere
// create() returns nullptr and the evaluator keeps the autograd path.
#include <cstdint>
#include <memory>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/eval/fine_tuned_weights.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/croma_model.h"
#include "croma/model/mlp_kernels.h"

namespace croma {

class FusedFineTune : public FusedFineTuning {
 public:
  // The fused fine-tuning of `model` on `target_features` (every target item, [items, dim]),
  // or nullptr where it does not apply. The kernels are checked once against the model's own
  // forward functions on a few real rows, so a model whose parts compute something else
  // never takes this path.
  static std::unique_ptr<FusedFineTune> create(const CromaModel& model, const torch::Tensor& target_features,
                                               bool head_only);

  // Fine-tunes a copy of the start on the task's support items (eval.steps Adam steps at
  // eval.lr, full batch, cross-entropy over the first eval.ways logits) and returns its
  // accuracy on the query items.
  double run(const EvalOptions& eval, const FewShotTask& task);

 private:
  // The target path's kernels (e_t; or the input map, then the shared e_s) and phi, run on
  // one row count: one set for the support rows, one for the query rows, so that neither
  // reallocates its activations from task to task.
  struct Net {
    std::vector<std::unique_ptr<MlpKernel>> owned;  // the path's kernels
    KernelPath path;                                // the same, as encode() takes them
    std::unique_ptr<MlpKernel> head;
  };
  FusedFineTune(const CromaModel& model, const torch::Tensor& target_features, bool head_only,
                std::vector<std::vector<DenseLayer>> path_layers, std::vector<DenseLayer> head_layers,
                FineTunedWeights weights);
  Net make_net() const;
  // Rows of the features through the path, normalised, scaled into the head's input; keeps
  // the embeddings and their norms (for the backward pass).
  void embed(Net& net, const std::vector<std::int64_t>& items);
  // The head's logits of its current input, and the gradient of the cross-entropy over the
  // first `ways` of them into the head's output gradient.
  void head_forward_and_grad(Net& net, std::int64_t ways, const std::vector<std::int64_t>& labels);
  void backward(Net& net);
  bool agrees_with_model();

  torch::Tensor features_;  // [items, dim], contiguous CPU floats
  bool head_only_;
  std::vector<std::vector<DenseLayer>> path_layers_;  // e_t; or the input map, then e_s
  std::vector<DenseLayer> head_layers_;
  float scale_;  // sqrt(embed_dim), as CromaModel::scaled
  Net support_, query_;
  std::vector<float> z_, norms_, dz_, logits_, dlogits_;
};

}  // namespace croma
