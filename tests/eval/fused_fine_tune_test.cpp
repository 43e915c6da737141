// Few-shot fine-tuning on the fused kernels against the autograd path it replaces.
#include <gtest/gtest.h>

#include "croma/meta/experiment.h"
#include "croma/eval/few_shot.h"
#include "croma/eval/fused_fine_tune.h"
#include "croma/meta/fine_tune.h"
#include "croma/model/losses.h"
#include "test_support.h"

namespace croma {
namespace {

// The autograd fine-tuning of one task, as FewShotEvaluator ran it before the fused path:
// the fast weights after `eval.steps` Adam steps.
torch::Tensor autograd_fine_tuned(const CromaModel& model, const FeatureBatch& features, const torch::Tensor& start,
                                  const EvalOptions& eval, const FewShotTask& task) {
  FastWeights fast(model.layout(), start.options());
  FlatAdam adam;
  const auto range = eval.head_only ? model.classifier() : model.target_and_classifier();
  const auto xs = gather_rows(features, task.support_items);
  const auto ys = to_index_tensor(task.support_labels, torch::kCPU);
  fine_tune(fast, start, range, eval.steps, adam, {eval.lr, 0.9, 0.999, 1e-8}, [&](const FastWeights& w) {
    return cross_entropy(model.classify(w, model.embed_target(w, xs)).narrow(1, 0, eval.ways), ys);
  });
  return fast.values().detach().clone();
}

TEST(FusedFineTune, EqualsAutogradFineTuningOnEveryPath) {
  // Separate encoders (CroMA) and a shared encoder with its input map; full and head-only;
  // the loss over all of phi's outputs and over fewer ways than it has. After 30 steps at a
  // learning rate that moves the weights well away from the start, the fused weights equal
  // autograd's to float rounding: within 1e-4 of the largest move, and nothing outside the
  // fine-tuned range moves.
  for (const std::string method : {"croma", "shared"}) {
    for (bool head_only : {false, true}) {
      for (std::int64_t ways : {4, 3}) {
        auto o = testing::tiny_options();
        o.meta.method = method;
        o.eval.steps = 30;
        o.eval.lr = 1e-2;
        o.eval.head_only = head_only;
        o.eval.ways = ways;
        Experiment exp(o);
        const auto& model = exp.model();
        const auto features = exp.sampler().data().target.batch();
        auto fused = FusedFineTune::create(model, features.values(), head_only);
        ASSERT_NE(fused, nullptr) << method;
        const auto start = model.initial_parameters(o.seed);
        fused->set_start(start);
        Rng rng(3, 0);
        for (int t = 0; t < 3; ++t) {
          const auto task = exp.sampler().sample_target_task(rng, Split::kTest, ways, 3, 5);
          fused->run(o.eval, task);
          const auto expected = autograd_fine_tuned(model, features, start, o.eval, task);
          const auto move = (expected - start).abs().max().item<double>();
          const auto diff = (fused->weights() - expected).abs().max().item<double>();
          const auto what = method + (head_only ? " head-only" : " full") + " ways " + std::to_string(ways);
          EXPECT_GT(move, 1e-2) << what;  // fine-tuning moved the weights
          EXPECT_LE(diff, 1e-4 * move) << what << " task " << t;
          const auto range = head_only ? model.classifier() : model.target_and_classifier();
          auto outside = (fused->weights() - start).abs();
          slice(outside, range).zero_();
          EXPECT_EQ(outside.max().item<double>(), 0.0) << what;
        }
      }
    }
  }
}

TEST(FusedFineTune, EvaluatorGivesTheAutogradAccuracies) {
  // The evaluator's default (auto: fused on the CPU) against --eval-fine-tune autograd, one
  // task at a time: the same accuracy task by task on 12 tasks, and not the start's.
  for (const std::string method : {"croma", "shared"}) {
    auto o = testing::tiny_options();
    o.meta.method = method;
    o.eval.tasks = 12;
    o.eval.steps = 20;
    o.eval.lr = 1e-2;
    Experiment exp(o);
    FewShotEvaluator evaluator(exp.model(), exp.sampler(), torch::kCPU);
    const auto params = exp.model().initial_parameters(o.seed);
    const auto fused = evaluator.evaluate_shots(params, Split::kTest, o.eval, 3, 4);
    o.eval.fine_tune = "autograd";
    o.eval.batch = 1;
    const auto autograd = evaluator.evaluate_shots(params, Split::kTest, o.eval, 3, 4);
    ASSERT_EQ(fused.task_accuracy.size(), 12u);
    EXPECT_EQ(fused.task_accuracy, autograd.task_accuracy) << method;
    o.eval.steps = 0;
    EXPECT_NE(evaluator.evaluate_shots(params, Split::kTest, o.eval, 3, 4).task_accuracy, fused.task_accuracy);
  }
}

TEST(FusedFineTune, DeclinesWhatItDoesNotRun) {
  // A target encoder that is not an MLP (here an LSTM over frames): no fused path, and
  // asking for it by name is an option error naming it.
  auto o = testing::tiny_options();
  o.world.target_form = "frames";
  o.model.target_encoder.kind = EncoderKind::kLstm;
  o.model.target_encoder.lstm_hidden = 8;
  o.eval.steps = 2;
  Experiment exp(o);
  EXPECT_EQ(FusedFineTune::create(exp.model(), torch::zeros({4, 8}), false), nullptr);
  FewShotEvaluator evaluator(exp.model(), exp.sampler(), torch::kCPU);
  const auto params = exp.model().initial_parameters(o.seed);
  o.eval.fine_tune = "fused";
  try {
    evaluator.evaluate_shots(params, Split::kTest, o.eval, 3, 4);
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("--eval-fine-tune fused"), std::string::npos) << e.what();
  }
  o.eval.fine_tune = "auto";  // falls back to autograd
  EXPECT_EQ(evaluator.evaluate_shots(params, Split::kTest, o.eval, 3, 4).task_accuracy.size(), 4u);
  // Features that are not [items, dim] CPU floats are declined on an MLP model too.
  Experiment mlp(testing::tiny_options());
  EXPECT_EQ(FusedFineTune::create(mlp.model(), torch::zeros({4, 16}, torch::kFloat64), false), nullptr);
  EXPECT_NE(FusedFineTune::create(mlp.model(), torch::zeros({4, 16}), false), nullptr);
  // An invalid choice is refused by the option parser.
  EXPECT_NE(testing::train_option_error({"--eval-fine-tune", "jit"}).find("--eval-fine-tune"), std::string::npos);
}

}  // namespace
}  // namespace croma
