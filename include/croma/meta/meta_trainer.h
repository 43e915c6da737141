#pragma once
// Reptile meta-training over a set of inner tasks, distributed over MPI ranks. With the
// default tasks it is CroMA (Algorithm 1 of the paper):
//
// One meta-step on each of R ranks, with T = tasks_per_rank:
//   for each of the rank's T task slots, for each task kind (CroMA: alignment, then source
//   classification):
//     fast := meta (a copy), the task draws an episode, inner Adam steps on its loss over its
//     parameter range, delta[range] += fast - meta
//   one MPI_Allreduce sums delta (and the loss statistics) over ranks, then every rank applies
//   meta += epsilon * delta / (R * T).
// Each slot's delta and loss are rounded to fixed point on their own and summed as integers
// (meta/exact_sum.h), so the sums do not depend on which rank holds which slot.
// So a meta-step averages R*T deltas of each task kind. Algorithm 1 updates the encoders
// before sampling the classification task; here every episode of a step starts from the same
// meta-parameters, which is what lets one collective carry the whole update.
//
// Task slot t of rank r draws its episodes from the stream Rng(seed, r*T + t). Two ranks with
// one task each therefore see exactly the episodes of one rank with two tasks and, with the
// exact sums, end with bit-identical meta-parameters (same device type, BLAS and threads).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/distributed/communicator.h"
#include "croma/meta/exact_sum.h"
#include "croma/meta/flat_adam.h"
#include "croma/meta/phase_timings.h"
#include "croma/meta/reptile.h"
#include "croma/model/croma_model.h"
#include "croma/tasks/inner_task.h"
#include "croma/util/rng.h"

namespace croma {

class FusedInnerLoop;

struct StepStats {
  // Mean inner-step loss of each task kind over the step's episodes on all ranks.
  std::vector<std::pair<std::string, double>> losses;
  std::int64_t episodes = 0;  // episodes in this step, all ranks
  double loss(const std::string& name) const;
  bool stop_requested = false;  // some rank asked to stop (see step())
};

class MetaTrainer {
 public:
  // Starts with CroMA's tasks (alignment, source classification) and epsilon = meta.meta_lr.
  MetaTrainer(const CromaModel& model, const EpisodeSampler& sampler, const MetaOptions& meta,
              std::uint64_t seed, const Communicator& comm, const torch::Device& device);
  ~MetaTrainer();

  // Whether the inner loops may run fused (meta/fused_inner_loop.h: hand-derived MLP
  // kernels, all task slots at once; on by default), and whether they do with the current
  // tasks, model and device. The fused and the autograd loops give the same results to
  // float tolerance; turning it off is for comparisons and tests.
  void set_fused_inner_loop(bool allowed);
  bool fused_inner_loop() const { return fused_ != nullptr; }
  // --inner-loop: "auto" (fused where it applies), "autograd" (never fused) or "fused" (from
  // now on, every set_tasks() throws OptionError when the fused loop does not apply).
  void set_inner_loop(const std::string& choice);

  // Replace the tasks and the meta step size (a new phase of a multi-phase method).
  void set_tasks(InnerTaskList tasks, double epsilon);
  const TaskContext& context() const { return *context_; }

  // Adopt root's parameters on every rank (a CPU float tensor of model.numel()).
  void set_meta_parameters(torch::Tensor cpu_parameters);
  // One meta-step. request_stop is this rank's wish to stop after the step (a signal
  // arrived); it travels in the step's allreduce, so every rank learns in the same step
  // whether any rank wants to stop, at no extra collective.
  StepStats step(bool request_stop = false);

  // Exact-resume state of this rank: the engine state of each task slot's stream (slot
  // order), and the number of steps done. Restoring both, plus the meta-parameters, makes
  // the following steps bit-identical to those of a run never interrupted.
  std::vector<std::string> rng_states() const;
  void set_rng_states(const std::vector<std::string>& states);
  void set_steps_done(std::int64_t steps) { steps_done_ = steps; }

  // CPU copy of the meta-parameters.
  torch::Tensor meta_parameters() const;
  const torch::Tensor& meta_parameters_on_device() const { return meta_; }
  std::int64_t steps_done() const { return steps_done_; }
  // Collective: true when every rank holds bit-identical meta-parameters.
  bool replicas_agree() const;
  // Collective: target items and labels read by meta-training so far, over all ranks.
  std::pair<std::int64_t, std::int64_t> target_usage() const;
  // Collective: the item ids behind target_usage() (seen, labelled), for checkpoints.
  std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> target_usage_items() const;
  // Restore a resumed run's record of target usage (on any one rank: usage is a union).
  void mark_target_usage(const std::vector<std::int64_t>& seen, const std::vector<std::int64_t>& labelled) {
    usage_->mark(seen, labelled);
  }
  const PhaseTimings& timings() const { return timings_; }

 private:
  // Where an episode adds its contributions, as fixed point (meta/exact_sum.h): views of the
  // allreduce buffer's layout on device_ (the deltas; this task's loss sum and refused-loss
  // count; the refused delta entries).
  struct EpisodeSums {
    torch::Tensor deltas, loss, refused_loss, refused_deltas;
  };
  // One episode of task on slot stream rng: its exact delta and its mean inner-step loss
  // added into `out`, without a host synchronisation.
  void run_episode(InnerTask& task, Rng& rng, const EpisodeSums& out);

  const CromaModel& model_;
  MetaOptions options_;
  const Communicator& comm_;
  torch::Device device_;
  std::unique_ptr<TargetUsage> usage_;
  std::unique_ptr<TaskContext> context_;
  InnerTaskList tasks_;
  double epsilon_ = 0.1;
  torch::Tensor meta_;          // on device_, numel
  // Only on a non-CPU device_ (on the CPU the step is applied straight from the exact sums):
  torch::Tensor delta_;         // the summed float delta of a step, numel, on device_
  torch::Tensor host_delta_;    // the same on the CPU
  torch::Tensor device_buffer_;  // host_buffer_'s layout on device_: the autograd loop's sums
  FixedPoint delta_fp_, loss_fp_;
  std::unique_ptr<FastWeights> fast_;
  std::unique_ptr<FusedInnerLoop> fused_;
  bool fused_allowed_ = true;
  bool require_fused_ = false;
  std::vector<TaskCoverage> coverage_;  // how many of the tasks adapt each parameter
  torch::Tensor host_buffer_;  // CPU int64, the allreduce: exact delta sums, losses, refusals, stop
  FlatAdam adam_;
  AdamSettings adam_settings_;
  std::vector<Rng> slots_;
  std::int64_t steps_done_ = 0;
  PhaseTimings timings_;
};

}  // namespace croma
