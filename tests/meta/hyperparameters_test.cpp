// The hyperparameter registry lists exactly what each method reads, every entry is a
// `croma train` option that accepts its whole search range, and the defaults it prints are
// the resolved options.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "croma/meta/experiment.h"
#include "croma/meta/hyperparameters.h"
#include "croma/meta/meta_trainer.h"
#include "test_support.h"

namespace croma {
namespace {

std::set<std::string> names(Method m) {
  std::set<std::string> out;
  for (const auto& h : hyperparameters(m)) out.insert(h.option);
  return out;
}

std::string text(double v, bool integer) {
  if (integer) return std::to_string(static_cast<long long>(std::llround(v)));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class RegistryOfEveryMethod : public ::testing::TestWithParam<std::string> {};

TEST_P(RegistryOfEveryMethod, EntriesAreOptionsThatAcceptTheirWholeRange) {
  const auto method = parse_method(GetParam());
  for (const auto& h : hyperparameters(method)) {
    const auto& d = h.distribution;
    std::vector<double> values = d.values;
    if (d.kind != SearchDistribution::Kind::kChoice) {
      ASSERT_LT(d.low, d.high) << h.option;
      if (d.kind == SearchDistribution::Kind::kLogUniform) ASSERT_GT(d.low, 0) << h.option;
      values = {d.low, d.high, (d.low + d.high) / 2};
    }
    ASSERT_FALSE(values.empty()) << h.option;
    for (double v : values) {
      const auto o = testing::parse_train_args({"--method", GetParam(), "--" + h.option, text(v, d.integer)});
      const nlohmann::json config = o;
      EXPECT_DOUBLE_EQ(config.at(nlohmann::json::json_pointer(h.json_pointer)).get<double>(), v)
          << "--" << h.option << " is not stored at " << h.json_pointer;
    }
    if (h.paper) {
      // The paper's value lies inside the searched range.
      if (d.kind == SearchDistribution::Kind::kChoice) {
        EXPECT_NE(std::find(values.begin(), values.end(), *h.paper), values.end()) << h.option;
      } else {
        EXPECT_GE(*h.paper, d.low) << h.option;
        EXPECT_LE(*h.paper, d.high) << h.option;
      }
    }
  }
}

TEST_P(RegistryOfEveryMethod, ListsExactlyWhatItsPhasesRead) {
  const auto method = parse_method(GetParam());
  auto o = testing::tiny_options();
  o.world.classes_per_cluster = 2;  // unsup-meta-weak refuses class-pure clusters
  o.meta.method = GetParam();
  o.meta.meta_lr = 0.3;
  Experiment exp(o);
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  const auto phases = plan_method(method, o, exp.sampler());
  bool aligns = false, reptile = false;
  for (const auto& phase : phases) {
    reptile = reptile || phase.epsilon != 1.0;
    for (const auto& task : phase.make_tasks(trainer.context())) aligns = aligns || task->name() == "align";
  }
  const auto listed = names(method);
  EXPECT_EQ(listed.count("align-batch") == 1, aligns);
  EXPECT_EQ(listed.count("margin") == 1, aligns);
  EXPECT_EQ(listed.count("meta-lr") == 1, reptile);
  EXPECT_EQ(listed.count("first-phase-fraction") == 1, phases.size() == 2);
  for (const char* always : {"inner-lr", "inner-steps", "inner-batch", "hidden", "embed-dim", "classifier-hidden"}) {
    EXPECT_EQ(listed.count(always), 1u) << always;
  }
}

TEST_P(RegistryOfEveryMethod, PrintedDefaultsAreTheResolvedOptions) {
  const auto method = parse_method(GetParam());
  const auto o = testing::parse_train_args({"--method", GetParam(), "--inner-lr", "0.002", "--hidden", "96"});
  const auto j = hyperparameters_json(method, o);
  EXPECT_EQ(j.at("method"), GetParam());
  const nlohmann::json config = o;
  ASSERT_EQ(j.at("hyperparameters").size(), hyperparameters(method).size());
  for (const auto& e : j.at("hyperparameters")) {
    EXPECT_EQ(e.at("default"), config.at(nlohmann::json::json_pointer(e.at("json_pointer").get<std::string>())));
    if (e.at("name") == "inner-lr") EXPECT_DOUBLE_EQ(e.at("default").get<double>(), 0.002);
    if (e.at("name") == "hidden") EXPECT_EQ(e.at("default").get<int>(), 96);
    const auto kind = e.at("distribution").at("kind").get<std::string>();
    EXPECT_TRUE(kind == "log-uniform" || kind == "uniform" || kind == "choice") << kind;
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, RegistryOfEveryMethod, ::testing::ValuesIn(method_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(FirstPhaseFraction, SplitsTheTwoPhaseBudgetAndKeepsItsTotal) {
  auto o = testing::tiny_options();
  o.meta.steps = 8;
  o.meta.method = "align-meta-classify";
  Experiment exp(o);
  auto phases = plan_method(Method::kAlignMetaClassify, o, exp.sampler());
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases[0].steps, 8);  // default 0.5: the budget as before
  EXPECT_EQ(phases[1].steps, 8);
  o.meta.first_phase_fraction = 0.25;
  phases = plan_method(Method::kAlignMetaClassify, o, exp.sampler());
  EXPECT_EQ(phases[0].steps, 4);
  EXPECT_EQ(phases[1].steps, 12);
  o.meta.first_phase_fraction = 0.01;  // never an empty phase
  phases = plan_method(Method::kAlignClassify, o, exp.sampler());
  EXPECT_EQ(phases[0].steps, 1);
  EXPECT_EQ(phases[1].steps, 15);
  EXPECT_EQ(testing::train_option_error({"--first-phase-fraction", "1"}),
            "invalid value for --first-phase-fraction: 1 (must be in (0, 1))");
}

}  // namespace
}  // namespace croma
