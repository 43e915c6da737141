#pragma once
// Small configurations shared by tests: big enough to exercise every path, small enough to
// run in a second.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

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

// `croma train ARGS...` parsed into options (expects parsing to succeed, not print --help).
inline TrainOptions parse_train_args(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  TrainOptions o;
  EXPECT_TRUE(parse_train_options(static_cast<int>(argv.size()), argv.data(), o));
  return o;
}

// The message of the OptionError that parsing `croma train ARGS...` raises.
inline std::string train_option_error(std::vector<std::string> args) {
  try {
    parse_train_args(std::move(args));
  } catch (const OptionError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace croma::testing
