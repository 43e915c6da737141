#include "croma/data/feature_shards.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "croma/io/hdf5_reader.h"
#include "croma/io/read_guard.h"

namespace croma {
namespace {

// One shard file, read and checked on its own; merge() checks the files against each other.
struct ShardPart {
  std::string path, dataset;
  std::int64_t index = 0, count = 0;
  std::vector<std::string> class_names, cluster_names;
  ClassSplit split;
  bool has_clusters = false;
  ModalityInfo info[2];
  torch::Tensor features[2], lengths[2];  // lengths: sequences only
  std::int64_t vocab[2] = {0, 0};         // tokens only
  std::vector<std::int64_t> labels[2], clusters[2];
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  std::string provenance;
};

class ShardReader {
 public:
  explicit ShardReader(std::string path) : path_(std::move(path)) {}

  ShardPart read() {
    if (!std::filesystem::is_regular_file(path_)) fail("no such file");
    const auto& file = file_.emplace(path_);
    if (file.status() == hdf5::ReadOnlyFile::Status::kNotHdf5) fail("is not an HDF5 file");
    if (file.status() != hdf5::ReadOnlyFile::Status::kOpen) {
      fail("cannot be opened as HDF5 (truncated or corrupt?)");
    }
    ShardPart part;
    part.path = path_;
    read_header(part);
    part.class_names = strings("/classes/names");
    if (part.class_names.empty()) fail_at("/classes/names", "is empty (a dataset needs classes)");
    const auto classes = static_cast<std::int64_t>(part.class_names.size());
    part.split.train = ints_1d("/classes/meta_train");
    part.split.val = ints_1d("/classes/meta_val");
    part.split.test = ints_1d("/classes/meta_test");
    check_split(part.split, classes);
    part.has_clusters = file.exists("/clusters/names");
    if (part.has_clusters) part.cluster_names = strings("/clusters/names");
    const char* sides[2] = {"source", "target"};
    for (int m = 0; m < 2; ++m) read_modality(part, m, sides[m], classes);
    read_pairs(part);
    return part;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ShardError("shard '" + path_ + "': " + what);
  }
  [[noreturn]] void fail_at(const std::string& object, const std::string& what) const {
    throw ShardError("shard '" + path_ + "': dataset '" + object + "' " + what);
  }

  void read_header(ShardPart& part) {
    const auto& file = *file_;
    std::string format;
    if (!file.read_string_attribute("format", format) || format != kShardFormat) {
      fail(std::string("is not a croma feature shard (root attribute format != \"") + kShardFormat +
           "\")");
    }
    std::int64_t version = 0;
    if (!file.read_int_attribute("format_version", version)) {
      fail("lacks the integer root attribute format_version");
    }
    if (version < 1 || version > kShardFormatVersion) {
      fail("has layout version " + std::to_string(version) + "; this croma reads versions 1 to " +
           std::to_string(kShardFormatVersion));
    }
    version_ = version;
    if (!file.read_string_attribute("dataset", part.dataset)) {
      fail("lacks the string root attribute dataset");
    }
    if (!file.read_int_attribute("shard_index", part.index) ||
        !file.read_int_attribute("shard_count", part.count)) {
      fail("lacks the integer root attributes shard_index and shard_count");
    }
    if (part.count < 1 || part.index < 0 || part.index >= part.count) {
      fail("has shard_index " + std::to_string(part.index) + " outside [0, shard_count " +
           std::to_string(part.count) + ")");
    }
    file.read_string_attribute("provenance", part.provenance);
  }

  hdf5::Dataset open(const std::string& object) const {
    if (!file_->exists(object)) fail_at(object, "is missing");
    auto dataset = file_->open_dataset(object);
    if (!dataset.ok()) fail_at(object, "cannot be opened as a dataset");
    // Refuse a shape the file cannot hold before anything is allocated for it.
    const auto size = dataset.size();
    if (size.claimed_bytes > hdf5::kMaxCompressionRatio * size.stored_bytes + (1u << 20)) {
      fail_at(object, "claims " + std::to_string(size.claimed_bytes) + " bytes of data but the file stores " +
                          std::to_string(size.stored_bytes) + " (corrupt shape or missing chunks)");
    }
    return dataset;
  }

  std::vector<std::uint64_t> shape_of(const hdf5::Dataset& dataset, const std::string& object, int rank) const {
    const auto shape = dataset.shape();
    if (static_cast<int>(shape.size()) != rank) {
      fail_at(object, "has rank " + std::to_string(shape.size()) + ", expected " + std::to_string(rank));
    }
    return shape;
  }

