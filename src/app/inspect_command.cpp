// `croma inspect FILE...`: validates the shard files of one dataset the way `croma train
// --data` would, and summarises them (items, classes and pairs per split, dimensions).
#include <iostream>
#include <string>
#include <vector>

#include "croma/app/commands.h"
#include "croma/meta/load_shards.h"
#include "croma/config/options.h"
#include "croma/data/feature_shards.h"
#include "croma/distributed/communicator.h"

namespace croma {
namespace {

constexpr const char* kUsage =
    "usage: croma inspect FILE [FILE...]\n\n"
    "Validates the feature shard files of one dataset (docs/data-format.md) and prints a\n"
    "summary; the last stdout line is JSON. A FILE ending in .txt lists shard paths, one a line.\n"
    "Exits non-zero, naming the file and dataset at fault, when any shard is invalid.\n";

nlohmann::json split_summary(const ShardedDataset& s, const std::vector<std::int64_t>& classes) {
  std::vector<char> in(static_cast<std::size_t>(s.data.num_classes), 0);
  for (auto k : classes) in[static_cast<std::size_t>(k)] = 1;
  auto count = [&](const ModalityData& m) {
    std::int64_t n = 0;
    for (auto k : m.labels) n += in[static_cast<std::size_t>(k)];
    return n;
  };
  std::int64_t pairs = 0;
  for (const auto& [src, tgt] : s.data.pairs) {
    pairs += in[static_cast<std::size_t>(s.data.source.labels[static_cast<std::size_t>(src)])];
  }
  std::int64_t min_target = -1;  // fewest target items of a class: bounds the few-shot tasks
  for (auto k : classes) {
    std::int64_t n = 0;
    for (auto l : s.data.target.labels) n += l == k;
    if (min_target < 0 || n < min_target) min_target = n;
  }
  return {{"classes", classes.size()},
          {"source_items", count(s.data.source)},
          {"target_items", count(s.data.target)},
          {"pairs", pairs},
          {"min_target_items_per_class", min_target}};
}

nlohmann::json modality_summary(const ModalityData& m, const ModalityInfo& info) {
  nlohmann::json j = {{"modality", info.modality}, {"feature", info.feature}, {"items", m.size()}};
  const auto spec = m.spec();
  if (spec.kind == FeatureKind::kVector) {
    j["dim"] = spec.dim;
    return j;
  }
  j["kind"] = to_string(spec.kind);
  if (spec.kind == FeatureKind::kImage) j["shape"] = {spec.dim, spec.height, spec.width};
  if (spec.kind == FeatureKind::kFrames) j["dim"] = spec.dim;
  if (spec.kind == FeatureKind::kTokens) j["vocab"] = spec.vocab;
  if (spec.is_sequence()) {
    j["min_length"] = m.lengths.min().item<std::int64_t>();
    j["max_length"] = m.lengths.max().item<std::int64_t>();
  }
  return j;
}

}  // namespace

int run_inspect_command(int argc, const char* const argv[]) {
  std::vector<std::string> specs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg.rfind("-", 0) == 0) throw OptionError("unrecognised option '" + arg + "' (see croma inspect --help)");
    specs.push_back(arg);
  }
  if (specs.empty()) throw OptionError("no shard files given (usage: croma inspect FILE [FILE...])");
  std::vector<std::string> files;
  for (const auto& spec : specs) {
    for (auto& f : expand_shard_paths(spec)) files.push_back(std::move(f));
  }
  const auto s = load_shards(files, "croma inspect", Communicator::world());
  if (!Communicator::world().is_root()) return 0;

  nlohmann::json shards = nlohmann::json::array();
  for (std::size_t i = 0; i < s.files.size(); ++i) {
    shards.push_back({{"file", s.files[i]},
                      {"source_items", s.source_per_shard[i]},
                      {"target_items", s.target_per_shard[i]},
                      {"pairs", s.pairs_per_shard[i]}});
  }
  nlohmann::json summary = {
      {"command", "inspect"},
      {"valid", true},
      {"dataset", s.data.name},
      {"format_version", kShardFormatVersion},
      {"classes", s.data.num_classes},
      {"clusters", s.data.num_clusters},
      {"pairs", s.data.pairs.size()},
      {"source", modality_summary(s.data.source, s.source)},
      {"target", modality_summary(s.data.target, s.target)},
      {"splits",
       {{"meta-train", split_summary(s, s.split.train)},
        {"meta-val", split_summary(s, s.split.val)},
        {"meta-test", split_summary(s, s.split.test)}}},
      {"shards", shards},
      // Where `croma train --val-split auto` takes validation tasks from.
      {"validation", s.split.val.empty() ? "held-out items of meta-train classes" : "meta-val classes"}};
  std::cerr << "croma inspect: dataset '" << s.data.name << "', " << s.files.size() << " shard(s), "
            << s.data.num_classes << " classes, " << s.data.num_clusters << " weak clusters, "
            << s.data.pairs.size() << " strong pairs\n"
            << "  source: " << s.data.source.size() << " items, " << s.data.source.spec().describe() << " ("
            << s.source.modality << ": " << s.source.feature << ")\n"
            << "  target: " << s.data.target.size() << " items, " << s.data.target.spec().describe() << " ("
            << s.target.modality << ": " << s.target.feature << ")\n";
  for (const char* name : {"meta-train", "meta-val", "meta-test"}) {
    const auto& sp = summary["splits"][name];
    std::cerr << "  " << name << ": " << sp["classes"] << " classes, " << sp["source_items"]
              << " source / " << sp["target_items"] << " target items, " << sp["pairs"] << " pairs\n";
  }
  if (s.split.val.empty()) {
    std::cerr << "  no meta-val classes: croma train validates on held-out target items of the meta-train "
                 "classes (--val-split items)\n";
  }
  if (!s.provenance.empty()) {
    const auto prov = nlohmann::json::parse(s.provenance, nullptr, false);
    if (!prov.is_discarded()) summary["provenance"] = prov;
  }
  std::cout << summary.dump() << std::endl;
  return 0;
}

}  // namespace croma
