// Meta-training on one rank: fast weights are true copies, runs are reproducible, and the
// Reptile update is exactly epsilon times the episode deltas.
#include <gtest/gtest.h>

#include "croma/meta/experiment.h"
#include "croma/meta/meta_trainer.h"
#include "pull_phi_task.h"
#include "test_support.h"

namespace croma {
namespace {

torch::Tensor train(const TrainOptions& o, const Experiment& exp, std::int64_t steps) {
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  for (std::int64_t s = 0; s < steps; ++s) trainer.step();
  return trainer.meta_parameters();
}

TEST(MetaTrainer, FastWeightsNeverAliasTheMetaWeights) {
  // If an inner loop wrote into the meta-parameters (the authors' shallow clone), the
  // meta-update would carry the whole inner-loop displacement whatever epsilon is. With true
  // copies it is exactly epsilon * delta: doubling epsilon doubles the move.
  auto o = testing::tiny_options();
  Experiment exp(o);
  const auto start = exp.model().initial_parameters(o.seed);
  o.meta.meta_lr = 0.01;
  const auto small = train(o, exp, 1) - start;
  o.meta.meta_lr = 0.02;
  const auto large = train(o, exp, 1) - start;
  const double move = small.abs().max().item<double>();
  EXPECT_GT(move, 1e-4);
  // Float rounding of theta + epsilon * delta leaves ~1e-8 absolute error; aliasing would
  // leave an error of the size of the inner-loop displacement itself (move / epsilon).
  const double error = (large - 2 * small).abs().max().item<double>();
  EXPECT_LT(error, 1e-3 * move) << "move " << move << ", error " << error;
  // Both encoders moved (alignment) and the classifier moved (classification).
  for (auto range : {exp.model().source_encoder(), exp.model().target_encoder(), exp.model().classifier()}) {
    EXPECT_GT(slice(small, range).abs().max().item<double>(), 0.0);
  }
}

TEST(MetaTrainer, SameSeedSameMetaParameters) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  const auto a = train(o, exp, 5);
  const auto b = train(o, exp, 5);
  EXPECT_TRUE(a.equal(b));
  o.seed += 1;  // other episodes (the world is built once above, so only sampling changes)
  const auto c = train(o, exp, 5);
  EXPECT_FALSE(a.equal(c));
}

TEST(MetaTrainer, ADeltaBeyondTheExactSumsRangeStopsTheStepInsteadOfOverflowing) {
  // One inner Adam step of 1e8 moves every parameter with a gradient by ~1e8: beyond the
  // 2048 a delta may have in the fixed-point sum (meta/exact_sum.h). The step must
  // refuse, name the range, and leave the meta-parameters untouched; with both fused and
  // autograd inner loops.
  for (bool fused : {true, false}) {
    auto o = testing::tiny_options();
    o.meta.inner_steps = 1;  // the step's losses are taken before the update: still finite
    o.meta.inner_lr = 1e8;
    Experiment exp(o);
    const auto comm = Communicator::self();
    MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    trainer.set_fused_inner_loop(fused);
    const auto start = exp.model().initial_parameters(o.seed);
    trainer.set_meta_parameters(start);
    try {
      trainer.step();
      ADD_FAILURE() << "no error for a delta of 1e8";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("non-finite meta-update at meta-step 1 ("), std::string::npos) << what;
      EXPECT_NE(what.find("of magnitude >= 2048,"), std::string::npos) << what;
    }
    EXPECT_TRUE(trainer.meta_parameters().equal(start));
  }
}

TEST(MetaTrainer, WeakPairsAndInfoNceTrainToFiniteParameters) {
  auto o = testing::tiny_options();
  o.meta.pairs = PairKind::kWeak;
  o.meta.align_loss = AlignLossKind::kInfoNce;
  Experiment exp(o);
  const auto start = exp.model().initial_parameters(o.seed);
  const auto after = train(o, exp, 5);
  EXPECT_TRUE(torch::isfinite(after).all().item<bool>());
  EXPECT_GT(slice(after - start, exp.model().encoders()).abs().max().item<double>(), 0.0);
}

