#include "croma/data/meta_split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "croma/util/rng.h"

namespace croma {

const char* to_string(Split split) {
  switch (split) {
    case Split::kTrain: return "meta-train";
    case Split::kVal: return "meta-val";
    case Split::kTest: return "meta-test";
  }
  return "?";
}

const std::vector<std::int64_t>& MetaSplit::classes(Split split) const {
  switch (split) {
    case Split::kTrain: return train_classes;
    case Split::kVal: return val_classes;
    case Split::kTest: break;
  }
  return test_classes;
}

const std::vector<std::vector<std::int64_t>>& MetaSplit::target_items(Split split) const {
  if (split == Split::kTrain) {
    throw std::logic_error("target items of meta-train classes are not exposed: their labels are "
                           "not available to cross-modal methods");
  }
  return split == Split::kVal ? val_target_items : test_target_items;
}

const std::vector<std::vector<std::int64_t>>& MetaSplit::pairs(Split split) const {
  if (split == Split::kTrain) throw std::logic_error("meta-train pairs are served by align_pairs");
  return split == Split::kVal ? val_pairs : test_pairs;
}

namespace {

MetaSplit split_items(const CrossModalDataset& data, const ClassSplit& classes, Rng& rng);

void check_class_split(std::int64_t num_classes, const ClassSplit& classes) {
  std::vector<const char*> seen(static_cast<std::size_t>(std::max<std::int64_t>(num_classes, 0)), nullptr);
  const std::pair<const char*, const std::vector<std::int64_t>*> parts[] = {
      {"meta-train", &classes.train}, {"meta-val", &classes.val}, {"meta-test", &classes.test}};
  for (const auto& [name, ids] : parts) {
    // Without meta-val classes, validation uses held-out items of meta-train classes.
    if (ids->empty() && ids != &classes.val) {
      throw std::runtime_error(std::string("the ") + name + " split has no classes");
    }
    for (auto k : *ids) {
      if (k < 0 || k >= num_classes) {
        throw std::runtime_error(std::string(name) + " class " + std::to_string(k) + " is outside [0, " +
                                 std::to_string(num_classes) + ")");
      }
      auto& first = seen[static_cast<std::size_t>(k)];
      if (first) {
        throw std::runtime_error("class " + std::to_string(k) + " is in both the " + first +
                                 " and the " + name + " split");
      }
      first = name;
    }
  }
}

}  // namespace

MetaSplit make_meta_split(const CrossModalDataset& data, double train_fraction,
                          double val_fraction, std::uint64_t seed) {
  const auto c = data.num_classes;
  const auto n_train = static_cast<std::int64_t>(std::llround(train_fraction * static_cast<double>(c)));
  const auto n_val = static_cast<std::int64_t>(std::llround(val_fraction * static_cast<double>(c)));
  const auto n_test = c - n_train - n_val;
  if (n_train < 1 || n_val < 1 || n_test < 1) {
    throw std::runtime_error("class split of " + std::to_string(c) + " classes gives " +
                             std::to_string(n_train) + " meta-train, " + std::to_string(n_val) +
                             " meta-val and " + std::to_string(n_test) +
                             " meta-test classes; each needs at least one");
  }
  Rng rng(seed, streams::kSplit);
  std::vector<std::int64_t> order(static_cast<std::size_t>(c));
  for (std::int64_t i = 0; i < c; ++i) order[static_cast<std::size_t>(i)] = i;
  rng.shuffle(order);

  ClassSplit classes;
  classes.train.assign(order.begin(), order.begin() + n_train);
  classes.val.assign(order.begin() + n_train, order.begin() + n_train + n_val);
  classes.test.assign(order.begin() + n_train + n_val, order.end());
  // The same Rng continues into the item halving, so built-in-world splits are unchanged.
  return split_items(data, classes, rng);
}

ClassSplit resample_class_split(const ClassSplit& given, std::uint64_t seed) {
  std::vector<std::int64_t> all;
  for (const auto* part : {&given.train, &given.val, &given.test}) all.insert(all.end(), part->begin(), part->end());
  std::sort(all.begin(), all.end());  // the draw must not depend on the order the file lists them in
  Rng rng(seed, streams::kClassSplit);
  rng.shuffle(all);
  const auto n_train = static_cast<std::ptrdiff_t>(given.train.size());
  const auto n_val = static_cast<std::ptrdiff_t>(given.val.size());
  ClassSplit out;
  out.train.assign(all.begin(), all.begin() + n_train);
  out.val.assign(all.begin() + n_train, all.begin() + n_train + n_val);
  out.test.assign(all.begin() + n_train + n_val, all.end());
  for (auto* part : {&out.train, &out.val, &out.test}) std::sort(part->begin(), part->end());
  return out;
}

MetaSplit make_meta_split(const CrossModalDataset& data, const ClassSplit& classes,
                          std::uint64_t seed) {
  check_class_split(data.num_classes, classes);
  Rng rng(seed, streams::kSplit);
  return split_items(data, classes, rng);
}

namespace {

MetaSplit split_items(const CrossModalDataset& data, const ClassSplit& classes, Rng& rng) {
  // Pairs are assigned below by their source item's class alone.
  check_pairs_within_classes(data);
  const auto c = data.num_classes;
  MetaSplit split;
  split.train_classes = classes.train;
  split.val_classes = classes.val;
  split.test_classes = classes.test;

  // Position of each class inside its split (-1: not in that split).
  auto position_in = [c](const std::vector<std::int64_t>& classes) {
    std::vector<std::int64_t> pos(static_cast<std::size_t>(c), -1);
    for (std::size_t i = 0; i < classes.size(); ++i) pos[static_cast<std::size_t>(classes[i])] = static_cast<std::int64_t>(i);
    return pos;
  };
  const auto train_pos = position_in(split.train_classes);
  const auto val_pos = position_in(split.val_classes);
  const auto test_pos = position_in(split.test_classes);

  // Halve each meta-train class's source items between alignment and classification.
  std::vector<std::vector<std::int64_t>> source_by_class(split.train_classes.size());
  for (std::int64_t i = 0; i < data.source.size(); ++i) {
    const auto p = train_pos[static_cast<std::size_t>(data.source.labels[static_cast<std::size_t>(i)])];
    if (p >= 0) source_by_class[static_cast<std::size_t>(p)].push_back(i);
  }
  std::vector<char> source_aligns(static_cast<std::size_t>(data.source.size()), 0);
  split.classify_source_items.resize(split.train_classes.size());
  for (std::size_t k = 0; k < source_by_class.size(); ++k) {
    auto items = source_by_class[k];
    rng.shuffle(items);
    const auto half = items.size() / 2;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i < half) {
        source_aligns[static_cast<std::size_t>(items[i])] = 1;
      } else {
        split.classify_source_items[k].push_back(items[i]);
      }
    }
  }

