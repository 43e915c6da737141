#pragma once
// Small configurations shared by tests: big enough to exercise every path, small enough to
// run in a second.
#include "croma/config/options.h"

namespace croma::testing {

inline TrainOptions tiny_options() {
  TrainOptions o;
  o.seed = 7;
  o.world.concepts = 20;
  o.world.samples_per_concept = 24;
  o.world.latent_dim = 6;
  o.world.nuisance_dim = 4;
  o.world.source_dim = 24;
  o.world.target_dim = 16;
  o.model.hidden = 32;
  o.model.embed_dim = 16;
  o.model.classifier_hidden = 16;
  o.meta.steps = 10;
  o.meta.ways = 4;
  o.meta.shots = 3;
  o.eval.ways = 4;
  o.eval.shots = {3};
  o.eval.tasks = 4;
  o.eval.queries = 5;
  o.eval.steps = 10;
  return o;
}

}  // namespace croma::testing
