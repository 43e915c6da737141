#pragma once
// Feature shards: the preprocessed features of a cross-modal dataset in HDF5 files, laid out
// as documented in docs/data-format.md (layout versions 1 and 2). A dataset may span several shard
// files (one per prep worker); each holds a slice of the items of both modalities with the
// strong pairs among them, and every file repeats the class names, the class split and the
// weak-cluster names, so that any one file is self-describing for h5py users.
//
// read_feature_shards() validates everything before returning: any problem throws a
// ShardError whose one-line message names the file and the HDF5 object at fault. Callers
// build the run directory only afterwards, so bad data never leaves half a run behind.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "croma/data/cross_modal_dataset.h"
#include "croma/data/meta_split.h"

namespace croma {

constexpr const char* kShardFormat = "croma-feature-shards";
// Version 2 adds sequence (frames, tokens) and image features; version 1 files still read.
constexpr std::int64_t kShardFormatVersion = 2;

class ShardError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModalityInfo {
  std::string modality;  // e.g. "text", "image", "audio"
  std::string feature;   // how the features were computed, e.g. "log-mel 64x32"
};

struct ShardedDataset {
  CrossModalDataset data;  // items in shard order; pairs re-indexed to the whole dataset
  ClassSplit split;
  std::vector<std::string> class_names;
  std::vector<std::string> cluster_names;  // the class names when items carry no clusters
  ModalityInfo source, target;
  std::vector<std::string> files;           // in shard_index order
  std::vector<std::int64_t> source_per_shard, target_per_shard, pairs_per_shard;
  std::string provenance;                   // JSON text of the root attribute (may be empty)
};

// Reads one dataset from all of its shard files (any order; each exactly once).
ShardedDataset read_feature_shards(const std::vector<std::string>& paths);

// Splits "a.h5,b.h5" at commas; a path ending in .txt is a list of shard paths, one a line,
// relative to the list's directory.
std::vector<std::string> expand_shard_paths(const std::string& spec);

// --data as parsed (config/options.h keeps each spec as typed) to absolute, normalised shard
// paths; already resolved paths come back unchanged.
std::vector<std::string> resolve_shard_paths(const std::vector<std::string>& specs);

}  // namespace croma