TEST(MetaTrainer, MetaParametersAreACopyNotAView) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  auto init = exp.model().initial_parameters(o.seed);
  trainer.set_meta_parameters(init);
  const auto snapshot = init.clone();
  trainer.step();
  EXPECT_TRUE(init.equal(snapshot)) << "training wrote into the caller's tensor";
  auto copy = trainer.meta_parameters();
  copy.zero_();
  EXPECT_GT(trainer.meta_parameters().abs().sum().item<double>(), 0.0);
}

TEST(MetaTrainer, RestoredParametersStreamsAndStepContinueBitForBit) {
  // An uninterrupted run of 9 steps against one stopped after 4, whose state goes into a
  // fresh trainer (as after a restart) that does the other 5. Two task slots per rank, so
  // per-slot streams are exercised.
  auto o = testing::tiny_options();
  o.meta.tasks_per_rank = 2;
  Experiment exp(o);
  const auto comm = Communicator::self();
  const auto init = exp.model().initial_parameters(o.seed);
  MetaTrainer whole(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  whole.set_meta_parameters(init);
  for (int s = 0; s < 9; ++s) whole.step();

  torch::Tensor params;
  std::vector<std::string> streams;
  {
    MetaTrainer first(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    first.set_meta_parameters(init);
    for (int s = 0; s < 4; ++s) first.step();
    params = first.meta_parameters();
    streams = first.rng_states();
    // The streams have advanced, and each slot is its own stream.
    MetaTrainer fresh(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    EXPECT_NE(streams, fresh.rng_states());
    ASSERT_EQ(streams.size(), 2u);
    EXPECT_NE(streams[0], streams[1]);
  }
  MetaTrainer second(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  second.set_meta_parameters(params);
  second.set_rng_states(streams);
  second.set_steps_done(4);
  for (int s = 0; s < 5; ++s) second.step();
  EXPECT_EQ(second.steps_done(), 9);
  EXPECT_TRUE(second.meta_parameters().equal(whole.meta_parameters()));

  // Without the streams (a restart that kept only the parameters) the run diverges: the
  // test above could not pass by accident.
  MetaTrainer forgetful(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  forgetful.set_meta_parameters(params);
  for (int s = 0; s < 5; ++s) forgetful.step();
  EXPECT_FALSE(forgetful.meta_parameters().equal(whole.meta_parameters()));
  EXPECT_THROW(second.set_rng_states({"x"}), std::invalid_argument);
}

TEST(MetaTrainer, AStopRequestComesBackFromTheStep) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  const auto comm = Communicator::self();
  MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
  trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
  EXPECT_FALSE(trainer.step().stop_requested);
  EXPECT_TRUE(trainer.step(true).stop_requested);
  EXPECT_FALSE(trainer.step(false).stop_requested);
}

}  // namespace
}  // namespace croma

namespace croma {
namespace {

using testing::PullPhiTask;

TEST(MetaTrainer, TwoTasksOnTheSameParametersAverageTheirDeltas) {
  auto o = testing::tiny_options();
  Experiment exp(o);
  auto run = [&](int copies) {
    const auto comm = Communicator::self();  // MetaTrainer keeps a reference
    MetaTrainer trainer(exp.model(), exp.sampler(), o.meta, o.seed, comm, torch::kCPU);
    trainer.set_meta_parameters(exp.model().initial_parameters(o.seed));
    InnerTaskList tasks;
    for (int c = 0; c < copies; ++c) tasks.push_back(std::make_unique<PullPhiTask>(trainer.context()));
    trainer.set_tasks(std::move(tasks), 0.5);
    trainer.step();
    return trainer.meta_parameters();
  };
  const auto start = exp.model().initial_parameters(o.seed);
  const auto one = run(1), two = run(2);
  EXPECT_GT((one - start).abs().max().item<double>(), 0.0);
  // Each parameter moves by epsilon times the mean of its tasks' deltas, not their sum (which
  // would move twice as far). Equal up to the rounding of accumulating fast - meta twice.
  const double moved = (one - start).abs().max().item<double>();
  EXPECT_LT((two - one).abs().max().item<double>(), 1e-6 * std::max(1.0, moved) + 1e-7);
  EXPECT_LT((two - start).abs().max().item<double>(), 1.01 * moved);
}

}  // namespace
}  // namespace croma
