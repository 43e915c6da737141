#include "croma/app/experiment.h"

#include "croma/app/load_shards.h"
#include "croma/data/concept_world.h"
#include "croma/data/feature_shards.h"
#include "croma/data/meta_split.h"
#include "croma/meta/method.h"

namespace croma {

Experiment::Experiment(const TrainOptions& o, const std::string& command) {
  if (o.data.empty()) {
    data_ = generate_concept_world(o.world, o.seed);
    sampler_ = std::make_unique<EpisodeSampler>(
        data_, make_meta_split(data_, o.world.train_fraction, o.world.val_fraction, o.seed));
  } else {
    auto shards = load_shards(o.data, command, Communicator::world());
    data_ = std::move(shards.data);
    sampler_ = std::make_unique<EpisodeSampler>(data_, make_meta_split(data_, shards.split, o.seed));
  }
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

}  // namespace croma
