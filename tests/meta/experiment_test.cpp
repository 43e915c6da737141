// How a run prepares its data: the built-in world stays as it was, standardisation
// uses the statistics it is given, and no meta-val, meta-test or held-out validation target
// item is ever read by meta-training, whichever method trains.
#include <gtest/gtest.h>

#include <set>

#include "croma/meta/experiment.h"
#include "croma/data/concept_world.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "test_support.h"

namespace croma {
namespace {

TEST(ExperimentPrep, TheBuiltInWorldStaysRawAndValidatesOnClasses) {
  const auto o = testing::tiny_options();
  ASSERT_EQ(o.prep.standardize, "auto");
  ASSERT_EQ(o.prep.val_split, "auto");
  Experiment exp(o);
  EXPECT_EQ(exp.prep().standardize, "off");
  EXPECT_EQ(exp.prep().val_split, "classes");
  EXPECT_FALSE(exp.standardization().has_value());
  EXPECT_FALSE(exp.sampler().split().val_items);
  // Bit for bit the generated world: its runs are unchanged.
  const auto world = generate_concept_world(o.world, o.seed);
  EXPECT_TRUE(exp.data().source.features.equal(world.source.features));
  EXPECT_TRUE(exp.data().target.features.equal(world.target.features));
}

TEST(ExperimentPrep, StandardisingUsesStoredStatisticsAsGivenAndOffGivesRawFeatures) {
  auto o = testing::tiny_options();
  o.prep.standardize = "on";
  Experiment computed(o);
  ASSERT_TRUE(computed.standardization().has_value());
  EXPECT_EQ(computed.prep().standardize, "on");
  const auto world = generate_concept_world(o.world, o.seed);
  // Statistics of the meta-train items, as computed on their own.
  const auto direct = compute_standardization(world, computed.sampler().split());
  EXPECT_EQ(computed.standardization()->source.mean, direct.source.mean);
  EXPECT_EQ(computed.standardization()->target.std, direct.target.std);

  // Given statistics (croma eval) are applied as they are, not recomputed.
  auto stored = *computed.standardization();
  for (auto& m : stored.target.mean) m += 1.0;
  for (auto& s : stored.target.std) s *= 2.0;
  Experiment given(o, "croma eval", &stored);
  const auto mean = torch::tensor(stored.target.mean, torch::kFloat64).to(torch::kFloat32);
  const auto sd = torch::tensor(stored.target.std, torch::kFloat64).to(torch::kFloat32);
  EXPECT_TRUE(given.data().target.features.equal((world.target.features - mean) / sd));
  EXPECT_EQ(given.standardization()->target.mean, stored.target.mean);

  o.prep.standardize = "off";
  Experiment raw(o, "croma eval", &stored);
  EXPECT_FALSE(raw.standardization().has_value());
  EXPECT_TRUE(raw.data().target.features.equal(world.target.features));
}

// Target items each method's meta-training reads, over all its phases.
std::set<std::int64_t> target_items_read(TrainOptions o, const std::string& method) {
  o.meta.method = method;
  Experiment exp(o);
  const auto comm = Communicator::self();  // the trainer keeps a reference
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  for (auto& phase : plan_method(parse_method(method), o, exp.sampler())) {
    trainer.set_tasks(phase.make_tasks(trainer.context()), phase.epsilon);
    for (std::int64_t s = 0; s < phase.steps; ++s) trainer.step();
  }
  const auto seen = trainer.target_usage_items().first;
  return {seen.begin(), seen.end()};
}

// Target items meta-training must never read: those of classes outside meta-train, and the
// held-out validation items.
std::set<std::int64_t> forbidden_target_items(const Experiment& exp) {
  const auto& split = exp.sampler().split();
  const std::set<std::int64_t> train(split.train_classes.begin(), split.train_classes.end());
  std::set<std::int64_t> out;
  for (std::int64_t i = 0; i < exp.data().target.size(); ++i) {
    if (!train.count(exp.data().target.labels[static_cast<std::size_t>(i)])) out.insert(i);
  }
  for (auto i : exp.held_out_val_items()) out.insert(i);
  return out;
}

class NoLeak : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(NoLeak, MetaTrainingNeverReadsAValTestOrHeldOutTargetItem) {
  const auto& [method, val_split] = GetParam();
  auto o = testing::tiny_options();
  o.meta.steps = 10;
  o.prep.val_split = val_split;
  o.prep.val_items_fraction = 0.25;
  o.world.classes_per_cluster = 2;  // unsup-meta-weak refuses clusters that are classes
  Experiment exp(o);
  const auto forbidden = forbidden_target_items(exp);
  const auto val = exp.sampler().split().val_target_items;
  const auto test = exp.sampler().split().test_target_items;
  // Both kinds of evaluation item are in the forbidden set.
  ASSERT_FALSE(val.empty());
  for (const auto& items : val) {
    for (auto i : items) ASSERT_TRUE(forbidden.count(i));
  }
  for (const auto& items : test) {
    for (auto i : items) ASSERT_TRUE(forbidden.count(i));
  }
  const auto seen = target_items_read(o, method);
  EXPECT_FALSE(seen.empty()) << method << " reads target items";  // Shared: its adversarial map
  for (auto i : seen) {
    EXPECT_FALSE(forbidden.count(i)) << method << " (" << val_split << ") read target item " << i << " of class "
                                     << exp.data().target.labels[static_cast<std::size_t>(i)];
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, NoLeak,
                         ::testing::Combine(::testing::ValuesIn(method_names()),
                                            ::testing::Values("classes", "items")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(ExperimentPrep, ValidationTasksOnHeldOutItemsDrawOnlyThoseItems) {
  auto o = testing::tiny_options();
  o.prep.val_split = "items";
  o.prep.val_items_fraction = 0.5;
  Experiment exp(o);
  EXPECT_EQ(exp.prep().val_split, "items");
  const auto held = exp.held_out_val_items();
  const std::set<std::int64_t> held_set(held.begin(), held.end());
  ASSERT_FALSE(held.empty());
  Rng rng(3, streams::kEvalTasks);
  for (int t = 0; t < 20; ++t) {
    const auto task = exp.sampler().sample_target_task(rng, Split::kVal, o.eval.ways, 3, 5);
    for (const auto* items : {&task.support_items, &task.query_items}) {
      for (auto i : *items) EXPECT_TRUE(held_set.count(i)) << "val task item " << i << " is not held out";
    }
  }
  try {
    exp.sampler().check_retrieval(Split::kVal, o.eval);
    ADD_FAILURE() << "retrieval validation on held-out items was accepted";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("--retrieval with --split val"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace croma
