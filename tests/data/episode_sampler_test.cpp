#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "croma/data/concept_world.h"
#include "croma/data/episode_sampler.h"
#include "croma/data/meta_split.h"
#include "test_support.h"

namespace croma {
namespace {

class EpisodeSamplerTest : public ::testing::Test {
 protected:
  TrainOptions o = testing::tiny_options();
  CrossModalDataset data = generate_concept_world(o.world, o.seed);
  EpisodeSampler sampler{data, make_meta_split(data, o.world.train_fraction, o.world.val_fraction, o.seed)};
};

TEST_F(EpisodeSamplerTest, ClassSplitsAreDisjointAndCoverEveryClass) {
  const auto& s = sampler.split();
  std::set<std::int64_t> all;
  for (const auto* part : {&s.train_classes, &s.val_classes, &s.test_classes}) {
    EXPECT_FALSE(part->empty());
    for (auto c : *part) EXPECT_TRUE(all.insert(c).second) << "class " << c << " in two splits";
  }
  EXPECT_EQ(static_cast<std::int64_t>(all.size()), data.num_classes);
  EXPECT_EQ(s.train_classes.size(), 12u);  // round(0.6 * 20)
  EXPECT_EQ(s.val_classes.size(), 4u);
  EXPECT_EQ(s.test_classes.size(), 4u);
}

TEST_F(EpisodeSamplerTest, AlignmentAndClassificationNeverShareASourceItem) {
  const auto& s = sampler.split();
  std::set<std::int64_t> classify;
  for (const auto& items : s.classify_source_items) classify.insert(items.begin(), items.end());
  for (const auto& pairs : s.align_pairs) {
    for (auto p : pairs) EXPECT_EQ(classify.count(data.pairs[static_cast<std::size_t>(p)].first), 0u);
  }
  for (const auto& cluster : s.align_clusters) {
    for (auto item : cluster.source_items) EXPECT_EQ(classify.count(item), 0u);
  }
}

TEST_F(EpisodeSamplerTest, ClassificationEpisodeHasNDistinctClassesWithKShotsEach) {
  Rng rng(1, 0);
  const std::set<std::int64_t> train(sampler.split().train_classes.begin(), sampler.split().train_classes.end());
  for (int trial = 0; trial < 20; ++trial) {
    const auto ep = sampler.sample_classification(rng, 4, 3);
    ASSERT_EQ(ep.items.size(), 12u);
    ASSERT_EQ(ep.classes.size(), 4u);
    EXPECT_EQ(std::set<std::int64_t>(ep.classes.begin(), ep.classes.end()).size(), 4u);
    EXPECT_EQ(std::set<std::int64_t>(ep.items.begin(), ep.items.end()).size(), 12u);
    for (std::size_t i = 0; i < ep.items.size(); ++i) {
      const auto label = ep.labels[i];
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 4);
      const auto cls = data.source.labels[static_cast<std::size_t>(ep.items[i])];
      EXPECT_EQ(cls, ep.classes[static_cast<std::size_t>(label)]);
      EXPECT_EQ(train.count(cls), 1u) << "episode used a class outside meta-train";
    }
    for (std::int64_t label = 0; label < 4; ++label) {
      EXPECT_EQ(std::count(ep.labels.begin(), ep.labels.end(), label), 3);
    }
  }
}

TEST_F(EpisodeSamplerTest, SameSeedAndStreamGiveTheSameEpisodes) {
  Rng a(42, 3), b(42, 3), c(42, 4);
  const auto e1 = sampler.sample_classification(a, 4, 3);
  const auto e2 = sampler.sample_classification(b, 4, 3);
  const auto e3 = sampler.sample_classification(c, 4, 3);
  EXPECT_EQ(e1.items, e2.items);
  EXPECT_EQ(e1.labels, e2.labels);
  EXPECT_NE(e1.items, e3.items);
  const auto a1 = sampler.sample_alignment(a, PairKind::kStrong, 4, 3);
  const auto a2 = sampler.sample_alignment(b, PairKind::kStrong, 4, 3);
  EXPECT_EQ(a1.source_items, a2.source_items);
  EXPECT_EQ(a1.target_items, a2.target_items);
}

TEST_F(EpisodeSamplerTest, StrongAlignmentRowsArePairsWithTheirOwnGroups) {
  Rng rng(2, 0);
  const auto ep = sampler.sample_alignment(rng, PairKind::kStrong, 4, 3);
  ASSERT_EQ(ep.source_items.size(), 12u);
  std::set<std::pair<std::int64_t, std::int64_t>> pairs(data.pairs.begin(), data.pairs.end());
  for (std::size_t i = 0; i < ep.source_items.size(); ++i) {
    EXPECT_EQ(pairs.count({ep.source_items[i], ep.target_items[i]}), 1u);
    EXPECT_EQ(ep.source_groups[i], static_cast<std::int64_t>(i));
    EXPECT_EQ(ep.target_groups[i], static_cast<std::int64_t>(i));
  }
}

TEST_F(EpisodeSamplerTest, WeakAlignmentGroupsFollowClusters) {
  Rng rng(3, 0);
  const auto ep = sampler.sample_alignment(rng, PairKind::kWeak, 4, 3);
  ASSERT_EQ(ep.source_items.size(), 12u);
  ASSERT_EQ(ep.target_items.size(), 12u);
  std::map<std::int64_t, std::int64_t> cluster_of_group;
  auto check = [&](std::int64_t item, std::int64_t group, const ModalityData& m) {
    const auto cluster = m.clusters[static_cast<std::size_t>(item)];
    auto [it, inserted] = cluster_of_group.emplace(group, cluster);
    EXPECT_EQ(it->second, cluster) << "group " << group << " mixes clusters";
  };
  for (std::size_t i = 0; i < 12; ++i) check(ep.source_items[i], ep.source_groups[i], data.source);
  for (std::size_t i = 0; i < 12; ++i) check(ep.target_items[i], ep.target_groups[i], data.target);
  EXPECT_EQ(cluster_of_group.size(), 4u);
  std::set<std::int64_t> clusters;
  for (auto& [g, c] : cluster_of_group) clusters.insert(c);
  EXPECT_EQ(clusters.size(), 4u);
}

TEST_F(EpisodeSamplerTest, TargetTasksUseOnlyTheirSplitWithDisjointSupportAndQuery) {
  Rng rng(4, 0);
  const std::set<std::int64_t> test(sampler.split().test_classes.begin(), sampler.split().test_classes.end());
  const auto task = sampler.sample_target_task(rng, Split::kTest, 4, 2, 5);
  ASSERT_EQ(task.support_items.size(), 8u);
  ASSERT_EQ(task.query_items.size(), 20u);
  std::set<std::int64_t> support(task.support_items.begin(), task.support_items.end());
  for (auto q : task.query_items) EXPECT_EQ(support.count(q), 0u);
  for (auto item : task.support_items) EXPECT_EQ(test.count(data.target.labels[static_cast<std::size_t>(item)]), 1u);
  for (auto item : task.query_items) EXPECT_EQ(test.count(data.target.labels[static_cast<std::size_t>(item)]), 1u);
  // Labels are consistent: same episode label <=> same dataset class.
  std::map<std::int64_t, std::int64_t> cls;
  for (std::size_t i = 0; i < task.query_items.size(); ++i) {
    auto [it, ins] = cls.emplace(task.query_labels[i], data.target.labels[static_cast<std::size_t>(task.query_items[i])]);
    EXPECT_EQ(it->second, data.target.labels[static_cast<std::size_t>(task.query_items[i])]);
  }
  EXPECT_THROW(sampler.split().target_items(Split::kTrain), std::logic_error);
}

TEST_F(EpisodeSamplerTest, InfeasibleRequestsNameTheOption) {
  MetaOptions meta = o.meta;
  meta.ways = 13;  // 12 meta-train classes
  try {
    sampler.check_meta_training(meta);
    FAIL() << "expected an OptionError";
  } catch (const OptionError& e) {
    EXPECT_NE(std::string(e.what()).find("--ways 13"), std::string::npos) << e.what();
  }
  meta.ways = 4;
  meta.shots = 100;
  EXPECT_THROW(sampler.check_meta_training(meta), OptionError);
  EvalOptions eval = o.eval;
  eval.ways = 5;  // 4 meta-test classes
  EXPECT_THROW(sampler.check_evaluation(Split::kTest, eval), OptionError);
  eval.ways = 4;
  eval.shots = {20};  // 24 items per class
  eval.queries = 5;
  EXPECT_THROW(sampler.check_evaluation(Split::kTest, eval), OptionError);
  eval.shots = {3};
  EXPECT_NO_THROW(sampler.check_evaluation(Split::kTest, eval));
}

}  // namespace
}  // namespace croma