  split.align_pairs.resize(split.train_classes.size());
  for (std::size_t p = 0; p < data.pairs.size(); ++p) {
    const auto s = data.pairs[p].first;
    if (!source_aligns[static_cast<std::size_t>(s)]) continue;
    const auto pos = train_pos[static_cast<std::size_t>(data.source.labels[static_cast<std::size_t>(s)])];
    split.align_pairs[static_cast<std::size_t>(pos)].push_back(static_cast<std::int64_t>(p));
  }

  // Weak clusters: alignment-half source items and meta-train target items, by cluster id.
  std::map<std::int64_t, WeakCluster> clusters;
  for (std::int64_t i = 0; i < data.source.size(); ++i) {
    if (!source_aligns[static_cast<std::size_t>(i)]) continue;
    const auto id = data.source.clusters[static_cast<std::size_t>(i)];
    clusters[id].cluster = id;
    clusters[id].source_items.push_back(i);
  }
  std::vector<std::vector<std::int64_t>> val_items(split.val_classes.size());
  std::vector<std::vector<std::int64_t>> test_items(split.test_classes.size());
  split.train_target_items.resize(split.train_classes.size());
  std::map<std::int64_t, std::vector<std::int64_t>> target_clusters;
  for (std::int64_t i = 0; i < data.target.size(); ++i) {
    const auto label = static_cast<std::size_t>(data.target.labels[static_cast<std::size_t>(i)]);
    if (train_pos[label] >= 0) {
      const auto id = data.target.clusters[static_cast<std::size_t>(i)];
      auto it = clusters.find(id);
      if (it != clusters.end()) it->second.target_items.push_back(i);
      split.train_target_items[static_cast<std::size_t>(train_pos[label])].push_back(i);
      target_clusters[id].push_back(i);
    } else if (val_pos[label] >= 0) {
      val_items[static_cast<std::size_t>(val_pos[label])].push_back(i);
    } else if (test_pos[label] >= 0) {  // classes in no split are simply unused
      test_items[static_cast<std::size_t>(test_pos[label])].push_back(i);
    }
  }
  for (auto& [id, cluster] : clusters) {
    if (!cluster.source_items.empty() && !cluster.target_items.empty()) {
      split.align_clusters.push_back(std::move(cluster));
    }
  }
  split.val_target_items = std::move(val_items);
  split.test_target_items = std::move(test_items);
  for (auto& [id, items] : target_clusters) split.train_target_clusters.push_back(std::move(items));
  split.val_pairs.resize(split.val_classes.size());
  split.test_pairs.resize(split.test_classes.size());
  for (std::size_t p = 0; p < data.pairs.size(); ++p) {
    const auto label = static_cast<std::size_t>(data.source.labels[static_cast<std::size_t>(data.pairs[p].first)]);
    if (val_pos[label] >= 0) split.val_pairs[static_cast<std::size_t>(val_pos[label])].push_back(static_cast<std::int64_t>(p));
    if (test_pos[label] >= 0) split.test_pairs[static_cast<std::size_t>(test_pos[label])].push_back(static_cast<std::int64_t>(p));
  }
  return split;
}

}  // namespace

