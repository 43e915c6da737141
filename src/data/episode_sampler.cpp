#include "croma/data/episode_sampler.h"

#include <algorithm>
#include <stdexcept>

namespace croma {
namespace {

std::vector<std::int64_t> draw(Rng& rng, const std::vector<std::int64_t>& pool, std::int64_t k) {
  const auto n = static_cast<std::int64_t>(pool.size());
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(k));
  if (k <= n) {
    for (auto i : rng.sample_without_replacement(n, k)) out.push_back(pool[static_cast<std::size_t>(i)]);
  } else {
    for (std::int64_t i = 0; i < k; ++i) {
      out.push_back(pool[rng.uniform_index(static_cast<std::uint64_t>(n))]);
    }
  }
  return out;
}

std::size_t smallest(const std::vector<std::vector<std::int64_t>>& pools) {
  std::size_t m = SIZE_MAX;
  for (const auto& p : pools) m = std::min(m, p.size());
  return pools.empty() ? 0 : m;
}

// An evaluation task's draw: `ways` of the pools (one per class), then shots + queries distinct
// entries of each; visit(way, entry, is_support) for each, the first `shots` of a way being its
// support. Few-shot classification and retrieval draw this way, so the same seed picks the
// same classes and positions for both.
template <class Visit>
void draw_support_and_queries(Rng& rng, const std::vector<std::vector<std::int64_t>>& pools, std::int64_t ways,
                              std::int64_t shots, std::int64_t queries, Visit visit) {
  const auto picked = rng.sample_without_replacement(static_cast<std::int64_t>(pools.size()), ways);
  for (std::int64_t way = 0; way < ways; ++way) {
    const auto& pool = pools[static_cast<std::size_t>(picked[static_cast<std::size_t>(way)])];
    const auto chosen = rng.sample_without_replacement(static_cast<std::int64_t>(pool.size()), shots + queries);
    for (std::int64_t i = 0; i < shots + queries; ++i) {
      visit(way, pool[static_cast<std::size_t>(chosen[static_cast<std::size_t>(i)])], i < shots);
    }
  }
}

}  // namespace

ClassificationEpisode sample_from_pools(Rng& rng, const std::vector<std::vector<std::int64_t>>& pools,
                                        std::int64_t ways, std::int64_t shots) {
  std::vector<std::int64_t> eligible;
  for (std::size_t i = 0; i < pools.size(); ++i) {
    if (static_cast<std::int64_t>(pools[i].size()) >= shots) eligible.push_back(static_cast<std::int64_t>(i));
  }
  if (static_cast<std::int64_t>(eligible.size()) < ways) {
    throw OptionError("--ways " + std::to_string(ways) + " with --shots " + std::to_string(shots) +
                      " needs that many groups with enough items; only " +
                      std::to_string(eligible.size()) + " have " + std::to_string(shots));
  }
  ClassificationEpisode ep;
  const auto picked = rng.sample_without_replacement(static_cast<std::int64_t>(eligible.size()), ways);
  for (std::int64_t label = 0; label < ways; ++label) {
    const auto pool_index = eligible[static_cast<std::size_t>(picked[static_cast<std::size_t>(label)])];
    ep.classes.push_back(pool_index);
    for (auto item : draw(rng, pools[static_cast<std::size_t>(pool_index)], shots)) {
      ep.items.push_back(item);
      ep.labels.push_back(label);
    }
  }
  return ep;
}

EpisodeSampler::EpisodeSampler(const CrossModalDataset& data, MetaSplit split)
    : data_(data), split_(std::move(split)) {}

ClassificationEpisode EpisodeSampler::sample_classification(Rng& rng, std::int64_t ways,
                                                            std::int64_t shots) const {
  auto ep = sample_from_pools(rng, split_.classify_source_items, ways, shots);
  for (auto& c : ep.classes) c = split_.train_classes[static_cast<std::size_t>(c)];
  return ep;
}

AlignmentEpisode EpisodeSampler::sample_alignment(Rng& rng, PairKind kind, std::int64_t ways,
                                                  std::int64_t shots) const {
  AlignmentEpisode ep;
  if (kind == PairKind::kStrong) {
    const auto picked = rng.sample_without_replacement(
        static_cast<std::int64_t>(split_.align_pairs.size()), ways);
    std::int64_t group = 0;
    for (auto pos : picked) {
      for (auto p : draw(rng, split_.align_pairs[static_cast<std::size_t>(pos)], shots)) {
        const auto& pair = data_.pairs[static_cast<std::size_t>(p)];
        ep.source_items.push_back(pair.first);
        ep.target_items.push_back(pair.second);
        ep.source_groups.push_back(group);
        ep.target_groups.push_back(group);
        ++group;
      }
    }
  } else {
    const auto picked = rng.sample_without_replacement(
        static_cast<std::int64_t>(split_.align_clusters.size()), ways);
    for (std::int64_t g = 0; g < ways; ++g) {
      const auto& cluster = split_.align_clusters[static_cast<std::size_t>(picked[static_cast<std::size_t>(g)])];
      for (auto item : draw(rng, cluster.source_items, shots)) {
        ep.source_items.push_back(item);
        ep.source_groups.push_back(g);
      }
      for (auto item : draw(rng, cluster.target_items, shots)) {
        ep.target_items.push_back(item);
        ep.target_groups.push_back(g);
      }
    }
  }
  return ep;
}

