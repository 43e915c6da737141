#include "croma/eval/fine_tuned_weights.h"

#include <gtest/gtest.h>

namespace croma {
namespace {

TEST(FineTunedWeights, AdaptsWhereTheKernelsWriteInsideTheRange) {
  // Written stretches overlapping and out of order, one reaching outside the range: Adam runs
  // on their merged parts inside [2, 9) only.
  FineTunedWeights w(12, {{6, 11}, {1, 4}, {3, 5}}, {2, 9});
  const std::vector<ParamRange> expected{{2, 5}, {6, 9}};
  ASSERT_EQ(w.adapted().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(w.adapted()[i].begin, expected[i].begin);
    EXPECT_EQ(w.adapted()[i].end, expected[i].end);
  }
}

TEST(FineTunedWeights, EachTaskStartsAfreshFromTheStart) {
  FineTunedWeights w(8, {{0, 3}, {5, 8}}, {0, 8});
  const auto start = torch::arange(8, torch::kFloat32);
  w.set_start(start);
  EXPECT_TRUE(torch::equal(w.fast(), start));
  const AdamSettings adam{0.1, 0.9, 0.999, 1e-8};
  auto first_task = [&] {
    w.restart();
    w.grad().fill_(1.0f);
    w.adam_step(adam);
    w.adam_step(adam);
    return w.fast().clone();
  };
  const auto once = first_task();
  // Adam's first steps move every adapted entry by about lr against the gradient's sign, and
  // nothing else (entries 3 and 4 are written by no kernel).
  EXPECT_NEAR(once[0].item<float>(), 0.0f - 0.2f, 1e-4);
  EXPECT_EQ(once[3].item<float>(), 3.0f);
  EXPECT_EQ(once[4].item<float>(), 4.0f);
  // A second task from the same start, with moments cleared, computes the same bits.
  EXPECT_TRUE(torch::equal(first_task(), once));
  EXPECT_THROW(w.set_start(torch::zeros({7})), std::invalid_argument);
}

}  // namespace
}  // namespace croma
