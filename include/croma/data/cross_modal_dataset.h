#pragma once
// A labelled cross-modal dataset held in memory: items of a source and a target modality,
// each with a class label and a weak-pair cluster id, plus strong pairs between them.
// The built-in concept world produces one; feature shards (HDF5) will load into the same.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "croma/data/features.h"

namespace croma {

struct ModalityData {
  // On the CPU, laid out as data/features.h describes: [items, dim] float32 vectors,
  // [items, T, dim] float32 frames or [items, T] int64 token ids (with lengths), or
  // [items, channels, height, width] float32 images.
  torch::Tensor features;
  torch::Tensor lengths;              // int64 [items] for sequences; undefined otherwise
  std::int64_t vocab = 0;             // token ids lie in [0, vocab) (tokens only)
  std::vector<std::int64_t> labels;   // class id per item, in [0, num_classes)
  std::vector<std::int64_t> clusters; // weak-pair cluster id per item, in [0, num_clusters)

  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  // Width of a feature vector (or of a frame); see spec() for the whole shape.
  std::int64_t dim() const { return spec().dim; }
  // The layout of features (and lengths, vocab); check_consistent() rejects any other.
  FeatureSpec spec() const;
  FeatureBatch batch() const { return lengths.defined() ? FeatureBatch(features, lengths) : FeatureBatch(features); }
};

struct CrossModalDataset {
  std::string name;
  ModalityData source;
  ModalityData target;
  // Strong pairs (source item, target item): the same underlying instance in both modalities.
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  std::int64_t num_classes = 0;
  std::int64_t num_clusters = 0;

  // Throws std::runtime_error naming the first inconsistency (shape, label range, pair index,
  // a pair across classes: see check_pairs_within_classes).
  void check_consistent() const;
};

// Throws std::runtime_error naming the first strong pair whose two items have different
// classes (its index and both classes). A meta-split assigns a pair by its source item's
// class, so such a pair could carry a meta-val or meta-test target item into meta-training.
void check_pairs_within_classes(const CrossModalDataset& data);

}  // namespace croma
