#pragma once
// Which classes and items each phase of cross-modal generalization may see.
//
// Classes are split into meta-train, meta-val and meta-test; meta-val and meta-test classes
// are never touched during meta-training. Inside each meta-train class the source items are
// halved, as in the authors' code: one half (with their strong partners) serves alignment
// episodes, the other half source-classification episodes, so the two objectives never
// share an instance.
//
// Validation either uses meta-val classes (the default) or, for data sets with too few classes
// to spare any, held-out target items of the meta-train classes (hold_out_val_items): those
// items then leave every pool meta-training reads, and meta-val tasks draw from them alone.
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
  // True when validation uses held-out items of the meta-train classes: val_classes are then
  // the meta-train classes and val_target_items their held-out target items (no val_pairs).
  bool val_items = false;

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

// A class split drawn again: the classes of `given` (all three splits together, in increasing
// id order) shuffled by seed and cut into splits of the same sizes, so a resampled split keeps
// the data set's proportions. Deterministic in (given, seed) on every platform; each seed gives
// its own draw, independent of the training seed.
ClassSplit resample_class_split(const ClassSplit& given, std::uint64_t seed);

// Uses the given class split; only the halving of meta-train source items is drawn from
// seed. Throws std::runtime_error when a class id is out of range or repeated (in one split
// or across two) or when the meta-train or meta-test split is empty. An empty meta-val split
// is allowed (validation then needs hold_out_val_items).
MetaSplit make_meta_split(const CrossModalDataset& data, const ClassSplit& classes,
                          std::uint64_t seed);

// Validation on held-out items instead of meta-val classes. From each meta-train class,
// round(fraction * its target items) target items, drawn from seed (its own stream, so the
// class split and the item halving stay as they were), become that class's meta-val items:
// they leave train_target_items, train_target_clusters and the target side of align_clusters,
// and every alignment pair whose target item is held out leaves align_pairs. Source items stay
// (their labels are meta-train data; validation reads target items only). The meta-val classes
// of the class split, if any, are then unused. fraction must be in (0, 1).
void hold_out_val_items(const CrossModalDataset& data, MetaSplit& split, double fraction,
                        std::uint64_t seed);

// Every item meta-training may read, in increasing id order: the source items of meta-train
// classes, and the target items of meta-train classes that are not held out for validation.
// (Feature standardisation takes its statistics from exactly these.)
std::vector<std::int64_t> meta_train_source_items(const CrossModalDataset& data, const MetaSplit& split);
std::vector<std::int64_t> meta_train_target_items(const MetaSplit& split);

}  // namespace croma
