#include <gtest/gtest.h>

#include <set>

#include "croma/data/concept_world.h"
#include "croma/data/meta_split.h"
#include "test_support.h"

namespace croma {
namespace {

class ExplicitSplitTest : public ::testing::Test {
 protected:
  TrainOptions o = testing::tiny_options();
  CrossModalDataset data = generate_concept_world(o.world, o.seed);  // 20 classes
};

TEST_F(ExplicitSplitTest, UsesExactlyTheGivenClasses) {
  ClassSplit classes{{3, 1, 4, 15, 9, 2}, {6, 5}, {0, 7, 8}};
  const auto split = make_meta_split(data, classes, 11);
  EXPECT_EQ(split.train_classes, classes.train);
  EXPECT_EQ(split.val_classes, classes.val);
  EXPECT_EQ(split.test_classes, classes.test);
  // Target items of a meta-test class are exactly that class's target items.
  ASSERT_EQ(split.test_target_items.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    std::int64_t expected = 0;
    for (auto label : data.target.labels) expected += label == classes.test[k];
    EXPECT_EQ(static_cast<std::int64_t>(split.test_target_items[k].size()), expected);
    for (auto i : split.test_target_items[k]) EXPECT_EQ(data.target.labels[static_cast<std::size_t>(i)], classes.test[k]);
  }
  // Classes in no split (10..19 but 15) are used nowhere.
  std::set<std::int64_t> classify_classes;
  for (const auto& items : split.classify_source_items) {
    for (auto i : items) classify_classes.insert(data.source.labels[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(classify_classes, std::set<std::int64_t>(classes.train.begin(), classes.train.end()));
  for (const auto& c : split.align_clusters) {
    for (auto i : c.target_items) {
      const auto label = data.target.labels[static_cast<std::size_t>(i)];
      EXPECT_TRUE(std::set<std::int64_t>(classes.train.begin(), classes.train.end()).count(label)) << label;
    }
  }
}

TEST_F(ExplicitSplitTest, ItemHalvingIsSeeded) {
  ClassSplit classes{{0, 1, 2, 3}, {4, 5}, {6, 7}};
  const auto a = make_meta_split(data, classes, 5);
  const auto b = make_meta_split(data, classes, 5);
  const auto c = make_meta_split(data, classes, 6);
  EXPECT_EQ(a.classify_source_items, b.classify_source_items);
  EXPECT_NE(a.classify_source_items, c.classify_source_items);
}

TEST_F(ExplicitSplitTest, RejectsBadSplits) {
  auto message = [&](const ClassSplit& classes) {
    try {
      make_meta_split(data, classes, 1);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({{0, 1}, {2}, {1}}), "class 1 is in both the meta-train and the meta-test split");
  EXPECT_EQ(message({{0, 0}, {2}, {3}}), "class 0 is in both the meta-train and the meta-train split");
  EXPECT_EQ(message({{0, 1}, {20}, {3}}), "meta-val class 20 is outside [0, 20)");
  EXPECT_EQ(message({{0, 1}, {2}, {}}), "the meta-test split has no classes");
}

}  // namespace
}  // namespace croma
