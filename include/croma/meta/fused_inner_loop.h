#pragma once
// The inner loops of the described inner problems (tasks/inner_problem.h) without autograd,
// for all task slots of a rank at once.
//
// When every task of a meta-step poses a problem whose parts are Linear-ReLU MLPs on the CPU,
// MetaTrainer hands the inner loops to this class instead of running inner_step_loss() +
// backward() per slot. The result is the same (tested against the autograd path to float
// tolerance): the same episodes and minibatches from the same streams (one draw_minibatch()
// serves both), the same losses, Adam and Reptile arithmetic. What differs is the cost:
//   - forward and backward are the hand-derived kernels of model/mlp_kernels.h, writing
//     gradients straight into a flat gradient buffer: no graph, no per-op allocation;
//   - the T task slots' fast weights are the rows of one [T, numel] buffer: one copy from
//     the meta-parameters, one Adam pass covers all slots.
// Every product has the shape of one slot's episode, whatever T is: a slot computes the same
// bits on any layout of ranks x slots (see meta/exact_sum.h).
//
// Problems it runs, on a model whose encoders are MLPs:
//   alignment              source rows through e_s, target rows through the target path;
//                          the configured alignment loss
//   classification         rows through the frozen e_s, the adapted e_s or the target path;
//                          phi; cross-entropy
//   source classes         rows through the frozen e_s; phi's hidden layer and the class head
//   reconstruction         rows through the target path; the decoder; squared error
//   domain adversarial /   source rows through e_s, target rows through the target path; the
//   domain confusion       discriminator on the embeddings held fixed, plus the encoder's loss
//                          through the discriminator held fixed (tasks/domain_confusion_task.h)
// The target path is e_t, or with a shared encoder the linear input map and then e_s (whose
// gradient from both paths of a step is summed). Anything else (a custom task, an encoder of
// another kind, a GPU) keeps the autograd path.
#include <cstdint>
#include <memory>
#include <vector>

#include "croma/meta/exact_sum.h"
#include "croma/meta/flat_adam.h"
#include "croma/meta/phase_timings.h"
#include "croma/model/mlp_kernels.h"
#include "croma/tasks/inner_task.h"

namespace croma {


class FusedInnerLoop {
 public:
  // The fused loop for these tasks with `slots` task slots, or nullptr when it does not
  // apply. The MLP parts come from the model (CromaModel::mlp_layers) and are checked against
  // the model's own forward functions once, on rows of the real features, so a model whose
  // parts compute something else never takes this path.
  static std::unique_ptr<FusedInnerLoop> create(const TaskContext& ctx, const InnerTaskList& tasks,
                                                std::int64_t slots);

  struct Result {
    std::vector<std::vector<double>> losses;  // [task][slot]: the episode's mean inner-step loss
    std::int64_t refused = 0;                 // delta entries refused by the exact sum
  };
  // One meta-step's inner loops: for each task, for every slot t (its stream slots[t]):
  // fast_t := meta on the task's range, draw an episode, inner Adam steps, and
  // delta_sums[range] += round((fast_t - meta) * 2^fp.frac_bits) (meta/exact_sum.h;
  // delta_sums: int64, numel), except that, where no two tasks' ranges overlap
  // (stores_first_slot()), the first slot's delta is stored, not added: the caller then needs
  // to zero only the entries outside every task's range (else all of delta_sums).
  bool stores_first_slot() const { return stores_first_slot_; }
  Result run(const InnerTaskList& tasks, const torch::Tensor& meta, torch::Tensor& delta_sums,
             const FixedPoint& fp, std::vector<Rng>& slots, const AdamSettings& adam, PhaseTimings& timings);

