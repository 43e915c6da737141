// Every method trains and evaluates end to end on a small built-in world, and reports what
// it read of the target modality.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <set>

#include "croma/meta/experiment.h"
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
  // Weak clusters coarser than the classes: unsup-meta-weak refuses sub-concept clusters.
  o.world.classes_per_cluster = 2;
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
  EXPECT_EQ(steps, method_name == "croma" || method_name.rfind("shared", 0) == 0 ? 6 : 12)
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
  EXPECT_EQ(run("target-autoencoder").target_labels, 0);
  EXPECT_GT(run("shared-target-labels").target_labels, 0);
  // Shared trains its target input map on unlabelled target items (adversarially).
  const auto shared = run("shared");
  EXPECT_GT(shared.target_samples, 0);
  EXPECT_EQ(shared.target_labels, 0);
}

// The weak-cluster items whose cluster lies inside one class, computed here independently.
std::vector<std::int64_t> items_in_class_pure_clusters(const Experiment& exp) {
  std::vector<std::int64_t> out;
  const auto& labels = exp.data().target.labels;
  for (const auto& cluster : exp.sampler().split().train_target_clusters) {
    std::set<std::int64_t> classes;
    for (auto i : cluster) classes.insert(labels[static_cast<std::size_t>(i)]);
    if (classes.size() == 1) out.insert(out.end(), cluster.begin(), cluster.end());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(UnsupMetaWeak, RefusesClustersThatAreClasses) {
  auto o = testing::tiny_options();  // sub-concept clusters: each inside one class
  Experiment exp(o);
  try {
    plan_method(Method::kUnsupMetaWeak, o, exp.sampler());
    FAIL() << "sub-concept clusters reveal the class";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("lies inside one class"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("oracle under another name"), std::string::npos) << e.what();
  }
}

TEST(UnsupMetaWeak, CountsItemsOfClassPureClustersAsLabels) {
  auto o = testing::tiny_options();
  o.world.classes_per_cluster = 2;
  o.meta.steps = 40;
  Experiment exp(o);
  const auto pure = items_in_class_pure_clusters(exp);
  // Groups of 2 classes under a random class split: some groups keep one meta-train class.
  ASSERT_FALSE(pure.empty());
  ASSERT_LT(pure.size(), exp.sampler().split().train_target_clusters.size() * 1000u);
  const auto comm = Communicator::self();  // MetaTrainer keeps a reference
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  for (auto& phase : plan_method(Method::kUnsupMetaWeak, o, exp.sampler())) {
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    for (std::int64_t s = 0; s < phase.steps; ++s) trainer.step();
  }
  const auto [seen, labelled] = trainer.target_usage_items();
  ASSERT_FALSE(labelled.empty());
  std::vector<std::int64_t> seen_pure;
  std::set_intersection(seen.begin(), seen.end(), pure.begin(), pure.end(), std::back_inserter(seen_pure));
  EXPECT_EQ(labelled, seen_pure) << "exactly the items read from class-pure clusters count as labelled";
  EXPECT_LT(labelled.size(), seen.size());
}

TEST(AlignClassify, TrainsOneClassifierOfAllMetaTrainClassesWithFrozenEncoders) {
  auto o = testing::tiny_options();
  o.meta.method = "align-classify";
  o.meta.steps = 60;
  o.meta.inner_lr = 1e-2;
  Experiment exp(o);
  const auto& model = exp.model();
  const auto classes = static_cast<std::int64_t>(exp.sampler().split().train_classes.size());
  ASSERT_EQ(model.shape().source_classes, classes);
  const auto comm = Communicator::self();  // MetaTrainer keeps a reference
  MetaTrainer trainer(model, exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  const auto start = model.initial_parameters(o.seed);
  trainer.set_meta_parameters(start);
  const auto phases = plan_method(Method::kAlignClassify, o, exp.sampler());
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_DOUBLE_EQ(phases[1].epsilon, 1.0);
  torch::Tensor aligned;
  std::vector<double> losses;
  for (std::size_t p = 0; p < phases.size(); ++p) {
    trainer.set_tasks(phases[p].make_tasks(trainer.context()), phases[p].epsilon);
    if (p == 1) aligned = trainer.meta_parameters();
    for (std::int64_t s = 0; s < phases[p].steps; ++s) {
      const auto stats = trainer.step();
      if (p == 1) losses.push_back(stats.loss("class_all"));
    }
  }
  const auto end = trainer.meta_parameters();
  // The classifier phase leaves both encoders as aligned (e_s frozen, e_t not on its path).
  EXPECT_TRUE(slice(end, model.encoders()).equal(slice(aligned, model.encoders())));
  // phi's N-way output layer is never trained: it is the fresh head few-shot tasks start from.
  const auto phi = model.classifier();
  const auto& layout = model.layout();
  for (std::size_t i = 0; i < layout.entries().size(); ++i) {
    const auto& e = layout.entries()[i];
    if (e.name.rfind("phi/layer1", 0) == 0) {
      EXPECT_TRUE(layout.view(end, i).equal(layout.view(start, i))) << e.name;
    } else if (e.name.rfind("phi/layer0", 0) == 0 || e.name.rfind("class_head", 0) == 0) {
      EXPECT_FALSE(layout.view(end, i).equal(layout.view(aligned, i))) << e.name << " should train";
    }
  }
  EXPECT_GE(phi.begin, model.encoders().end);
  // Fixed labels: the C_train-way loss falls well below chance level log(C_train).
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    first += losses[static_cast<std::size_t>(i)] / 10;
    last += losses[losses.size() - 1 - static_cast<std::size_t>(i)] / 10;
  }
  EXPECT_LT(last, first - 0.3) << "a classifier with fixed labels learns";
}

TEST(SharedMethods, EachTaskMovesOnlyItsOwnParameters) {
  for (const auto& [method, moved_by_domain_task] :
       std::vector<std::pair<Method, std::string>>{{Method::kShared, "map_t,domain"},
                                                   {Method::kSharedConfusion, "map_t,domain,e_s"}}) {
    auto o = testing::tiny_options();
    Experiment exp(o);
    ModelShape shape = exp.model().shape();
    configure_model(method, 0, shape);
    CromaModel model(shape);
    ASSERT_TRUE(shape.domain_head);
    const auto comm = Communicator::self();  // MetaTrainer keeps a reference
    MetaTrainer trainer(model, exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    const auto start = model.initial_parameters(o.seed);
    trainer.set_meta_parameters(start);
    auto plan = plan_method(method, o, exp.sampler());
    auto tasks = plan[0].make_tasks(trainer.context());
    ASSERT_EQ(tasks.size(), 2u);
    tasks.pop_back();  // keep the domain task alone
    trainer.set_tasks(std::move(tasks), 1.0);
    for (int s = 0; s < 5; ++s) trainer.step();
    const auto end = trainer.meta_parameters();
    const auto& layout = model.layout();
    for (std::size_t i = 0; i < layout.entries().size(); ++i) {
      const auto& name = layout.entries()[i].name;
      const auto part = name.substr(0, name.find('/'));
      const bool should_move = moved_by_domain_task.find(part) != std::string::npos;
      EXPECT_EQ(!layout.view(end, i).equal(layout.view(start, i)), should_move) << to_string(method) << " " << name;
    }
  }
}

TEST(FrozenWeights, CarryNoGradientIntoTheParameters) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  const auto& model = exp.model();
  FastWeights fast(model.layout(), torch::TensorOptions().dtype(torch::kFloat32));
  {
    at::NoGradGuard no_grad;
    fast.values().copy_(model.initial_parameters(o.seed));
  }
  auto z = torch::randn({4, model.shape().embed_dim}).requires_grad_(true);
  const Weights w(fast);
  model.classify(w.frozen(), z).sum().backward();
  EXPECT_EQ(fast.grad().abs().sum().item<double>(), 0.0);
  EXPECT_GT(z.grad().abs().sum().item<double>(), 0.0);
  model.classify(w, z).sum().backward();
  EXPECT_GT(slice(fast.grad(), model.classifier()).abs().sum().item<double>(), 0.0);
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
