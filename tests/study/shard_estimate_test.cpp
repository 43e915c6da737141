#include "croma/study/shard_estimate.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace croma {
namespace {

// Data drawn from the §5.5 model, hidden in larger feature spaces: latent z ~ N(0, I_6);
// target features = A z (10-d, A with orthonormal columns times 3); source features =
// B (W z + η) (12-d), W orthogonal, η ~ N(0, 0.25 I). Classes: argmax of z over 6 directions
// (3 meta-train classes), with a fraction of the source labels replaced at random.
CrossModalDataset model_data(std::int64_t n, double label_flip, std::int64_t seed) {
  torch::manual_seed(static_cast<std::uint64_t>(seed));
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto z = torch::randn({n, 6}, opts);
  const auto a = std::get<0>(torch::linalg_qr(torch::randn({10, 6}, opts))) * 3.0;
  const auto b = std::get<0>(torch::linalg_qr(torch::randn({12, 6}, opts)));
  const auto w = std::get<0>(torch::linalg_qr(torch::randn({6, 6}, opts)));
  const auto x1 = (z.mm(w.t()) + 0.5 * torch::randn({n, 6}, opts)).mm(b.t());
  const auto x2 = z.mm(a.t());
  const auto cls = z.argmax(1);
  const auto flip = torch::rand({n}, opts) < label_flip;
  const auto random_cls = torch::randint(0, 6, {n}, torch::kInt64);
  const auto src_cls = torch::where(flip, random_cls, cls);
  CrossModalDataset d;
  d.num_classes = 6;
  d.num_clusters = 6;
  d.source.features = x1.to(torch::kFloat32);
  d.target.features = x2.to(torch::kFloat32);
  for (std::int64_t i = 0; i < n; ++i) {
    d.source.labels.push_back(src_cls[i].item<std::int64_t>());
    d.target.labels.push_back(cls[i].item<std::int64_t>());
    if (i % 2 == 0) d.pairs.emplace_back(i, i);
  }
  d.source.clusters = d.source.labels;
  d.target.clusters = d.target.labels;
  return d;
}

const ClassSplit kSplit{{0, 1, 2}, {3, 4}, {5}};

std::int64_t count_train(const std::vector<std::int64_t>& labels) {
  std::int64_t n = 0;
  for (auto k : labels) n += k <= 2;
  return n;
}

TEST(ShardEstimate, RecoversTheModelsNumbersFromFeatures) {
  const auto data = model_data(6000, 0.0, 1);
  AlignmentSetting given;
  given.n2 = 40;
  const auto e = estimate_setting(data, kSplit, given, {});
  EXPECT_EQ(e.source_dim, 12);
  EXPECT_EQ(e.target_dim, 10);
  EXPECT_EQ(e.setting.d, 6);  // six equal components: five explain 5/6 < 90 %
  EXPECT_GT(e.variance_explained, 0.99);
  EXPECT_FALSE(e.d_capped);
  EXPECT_EQ(e.setting.n1, count_train(data.source.labels));
  std::int64_t pairs = 0;
  for (const auto& [s, t] : data.pairs) pairs += data.source.labels[s] <= 2 && data.target.labels[t] <= 2;
  EXPECT_EQ(e.setting.n_align, pairs);
  EXPECT_EQ(e.setting.n2, 40);
  // Whitened, the source is (W z + η) / sqrt(1.25) per coordinate, so the residual of the
  // fitted map has variance 0.25 / 1.25 = 0.2 -- up to the class selection, which keeps the
  // latent variance near but not exactly at one (checked loosely).
  EXPECT_NEAR(e.setting.sigma_w2, 0.2, 0.05);
  EXPECT_LT(e.setting.condition, 3.0);
  EXPECT_GT(e.setting.sigma2, 0.0);
}

TEST(ShardEstimate, NoisierLabelsGiveLargerLabelNoise) {
  const auto clean = estimate_setting(model_data(4000, 0.0, 2), kSplit, {}, {});
  const auto noisy = estimate_setting(model_data(4000, 0.5, 2), kSplit, {}, {});
  EXPECT_GT(noisy.setting.sigma2, 1.5 * clean.setting.sigma2);
}

TEST(ShardEstimate, KeepsTheNumbersTheUserGave) {
  AlignmentSetting given;
  given.d = 3;
  given.sigma_w2 = 0.7;
  given.n_align = 55;
  FixedSettingFields fixed;
  fixed.d = fixed.sigma_w2 = fixed.n_align = true;
  const auto e = estimate_setting(model_data(3000, 0.0, 3), kSplit, given, fixed);
  EXPECT_EQ(e.setting.d, 3);
  EXPECT_DOUBLE_EQ(e.setting.sigma_w2, 0.7);
  EXPECT_EQ(e.setting.n_align, 55);
}

TEST(ShardEstimate, CapsDSoThatEveryFitIsDetermined) {
  AlignmentSetting given;
  given.n2 = 5;  // only five labelled target samples: d must stay below 4
  const auto e = estimate_setting(model_data(3000, 0.0, 4), kSplit, given, {});
  EXPECT_TRUE(e.d_capped);
  EXPECT_EQ(e.setting.d, 3);
}

TEST(ShardEstimate, RefusesToEstimateAlignmentNoiseWithoutPairs) {
  auto data = model_data(2000, 0.0, 5);
  data.pairs.resize(1);  // one pair cannot determine even a 1x1 map with its residual
  try {
    estimate_setting(data, kSplit, {}, {});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("strong pairs"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace croma
