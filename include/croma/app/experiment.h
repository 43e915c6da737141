#pragma once
// Everything a run is built from its configuration: the data, its meta-split, the episode
// sampler and the model. `croma train` and `croma eval` build it the same way, which is how
// eval finds the very classes and items the run was trained and split on.
#include <memory>
#include <string>

#include "croma/config/options.h"
#include "croma/data/cross_modal_dataset.h"
#include "croma/data/episode_sampler.h"
#include "croma/model/croma_model.h"

namespace croma {

class Experiment {
 public:
  // `command` names the subcommand in messages about the data ("croma train").
  explicit Experiment(const TrainOptions& options, const std::string& command = "croma");
  Experiment(const Experiment&) = delete;
  Experiment& operator=(const Experiment&) = delete;

  const CrossModalDataset& data() const { return data_; }
  const EpisodeSampler& sampler() const { return *sampler_; }
  const CromaModel& model() const { return *model_; }

 private:
  CrossModalDataset data_;
  std::unique_ptr<EpisodeSampler> sampler_;  // refers to data_
  std::unique_ptr<CromaModel> model_;
};

}  // namespace croma
