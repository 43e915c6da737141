#include "croma/app/resume.h"

#include <algorithm>
#include <limits>
#include <regex>

namespace croma {
namespace {

namespace fs = std::filesystem;

// Parts of config.json that never change a run's trajectory.
nlohmann::json trajectory_part(nlohmann::json config) {
  config.erase("runtime");
  config.erase("distributed");
  // The layout R x T may change on resume as long as R*T stays (checked against the
  // checkpoint by resume_layout): every layout of the same slots computes the same numbers.
  if (config.contains("meta")) config["meta"].erase("tasks_per_rank");
  if (config.contains("meta")) config["meta"].erase("steps");
  // Runs written before data preparation was configurable read raw features and validated
  // on meta-val classes.
  if (config.contains("data") && config["data"].is_object()) {
    if (!config["data"].contains("standardize")) config["data"]["standardize"] = "off";
    if (!config["data"].contains("val_split")) config["data"]["val_split"] = "classes";
  }
  if (config.contains("output")) {
    const auto val_every = config["output"].value("val_every", nlohmann::json());
    config["output"] = {{"val_every", val_every}};
  }
  return config;
}

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& where) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const auto name = where.empty() ? it.key() : where + "." + it.key();
      if (!b.contains(it.key())) return name + " is " + it.value().dump() + " in the run and absent now";
      auto d = first_difference(it.value(), b.at(it.key()), name);
      if (!d.empty()) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it) {
      if (!a.contains(it.key())) {
        const auto name = where.empty() ? it.key() : where + "." + it.key();
        return name + " is absent in the run and " + it.value().dump() + " now";
      }
    }
    return "";
  }
  // Arrays of one length (standardisation statistics, held-out item ids) name the first
  // differing element rather than printing both arrays whole.
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto d = first_difference(a[i], b[i], where + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a == b) return "";
  return (where.empty() ? std::string("the configuration") : where) + " is " + a.dump() +
         " in the run and " + b.dump() + " now";
}

}  // namespace

std::string config_mismatch(const nlohmann::json& previous, const nlohmann::json& current) {
  return first_difference(trajectory_part(previous), trajectory_part(current), "");
}

std::optional<ResumePoint> latest_resumable_checkpoint(const fs::path& run_dir, const ParamLayout& layout,
                                                      std::vector<SkippedCheckpoint>* skipped) {
  const auto dir = run_dir / "checkpoints";
  std::optional<ResumePoint> best;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return best;
  static const std::regex name(R"((step_([0-9]+)|final)\.h5)");
  // Unreadable files, with the step their name claims (final: after every step).
  std::vector<std::pair<std::int64_t, SkippedCheckpoint>> unreadable;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const auto file = entry.path().filename().string();
    if (!std::regex_match(file, m, name)) continue;
    try {
      auto ck = read_checkpoint(entry.path().string(), layout);
      if (!ck.state) continue;
      if (!best || ck.step > best->checkpoint.step) best = ResumePoint{entry.path(), std::move(ck)};
    } catch (const std::exception& e) {
      // Unreadable: not a candidate. An older checkpoint still is.
      const std::int64_t step = m[2].matched ? std::stoll(m[2].str()) : std::numeric_limits<std::int64_t>::max();
      unreadable.push_back({step, SkippedCheckpoint{entry.path(), e.what()}});
    }
  }
  if (skipped) {
    std::sort(unreadable.begin(), unreadable.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (auto& [step, s] : unreadable) {
      if (!best || step > best->checkpoint.step) skipped->push_back(std::move(s));
    }
  }
  return best;
}

ResumeLayout resume_layout(const TrainingState& state, std::int64_t world_size, std::int64_t tasks_per_rank) {
  const std::int64_t slots = state.world_size * state.tasks_per_rank;
  if (world_size * tasks_per_rank == slots) return {tasks_per_rank, ""};
  // The run's own --tasks-per-rank (what a requeued job script passes again) on another
  // number of ranks: keep the slots, spread over the ranks there are.
  if (tasks_per_rank == state.tasks_per_rank && slots % world_size == 0) return {slots / world_size, ""};
  std::string layouts;
  std::vector<std::int64_t> ranks;
  for (std::int64_t r = 1; r <= slots; ++r) {
    if (slots % r == 0) ranks.push_back(r);
  }
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    layouts += (i == 0 ? "" : i + 1 == ranks.size() ? " or " : ", ") + std::to_string(ranks[i]) + " x " +
               std::to_string(slots / ranks[i]);
  }
  return {0, "the checkpoint was written by " + std::to_string(state.world_size) + " rank(s) x " +
                 std::to_string(state.tasks_per_rank) + " task(s) per rank (" + std::to_string(slots) +
                 " task slots) and this run has " + std::to_string(world_size) + " x " +
                 std::to_string(tasks_per_rank) + " = " + std::to_string(world_size * tasks_per_rank) +
                 "; a run continues only with the same number of task slots (ranks x --tasks-per-rank = " +
                 std::to_string(slots) + ": " + layouts + "; with the run's own --tasks-per-rank " +
                 std::to_string(state.tasks_per_rank) + " croma picks it for any rank count that divides " +
                 std::to_string(slots) + ")"};
}

}  // namespace croma