  std::vector<std::string> strings(const std::string& object) const {
    const auto dataset = open(object);
    shape_of(dataset, object, 1);
    if (!dataset.holds_strings()) fail_at(object, "must hold strings");
    std::vector<std::string> out;
    if (!dataset.read(out)) fail_at(object, "cannot be read (truncated or corrupt?)");
    return out;
  }

  // A float32 dataset of the given rank, checked finite.
  torch::Tensor floats(const std::string& object, int rank) const {
    const auto dataset = open(object);
    const auto shape = shape_of(dataset, object, rank);
    if (!dataset.holds_float32()) fail_at(object, "must be float32");
    std::vector<std::int64_t> sizes(shape.begin(), shape.end());
    for (std::size_t d = 1; d < sizes.size(); ++d) {
      if (sizes[d] < 1) fail_at(object, "has an empty dimension " + std::to_string(d));
    }
    auto values = torch::empty(sizes, torch::kFloat32);
    if (values.numel() > 0 && !dataset.read(values.data_ptr<float>())) {
      fail_at(object, "cannot be read (truncated or corrupt?)");
    }
    if (values.numel() > 0) {
      const auto bad_rows = torch::logical_not(torch::isfinite(values)).flatten(1).any(1).nonzero();
      if (bad_rows.numel() > 0) {
        fail_at(object, "holds NaN or Inf (first in row " + std::to_string(bad_rows[0][0].item<std::int64_t>()) + ")");
      }
    }
    return values;
  }

  // Integers of any width, read as int64; `rank` 1 or 2 (then flattened row-major).
  std::vector<std::int64_t> ints(const std::string& object, int rank, std::vector<std::uint64_t>& shape) const {
    const auto dataset = open(object);
    shape = shape_of(dataset, object, rank);
    if (!dataset.holds_integers()) fail_at(object, "must hold integers");
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    std::vector<std::int64_t> out(n);
    if (n > 0 && !dataset.read(out.data())) {
      fail_at(object, "cannot be read (truncated or corrupt?)");
    }
    return out;
  }

  std::vector<std::int64_t> ints_1d(const std::string& object) const {
    std::vector<std::uint64_t> shape;
    return ints(object, 1, shape);
  }

  void check_split(const ClassSplit& split, std::int64_t classes) const {
    std::vector<const char*> owner(static_cast<std::size_t>(classes), nullptr);
    const std::pair<const char*, const std::vector<std::int64_t>*> parts[] = {
        {"/classes/meta_train", &split.train}, {"/classes/meta_val", &split.val}, {"/classes/meta_test", &split.test}};
    for (const auto& [name, ids] : parts) {
      // No meta-val classes is allowed: croma train then validates on held-out items.
      if (ids->empty() && ids != &split.val) {
        fail_at(name, "is empty (meta-train and meta-test need a class each)");
      }
      for (auto k : *ids) {
        if (k < 0 || k >= classes) {
          fail_at(name, "holds class " + std::to_string(k) + " outside [0, " + std::to_string(classes) + ")");
        }
        auto& first = owner[static_cast<std::size_t>(k)];
        if (first) fail_at(name, "holds class " + std::to_string(k) + ", which is also in " + first);
        first = name;
      }
    }
  }

