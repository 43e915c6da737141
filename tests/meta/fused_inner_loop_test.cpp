// The fused inner loop against the autograd loop it replaces: the same per-step losses and
// the same meta-parameters to float tolerance over several meta-steps, for one and for
// several task slots (the batched slots against the slots run one by one), both alignment
// losses and both pair kinds; and it steps aside for tasks it does not handle.
#include <gtest/gtest.h>

#include <iostream>

#include "croma/app/experiment.h"
#include "croma/eval/few_shot.h"
#include "croma/meta/meta_trainer.h"
#include "croma/meta/method.h"
#include "croma/tasks/alignment_task.h"
#include "croma/tasks/source_classification_task.h"
#include "test_support.h"

namespace croma {
namespace {

struct Run {
  std::vector<StepStats> steps;
  torch::Tensor meta;
};

Run train(const TrainOptions& o, const Experiment& exp, std::int64_t steps, bool fused) {
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_fused_inner_loop(fused);
  EXPECT_EQ(trainer.fused_inner_loop(), fused);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  Run r;
  for (std::int64_t s = 0; s < steps; ++s) r.steps.push_back(trainer.step());
  r.meta = trainer.meta_parameters();
  return r;
}

void expect_same_training(const TrainOptions& o, std::int64_t steps) {
  Experiment exp(o);
  const auto start = exp.model().initial_parameters(o.seed);
  const auto fused = train(o, exp, steps, true);
  const auto plain = train(o, exp, steps, false);
  for (std::int64_t s = 0; s < steps; ++s) {
    for (const auto& name : {"align", "class"}) {
      const double a = fused.steps[s].loss(name), b = plain.steps[s].loss(name);
      EXPECT_NEAR(a, b, 1e-4 * std::max(1.0, std::abs(b))) << name << " loss at step " << s;
    }
    EXPECT_EQ(fused.steps[s].episodes, plain.steps[s].episodes);
  }
  const double moved = (plain.meta - start).abs().max().item<double>();
  const double diff = (fused.meta - plain.meta).abs().max().item<double>();
  EXPECT_GT(moved, 1e-3);
  EXPECT_LT(diff, 1e-3 * moved) << "parameters moved " << moved << ", fused and autograd differ by " << diff;
}

TEST(FusedInnerLoop, SameLossesAndParametersAsAutogradOneSlot) {
  expect_same_training(testing::tiny_options(), 6);
}

TEST(FusedInnerLoop, BatchedSlotsEqualSlotsRunOneByOne) {
  // The autograd path runs the three slots one after the other.
  auto o = testing::tiny_options();
  o.meta.tasks_per_rank = 3;
  expect_same_training(o, 4);
}

TEST(FusedInnerLoop, WeakPairsWithInfoNceAndUnevenBatches) {
  auto o = testing::tiny_options();
  o.meta.pairs = PairKind::kWeak;
  o.meta.align_loss = AlignLossKind::kInfoNce;
  o.meta.tasks_per_rank = 2;
  o.meta.align_batch = 5;  // minibatches smaller than the episode
  o.meta.inner_batch = 7;
  expect_same_training(o, 4);
}

TEST(FusedInnerLoop, StepsAsideForTasksItDoesNotHandle) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  EXPECT_TRUE(trainer.fused_inner_loop());  // CroMA's own pair on an MLP model
  InnerTaskList tasks;
  tasks.push_back(std::make_unique<AlignmentTask>(trainer.context()));
  tasks.push_back(std::make_unique<SourceClassificationTask>(trainer.context(), true));  // adapts e_s too
  trainer.set_tasks(std::move(tasks), 0.1);
  EXPECT_FALSE(trainer.fused_inner_loop());
  InnerTaskList alignment_only;
  alignment_only.push_back(std::make_unique<AlignmentTask>(trainer.context()));
  trainer.set_tasks(std::move(alignment_only), 0.1);
  EXPECT_TRUE(trainer.fused_inner_loop());
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  const auto before = trainer.meta_parameters();
  trainer.step();
  const auto move = (trainer.meta_parameters() - before).abs();
  // Alignment moves the encoders only.
  EXPECT_GT(slice(move, exp.model().encoders()).max().item<double>(), 0.0);
  EXPECT_EQ(slice(move, exp.model().classifier()).max().item<double>(), 0.0);
}

}  // namespace
}  // namespace croma

