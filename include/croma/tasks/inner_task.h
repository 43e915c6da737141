#pragma once
// One kind of inner-loop task of (meta-)training: which parameters it adapts, and the problem
// it poses (tasks/inner_problem.h). The trainer copies the meta-parameters into fast weights,
// lets the task draw an episode, runs inner Adam steps on that problem over the task's range,
// and accumulates the Reptile delta of that range. CroMA uses two kinds (alignment, source classification); the
// baselines reuse them and add target-modality kinds (classification with class or cluster
// labels, reconstruction) and domain confusion.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/episode_sampler.h"
#include "croma/tasks/target_usage.h"
#include "croma/model/croma_model.h"
#include "croma/tasks/inner_problem.h"
#include "croma/util/rng.h"

namespace croma {

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
  // What the inner loop minimises (tasks/inner_problem.h). The same for every episode.
  virtual InnerProblem problem() const { return {}; }
  // Draw the next episode into episode() from `rng` (the task slot's own stream).
  virtual void sample(Rng& rng) = 0;
  // The episode of the last sample().
  const InnerEpisode& episode() const { return episode_; }
  // Only for a task whose problem() is InnerLoss::kCustom (an experiment the engine does not
  // describe; it runs on autograd): the loss of one inner step on a minibatch drawn from rng.
  // Built-in tasks describe their problem instead and never compute a loss.
  virtual torch::Tensor step_loss(const Weights& fast, Rng& rng);

 protected:
  InnerEpisode episode_;
};

using InnerTaskList = std::vector<std::unique_ptr<InnerTask>>;

}  // namespace croma