FewShotTask EpisodeSampler::sample_target_task(Rng& rng, Split split, std::int64_t ways,
                                               std::int64_t shots, std::int64_t queries) const {
  FewShotTask task;
  draw_support_and_queries(rng, split_.target_items(split), ways, shots, queries,
                           [&](std::int64_t label, std::int64_t item, bool support) {
                             (support ? task.support_items : task.query_items).push_back(item);
                             (support ? task.support_labels : task.query_labels).push_back(label);
                           });
  return task;
}

RetrievalTask EpisodeSampler::sample_retrieval_task(Rng& rng, Split split, std::int64_t ways,
                                                   std::int64_t shots, std::int64_t queries) const {
  RetrievalTask task;
  draw_support_and_queries(rng, split_.pairs(split), ways, shots, queries,
                           [&](std::int64_t /*way*/, std::int64_t pair_index, bool support) {
                             const auto& pair = data_.pairs[static_cast<std::size_t>(pair_index)];
                             if (support) {  // every support pair is a group of its own
                               task.support_groups.push_back(static_cast<std::int64_t>(task.support_source.size()));
                             }
                             (support ? task.support_source : task.query_source).push_back(pair.first);
                             (support ? task.support_target : task.query_target).push_back(pair.second);
                           });
  return task;
}

void EpisodeSampler::check_meta_training(const MetaOptions& meta) const {
  const auto n_train = static_cast<std::int64_t>(split_.train_classes.size());
  if (meta.ways > n_train) {
    throw OptionError("--ways " + std::to_string(meta.ways) + " exceeds the " +
                             std::to_string(n_train) + " meta-train classes of this dataset");
  }
  const auto fewest = static_cast<std::int64_t>(smallest(split_.classify_source_items));
  if (meta.shots > fewest) {
    throw OptionError("--shots " + std::to_string(meta.shots) +
                             " exceeds the smallest meta-train class, which has " +
                             std::to_string(fewest) + " source items for classification");
  }
  if (meta.pairs == PairKind::kStrong) {
    const auto fewest_pairs = static_cast<std::int64_t>(smallest(split_.align_pairs));
    if (fewest_pairs < 1) {
      throw OptionError("--pairs strong: a meta-train class has no strong pairs "
                               "(use --pairs weak for weakly paired data)");
    }
  } else if (meta.ways > static_cast<std::int64_t>(split_.align_clusters.size())) {
    throw OptionError("--pairs weak with --ways " + std::to_string(meta.ways) +
                             " needs that many weak clusters with items in both modalities; "
                             "meta-train has " + std::to_string(split_.align_clusters.size()));
  }
}

void EpisodeSampler::check_evaluation(Split split, const EvalOptions& eval) const {
  const auto& pools = split_.target_items(split);
  // Validation on held-out items: its classes are the meta-train classes.
  const bool held_out = split == Split::kVal && split_.val_items;
  if (eval.ways > static_cast<std::int64_t>(pools.size())) {
    throw OptionError("--eval-ways " + std::to_string(eval.ways) + " exceeds the " +
                      std::to_string(pools.size()) + " " + to_string(split) + " classes" +
                      (held_out ? " (meta-train classes with held-out validation items)" : ""));
  }
  const auto fewest = static_cast<std::int64_t>(smallest(pools));
  for (auto k : eval.shots) {
    if (k + eval.queries > fewest) {
      if (held_out) {
        throw OptionError("--eval-shots " + std::to_string(k) + " plus --eval-queries " +
                          std::to_string(eval.queries) + " exceeds the validation items held out of the "
                          "smallest meta-train class, " + std::to_string(fewest) +
                          " target items (raise --val-items-fraction, or lower them)");
      }
      throw OptionError("--eval-shots " + std::to_string(k) + " plus --eval-queries " +
                               std::to_string(eval.queries) + " exceeds the smallest " +
                               to_string(split) + " class, which has " + std::to_string(fewest) +
                               " target items");
    }
  }
}

void EpisodeSampler::check_retrieval(Split split, const EvalOptions& eval) const {
  if (split == Split::kVal && split_.val_items) {
    throw OptionError("--retrieval with --split val: this run validates on held-out items of meta-train "
                      "classes (--val-split items), whose source partners meta-training may have read; "
                      "retrieval needs meta-val classes or --split test");
  }
  const auto& pools = split_.pairs(split);
  if (eval.ways > static_cast<std::int64_t>(pools.size())) {
    throw OptionError("--eval-ways " + std::to_string(eval.ways) + " exceeds the " +
                      std::to_string(pools.size()) + " " + to_string(split) + " classes with strong pairs");
  }
  const auto fewest = static_cast<std::int64_t>(smallest(pools));
  for (auto k : eval.shots) {
    if (k + eval.queries > fewest) {
      throw OptionError("retrieval with --eval-shots " + std::to_string(k) + " plus --eval-queries " +
                        std::to_string(eval.queries) + " needs that many strong pairs per class; the smallest " +
                        to_string(split) + " class has " + std::to_string(fewest));
    }
  }
}

torch::Tensor to_index_tensor(const std::vector<std::int64_t>& ids, const torch::Device& device) {
  return torch::tensor(ids, torch::kInt64).to(device);
}

torch::Tensor select_rows(const torch::Tensor& features, const std::vector<std::int64_t>& ids) {
  return features.index_select(0, to_index_tensor(ids, features.device()));
}

}  // namespace croma
