#pragma once
// The hyperparameter registry: for each method, every `croma train` option that the method
// reads and that a fair comparison should tune, with the distribution a random search draws
// it from (DomainBed's protocol, Gulrajani & Lopez-Paz 2021; docs/evaluation.md "Tuning").
//
// The registry names options; it holds no values of its own except the paper's. A method's
// default is whatever `croma train --method M` resolves the option to: the struct default
// (config/options.h), the method's own default (config/method_defaults.cpp), or what the
// command line says.
// `croma train --method M --print-hparams` prints the entries as JSON; jobs/sweep.py draws
// the search's configurations from that output.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "croma/config/options.h"
#include "croma/meta/method.h"

namespace croma {

struct SearchDistribution {
  enum class Kind { kLogUniform, kUniform, kChoice };
  Kind kind = Kind::kChoice;
  double low = 0, high = 0;    // kLogUniform, kUniform: [low, high]
  std::vector<double> values;  // kChoice
  bool integer = false;        // kChoice: the values are integers
};

struct HyperParameter {
  std::string option;          // the `croma train` option, without "--"
  std::string json_pointer;    // where config.json keeps it, e.g. "/meta/inner_lr" (the option table's)
  SearchDistribution distribution;
  std::optional<double> paper;  // the paper's value (Tables 5-7), where it gives one
  std::string note;             // why this range, in a few words
};

// The entries of `method`, in a fixed order (the draws of jobs/sweep.py depend on it).
std::vector<HyperParameter> hyperparameters(Method method);

// {"method": ..., "hyperparameters": [{"name", "json_pointer", "default", "paper",
// "distribution": {"kind": "log-uniform"|"uniform"|"choice", "low", "high" | "values"}, "note"}]}
// with each default read from `options` (the resolved `croma train` options).
nlohmann::json hyperparameters_json(Method method, const TrainOptions& options);

}  // namespace croma