namespace croma {
namespace {

// --inner-loop fused against autograd over a long run (croma train --inner-loop). Both compute
// the same losses and gradients in float32 but in a different order (hand-derived kernels
// vs. autograd), so they differ by rounding, ~1e-7 relative per operation; 100 meta-steps of
// 5 inner Adam steps amplify that (Adam divides by sqrt(v), which magnifies tiny gradients'
// differences), so the bound is on what a user reads: the training losses and the few-shot
// accuracy on the same tasks, not on parameter bits.
TEST(InnerLoopChoice, FusedAndAutogradAgreeOverHundredMetaSteps) {
  auto o = testing::tiny_options();
  o.meta.tasks_per_rank = 2;
  Experiment exp(o);
  auto run = [&](const std::string& choice, std::vector<double>& align, std::vector<double>& cls) {
    const auto comm = Communicator::self();  // MetaTrainer keeps a reference
    MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    trainer.set_inner_loop(choice);
    EXPECT_EQ(trainer.fused_inner_loop(), choice == "fused");
    trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
    for (int s = 0; s < 100; ++s) {
      const auto st = trainer.step();
      align.push_back(st.loss("align"));
      cls.push_back(st.loss("class"));
    }
    return trainer.meta_parameters();
  };
  std::vector<double> fa, fc, aa, ac;
  const auto fused = run("fused", fa, fc);
  const auto autograd = run("autograd", aa, ac);
  const auto start = exp.model().initial_parameters(o.seed);
  const double moved = (autograd - start).abs().max().item<double>();
  const double diff = (fused - autograd).abs().max().item<double>();
  double mean_fa = 0, mean_aa = 0, mean_fc = 0, mean_ac = 0;
  for (std::size_t s = 80; s < 100; ++s) {
    mean_fa += fa[s] / 20; mean_aa += aa[s] / 20; mean_fc += fc[s] / 20; mean_ac += ac[s] / 20;
  }
  std::cout << "[ measured ] 100 meta-steps: parameters moved " << moved << ", fused - autograd max "
            << diff << "; last-20 losses align " << mean_fa << " / " << mean_aa << ", class " << mean_fc
            << " / " << mean_ac << "\n";
  EXPECT_LT(diff, 0.05 * moved);
  EXPECT_NEAR(mean_fa, mean_aa, 0.02 * mean_aa);
  EXPECT_NEAR(mean_fc, mean_ac, 0.02 * mean_ac);
  FewShotEvaluator evaluator(exp.model(), exp.sampler(), torch::kCPU);
  const double acc_f = evaluator.evaluate_shots(fused, Split::kTest, o.eval, 3, 1).mean;
  const double acc_a = evaluator.evaluate_shots(autograd, Split::kTest, o.eval, 3, 1).mean;
  EXPECT_NEAR(acc_f, acc_a, 0.05);
}

TEST(InnerLoopChoice, FusedIsRefusedWhereTheKernelsDoNotApply) {
  auto o = testing::tiny_options();
  o.meta.method = "oracle";
  Experiment exp(o);
  const auto comm = Communicator::self();  // MetaTrainer keeps a reference
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_inner_loop("fused");  // CroMA's own tasks: fine
  EXPECT_TRUE(trainer.fused_inner_loop());
  auto plan = plan_method(Method::kOracle, o, exp.sampler());
  try {
    trainer.set_tasks(plan[0].make_tasks(trainer.context()), plan[0].epsilon);
    FAIL() << "the oracle's target tasks have no fused kernels";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("--inner-loop fused"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("target_class"), std::string::npos) << e.what();
  }
  EXPECT_THROW(trainer.set_inner_loop("fast"), OptionError);
}

}  // namespace
}  // namespace croma
