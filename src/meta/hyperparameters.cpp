#include "croma/meta/hyperparameters.h"

#include <nlohmann/json.hpp>

#include "croma/config/option_registry.h"

namespace croma {
namespace {

using Kind = SearchDistribution::Kind;

SearchDistribution log_uniform(double low, double high) { return {Kind::kLogUniform, low, high, {}, false}; }
SearchDistribution uniform(double low, double high) { return {Kind::kUniform, low, high, {}, false}; }
SearchDistribution int_choice(std::vector<double> values) { return {Kind::kChoice, 0, 0, std::move(values), true}; }

// An entry for `option`, stored where the option table stores it.
HyperParameter entry(const std::string& option, SearchDistribution distribution, std::optional<double> paper,
                     std::string note) {
  return {option, train_option_table().entry(option).json_pointers().front(), std::move(distribution), paper,
          std::move(note)};
}

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::kLogUniform: return "log-uniform";
    case Kind::kUniform: return "uniform";
    case Kind::kChoice: return "choice";
  }
  return "?";
}

}  // namespace

std::vector<HyperParameter> hyperparameters(Method method) {
  // Ranges: about a decade either side of the paper's value for rates; the paper's batch sizes
  // (4/8/16 by shot count) and widths (256) inside the sets. Every method gets the same
  // distribution for an option it shares with another.
  std::vector<HyperParameter> h = {
      entry("inner-lr", log_uniform(1e-4, 3e-2), 1e-3, "inner Adam step; paper 1e-3 (align and classifier)"),
      entry("inner-steps", int_choice({1, 3, 5, 10}), std::nullopt,
            "inner Adam steps per episode; the paper does not say"),
      entry("inner-batch", int_choice({4, 8, 16}), 8.0,
            "minibatch of classification, reconstruction or domain tasks; paper 4/8/16 for 1/5/10 shots"),
  };
  if (aligns(method)) {
    h.push_back(entry("align-batch", int_choice({4, 8, 16}), 8.0, "alignment minibatch; paper 4/8/16 for 1/5/10 shots"));
    h.push_back(entry("margin", log_uniform(0.01, 1.0), 0.1, "margin of the ranking loss; paper 0.1"));
  }
  if (meta_learns(method)) {
    h.push_back(entry("meta-lr", log_uniform(0.03, 1.0), 0.1, "Reptile epsilon; paper 0.1"));
  }
  if (two_phases(method)) {
    h.push_back(entry("first-phase-fraction", uniform(0.2, 0.8), std::nullopt,
                      "share of the budget spent aligning before classifying"));
  }
  h.push_back(entry("hidden", int_choice({64, 128, 256}), 256.0, "encoder hidden width; paper 256"));
  h.push_back(entry("embed-dim", int_choice({32, 64, 128}), std::nullopt, "aligned space"));
  h.push_back(entry("classifier-hidden", int_choice({64, 128, 256}), 256.0, "classifier hidden width; paper 256"));
  return h;
}

nlohmann::json hyperparameters_json(Method method, const TrainOptions& options) {
  const nlohmann::json config = options;
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& p : hyperparameters(method)) {
    nlohmann::json d = {{"kind", kind_name(p.distribution.kind)}};
    if (p.distribution.kind == Kind::kChoice) {
      if (p.distribution.integer) {
        std::vector<std::int64_t> values(p.distribution.values.begin(), p.distribution.values.end());
        d["values"] = values;
      } else {
        d["values"] = p.distribution.values;
      }
    } else {
      d["low"] = p.distribution.low;
      d["high"] = p.distribution.high;
    }
    entries.push_back({{"name", p.option},
                       {"json_pointer", p.json_pointer},
                       {"default", config.at(nlohmann::json::json_pointer(p.json_pointer))},
                       {"paper", p.paper ? nlohmann::json(*p.paper) : nlohmann::json(nullptr)},
                       {"distribution", d},
                       {"note", p.note}});
  }
  return {{"method", to_string(method)}, {"hyperparameters", entries}};
}

}  // namespace croma
