#pragma once
// Which classes and items each phase of cross-modal generalization may see.
//
// Classes are split into meta-train, meta-val and meta-test; meta-val and meta-test classes
// are never touched during meta-training. Inside each meta-train class the source items are
// halved, as in the authors' code: one half (with their strong partners) serves alignment
// episodes, the other half source-classification episodes, so the two objectives never
// share an instance.
#include <cstdint>
#include <vector>

#include "croma/data/cross_modal_dataset.h"

namespace croma {

enum class Split { kTrain, kVal, kTest };
const char* to_string(Split split);

struct WeakCluster {
  std::int64_t cluster = 0;
  std::vector<std::int64_t> source_items;
  std::vector<std::int64_t> target_items;
};

struct MetaSplit {
  std::vector<std::int64_t> train_classes, val_classes, test_classes;
  // Indexed like train_classes.
  std::vector<std::vector<std::int64_t>> classify_source_items;  // source item ids
  std::vector<std::vector<std::int64_t>> align_pairs;            // indices into dataset.pairs
  // Weak-pair clusters of meta-train classes that have items in both modalities.
  std::vector<WeakCluster> align_clusters;
  // Target items of each meta-val / meta-test class, indexed like val_classes / test_classes.
  std::vector<std::vector<std::int64_t>> val_target_items, test_target_items;
  // Target items of each meta-train class, indexed like train_classes. Only the baselines
  // that are allowed target data in meta-training read these (the oracle also their labels).
  std::vector<std::vector<std::int64_t>> train_target_items;
  // Target items of meta-train classes grouped by weak cluster (unsupervised weak labels).
  std::vector<std::vector<std::int64_t>> train_target_clusters;
  // Strong pairs (indices into dataset.pairs) whose items belong to each meta-val / meta-test
  // class, for few-shot retrieval.
  std::vector<std::vector<std::int64_t>> val_pairs, test_pairs;

  const std::vector<std::int64_t>& classes(Split split) const;
  const std::vector<std::vector<std::int64_t>>& target_items(Split split) const;
  const std::vector<std::vector<std::int64_t>>& pairs(Split split) const;
};

// Class ids of each split, as chosen by a dataset's author (feature shards carry one).
struct ClassSplit {
  std::vector<std::int64_t> train, val, test;
};

// Draws the class split from fractions (the built-in world). Deterministic in seed. Throws
// std::runtime_error when a split would be empty.
MetaSplit make_meta_split(const CrossModalDataset& data, double train_fraction,
                          double val_fraction, std::uint64_t seed);

// Uses the given class split; only the halving of meta-train source items is drawn from
// seed. Throws std::runtime_error when a class id is out of range or repeated (in one split
// or across two) or when a split is empty.
MetaSplit make_meta_split(const CrossModalDataset& data, const ClassSplit& classes,
                          std::uint64_t seed);

}  // namespace croma
