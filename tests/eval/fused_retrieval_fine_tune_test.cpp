// Retrieval's fine-tuning on the fused kernels against the autograd path it replaces.
#include <gtest/gtest.h>

#include "croma/meta/experiment.h"
#include "croma/eval/fused_retrieval_fine_tune.h"
#include "croma/eval/retrieval.h"
#include "croma/meta/fine_tune.h"
#include "croma/model/losses.h"
#include "test_support.h"

namespace croma {
namespace {

// The autograd fine-tuning of one retrieval task, as RetrievalEvaluator runs it: the fast
// weights after `eval.steps` Adam steps on the alignment loss of the support pairs.
torch::Tensor autograd_fine_tuned(const CromaModel& model, const MetaOptions& alignment, const FeatureBatch& source,
                                  const FeatureBatch& target, const torch::Tensor& start, const EvalOptions& eval,
                                  const RetrievalTask& task) {
  FastWeights fast(model.layout(), start.options());
  FlatAdam adam;
  const auto xs = gather_rows(source, task.support_source);
  const auto xt = gather_rows(target, task.support_target);
  const auto groups = to_index_tensor(task.support_groups, torch::kCPU);
  fine_tune(fast, start, model.encoders(), eval.steps, adam, {eval.lr, 0.9, 0.999, 1e-8}, [&](const FastWeights& w) {
    return alignment_loss(alignment, model.embed_source(w, xs), model.embed_target(w, xt), groups, groups);
  });
  return fast.values().detach().clone();
}

TEST(FusedRetrievalFineTune, EqualsAutogradFineTuningOnEveryPath) {
  // Separate encoders (CroMA) and a shared encoder behind the target's input map; the margin
  // and InfoNCE losses; 1 and 3 support pairs per class. After 30 steps at a learning rate
  // that moves the weights well away from the start, the fused weights equal autograd's to
  // float rounding (within 1e-4 of the largest move), nothing outside the encoders moves, and
  // the query similarities are the autograd path's.
  for (const std::string method : {"croma", "shared"}) {
    for (const auto loss : {AlignLossKind::kMargin, AlignLossKind::kInfoNce}) {
      for (std::int64_t shots : {1, 3}) {
        auto o = testing::tiny_options();
        o.meta.method = method;
        o.meta.align_loss = loss;
        o.eval.steps = 30;
        o.eval.lr = 1e-2;
        Experiment exp(o);
        const auto& model = exp.model();
        const auto source = exp.sampler().data().source.batch();
        const auto target = exp.sampler().data().target.batch();
        auto fused = FusedRetrievalFineTune::create(model, o.meta, source.values(), target.values());
        ASSERT_NE(fused, nullptr) << method;
        const auto start = model.initial_parameters(o.seed);
        fused->set_start(start);
        Rng rng(5, 0);
        for (int t = 0; t < 2; ++t) {
          const auto task = exp.sampler().sample_retrieval_task(rng, Split::kTest, 4, shots, 5);
          const auto similarity = fused->run(o.eval, task);
          const auto expected = autograd_fine_tuned(model, o.meta, source, target, start, o.eval, task);
          const auto what = method + (loss == AlignLossKind::kMargin ? " margin" : " infonce") + " k " +
                            std::to_string(shots) + " task " + std::to_string(t);
          const auto move = (expected - start).abs().max().item<double>();
          const auto diff = (fused->weights() - expected).abs().max().item<double>();
          EXPECT_GT(move, 1e-2) << what;  // fine-tuning moved the weights
          EXPECT_LE(diff, 1e-4 * move) << what;
          auto outside = (fused->weights() - start).abs();
          slice(outside, model.encoders()).zero_();
          EXPECT_EQ(outside.max().item<double>(), 0.0) << what;
          // The query pairs' similarities from autograd's weights.
          FastWeights w(model.layout(), start.options());
          {
            at::NoGradGuard no_grad;
            w.values().copy_(expected);
          }
          at::NoGradGuard no_grad;
          const auto qs = model.embed_source(w, gather_rows(source, task.query_source));
          const auto qt = model.embed_target(w, gather_rows(target, task.query_target));
          const auto reference = qs.matmul(qt.t());
          ASSERT_EQ(similarity.sizes(), reference.sizes()) << what;
          EXPECT_LE((similarity - reference).abs().max().item<double>(), 1e-4) << what;
        }
      }
    }
  }
}

TEST(FusedRetrievalFineTune, EvaluatorGivesTheAutogradRecalls) {
  // The evaluator's default (auto: fused on the CPU) against --eval-fine-tune autograd: the
  // same metrics on 8 tasks x 2 repeats (each a mean over tasks of ranks among 20
  // candidates, so one rank that moved would show), and not the untuned start's.
  for (const std::string method : {"croma", "shared"}) {
    auto o = testing::tiny_options();
    o.meta.method = method;
    o.eval.tasks = 8;
    o.eval.repeats = 2;
    o.eval.steps = 20;
    o.eval.lr = 1e-2;
    Experiment exp(o);
    RetrievalEvaluator evaluator(exp.model(), exp.sampler(), o.meta, torch::kCPU);
    const auto params = exp.model().initial_parameters(o.seed);
    const auto fused = evaluator.evaluate(params, Split::kTest, o.eval, 3, 11);
    o.eval.fine_tune = "autograd";
    const auto autograd = evaluator.evaluate(params, Split::kTest, o.eval, 3, 11);
    ASSERT_EQ(fused.per_seed_source_to_target.size(), 2u);
    for (std::size_t r = 0; r < 2; ++r) {
      for (const auto& [a, b] : {std::make_pair(fused.per_seed_source_to_target[r], autograd.per_seed_source_to_target[r]),
                                 std::make_pair(fused.per_seed_target_to_source[r], autograd.per_seed_target_to_source[r])}) {
        EXPECT_DOUBLE_EQ(a.recall_at_1, b.recall_at_1) << method;
        EXPECT_DOUBLE_EQ(a.recall_at_5, b.recall_at_5) << method;
        EXPECT_DOUBLE_EQ(a.median_rank, b.median_rank) << method;
        EXPECT_NEAR(a.mean_cosine_loss, b.mean_cosine_loss, 1e-5) << method;
      }
    }
    o.eval.fine_tune = "auto";
    o.eval.steps = 0;
    const auto untuned = evaluator.evaluate(params, Split::kTest, o.eval, 3, 11);
    EXPECT_GT(std::abs(untuned.source_to_target.mean_cosine_loss - fused.source_to_target.mean_cosine_loss), 1e-3)
        << method;
  }
}

TEST(FusedRetrievalFineTune, DeclinesWhatItDoesNotRun) {
  // A target encoder that is not an MLP (an LSTM over frames): no fused path, asking for it
  // by name is an option error naming it, and auto falls back to autograd.
  auto o = testing::tiny_options();
  o.world.target_form = "frames";
  o.model.target_encoder.kind = EncoderKind::kLstm;
  o.model.target_encoder.lstm_hidden = 8;
  o.eval.steps = 2;
  o.eval.tasks = 2;
  Experiment exp(o);
  EXPECT_EQ(FusedRetrievalFineTune::create(exp.model(), o.meta, torch::zeros({4, 24}), torch::zeros({4, 8})),
            nullptr);
  RetrievalEvaluator evaluator(exp.model(), exp.sampler(), o.meta, torch::kCPU);
  const auto params = exp.model().initial_parameters(o.seed);
  o.eval.fine_tune = "fused";
  try {
    evaluator.evaluate(params, Split::kTest, o.eval, 3, 4);
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("--eval-fine-tune fused"), std::string::npos) << e.what();
  }
  o.eval.fine_tune = "auto";
  EXPECT_GT(evaluator.evaluate(params, Split::kTest, o.eval, 3, 4).source_to_target.recall_at_10, 0.0);
  // Features that are not [items, dim] CPU floats are declined on an MLP model too.
  auto m = testing::tiny_options();
  Experiment mlp(m);
  EXPECT_EQ(FusedRetrievalFineTune::create(mlp.model(), m.meta, torch::zeros({4, 24}, torch::kFloat64),
                                           torch::zeros({4, 16})),
            nullptr);
  EXPECT_NE(FusedRetrievalFineTune::create(mlp.model(), m.meta, torch::zeros({4, 24}), torch::zeros({4, 16})),
            nullptr);
}

}  // namespace
}  // namespace croma
