#pragma once
// One kind of inner-loop task of (meta-)training: which parameters it adapts and the loss it
// minimises. The trainer copies the meta-parameters into fast weights, lets the task draw an
// episode, runs inner Adam steps on step_loss() over the task's range, and accumulates the
// Reptile delta of that range. CroMA uses two kinds (alignment, source classification); the
// baselines reuse them and add target-modality kinds (classification with class or cluster
// labels, reconstruction) and domain confusion.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/model/croma_model.h"
#include "croma/util/rng.h"

namespace croma {

// What a run's meta-training read of the target modality: items (features) and labels,
// counted at the end like the last column of the paper's Table 2.
class TargetUsage {
 public:
  explicit TargetUsage(std::int64_t target_items) : seen_(target_items, 0), labelled_(target_items, 0) {}
  void saw(const std::vector<std::int64_t>& items, bool with_labels);
  // Per-item flags as floats (1 = used), items then labels, for an allreduce over ranks.
  torch::Tensor as_tensor() const;
  static std::pair<std::int64_t, std::int64_t> count(const torch::Tensor& reduced);
  // Item ids flagged in a reduced tensor: (seen, labelled).
  static std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> items(const torch::Tensor& reduced);
  // Flag these items (restoring a resumed run's record).
  void mark(const std::vector<std::int64_t>& seen, const std::vector<std::int64_t>& labelled);

 private:
  std::vector<char> seen_, labelled_;
};

// Everything a task reads, on the training device.
struct TaskContext {
  const CromaModel& model;
  const EpisodeSampler& sampler;
  const MetaOptions& meta;
  torch::Device device;
  FeatureBatch source_features, target_features;  // every item, lengths included
  TargetUsage* usage = nullptr;
};

class InnerTask {
 public:
  virtual ~InnerTask() = default;
  virtual std::string name() const = 0;
  virtual ParamRange range() const = 0;
  // Draw the next episode; `meta` holds the current meta-parameters (for frozen parts).
  virtual void sample(Rng& rng, const torch::Tensor& meta) = 0;
  // Loss of one inner step on a minibatch drawn from rng.
  virtual torch::Tensor step_loss(const Weights& fast, Rng& rng) = 0;
};

using InnerTaskList = std::vector<std::unique_ptr<InnerTask>>;

// Rows to use in one inner step: a minibatch of min(rows, batch) distinct rows.
torch::Tensor minibatch_rows(Rng& rng, std::int64_t rows, std::int64_t batch, const torch::Device& device);

}  // namespace croma
