#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

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


// ---- pairs across classes, and validation on held-out items --------------------

// A target item of class `k`.
std::int64_t target_of_class(const CrossModalDataset& data, std::int64_t k) {
  for (std::int64_t i = 0; i < data.target.size(); ++i) {
    if (data.target.labels[static_cast<std::size_t>(i)] == k) return i;
  }
  return -1;
}

TEST_F(ExplicitSplitTest, APairAcrossClassesIsRefusedNamingThePairAndBothClasses) {
  // Pair 30 joins source item 30 (class 1 in the world's item order) with a target item of
  // meta-test class 7: split by its source class, it would bring that item into meta-training.
  const auto source_class = data.source.labels[30];
  ASSERT_NE(source_class, 7);
  const auto planted = target_of_class(data, 7);
  data.pairs[30].second = planted;
  const std::string want = "strong pair 30 joins source item 30 of class " + std::to_string(source_class) +
                           " and target item " + std::to_string(planted) + " of class 7; a pair must join two "
                           "items of one class";
  ClassSplit classes{{0, 1, 2, 3}, {4, 5}, {6, 7}};
  try {
    make_meta_split(data, classes, 1);
    ADD_FAILURE() << "make_meta_split accepted a pair across classes";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find(want), 0u) << e.what();
  }
  try {
    data.check_consistent();
    ADD_FAILURE() << "check_consistent accepted a pair across classes";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find(want), 0u) << e.what();
  }
}

TEST_F(ExplicitSplitTest, NoMetaValClassesIsAllowedOtherEmptySplitsAreNot) {
  const auto split = make_meta_split(data, ClassSplit{{0, 1, 2, 3, 4}, {}, {5, 6, 7, 8, 9}}, 1);
  EXPECT_TRUE(split.val_classes.empty());
  EXPECT_TRUE(split.val_target_items.empty());
  EXPECT_FALSE(split.val_items);
  try {
    make_meta_split(data, ClassSplit{{}, {}, {5, 6}}, 1);
    ADD_FAILURE();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "the meta-train split has no classes");
  }
}

std::set<std::int64_t> as_set(const std::vector<std::vector<std::int64_t>>& groups) {
  std::set<std::int64_t> out;
  for (const auto& g : groups) out.insert(g.begin(), g.end());
  return out;
}

