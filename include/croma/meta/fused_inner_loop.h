#pragma once
// CroMA's inner loops without autograd, for all task slots of a rank at once.
//
// When every task of a meta-step is alignment or source classification over a frozen e_s
// (CroMA's own pair), every model part those tasks read is a Linear-ReLU MLP, and the device
// is the CPU, MetaTrainer hands the inner loops to this class instead of running
// InnerTask::step_loss() + backward() per slot. The result is the same (tested against the
// autograd path to float tolerance): the same episodes and minibatches from the same
// streams, the same losses, Adam and Reptile arithmetic. What differs is the cost:
//   - forward and backward are the hand-derived kernels of model/mlp_kernels.h, writing
//     gradients straight into a flat gradient buffer: no graph, no per-op allocation;
//   - the T task slots' fast weights are the rows of one [T, numel] buffer: one copy from
//     the meta-parameters, one Adam pass covers all slots.
// Every product has the shape of one slot's episode, whatever T is: a slot computes the same
// bits on any layout of ranks x slots (see meta/exact_sum.h).
// Anything else (other tasks, other encoders, a GPU) keeps the general autograd path.
#include <cstdint>
#include <memory>
#include <vector>

#include "croma/meta/exact_sum.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/mlp_kernels.h"
#include "croma/tasks/inner_task.h"

namespace croma {

struct PhaseTimings;

class FusedInnerLoop {
 public:
  // The fused loop for these tasks with `slots` task slots, or nullptr when it does not
  // apply. MLP parts are found by their layout names and then checked against the model's
  // own forward pass once, on rows of the real features, so a model whose parts compute
  // something else never takes this path.
  static std::unique_ptr<FusedInnerLoop> create(const TaskContext& ctx, const InnerTaskList& tasks,
                                                std::int64_t slots);

  struct Result {
    std::vector<std::vector<double>> losses;  // [task][slot]: the episode's mean inner-step loss
    std::int64_t refused = 0;                 // delta entries refused by the exact sum
  };
  // One meta-step's inner loops: for each task, for every slot t (its stream slots[t]):
  // fast_t := meta on the task's range, draw an episode, inner Adam steps, and
  // delta_sums[range] += round((fast_t - meta) * 2^fp.frac_bits) (meta/exact_sum.h;
  // delta_sums: int64, numel), except that the first slot's delta is stored, not added: the
  // caller needs to zero only the entries outside every task's range.
  Result run(const InnerTaskList& tasks, const torch::Tensor& meta, torch::Tensor& delta_sums,
             const FixedPoint& fp, std::vector<Rng>& slots, const AdamSettings& adam, PhaseTimings& timings);

 private:
  FusedInnerLoop(const TaskContext& ctx, std::vector<DenseLayer> source, std::vector<DenseLayer> target,
                 std::vector<DenseLayer> classifier, std::int64_t slots);
  // The kernels reproduce model.embed_source / embed_target / classify on a few real rows.
  bool agrees_with_model() const;
  double alignment_step(std::int64_t slot, const std::vector<std::int64_t>& rows_s,
                        const std::vector<std::int64_t>& rows_t);
  double classification_step(std::int64_t slot, const std::vector<std::int64_t>& rows);
  void embed_classification_episodes(const torch::Tensor& meta);

  struct Slot {
    std::unique_ptr<MlpKernel> source, target, classifier;
    // The slot's current episode.
    torch::Tensor xs, xt, gs, gt;            // alignment
    torch::Tensor x, embedding, labels;      // classification (x: source features)
  };

  const TaskContext& ctx_;
  std::int64_t numel_;
  torch::Tensor fast_, grad_;  // [slots, numel]
  std::vector<Slot> slots_;
  std::unique_ptr<MlpKernel> meta_source_;  // e_s on the meta-parameters, for the embeddings
  torch::Tensor meta_grad_unused_;
  std::vector<float> zs_, zt_, ns_, nt_, dzs_, dzt_;  // alignment scratch
  FlatAdam adam_;
};

}  // namespace croma
