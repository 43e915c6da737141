#include <gtest/gtest.h>

#include <algorithm>

#include <torch/torch.h>

#include "croma/config/options.h"
#include "croma/eval/frozen_heads.h"

namespace croma {
namespace {

torch::Tensor rows(std::vector<std::vector<double>> r) {
  auto t = torch::zeros({static_cast<std::int64_t>(r.size()), static_cast<std::int64_t>(r[0].size())},
                        torch::kFloat64);
  for (std::size_t i = 0; i < r.size(); ++i) {
    for (std::size_t j = 0; j < r[i].size(); ++j) t[i][j] = r[i][j];
  }
  return t;
}

TEST(FrozenHeads, PrototypeGoesToTheNearestClassMean) {
  // Class 0's mean is (0, 0), class 1's (4, 0): x = 1.9 is nearer 0, x = 2.1 nearer 1.
  const auto support = rows({{-1, 0}, {1, 0}, {3, 0}, {5, 0}});
  const auto query = rows({{1.9, 0}, {2.1, 0}, {4, 9}, {-3, -9}});
  EXPECT_EQ(prototype_predictions(support, {0, 0, 1, 1}, query, 2), (std::vector<std::int64_t>{0, 1, 1, 0}));
  EXPECT_DOUBLE_EQ(frozen_head_accuracy(FrozenHead::kPrototype, support, {0, 0, 1, 1}, query, {0, 1, 0, 0}, 2), 0.75);
}

TEST(FrozenHeads, AClassWithoutSupportItemsIsNobodysNearest) {
  // Noisy support labels can leave a class empty: its mean would be 0, nearest to everything.
  const auto support = rows({{5, 5}, {6, 5}});
  const auto query = rows({{0, 0}, {0.1, 0}});
  EXPECT_EQ(prototype_predictions(support, {1, 1}, query, 3), (std::vector<std::int64_t>{1, 1}));
}

TEST(FrozenHeads, LogisticFitIsTheRegularisedOptimum) {
  // At the optimum of C * sum CE + |W|^2 / 2 the gradient vanishes:
  //   C * (P - Y)^T X + W = 0 and C * sum_i (P - Y)_i = 0 (the intercept is not penalised).
  torch::manual_seed(3);
  const auto x = torch::randn({15, 4}, torch::kFloat64);
  const std::vector<std::int64_t> y = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  for (double c : {0.1, 1.0, 10.0}) {
    LogisticSettings settings;
    settings.c = c;
    const auto [w, b] = fit_logistic(x, y, 3, settings);
    const auto p = torch::softmax(torch::addmm(b, x, w.t()), 1);
    const auto onehot = torch::one_hot(torch::tensor(y), 3).to(torch::kFloat64);
    const auto grad_w = c * (p - onehot).t().mm(x) + w;
    const auto grad_b = c * (p - onehot).sum(0);
    // The objective scales with C, and so does the gradient the solver can reach.
    const double tolerance = 1e-6 * std::max(1.0, c);
    EXPECT_LT(grad_w.abs().max().item<double>(), tolerance) << "C = " << c;
    EXPECT_LT(grad_b.abs().max().item<double>(), tolerance) << "C = " << c;
    // Stronger regularisation, smaller weights.
    if (c == 0.1) EXPECT_LT(w.norm().item<double>(), 1.0);
  }
}

TEST(FrozenHeads, LogisticSeparatesSeparableClasses) {
  const auto support = rows({{-2, 0}, {-3, 1}, {2, 0}, {3, -1}});
  const auto query = rows({{-1, 0}, {-5, 2}, {1, 0}, {6, 1}});
  EXPECT_DOUBLE_EQ(frozen_head_accuracy(FrozenHead::kLogistic, support, {0, 0, 1, 1}, query, {0, 0, 1, 1}, 2), 1.0);
}

TEST(FrozenHeads, NamesRoundTripAndUnknownOnesAreRefused) {
  EXPECT_EQ(to_string(parse_frozen_head("prototype")), "prototype");
  EXPECT_EQ(to_string(parse_frozen_head("logistic")), "logistic");
  EXPECT_THROW(parse_frozen_head("finetune"), OptionError);
}

}  // namespace
}  // namespace croma
