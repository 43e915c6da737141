// The linear-Gaussian pieces both study engines draw from (study/linear_gaussian.h).
#include <gtest/gtest.h>

#include "croma/study/alignment_theory.h"
#include "croma/study/linear_gaussian.h"

namespace croma {
namespace {

TEST(LinearGaussian, TrialNormalsDependOnTheTrialsStreamOnly) {
  // Trials 2..4 drawn as a chunk of their own equal rows 2..4 of a chunk of 5, bit for bit.
  const auto all = trial_normals(5, 7, 11, 100);
  const auto tail = trial_normals(3, 7, 11, 102);
  EXPECT_TRUE(torch::equal(all.narrow(0, 2, 3), tail));
  EXPECT_FALSE(torch::equal(all[0], all[1]));
  EXPECT_NEAR(trial_normals(400, 50, 3, 0).std().item<double>(), 1.0, 0.02);
}

TEST(LinearGaussian, TrialBlocksTakeConsecutiveColumns) {
  const auto buffer = torch::arange(2 * 10, torch::kFloat64).reshape({2, 10});
  TrialBlocks blocks(buffer);
  const auto a = blocks.take(2, 3);
  const auto b = blocks.take(4, 1);
  ASSERT_EQ(a.sizes(), (std::vector<std::int64_t>{2, 2, 3}));
  ASSERT_EQ(b.sizes(), (std::vector<std::int64_t>{2, 4, 1}));
  EXPECT_EQ(a[1][1][2].item<double>(), 15.0);  // trial 1, column 5
  EXPECT_EQ(b[0][0][0].item<double>(), 6.0);   // trial 0, column 6
}

TEST(LinearGaussian, HaarMatricesAreOrthogonal) {
  const auto q = haar_orthogonal(trial_normals(6, 16, 5, 0).reshape({6, 4, 4}));
  const auto eye = torch::eye(4, torch::kFloat64).expand({6, 4, 4});
  EXPECT_TRUE(torch::allclose(at::matmul(q, q.transpose(-2, -1)), eye, 1e-12, 1e-12));
}

TEST(LinearGaussian, LeastSquaresRecoversAnExactMap) {
  const auto x = trial_normals(3, 20 * 4, 1, 0).reshape({3, 20, 4});
  const auto w = trial_normals(3, 2 * 4, 2, 0).reshape({3, 2, 4});
  const auto y = at::matmul(x, w.transpose(-2, -1));  // rows y = x w'
  EXPECT_TRUE(torch::allclose(least_squares(x, y), w, 1e-10, 1e-10));
}

TEST(LinearGaussian, TeacherMapsSourceTeacherToTargetTeacher) {
  const auto n = trial_normals(4, 3 + 2 * 9, 9, 0);
  TrialBlocks blocks(n);
  const auto u1 = blocks.take(1, 3);
  const auto gu = blocks.take(3, 3);
  const auto gv = blocks.take(3, 3);
  const auto t = make_teacher(u1, gu, gv, 10.0);
  EXPECT_TRUE(torch::allclose(t.u2, at::matmul(u1, t.w)));
  // W's singular values are the condition's, whatever its rotations.
  const auto sv = at::linalg_svdvals(t.w);
  const auto expected = torch::tensor(singular_values(3, 10.0), torch::kFloat64).sort(0, true);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(torch::allclose(sv[i], std::get<0>(expected), 1e-10, 1e-10));
  // Condition 1: W is orthogonal and gv is not needed.
  const auto o = make_teacher(u1, gu, torch::Tensor(), 1.0);
  EXPECT_TRUE(torch::allclose(o.w, haar_orthogonal(gu)));
}

TEST(LinearGaussian, NoiselessSourceFitIsTheTeacher) {
  TrialBlocks blocks(trial_normals(2, 4 + 2 * 16 + 30 * 4 + 30, 4, 0));
  const auto u1 = blocks.take(1, 4);
  const auto teacher = make_teacher(u1, blocks.take(4, 4), blocks.take(4, 4), 1.0);
  const auto g = blocks.take(30, 4);
  const auto eps = blocks.take(30, 1);
  EXPECT_TRUE(torch::allclose(fit_source(teacher, g, eps, 0.0), u1, 1e-10, 1e-10));
  EXPECT_FALSE(torch::allclose(fit_source(teacher, g, eps, 1.0), u1, 1e-3, 1e-3));
}

TEST(LinearGaussian, SquaredNormsPerTrial) {
  std::vector<double> out = {-1.0};
  append_squared_norms(torch::tensor({1.0, 2.0, 0.0, 3.0}, torch::kFloat64).reshape({2, 1, 2}), out);
  EXPECT_EQ(out, (std::vector<double>{-1.0, 5.0, 9.0}));
}

}  // namespace
}  // namespace croma
