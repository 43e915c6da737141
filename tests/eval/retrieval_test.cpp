#include <gtest/gtest.h>

#include "croma/meta/experiment.h"
#include "croma/eval/retrieval.h"
#include "test_support.h"

namespace croma {
namespace {

torch::Tensor matrix(std::vector<std::vector<float>> rows) {
  std::vector<torch::Tensor> r;
  for (auto& row : rows) r.push_back(torch::tensor(row));
  return torch::stack(r);
}

TEST(RetrievalMetrics, RanksMatchHandComputationWithTiesCountingAgainst) {
  // Row 0: true 0.9 is the largest -> rank 1.
  // Row 1: true 0.5; 0.7 above it and 0.5 tied -> rank 3.
  // Row 2: true 0.1; 0.3 and 0.2 above -> rank 3.
  // Row 3: every candidate equal -> rank 4 (ties count against the query).
  const auto s = matrix({{0.9f, 0.1f, 0.2f, 0.3f},
                         {0.7f, 0.5f, 0.5f, 0.0f},
                         {0.3f, 0.2f, 0.1f, 0.0f},
                         {0.4f, 0.4f, 0.4f, 0.4f}});
  EXPECT_EQ(true_pair_ranks(s), (std::vector<std::int64_t>{1, 3, 3, 4}));
  const auto m = retrieval_metrics(s);
  EXPECT_DOUBLE_EQ(m.recall_at_1, 0.25);
  EXPECT_DOUBLE_EQ(m.recall_at_5, 1.0);
  EXPECT_DOUBLE_EQ(m.recall_at_10, 1.0);
  // 0-based ranks {0, 2, 2, 3}: median 2 -> floor(2) + 1 = 3.
  EXPECT_DOUBLE_EQ(m.median_rank, 3.0);
  // 1 - mean(0.9, 0.5, 0.1, 0.4) = 0.525
  EXPECT_NEAR(m.mean_cosine_loss, 0.525, 1e-7);
}

TEST(RetrievalMetrics, MedianOfAnEvenCountFloorsTheMiddleAverage) {
  // Ranks {1, 2}: 0-based {0, 1}, median 0.5 -> floor + 1 = 1.
  EXPECT_DOUBLE_EQ(retrieval_metrics(matrix({{1, 0}, {1, 0.5f}})).median_rank, 1.0);
  EXPECT_THROW(true_pair_ranks(torch::zeros({2, 3})), std::invalid_argument);
}

TEST(RetrievalEvaluator, FineTuningOnSupportPairsBeatsChance) {
  auto o = testing::tiny_options();
  o.eval.queries = 5;
  o.eval.tasks = 3;
  o.eval.repeats = 2;
  o.eval.steps = 30;
  o.eval.lr = 1e-2;
  Experiment exp(o);
  RetrievalEvaluator evaluator(exp.model(), exp.sampler(), o.meta, torch::kCPU);
  const auto r = evaluator.evaluate(exp.model().initial_parameters(o.seed), Split::kTest, o.eval, 3, 11);
  ASSERT_EQ(r.per_seed_source_to_target.size(), 2u);
  // 20 candidates: chance R@1 is 0.05.
  EXPECT_GT(r.source_to_target.recall_at_1, 0.05);
  EXPECT_GE(r.source_to_target.recall_at_10, r.source_to_target.recall_at_5);
  EXPECT_GE(r.source_to_target.recall_at_5, r.source_to_target.recall_at_1);
  // Deterministic in the seed.
  const auto again = evaluator.evaluate(exp.model().initial_parameters(o.seed), Split::kTest, o.eval, 3, 11);
  EXPECT_EQ(again.target_to_source.recall_at_1, r.target_to_source.recall_at_1);
}

}  // namespace
}  // namespace croma