void hold_out_val_items(const CrossModalDataset& data, MetaSplit& split, double fraction,
                        std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0)) {
    throw std::invalid_argument("hold_out_val_items: fraction must be in (0, 1)");
  }
  Rng rng(seed, streams::kValItems);
  std::vector<char> held(static_cast<std::size_t>(data.target.size()), 0);
  split.val_classes = split.train_classes;
  split.val_target_items.assign(split.train_classes.size(), {});
  for (std::size_t k = 0; k < split.train_target_items.size(); ++k) {
    auto& items = split.train_target_items[k];  // increasing item ids
    const auto n = static_cast<std::int64_t>(items.size());
    const auto count = static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)));
    auto picked = rng.sample_without_replacement(n, count);
    std::sort(picked.begin(), picked.end());
    for (auto i : picked) {
      const auto item = items[static_cast<std::size_t>(i)];
      held[static_cast<std::size_t>(item)] = 1;
      split.val_target_items[k].push_back(item);
    }
    items.erase(std::remove_if(items.begin(), items.end(),
                               [&](std::int64_t i) { return held[static_cast<std::size_t>(i)] != 0; }),
                items.end());
  }
  auto is_held = [&](std::int64_t i) { return held[static_cast<std::size_t>(i)] != 0; };
  for (auto& group : split.train_target_clusters) {
    group.erase(std::remove_if(group.begin(), group.end(), is_held), group.end());
  }
  split.train_target_clusters.erase(
      std::remove_if(split.train_target_clusters.begin(), split.train_target_clusters.end(),
                     [](const std::vector<std::int64_t>& g) { return g.empty(); }),
      split.train_target_clusters.end());
  for (auto& cluster : split.align_clusters) {
    cluster.target_items.erase(std::remove_if(cluster.target_items.begin(), cluster.target_items.end(), is_held),
                               cluster.target_items.end());
  }
  split.align_clusters.erase(std::remove_if(split.align_clusters.begin(), split.align_clusters.end(),
                                            [](const WeakCluster& c) { return c.target_items.empty(); }),
                             split.align_clusters.end());
  for (auto& pairs : split.align_pairs) {
    pairs.erase(std::remove_if(pairs.begin(), pairs.end(),
                               [&](std::int64_t p) {
                                 return is_held(data.pairs[static_cast<std::size_t>(p)].second);
                               }),
                pairs.end());
  }
  // Retrieval validation would need pairs whose source items meta-training never read; the
  // held-out items' source partners stay in source classification, so there are none.
  split.val_pairs.assign(split.val_classes.size(), {});
  split.val_items = true;
}

std::vector<std::int64_t> meta_train_source_items(const CrossModalDataset& data, const MetaSplit& split) {
  std::vector<char> train(static_cast<std::size_t>(data.num_classes), 0);
  for (auto k : split.train_classes) train[static_cast<std::size_t>(k)] = 1;
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < data.source.size(); ++i) {
    if (train[static_cast<std::size_t>(data.source.labels[static_cast<std::size_t>(i)])]) out.push_back(i);
  }
  return out;
}

std::vector<std::int64_t> meta_train_target_items(const MetaSplit& split) {
  std::vector<std::int64_t> out;
  for (const auto& items : split.train_target_items) out.insert(out.end(), items.begin(), items.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace croma
