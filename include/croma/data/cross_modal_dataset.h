#pragma once
// A labelled cross-modal dataset held in memory: items of a source and a target modality,
// each with a class label and a weak-pair cluster id, plus strong pairs between them.
// The built-in concept world produces one; feature shards (HDF5) will load into the same.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace croma {

struct ModalityData {
  torch::Tensor features;             // [items, dim] float32, on the CPU
  std::vector<std::int64_t> labels;   // class id per item, in [0, num_classes)
  std::vector<std::int64_t> clusters; // weak-pair cluster id per item, in [0, num_clusters)

  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  std::int64_t dim() const { return features.size(1); }
};

struct CrossModalDataset {
  std::string name;
  ModalityData source;
  ModalityData target;
  // Strong pairs (source item, target item): the same underlying instance in both modalities.
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  std::int64_t num_classes = 0;
  std::int64_t num_clusters = 0;

  // Throws std::runtime_error naming the first inconsistency (shape, label range, pair index).
  void check_consistent() const;
};

}  // namespace croma
