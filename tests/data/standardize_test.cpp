// Feature standardisation: statistics of the meta-train items only, the floor on
// tiny deviations, every feature kind, and the record stored in a run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "croma/data/concept_world.h"
#include "croma/data/meta_split.h"
#include "croma/data/standardize.h"
#include "test_support.h"

namespace croma {
namespace {

class StandardizeTest : public ::testing::Test {
 protected:
  TrainOptions o = testing::tiny_options();
  CrossModalDataset data = generate_concept_world(o.world, o.seed);  // 20 classes, vectors
  ClassSplit classes{{0, 1, 2, 3, 4, 5}, {6, 7}, {8, 9, 10}};

  // Mean and population std of each column over the rows of `labels` in `train`, directly.
  static std::pair<torch::Tensor, torch::Tensor> direct(const torch::Tensor& features,
                                                        const std::vector<std::int64_t>& labels,
                                                        const std::vector<std::int64_t>& train) {
    std::vector<std::int64_t> rows;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (std::find(train.begin(), train.end(), labels[i]) != train.end()) rows.push_back(static_cast<std::int64_t>(i));
    }
    const auto x = features.index_select(0, torch::tensor(rows)).to(torch::kFloat64);
    const auto mean = x.mean(0);
    return {mean, (x - mean).pow(2).mean(0).sqrt()};  // population std
  }
};

TEST_F(StandardizeTest, StatisticsAreThoseOfTheMetaTrainItemsOnly) {
  const auto split = make_meta_split(data, classes, 1);
  const auto s = compute_standardization(data, split);
  ASSERT_TRUE(s.source.applies());
  ASSERT_EQ(s.source.mean.size(), static_cast<std::size_t>(o.world.source_dim));
  ASSERT_EQ(s.target.mean.size(), static_cast<std::size_t>(o.world.target_dim));
  for (const auto* side : {&data.source, &data.target}) {
    const auto& stats = side == &data.source ? s.source : s.target;
    const auto [mean, sd] = direct(side->features, side->labels, classes.train);
    for (std::size_t f = 0; f < stats.mean.size(); ++f) {
      EXPECT_NEAR(stats.mean[f], mean[static_cast<std::int64_t>(f)].item<double>(), 1e-9);
      EXPECT_NEAR(stats.std[f], sd[static_cast<std::int64_t>(f)].item<double>(), 1e-9);
    }
  }
  // Changing a meta-test and a meta-val item changes nothing; changing a meta-train item does.
  auto changed = data;
  changed.source.features = data.source.features.clone();
  changed.target.features = data.target.features.clone();
  std::int64_t train_target = -1;
  for (std::int64_t i = 0; i < data.target.size(); ++i) {
    const auto label = data.target.labels[static_cast<std::size_t>(i)];
    if (label == 8 || label == 6) changed.target.features[i].add_(1000.0);
    if (label == 0) train_target = i;
  }
  for (std::int64_t i = 0; i < data.source.size(); ++i) {
    const auto label = data.source.labels[static_cast<std::size_t>(i)];
    if (label == 9 || label == 7) changed.source.features[i].sub_(500.0);
  }
  const auto same = compute_standardization(changed, split);
  EXPECT_EQ(same.source.mean, s.source.mean);
  EXPECT_EQ(same.source.std, s.source.std);
  EXPECT_EQ(same.target.mean, s.target.mean);
  EXPECT_EQ(same.target.std, s.target.std);
  changed.target.features[train_target].add_(1.0);
  EXPECT_NE(compute_standardization(changed, split).target.mean, s.target.mean);
}

TEST_F(StandardizeTest, HeldOutValidationItemsDoNotCount) {
  auto split = make_meta_split(data, ClassSplit{{0, 1, 2, 3, 4}, {}, {5, 6, 7}}, 2);
  hold_out_val_items(data, split, 0.25, 2);
  const auto items = meta_train_target_items(split);
  const auto x = data.target.features.index_select(0, torch::tensor(items)).to(torch::kFloat64);
  const auto stats = compute_standardization(data, split).target;
  for (std::size_t f = 0; f < stats.mean.size(); ++f) {
    EXPECT_NEAR(stats.mean[f], x.mean(0)[static_cast<std::int64_t>(f)].item<double>(), 1e-9);
  }
  auto changed = data;
  changed.target.features = data.target.features.clone();
  changed.target.features[split.val_target_items[0][0]].add_(1000.0);  // a held-out item
  EXPECT_EQ(compute_standardization(changed, split).target.mean, stats.mean);
}

TEST_F(StandardizeTest, ApplyingGivesZeroMeanUnitStdOnMetaTrainAndAConstantFeatureBecomesZero) {
  data.source.features.select(1, 3).fill_(42.5f);  // a constant feature
  const auto split = make_meta_split(data, classes, 1);
  const auto s = compute_standardization(data, split);
  EXPECT_DOUBLE_EQ(s.source.mean[3], 42.5);
  EXPECT_DOUBLE_EQ(s.source.std[3], kStdFloor * 42.5);  // the floor, relative to |mean|
  const auto raw = data.source.features.clone();
  apply_standardization(data, s);
  EXPECT_TRUE(torch::isfinite(data.source.features).all().item<bool>());
  EXPECT_EQ(data.source.features.select(1, 3).abs().max().item<float>(), 0.0f);
  const auto [mean, sd] = direct(data.source.features, data.source.labels, classes.train);
  for (std::int64_t f = 0; f < mean.size(0); ++f) {
    EXPECT_NEAR(mean[f].item<double>(), 0.0, 1e-5);
    if (f != 3) EXPECT_NEAR(sd[f].item<double>(), 1.0, 1e-4);
  }
  // Exactly (raw - mean) / std in float32.
  const auto m = torch::tensor(s.source.mean, torch::kFloat64).to(torch::kFloat32);
  const auto d = torch::tensor(s.source.std, torch::kFloat64).to(torch::kFloat32);
  EXPECT_TRUE(data.source.features.equal((raw - m) / d));
}

TEST(Standardize, FramesArePerFrameDimensionOverValidFramesAndPaddingStaysZero) {
  ModalityData m;
  // Two items: 2 valid frames and 1 valid frame (+1 padding frame holding garbage), d = 2.
  m.features = torch::tensor({1.f, 10.f, 3.f, 30.f, 5.f, 50.f, 99.f, 99.f}).view({2, 2, 2});
  m.lengths = torch::tensor(std::vector<std::int64_t>{2, 1});
  m.labels = {0, 0};
  m.clusters = {0, 0};
  const auto s = compute_standardization(m, {0, 1});
  EXPECT_EQ(s.kind, FeatureKind::kFrames);
  ASSERT_EQ(s.mean.size(), 2u);
  EXPECT_DOUBLE_EQ(s.mean[0], 3.0);   // (1 + 3 + 5) / 3: the padding frame does not count
  EXPECT_DOUBLE_EQ(s.mean[1], 30.0);
  EXPECT_NEAR(s.std[0], std::sqrt(8.0 / 3.0), 1e-12);
  apply_standardization(m, s, "source");
  EXPECT_FLOAT_EQ(m.features[0][0][0].item<float>(), static_cast<float>(-2.0 / std::sqrt(8.0 / 3.0)));
  EXPECT_EQ(m.features[1][1][0].item<float>(), 0.0f);  // padding
  EXPECT_EQ(m.features[1][1][1].item<float>(), 0.0f);
}

TEST(Standardize, ImagesArePerChannelAndTokensAreLeftAsTheyAre) {
  ModalityData img;
  img.features = torch::zeros({2, 2, 1, 2});
  img.features[0][0] = torch::tensor({{1.f, 3.f}});
  img.features[1][0] = torch::tensor({{5.f, 7.f}});
  img.features[0][1].fill_(-2.f);
  img.features[1][1].fill_(2.f);
  img.labels = {0, 0};
  img.clusters = {0, 0};
  const auto s = compute_standardization(img, {0, 1});
  ASSERT_EQ(s.mean.size(), 2u);  // channels
  EXPECT_DOUBLE_EQ(s.mean[0], 4.0);
  EXPECT_DOUBLE_EQ(s.mean[1], 0.0);
  EXPECT_DOUBLE_EQ(s.std[1], 2.0);
  ModalityData tok;
  tok.features = torch::tensor(std::vector<std::int64_t>{3, 4, 5, 0}).view({2, 2});
  tok.lengths = torch::tensor(std::vector<std::int64_t>{2, 1});
  tok.vocab = 8;
  tok.labels = {0, 0};
  tok.clusters = {0, 0};
  const auto t = compute_standardization(tok, {0, 1});
  EXPECT_EQ(t.kind, FeatureKind::kTokens);
  EXPECT_FALSE(t.applies());
  const auto before = tok.features.clone();
  apply_standardization(tok, t, "target");
  EXPECT_TRUE(tok.features.equal(before));
}

TEST_F(StandardizeTest, StatisticsOfAnotherWidthAreRefused) {
  const auto s = compute_standardization(data, make_meta_split(data, classes, 1));
  ModalityData narrow;
  narrow.features = torch::zeros({3, 5});
  narrow.labels = {0, 0, 0};
  narrow.clusters = {0, 0, 0};
  try {
    apply_standardization(narrow, s.target, "target");
    ADD_FAILURE() << "statistics of 16 features applied to 5";
  } catch (const StandardizationError& e) {
    EXPECT_STREQ(e.what(), "the run's standardisation statistics of the target modality are for 16 features "
                           "(vector), but its data holds vectors of 5 (a checkpoint of another dataset?)");
  }
}

TEST_F(StandardizeTest, TheRecordRoundTripsThroughJsonExactly) {
  const auto s = compute_standardization(data, make_meta_split(data, classes, 1));
  const nlohmann::json j = s;
  FeatureStandardization back;
  from_json(nlohmann::json::parse(j.dump()), back);
  EXPECT_EQ(back.source.mean, s.source.mean);  // bit for bit: eval applies what training did
  EXPECT_EQ(back.source.std, s.source.std);
  EXPECT_EQ(back.target.mean, s.target.mean);
  EXPECT_EQ(back.target.kind, FeatureKind::kVector);
  auto bad = j;
  bad["target"]["std"][0] = 0.0;
  EXPECT_THROW(from_json(bad, back), StandardizationError);
}

}  // namespace
}  // namespace croma