  void read_modality(ShardPart& part, int m, const std::string& side, std::int64_t classes) {
    const std::string g = "/" + side;
    if (!file_->exists(g)) fail("lacks the group '" + g + "'");
    std::string kind = "vector";
    {
      const auto group = file_->open_group(g);
      group.read_string_attribute("modality", part.info[m].modality);
      group.read_string_attribute("feature", part.info[m].feature);
      group.read_string_attribute("kind", kind);
      if (kind != "vector" && kind != "frames" && kind != "tokens" && kind != "image") {
        fail("group '" + g + "' has attribute kind '" + kind + "' (allowed: vector, frames, tokens, image)");
      }
      if (kind != "vector" && version_ < 2) {
        fail("group '" + g + "' has kind '" + kind + "', which needs format_version 2 (this file says " +
             std::to_string(version_) + ")");
      }
      if (kind == "tokens" && !group.read_int_attribute("vocab", part.vocab[m])) {
        fail("group '" + g + "' lacks the integer attribute vocab (required for kind tokens)");
      }
      if (kind == "tokens" && part.vocab[m] < 1) {
        fail("group '" + g + "' has vocab " + std::to_string(part.vocab[m]) + " (must be >= 1)");
      }
    }
    const auto fname = g + "/features";
    std::int64_t rows = 0;
    std::string count_object = fname;  // the dataset that fixes the item count
    if (kind == "vector" || kind == "image") {
      part.features[m] = floats(fname, kind == "vector" ? 2 : 4);
      rows = part.features[m].size(0);
    } else {
      const auto len_name = g + "/lengths";
      const auto lengths = ints_1d(len_name);
      rows = static_cast<std::int64_t>(lengths.size());
      count_object = len_name;
      torch::Tensor flat;
      if (kind == "frames") {
        flat = floats(fname, 2);
      } else {
        std::vector<std::uint64_t> shape;
        auto ids = ints(fname, 1, shape);
        flat = torch::tensor(ids, torch::kInt64);
        if (!ids.empty()) {
          const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
          if (*lo < 0 || *hi >= part.vocab[m]) {
            const auto bad = *lo < 0 ? lo : hi;
            fail_at(fname, "position " + std::to_string(bad - ids.begin()) + " holds token id " +
                               std::to_string(*bad) + " outside [0, vocab " + std::to_string(part.vocab[m]) + ")");
          }
        }
      }
      // Each length is checked against the rows actually stored before anything is summed or
      // allocated from it, so that corrupt lengths can neither overflow nor allocate.
      const auto stored = flat.size(0);
      std::int64_t total = 0, longest = 0;
      for (std::size_t i = 0; i < lengths.size(); ++i) {
        if (lengths[i] < 1) {
          fail_at(len_name, "row " + std::to_string(i) + " holds length " + std::to_string(lengths[i]) +
                                " (every sequence needs at least one step)");
        }
        if (lengths[i] > stored - total) {
          fail_at(len_name, "sums to more than the " + std::to_string(stored) + " rows of " + fname);
        }
        total += lengths[i];
        longest = std::max(longest, lengths[i]);
      }
      if (total != stored) {
        fail_at(len_name, "sums to " + std::to_string(total) + " steps but " + fname + " has " +
                              std::to_string(stored) + " rows");
      }
      // In memory: zero-padded to the longest sequence, with the lengths beside.
      const auto width = kind == "frames" ? flat.size(1) : std::int64_t{1};
      if (longest > 0 && rows > (std::int64_t{1} << 31) / longest / width) {
        fail_at(len_name, "pads to " + std::to_string(rows) + " sequences x " + std::to_string(longest) +
                              " steps x " + std::to_string(width) +
                              " values, over 2^31 in memory (cap the longest sequences in prep)");
      }
      auto padded = kind == "frames" ? torch::zeros({rows, longest, flat.size(1)}, torch::kFloat32)
                                     : torch::zeros({rows, longest}, torch::kInt64);
      std::int64_t at = 0;
      for (std::int64_t i = 0; i < rows; ++i) {
        const auto n = lengths[static_cast<std::size_t>(i)];
        padded[i].narrow(0, 0, n).copy_(flat.narrow(0, at, n));
        at += n;
      }
      part.features[m] = padded;
      part.lengths[m] = torch::tensor(lengths, torch::kInt64);
    }

    const auto lname = g + "/labels";
    part.labels[m] = ints_1d(lname);
    check_count(lname, part.labels[m].size(), rows, count_object);
    for (std::size_t i = 0; i < part.labels[m].size(); ++i) {
      const auto k = part.labels[m][i];
      if (k < 0 || k >= classes) {
        fail_at(lname, "row " + std::to_string(i) + " holds label " + std::to_string(k) + " outside [0, " +
                           std::to_string(classes) + ") (the classes in /classes/names)");
      }
    }
    const auto iname = g + "/ids";
    {
      const auto ids = open(iname);
      const auto ishape = shape_of(ids, iname, 1);
      if (!ids.holds_strings()) fail_at(iname, "must hold strings");
      check_count(iname, ishape[0], rows, count_object);
    }
    const auto cname = g + "/clusters";
    const bool has = file_->exists(cname);
    if (has != part.has_clusters) {
      if (has) fail_at("/clusters/names", "is missing (required when items carry " + cname + ")");
      fail_at(cname, "is missing (required when /clusters/names exists)");
    }
    if (has) {
      part.clusters[m] = ints_1d(cname);
      check_count(cname, part.clusters[m].size(), rows, count_object);
      const auto w = static_cast<std::int64_t>(part.cluster_names.size());
      for (std::size_t i = 0; i < part.clusters[m].size(); ++i) {
        const auto c = part.clusters[m][i];
        if (c < 0 || c >= w) {
          fail_at(cname, "row " + std::to_string(i) + " holds cluster " + std::to_string(c) +
                             " outside [0, " + std::to_string(w) + ") (the clusters in /clusters/names)");
        }
      }
    } else {
      part.clusters[m] = part.labels[m];  // no weak clusters given: a class is its own cluster
    }
  }

