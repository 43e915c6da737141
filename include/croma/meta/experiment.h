#pragma once
// Everything a run is built from its configuration: the data, its meta-split, the episode
// sampler and the model. `croma train` and `croma eval` build it the same way, which is how
// eval finds the very classes and items the run was trained and split on.
//
// Data preparation (options.prep, docs/evaluation.md) happens here, after the meta-split and
// before anything reads a feature: validation on held-out items of meta-train classes
// (--val-split items) and feature standardisation with statistics of the meta-train items only
// (--standardize).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/cross_modal_dataset.h"
#include "croma/data/episode_sampler.h"
#include "croma/data/standardize.h"
#include "croma/model/croma_model.h"

namespace croma {

class Experiment {
 public:
  // `command` names the subcommand in messages about the data ("croma train"). `stored`: the
  // standardisation statistics of an existing run, applied instead of computing them (croma
  // eval); used only when the run standardises. Throws OptionError when options.prep does not
  // fit the data (--val-split classes without meta-val classes).
  explicit Experiment(const TrainOptions& options, const std::string& command = "croma",
                      const FeatureStandardization* stored = nullptr);
  Experiment(const Experiment&) = delete;
  Experiment& operator=(const Experiment&) = delete;

  const CrossModalDataset& data() const { return data_; }
  const EpisodeSampler& sampler() const { return *sampler_; }
  const CromaModel& model() const { return *model_; }

  // options.prep with "auto" resolved for this data: what config.json records.
  const PrepOptions& prep() const { return prep_; }
  // The statistics applied to the features; empty when the run reads raw features.
  const std::optional<FeatureStandardization>& standardization() const { return standardization_; }
  // Target items held out for validation (--val-split items), in increasing id order.
  std::vector<std::int64_t> held_out_val_items() const;

 private:
  CrossModalDataset data_;
  PrepOptions prep_;
  std::optional<FeatureStandardization> standardization_;
  std::unique_ptr<EpisodeSampler> sampler_;  // refers to data_
  std::unique_ptr<CromaModel> model_;
};

}  // namespace croma