 private:
  // The MLP parts the problems read (empty where the model has none or no problem reads it).
  struct Parts {
    std::vector<DenseLayer> source, target, classifier, decoder, domain;  // target: e_t, or map_t (shared)
    std::vector<DenseLayer> class_chain;  // phi's hidden layer, then the class head
  };
  using Member = std::vector<DenseLayer> Parts::*;
  // The kernels' parts that a problem's parts (inner_parts()) run in the fast weights (all of
  // them trained: each writes its gradient at every inner step); the frozen e_s reads the
  // meta-parameters and is not among them. create() loads, copies and clears from them.
  static std::vector<Member> parts_run(const InnerParts& p, bool shared);
  static ModelPart model_part(Member member);

  FusedInnerLoop(const TaskContext& ctx, std::vector<InnerProblem> problems, std::vector<InnerParts> problem_parts,
                 Parts parts, std::int64_t slots);
  // The kernels reproduce the model's forward functions on a few real rows.
  bool agrees_with_model();

  struct Slot {
    std::unique_ptr<MlpKernel> source, target, classifier, decoder, class_chain;
    // Shared encoder: e_s once more, for the target path of an alignment step (its gradient
    // adds to the source path's).
    std::unique_ptr<MlpKernel> source_again;
    // The discriminator, and the same weights held fixed (the encoder's loss).
    std::unique_ptr<MlpKernel> domain, domain_fixed;
    // The slot's current episode: features (or, for rows behind the frozen e_s, their
    // embeddings) and labels or group ids, all contiguous CPU tensors.
    torch::Tensor first, second, first_labels, second_labels, embedding;
  };
  // One inner step of one slot; returns its loss. The gradient lands in grad_[slot].
  double step(const InnerProblem& problem, const InnerParts& parts, Slot& s, const Minibatch& rows);
  double alignment_step(Slot& s, const Minibatch& rows);
  double domain_step(Slot& s, const Minibatch& rows, bool adversarial);
  // Rows behind the frozen e_s, then `head`: cross-entropy.
  double frozen_head_step(Slot& s, MlpKernel& head, const std::vector<std::int64_t>& rows);
  // Rows through an encoder path, normalised and scaled, then `head`: cross-entropy against
  // the labels or (`reconstruct`) squared error against the rows' own features.
  using Path = KernelPath;
  double head_step(Slot& s, const Path& path, MlpKernel& head, const std::vector<std::int64_t>& rows,
                   bool reconstruct);
  // The kernels a row set runs through, each feeding the next.
  Path source_path(Slot& s) const { return {s.source.get()}; }
  Path target_path(Slot& s, bool after_source) const;
  // The adapted path of rows entering at `path` (kSource or kTarget).
  Path row_path(Slot& s, RowPath path) const;
  // Source rows (first) and target rows (second) into zs_ and zt_; and back from dzs_, dzt_.
  void encode_both(Slot& s, const Minibatch& rows);
  void encode_both_backward(Slot& s);
  void embed_frozen_episodes(const torch::Tensor& meta);

  const TaskContext& ctx_;
  std::vector<InnerProblem> problems_;  // one per task, as create() saw them
  std::vector<InnerParts> problem_parts_;  // and the parts each runs
  // Per task: what its inner loop reads or adapts in the fast weights (its range, and the
  // parts outside it the loss runs, e.g. e_s under the adversarial task), merged. Each slot
  // starts a task from the meta-parameters there.
  std::vector<std::vector<ParamRange>> starts_;
  // Per task: the stretches of its range no kernel writes a gradient into (cleared per task).
  std::vector<std::vector<ParamRange>> cleared_;
  std::int64_t numel_;
  float scale_;  // sqrt(embed_dim): the heads read unit embeddings scaled to coordinates ~1
  bool shared_;   // one encoder for both modalities (CromaModel's shared_encoder)
  bool stores_first_slot_ = true;
  torch::Tensor fast_, grad_;  // [slots, numel]
  std::vector<Slot> slots_;
  std::unique_ptr<MlpKernel> meta_source_;  // e_s on the meta-parameters, for frozen embeddings
  torch::Tensor meta_grad_unused_;
  std::vector<float> zs_, zt_, ns_, nt_, dzs_, dzt_;  // scratch
  FlatAdam adam_;
};

}  // namespace croma
