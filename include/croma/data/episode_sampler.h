#pragma once
// Draws the episodes of meta-training and the few-shot tasks of evaluation as item ids.
// Sampling works on ids only (cheap, and testable without tensors); gather_rows() turns ids
// into feature batches on a device.
#include <cstdint>
#include <vector>

#include "croma/config/options.h"
#include "croma/data/cross_modal_dataset.h"
#include "croma/data/meta_split.h"
#include "croma/util/rng.h"

namespace croma {

// N-way K-shot source-modality task: labels are 0..N-1 in a random class order.
struct ClassificationEpisode {
  std::vector<std::int64_t> items;   // source item ids, N*K
  std::vector<std::int64_t> labels;  // episode labels in [0, N)
  std::vector<std::int64_t> classes; // dataset class of each episode label
};

// Alignment task: rows of the source and target batches; a source row and a target row are
// a positive pair when their groups are equal, and negatives otherwise. Strong pairs give
// each pair its own group; weak pairs give every item of one cluster the same group.
struct AlignmentEpisode {
  std::vector<std::int64_t> source_items, target_items;
  std::vector<std::int64_t> source_groups, target_groups;
};

// N-way k-shot target-modality task with disjoint support and query items.
struct FewShotTask {
  std::vector<std::int64_t> support_items, support_labels;
  std::vector<std::int64_t> query_items, query_labels;
};

// Few-shot retrieval task: support and query strong pairs of N classes (k and Q per class).
struct RetrievalTask {
  std::vector<std::int64_t> support_source, support_target, support_groups;
  std::vector<std::int64_t> query_source, query_target;  // query i pairs with query i
};

// N distinct pools with at least `shots` items each, `shots` items from each, labelled
// 0..N-1 in draw order; `classes` holds the pool indices. Throws OptionError when fewer than
// N pools are large enough.
ClassificationEpisode sample_from_pools(Rng& rng, const std::vector<std::vector<std::int64_t>>& pools,
                                        std::int64_t ways, std::int64_t shots);

class EpisodeSampler {
 public:
  EpisodeSampler(const CrossModalDataset& data, MetaSplit split);

  ClassificationEpisode sample_classification(Rng& rng, std::int64_t ways, std::int64_t shots) const;
  // Strong: N classes, K pairs each. Weak: N clusters, K source and K target items each
  // (drawn with replacement when a cluster is smaller than K).
  AlignmentEpisode sample_alignment(Rng& rng, PairKind kind, std::int64_t ways,
                                    std::int64_t shots) const;
  FewShotTask sample_target_task(Rng& rng, Split split, std::int64_t ways, std::int64_t shots,
                                 std::int64_t queries) const;

  RetrievalTask sample_retrieval_task(Rng& rng, Split split, std::int64_t ways, std::int64_t shots,
                                      std::int64_t queries) const;

  // Throws OptionError naming the option when the split cannot supply these episodes.
  void check_meta_training(const MetaOptions& meta) const;
  void check_evaluation(Split split, const EvalOptions& eval) const;
  void check_retrieval(Split split, const EvalOptions& eval) const;

  const MetaSplit& split() const { return split_; }
  const CrossModalDataset& data() const { return data_; }

 private:
  const CrossModalDataset& data_;
  MetaSplit split_;
};

// rows[i] = features[ids[i]] of a plain tensor, on its device (a FeatureBatch, lengths and
// all: gather_rows() of data/features.h).
torch::Tensor select_rows(const torch::Tensor& features, const std::vector<std::int64_t>& ids);
torch::Tensor to_index_tensor(const std::vector<std::int64_t>& ids, const torch::Device& device);

}  // namespace croma
