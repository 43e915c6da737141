// Every method trains and evaluates end to end on a small built-in world, and reports what
// it read of the target modality.
#include <gtest/gtest.h>

#include "croma/app/experiment.h"
#include "croma/eval/few_shot.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "test_support.h"

namespace croma {
namespace {

struct Outcome {
  torch::Tensor start, end;
  std::int64_t target_samples = 0, target_labels = 0;
  double accuracy = 0;
};

Outcome run(const std::string& method_name) {
  auto o = testing::tiny_options();
  o.meta.method = method_name;
  o.meta.steps = 6;
  Experiment exp(o);
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  Outcome out;
  out.start = exp.model().initial_parameters(o.seed);
  trainer.set_meta_parameters(out.start);
  std::int64_t steps = 0;
  for (auto& phase : plan_method(parse_method(method_name), o, exp.sampler())) {
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    for (std::int64_t s = 0; s < phase.steps; ++s, ++steps) trainer.step();
  }
  EXPECT_EQ(steps, method_name == "croma" || method_name.rfind("shared-", 0) == 0 ? 6 : 12)
      << "every method spends 2 * steps episodes";
  out.end = trainer.meta_parameters();
  std::tie(out.target_samples, out.target_labels) = trainer.target_usage();
  FewShotEvaluator evaluator(exp.model(), exp.sampler(), torch::kCPU);
  out.accuracy = evaluator.evaluate_shots(out.end, Split::kTest, o.eval, 3, 1).mean;
  return out;
}

class EveryMethod : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryMethod, TrainsToFiniteMovedParametersAndEvaluates) {
  const auto out = run(GetParam());
  EXPECT_TRUE(torch::isfinite(out.end).all().item<bool>());
  EXPECT_GT((out.end - out.start).abs().max().item<double>(), 0.0);
  EXPECT_GE(out.accuracy, 0.0);
  EXPECT_LE(out.accuracy, 1.0);
}

INSTANTIATE_TEST_SUITE_P(Methods, EveryMethod, ::testing::ValuesIn(method_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(MethodTargetUsage, OnlyTheLabelUsingMethodsReadTargetLabels) {
  const auto croma = run("croma");
  EXPECT_EQ(croma.target_labels, 0);
  EXPECT_GT(croma.target_samples, 0);  // alignment pairs are target items
  const auto oracle = run("oracle");
  EXPECT_GT(oracle.target_labels, 0);
  EXPECT_EQ(oracle.target_labels, oracle.target_samples);
  EXPECT_EQ(run("unsup-meta-weak").target_labels, 0);
  EXPECT_EQ(run("unimodal-pretrain").target_labels, 0);
  EXPECT_GT(run("shared-target-labels").target_labels, 0);
  EXPECT_EQ(run("shared").target_samples, 0);  // source labels only
}

TEST(MethodPlan, PhasesFollowTheBaselineDefinitions) {
  auto o = testing::tiny_options();
  o.meta.steps = 10;
  Experiment exp(o);
  const auto amc = plan_method(Method::kAlignMetaClassify, o, exp.sampler());
  ASSERT_EQ(amc.size(), 2u);
  EXPECT_EQ(amc[0].steps, 10);
  EXPECT_DOUBLE_EQ(amc[0].epsilon, 1.0);  // plain alignment
  EXPECT_DOUBLE_EQ(amc[1].epsilon, o.meta.meta_lr);  // Reptile classifier
  const auto ac = plan_method(Method::kAlignClassify, o, exp.sampler());
  EXPECT_DOUBLE_EQ(ac[1].epsilon, 1.0);
  const auto croma = plan_method(Method::kCroma, o, exp.sampler());
  ASSERT_EQ(croma.size(), 1u);
  EXPECT_EQ(croma[0].make_tasks(MetaTrainer(exp.model(), exp.sampler(), o.meta, o.seed,
                                            Communicator::self(), torch::kCPU).context()).size(), 2u);
}

TEST(MethodNames, UnknownMethodIsAClearError) {
  try {
    parse_method("maml");
    FAIL();
  } catch (const OptionError& e) {
    EXPECT_EQ(std::string(e.what()).find("invalid value for --method: 'maml' (allowed: croma, "), 0u) << e.what();
  }
}

}  // namespace
}  // namespace croma