  void check_count(const std::string& object, std::size_t got, std::int64_t rows,
                   const std::string& features) const {
    if (static_cast<std::int64_t>(got) != rows) {
      fail_at(object, "has " + std::to_string(got) + " entries but " + features + " has " +
                          std::to_string(rows) + " rows");
    }
  }

  void read_pairs(ShardPart& part) const {
    std::vector<std::uint64_t> shape;
    const auto flat = ints("/pairs", 2, shape);
    if (shape[1] != 2) fail_at("/pairs", "has " + std::to_string(shape[1]) + " columns, expected 2 (source, target)");
    const auto ns = part.features[0].size(0), nt = part.features[1].size(0);
    for (std::size_t p = 0; p < shape[0]; ++p) {
      const auto s = flat[2 * p], t = flat[2 * p + 1];
      if (s < 0 || s >= ns || t < 0 || t >= nt) {
        fail_at("/pairs", "row " + std::to_string(p) + " = (" + std::to_string(s) + ", " + std::to_string(t) +
                              ") indexes past this shard's " + std::to_string(ns) + " source / " +
                              std::to_string(nt) + " target items");
      }
      // A split assigns a pair by its source item's class; a pair across classes (maybe of
      // two splits) could carry a meta-val or meta-test item into meta-training.
      const auto cs = part.labels[0][static_cast<std::size_t>(s)], ct = part.labels[1][static_cast<std::size_t>(t)];
      if (cs != ct) {
        fail_at("/pairs", "row " + std::to_string(p) + " = (" + std::to_string(s) + ", " + std::to_string(t) +
                              ") joins a source item of class " + std::to_string(cs) + " ('" +
                              part.class_names[static_cast<std::size_t>(cs)] + "') and a target item of class " +
                              std::to_string(ct) + " ('" + part.class_names[static_cast<std::size_t>(ct)] +
                              "'); a strong pair must join two items of one class");
      }
      part.pairs.emplace_back(s, t);
    }
  }

  std::string path_;
  std::optional<hdf5::ReadOnlyFile> file_;  // open during read()
  std::int64_t version_ = 1;
};

// The shape of a modality's features that every shard must share (sequence lengths may differ).
FeatureSpec spec_of(const ShardPart& p, int m) {
  ModalityData d;
  d.features = p.features[m];
  d.lengths = p.lengths[m];
  d.vocab = p.vocab[m];
  return d.spec();
}

bool same_split(const ClassSplit& a, const ClassSplit& b) {
  return a.train == b.train && a.val == b.val && a.test == b.test;
}

ShardedDataset merge(std::vector<ShardPart> parts) {
  std::sort(parts.begin(), parts.end(), [](const ShardPart& a, const ShardPart& b) { return a.index < b.index; });
  const auto& first = parts.front();
  auto mismatch = [&](const ShardPart& p, const std::string& what) {
    throw ShardError("shard '" + p.path + "': " + what + " differs from shard '" + first.path + "'");
  };
  for (const auto& p : parts) {
    if (p.dataset != first.dataset) mismatch(p, "root attribute dataset ('" + p.dataset + "')");
    if (p.count != first.count) mismatch(p, "root attribute shard_count");
    if (p.class_names != first.class_names) mismatch(p, "dataset '/classes/names'");
    if (!same_split(p.split, first.split)) mismatch(p, "the class split in '/classes'");
    if (p.has_clusters != first.has_clusters || p.cluster_names != first.cluster_names) {
      mismatch(p, "dataset '/clusters/names'");
    }
    for (int m = 0; m < 2; ++m) {
      const auto mine = spec_of(p, m), theirs = spec_of(first, m);
      if (mine != theirs) {
        mismatch(p, std::string("the features of /") + (m ? "target" : "source") + " (" + mine.describe() +
                        " vs " + theirs.describe() + ")");
      }
    }
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].index != static_cast<std::int64_t>(i)) {
      const bool repeated = i > 0 && parts[i].index == parts[i - 1].index;
      throw ShardError("shard '" + parts[i].path + "': " +
                       (repeated ? "shard_index " + std::to_string(parts[i].index) + " is also in shard '" +
                                       parts[i - 1].path + "'"
                                 : "shard " + std::to_string(i) + " of dataset '" + first.dataset +
                                       "' is missing"));
    }
  }
  if (static_cast<std::int64_t>(parts.size()) != first.count) {
    throw ShardError("dataset '" + first.dataset + "' has shard_count " + std::to_string(first.count) +
                     " but " + std::to_string(parts.size()) + " shard file(s) were given (first: '" +
                     first.path + "')");
  }

