#pragma once
// CroMA meta-training (Algorithm 1 of the paper), distributed over MPI ranks.
//
// One meta-step on each of R ranks, with T = tasks_per_rank:
//   for each of the rank's T task slots:
//     alignment episode:      fast [e_s|e_t] := meta, inner Adam steps on the alignment loss,
//                             delta[e_s|e_t] += fast - meta
//     classification episode: fast phi := meta, inner Adam steps on cross-entropy of phi over
//                             source embeddings from the meta e_s, delta[phi] += fast - meta
//   one MPI_Allreduce sums delta (and the loss statistics) over ranks, then every rank applies
//   meta += epsilon * delta / (R * T).
// So a meta-step averages R*T alignment and R*T classification deltas. Algorithm 1 updates the
// encoders before sampling the classification task; here both episodes of a step start from
// the same meta-parameters, which is what lets one collective carry the whole update.
//
// Task slot t of rank r draws its episodes from the stream Rng(seed, r*T + t). Two ranks with
// one task each therefore see exactly the episodes of one rank with two tasks.
#include <cstdint>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/distributed/communicator.h"
#include "croma/meta/flat_adam.h"
#include "croma/model/croma_model.h"
#include "croma/util/rng.h"

namespace croma {

struct StepStats {
  double align_loss = 0;  // mean inner-step alignment loss over the step's episodes, all ranks
  double class_loss = 0;  // mean inner-step classification loss, all ranks
  std::int64_t episodes = 0;  // alignment + classification episodes in this step, all ranks
  bool stop_requested = false;  // some rank asked to stop (see step())
};

class MetaTrainer {
 public:
  MetaTrainer(const CromaModel& model, const EpisodeSampler& sampler, const MetaOptions& meta,
              std::uint64_t seed, const Communicator& comm, const torch::Device& device);

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

 private:
  double alignment_episode(Rng& rng);
  double classification_episode(Rng& rng);
  std::vector<std::int64_t> minibatch(Rng& rng, std::int64_t rows, std::int64_t batch) const;

  const CromaModel& model_;
  const EpisodeSampler& sampler_;
  MetaOptions options_;
  const Communicator& comm_;
  torch::Device device_;
  torch::Tensor source_features_, target_features_;  // on device_
  torch::Tensor meta_, fast_, delta_;                 // on device_, numel each
  torch::Tensor host_buffer_;                         // CPU: delta + 2 loss sums, for the allreduce
  FlatAdam adam_;
  AdamSettings adam_settings_;
  std::vector<Rng> slots_;
  std::int64_t steps_done_ = 0;
};

}  // namespace croma
