#include "croma/meta/experiment.h"

#include <algorithm>

#include "croma/meta/load_shards.h"
#include "croma/data/concept_world.h"
#include "croma/data/feature_shards.h"
#include "croma/data/meta_split.h"
#include "croma/meta/method.h"

namespace croma {

Experiment::Experiment(const TrainOptions& o, const std::string& command, const FeatureStandardization* stored) {
  MetaSplit split;
  if (o.data.empty()) {
    if (o.prep.class_split_seed != 0) {
      throw OptionError("--class-split-seed: the built-in world already draws its class split from --seed; "
                        "the option redraws the split of feature shards (--data)");
    }
    data_ = generate_concept_world(o.world, o.seed);
    split = make_meta_split(data_, o.world.train_fraction, o.world.val_fraction, o.seed);
  } else {
    auto shards = load_shards(o.data, command, Communicator::world());
    data_ = std::move(shards.data);
    const auto classes = o.prep.class_split_seed != 0 ? resample_class_split(shards.split, o.prep.class_split_seed)
                                                      : shards.split;
    split = make_meta_split(data_, classes, o.seed);
  }

  prep_ = o.prep;
  const bool has_val_classes = !split.val_classes.empty();
  if (prep_.val_split == "auto") prep_.val_split = has_val_classes ? "classes" : "items";
  if (prep_.val_split == "classes" && !has_val_classes) {
    throw OptionError("--val-split classes: dataset '" + data_.name +
                      "' has no meta-val classes; validate on held-out items of its meta-train classes "
                      "with --val-split items (or auto)");
  }
  // Before the statistics: held-out items are validation data, not meta-train data.
  if (prep_.val_split == "items") hold_out_val_items(data_, split, prep_.val_items_fraction, o.seed);
  // The built-in world is generated at unit scale; its runs stay exactly as they were.
  if (prep_.standardize == "auto") prep_.standardize = o.data.empty() ? "off" : "on";
  if (prep_.standardize == "on") {
    standardization_ = stored ? *stored : compute_standardization(data_, split);
    apply_standardization(data_, *standardization_);
  }
  sampler_ = std::make_unique<EpisodeSampler>(data_, std::move(split));

  ModelShape shape;
  shape.source_input = data_.source.spec();
  shape.target_input = data_.target.spec();
  shape.source_dim = data_.source.dim();
  shape.target_dim = data_.target.dim();
  shape.source_encoder = o.model.source_encoder;
  shape.target_encoder = o.model.target_encoder;
  shape.hidden = o.model.hidden;
  shape.embed_dim = o.model.embed_dim;
  shape.classifier_hidden = o.model.classifier_hidden;
  shape.ways = o.meta.ways;
  configure_model(parse_method(o.meta.method),
                  static_cast<std::int64_t>(sampler_->split().train_classes.size()), shape);
  model_ = std::make_unique<CromaModel>(shape);
}

std::vector<std::int64_t> Experiment::held_out_val_items() const {
  std::vector<std::int64_t> out;
  const auto& split = sampler_->split();
  if (!split.val_items) return out;
  for (const auto& items : split.val_target_items) out.insert(out.end(), items.begin(), items.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace croma