TEST_F(ExplicitSplitTest, HeldOutItemsLeaveEveryMetaTrainingPool) {
  const ClassSplit classes{{0, 1, 2, 3, 4}, {}, {5, 6, 7, 8, 9}};
  const auto plain = make_meta_split(data, classes, 3);
  auto split = make_meta_split(data, classes, 3);
  hold_out_val_items(data, split, 0.25, 3);
  ASSERT_TRUE(split.val_items);
  EXPECT_EQ(split.val_classes, split.train_classes);
  ASSERT_EQ(split.val_target_items.size(), split.train_classes.size());
  const auto held = as_set(split.val_target_items);
  for (std::size_t k = 0; k < split.train_classes.size(); ++k) {
    // round(0.25 * 24) = 6 of each class's 24 target items, all of that class.
    EXPECT_EQ(split.val_target_items[k].size(), 6u);
    for (auto i : split.val_target_items[k]) {
      EXPECT_EQ(data.target.labels[static_cast<std::size_t>(i)], split.train_classes[k]);
    }
    // Held-out and remaining items partition the class's target items.
    EXPECT_EQ(split.train_target_items[k].size() + split.val_target_items[k].size(), plain.train_target_items[k].size());
  }
  for (auto i : as_set(split.train_target_items)) EXPECT_FALSE(held.count(i)) << i;
  for (auto i : as_set(split.train_target_clusters)) EXPECT_FALSE(held.count(i)) << i;
  for (const auto& c : split.align_clusters) {
    for (auto i : c.target_items) EXPECT_FALSE(held.count(i)) << i;
  }
  std::size_t pairs = 0, plain_pairs = 0, dropped = 0;
  for (std::size_t k = 0; k < split.align_pairs.size(); ++k) {
    for (auto p : split.align_pairs[k]) EXPECT_FALSE(held.count(data.pairs[static_cast<std::size_t>(p)].second)) << p;
    pairs += split.align_pairs[k].size();
    plain_pairs += plain.align_pairs[k].size();
    for (auto p : plain.align_pairs[k]) dropped += held.count(data.pairs[static_cast<std::size_t>(p)].second);
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(pairs + dropped, plain_pairs);  // exactly the pairs touching a held-out item left
  // Source items stay, and the class split and the halving are those without holding out.
  EXPECT_EQ(split.classify_source_items, plain.classify_source_items);
  EXPECT_EQ(split.test_target_items, plain.test_target_items);
  EXPECT_EQ(meta_train_source_items(data, split), meta_train_source_items(data, plain));
  for (auto i : meta_train_target_items(split)) EXPECT_FALSE(held.count(i)) << i;
  // Retrieval validation is not offered (the held-out items' source partners stay).
  for (const auto& p : split.val_pairs) EXPECT_TRUE(p.empty());
}

TEST_F(ExplicitSplitTest, HeldOutItemsAreDrawnFromTheSeed) {
  const ClassSplit classes{{0, 1, 2, 3, 4}, {}, {5, 6, 7, 8, 9}};
  auto a = make_meta_split(data, classes, 3), b = make_meta_split(data, classes, 3), c = make_meta_split(data, classes, 4);
  hold_out_val_items(data, a, 0.2, 3);
  hold_out_val_items(data, b, 0.2, 3);
  hold_out_val_items(data, c, 0.2, 4);
  EXPECT_EQ(a.val_target_items, b.val_target_items);
  EXPECT_NE(a.val_target_items, c.val_target_items);
}


// --class-split-seed: the classes of a data set's split, drawn again with the same sizes.
TEST(ResampledClassSplit, KeepsTheClassesAndSizesAndIsDrawnFromTheSeed) {
  const ClassSplit given{{3, 1, 4, 15, 9, 2}, {6, 5}, {0, 7, 8}};
  const std::set<std::int64_t> all{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15};
  std::set<std::vector<std::int64_t>> tests_seen;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const auto s = resample_class_split(given, seed);
    ASSERT_EQ(s.train.size(), 6u);
    ASSERT_EQ(s.val.size(), 2u);
    ASSERT_EQ(s.test.size(), 3u);
    std::set<std::int64_t> union_of;
    for (const auto* part : {&s.train, &s.val, &s.test}) {
      EXPECT_TRUE(std::is_sorted(part->begin(), part->end()));
      union_of.insert(part->begin(), part->end());
    }
    EXPECT_EQ(union_of, all) << "seed " << seed << ": a class lost, repeated or invented";
    const auto again = resample_class_split(given, seed);
    EXPECT_EQ(again.train, s.train);
    EXPECT_EQ(again.test, s.test);
    tests_seen.insert(s.test);
  }
  // 165 possible meta-test triples: 40 seeds that ignored the seed would give one.
  EXPECT_GT(tests_seen.size(), 25u);
}

TEST(ResampledClassSplit, DoesNotDependOnTheOrderTheFileListsClassesIn) {
  const ClassSplit a{{3, 1, 4, 15, 9, 2}, {6, 5}, {0, 7, 8}};
  const ClassSplit b{{2, 9, 15, 4, 1, 3}, {5, 6}, {8, 7, 0}};
  for (std::uint64_t seed : {1u, 2u, 99u}) {
    const auto x = resample_class_split(a, seed), y = resample_class_split(b, seed);
    EXPECT_EQ(x.train, y.train);
    EXPECT_EQ(x.val, y.val);
    EXPECT_EQ(x.test, y.test);
  }
}

TEST_F(ExplicitSplitTest, AResampledSplitBuildsAMetaSplitOfItsOwnClasses) {
  const ClassSplit given{{0, 1, 2, 3, 4, 5}, {6, 7}, {8, 9}};
  const auto classes = resample_class_split(given, 7);
  const auto split = make_meta_split(data, classes, 1);
  EXPECT_EQ(split.test_classes, classes.test);
  for (std::size_t k = 0; k < classes.test.size(); ++k) {
    for (auto i : split.test_target_items[k]) EXPECT_EQ(data.target.labels[static_cast<std::size_t>(i)], classes.test[k]);
  }
}

}  // namespace
}  // namespace croma
