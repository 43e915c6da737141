// The small products of a dense layer (model/small_products.h) against torch::mm in double
// precision, at the shapes the inner loops run and at shapes a JIT back end may decline.
#include <gtest/gtest.h>

#include <tuple>

#include "croma/model/small_products.h"

namespace croma {
namespace {

// Largest |a - b| relative to the largest |b| (float32 products of k terms: ~1e-6).
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b).abs().max().item<double>() / b.abs().max().item<double>();
}

class SmallProductShapes : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(SmallProductShapes, EachProductEqualsTheDoublePrecisionProduct) {
  const auto [m, k, n] = GetParam();
  torch::manual_seed(m * 1000 + k + n);
  const auto x = torch::randn({m, k});
  const auto w = torch::randn({n, k});
  const auto g = torch::randn({m, n});
  const auto xd = x.to(torch::kFloat64), wd = w.to(torch::kFloat64), gd = g.to(torch::kFloat64);
  SmallProducts p;

  auto y = torch::full({m, n}, 7.0f);
  p.forward(x.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), m, k, n);
  EXPECT_LT(relative_error(y, xd.mm(wd.t())), 1e-5);

  auto dw = torch::full({n, k}, 7.0f);
  p.weight_grad(g.data_ptr<float>(), x.data_ptr<float>(), dw.data_ptr<float>(), m, k, n, false);
  EXPECT_LT(relative_error(dw, gd.t().mm(xd)), 1e-5);
  // Accumulating adds the same product onto what is there.
  const auto before = torch::randn({n, k});
  auto acc = before.clone();
  p.weight_grad(g.data_ptr<float>(), x.data_ptr<float>(), acc.data_ptr<float>(), m, k, n, true);
  EXPECT_LT(relative_error(acc, before.to(torch::kFloat64) + gd.t().mm(xd)), 1e-5);

  auto dx = torch::full({m, k}, 7.0f);
  p.input_grad(g.data_ptr<float>(), w.data_ptr<float>(), dx.data_ptr<float>(), m, k, n);
  EXPECT_LT(relative_error(dx, gd.mm(wd)), 1e-5);

  // The same product twice gives the same bits (the kernel depends on the shape only).
  auto again = torch::empty({m, n});
  SmallProducts other;
  other.forward(x.data_ptr<float>(), w.data_ptr<float>(), again.data_ptr<float>(), m, k, n);
  EXPECT_TRUE(again.equal(y));
}

// Inner-loop minibatches (8 rows), an episode (25 rows), a 5-way head, a single row, and a
// product larger than small-product kernels are made for.
INSTANTIATE_TEST_SUITE_P(Shapes, SmallProductShapes,
                         ::testing::Values(std::make_tuple(8, 512, 256), std::make_tuple(8, 256, 256),
                                           std::make_tuple(8, 128, 64), std::make_tuple(25, 512, 256),
                                           std::make_tuple(8, 256, 5), std::make_tuple(1, 3, 2),
                                           std::make_tuple(300, 700, 500)));

}  // namespace
}  // namespace croma
