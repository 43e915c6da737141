// The inner problems the built-in tasks state (tasks/inner_problem.h): how a minibatch is
// drawn (the one rule both engines use), what each method's tasks declare, and the autograd
// definition of a step's loss.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "croma/meta/experiment.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "croma/model/losses.h"
#include "croma/tasks/inner_problem.h"
#include "croma/tasks/inner_task.h"
#include "test_support.h"

namespace croma {
namespace {

InnerEpisode episode_of_rows(std::int64_t first, std::int64_t second) {
  InnerEpisode ep;
  ep.first = torch::zeros({first, 3});
  if (second > 0) ep.second = torch::zeros({second, 3});
  return ep;
}

TEST(DrawMinibatch, DrawsDistinctRowsOfEachSetInOrderFromTheStream) {
  const InnerProblem unpaired{InnerLoss::kDomainConfusion, RowPath::kSource, RowPath::kTarget, 4, false};
  Rng a(3, 1), b(3, 1);
  const auto rows = draw_minibatch(unpaired, episode_of_rows(10, 6), a);
  // First the first set's rows, then the second's, as the stream gives them.
  EXPECT_EQ(rows.first, b.sample_without_replacement(10, 4));
  EXPECT_EQ(rows.second, b.sample_without_replacement(6, 4));
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(std::set<std::int64_t>(rows.first.begin(), rows.first.end()).size(), 4u);
}

TEST(DrawMinibatch, PairedRowsAreTheFirstSetsAndABatchLargerThanTheEpisodeTakesEveryRow) {
  const InnerProblem paired{InnerLoss::kAlignment, RowPath::kSource, RowPath::kTarget, 16, true};
  Rng rng(5, 2);
  const auto rows = draw_minibatch(paired, episode_of_rows(6, 6), rng);
  EXPECT_EQ(rows.second, rows.first);
  ASSERT_EQ(rows.first.size(), 6u);
  EXPECT_EQ(std::set<std::int64_t>(rows.first.begin(), rows.first.end()), (std::set<std::int64_t>{0, 1, 2, 3, 4, 5}));
  const InnerProblem single{InnerLoss::kClassification, RowPath::kTarget, RowPath::kNone, 2};
  EXPECT_TRUE(draw_minibatch(single, episode_of_rows(5, 0), rng).second.empty());
}

TEST(DrawMinibatch, AllStepsAtOnceAreTheStepByStepDrawsInOneTensor) {
  const auto ep = episode_of_rows(10, 6);
  for (const bool paired : {false, true}) {
    const InnerProblem problem{InnerLoss::kAlignment, RowPath::kSource, RowPath::kTarget, 4, paired};
    Rng a(8, 3), b(8, 3);
    const auto all = draw_minibatches(problem, ep, 5, a, torch::kCPU);
    ASSERT_EQ(all.size(), 5u);
    for (const auto& step : all) {
      const auto want = draw_minibatch(problem, ep, b);
      EXPECT_TRUE(step.first.equal(torch::tensor(want.first, torch::kInt64)));
      EXPECT_TRUE(step.second.equal(torch::tensor(want.second, torch::kInt64)));
    }
    EXPECT_EQ(a.state(), b.state());  // the stream is left where step-by-step draws leave it
  }
  const InnerProblem single{InnerLoss::kClassification, RowPath::kTarget, RowPath::kNone, 3};
  Rng rng(1, 1);
  const auto one = draw_minibatches(single, ep, 2, rng, torch::kCPU);
  ASSERT_EQ(one.size(), 2u);
  EXPECT_EQ(one[0].first.numel(), 3);
  EXPECT_FALSE(one[0].second.defined());
}

// Calls visit(method name, its experiment, one of its tasks) for every task of every phase of
// every method, on the tiny options (with clusters that are not classes, for unsup-meta-weak).
template <class Visit>
void for_each_task_of_every_method(const TrainOptions& base, Visit visit) {
  auto o = base;
  for (const auto& name : method_names()) {
    o.meta.method = name;
    Experiment exp(o);
    const auto comm = Communicator::self();
    MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    for (const auto& phase : plan_method(parse_method(name), o, exp.sampler())) {
      for (const auto& task : phase.make_tasks(trainer.context())) visit(name, exp, *task);
    }
  }
}

TrainOptions options_for_every_method() {
  auto o = testing::tiny_options();
  o.world.classes_per_cluster = 2;
  return o;
}

std::string code(InnerLoss loss, RowPath a, RowPath b = RowPath::kNone) {
  return to_string(loss) + ":" + std::to_string(static_cast<int>(a)) + ":" + std::to_string(static_cast<int>(b));
}

// What each method's tasks declare: the problem is the paper's definition of that method.
TEST(InnerProblems, EveryMethodsTasksStateTheirRowsHeadsAndLosses) {
  const auto o = options_for_every_method();
  std::map<std::string, std::vector<std::string>> seen;
  for_each_task_of_every_method(o, [&](const std::string& name, const Experiment&, const InnerTask& task) {
    const auto p = task.problem();
    seen[name].push_back(code(p.loss, p.first, p.second));
    EXPECT_NE(p.loss, InnerLoss::kCustom) << name << " / " << task.name();
    EXPECT_GT(p.batch, 0) << name << " / " << task.name();
    if (p.loss == InnerLoss::kAlignment) {
      EXPECT_EQ(p.batch, o.meta.align_batch);
      EXPECT_EQ(p.paired, o.meta.pairs == PairKind::kStrong);
    } else {
      EXPECT_EQ(p.batch, o.meta.inner_batch) << name;
      EXPECT_FALSE(p.paired) << name;
    }
  });
  const auto align = code(InnerLoss::kAlignment, RowPath::kSource, RowPath::kTarget);
  // CroMA adapts phi over the frozen e_s (Algorithm 1); the shared methods adapt the encoder.
  EXPECT_EQ(seen["croma"], (std::vector<std::string>{align, code(InnerLoss::kClassification, RowPath::kFrozenSource)}));
  EXPECT_EQ(seen["shared-align"], (std::vector<std::string>{align, code(InnerLoss::kClassification, RowPath::kSource)}));
  EXPECT_EQ(seen["oracle"], (std::vector<std::string>{code(InnerLoss::kClassification, RowPath::kTarget)}));
  EXPECT_EQ(seen["align-classify"],
            (std::vector<std::string>{align, code(InnerLoss::kSourceClasses, RowPath::kFrozenSource)}));
  EXPECT_EQ(seen["target-autoencoder"], (std::vector<std::string>{code(InnerLoss::kReconstruction, RowPath::kTarget)}));
  EXPECT_EQ(seen["shared-confusion"][0], code(InnerLoss::kDomainConfusion, RowPath::kSource, RowPath::kTarget));
  EXPECT_EQ(seen["shared"][0], code(InnerLoss::kDomainAdversarial, RowPath::kSource, RowPath::kTarget));
}

// Which MLP parts a problem runs: every method's problems have them on the method's own
// model, and a problem no built-in task poses has none.
TEST(InnerParts, EveryMethodsProblemsNameTheirPartsAndOtherProblemsNone) {
  for_each_task_of_every_method(options_for_every_method(),
                                [](const std::string& name, const Experiment& exp, const InnerTask& task) {
    const auto parts = inner_parts(task.problem(), exp.model().shape().shared_encoder);
    ASSERT_TRUE(parts) << name << " / " << task.name();
    EXPECT_EQ(parts->first, task.problem().first) << name;
    EXPECT_EQ(parts->second, task.problem().second) << name;
  });
  EXPECT_FALSE(inner_parts(InnerProblem{}, false));  // a custom loss
  const InnerProblem source_under_phi{InnerLoss::kClassification, RowPath::kSource, RowPath::kNone, 8, false};
  EXPECT_FALSE(inner_parts(source_under_phi, false));  // posed only with a shared encoder
  const auto shared = inner_parts(source_under_phi, true);
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared->head, InnerHead::kClassifier);
  const InnerProblem align{InnerLoss::kAlignment, RowPath::kSource, RowPath::kTarget, 8, true};
  EXPECT_EQ(inner_parts(align, false)->head, InnerHead::kNone);
  const InnerProblem reversed{InnerLoss::kAlignment, RowPath::kTarget, RowPath::kSource, 8, true};
  EXPECT_FALSE(inner_parts(reversed, false));
}

// The definition reads the minibatch's rows and their own labels.
TEST(InnerStepLoss, ClassificationOfTargetRowsIsPhiOverTheirEmbeddingsAgainstTheirLabels) {
  auto o = testing::tiny_options();
  o.meta.method = "oracle";
  Experiment exp(o);
  const auto& model = exp.model();
  torch::manual_seed(2);
  InnerEpisode ep;
  ep.first = torch::randn({6, exp.sampler().data().target.batch().size(1)});
  ep.first_labels = torch::tensor(std::vector<std::int64_t>{0, 1, 2, 3, 2, 1}, torch::kInt64);
  const InnerProblem problem{InnerLoss::kClassification, RowPath::kTarget, RowPath::kNone, 3};
  Minibatch rows;
  rows.first = {4, 0, 3};
  FastWeights fast(model.layout(), torch::TensorOptions());
  fast.values().copy_(model.initial_parameters(1));
  const auto got = inner_step_loss(model, o.meta, problem, ep, {}, rows, fast).item<double>();
  const auto idx = torch::tensor(rows.first, torch::kInt64);
  const auto want = cross_entropy(model.classify(fast, model.embed_target(fast, ep.first.values().index_select(0, idx))),
                                  torch::tensor(std::vector<std::int64_t>{2, 0, 3}, torch::kInt64))
                        .item<double>();
  EXPECT_DOUBLE_EQ(got, want);
  // A different choice of rows is a different loss: the rows are read.
  rows.first = {1, 2, 5};
  EXPECT_NE(inner_step_loss(model, o.meta, problem, ep, {}, rows, fast).item<double>(), want);
}

TEST(InnerStepLoss, AnUndescribedProblemIsRefused) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  FastWeights fast(exp.model().layout(), torch::TensorOptions());
  InnerEpisode ep;
  ep.first = torch::zeros({2, 3});
  EXPECT_THROW(inner_step_loss(exp.model(), o.meta, InnerProblem{}, ep, {}, Minibatch{{0}, {}}, fast),
               std::logic_error);
}

}  // namespace
}  // namespace croma