  ShardedDataset out;
  out.class_names = first.class_names;
  out.cluster_names = first.has_clusters ? first.cluster_names : first.class_names;
  out.split = first.split;
  out.source = first.info[0];
  out.target = first.info[1];
  out.provenance = first.provenance;
  auto& d = out.data;
  d.name = first.dataset;
  d.num_classes = static_cast<std::int64_t>(out.class_names.size());
  d.num_clusters = static_cast<std::int64_t>(out.cluster_names.size());
  ModalityData* mods[2] = {&d.source, &d.target};
  std::vector<torch::Tensor> feats[2], lengths[2];
  std::int64_t base[2] = {0, 0}, longest[2] = {0, 0};
  for (const auto& p : parts) {
    for (int m = 0; m < 2; ++m) {
      if (p.lengths[m].defined()) longest[m] = std::max(longest[m], p.features[m].size(1));
    }
  }
  for (auto& p : parts) {
    out.files.push_back(p.path);
    for (const auto& [s, t] : p.pairs) d.pairs.emplace_back(s + base[0], t + base[1]);
    out.pairs_per_shard.push_back(static_cast<std::int64_t>(p.pairs.size()));
    for (int m = 0; m < 2; ++m) {
      auto f = p.features[m];
      if (p.lengths[m].defined()) {
        // Shards pad to their own longest sequence; the dataset pads to the longest of all.
        if (f.size(1) < longest[m]) {
          auto sizes = f.sizes().vec();
          sizes[1] = longest[m] - f.size(1);
          f = torch::cat({f, torch::zeros(sizes, f.options())}, 1);
        }
        lengths[m].push_back(p.lengths[m]);
      }
      feats[m].push_back(f);
      auto& mod = *mods[m];
      mod.labels.insert(mod.labels.end(), p.labels[m].begin(), p.labels[m].end());
      mod.clusters.insert(mod.clusters.end(), p.clusters[m].begin(), p.clusters[m].end());
      base[m] += p.features[m].size(0);
    }
    out.source_per_shard.push_back(p.features[0].size(0));
    out.target_per_shard.push_back(p.features[1].size(0));
  }
  for (int m = 0; m < 2; ++m) {
    mods[m]->features = feats[m].size() == 1 ? feats[m].front() : torch::cat(feats[m], 0);
    if (!lengths[m].empty()) mods[m]->lengths = torch::cat(lengths[m], 0);
    mods[m]->vocab = first.vocab[m];
    if (mods[m]->size() == 0) {
      throw ShardError("dataset '" + first.dataset + "' has no " + (m ? "target" : "source") + " items in any shard");
    }
  }
  d.check_consistent();
  return out;
}

}  // namespace

ShardedDataset read_feature_shards(const std::vector<std::string>& paths) {
  if (paths.empty()) throw ShardError("no shard files given");
  std::vector<ShardPart> parts;
  for (const auto& path : paths) {
    ReadGuard::reading(path);
    parts.push_back(ShardReader(path).read());
  }
  return merge(std::move(parts));
}

std::vector<std::string> expand_shard_paths(const std::string& spec) {
  std::vector<std::string> out;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    const std::filesystem::path p(item);
    if (p.extension() != ".txt") {
      out.push_back(item);
      continue;
    }
    std::ifstream list(p);
    if (!list) throw ShardError("shard list '" + item + "' cannot be read");
    std::string line;
    while (std::getline(list, line)) {
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (line.empty() || line[0] == '#') continue;
      const std::filesystem::path entry(line);
      out.push_back((entry.is_absolute() ? entry : p.parent_path() / entry).string());
    }
  }
  if (out.empty()) throw ShardError("no shard files in '" + spec + "'");
  return out;
}

std::vector<std::string> resolve_shard_paths(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const auto& spec : specs) {
    for (const auto& path : expand_shard_paths(spec)) {
      out.push_back(std::filesystem::absolute(path).lexically_normal().string());
    }
  }
  return out;
}

}  // namespace croma
