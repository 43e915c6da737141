#pragma once
// Deciding whether and from where `croma train --resume` continues a run.
//
// A run continues bit for bit when everything that shapes its trajectory is unchanged: the
// seed, the data, the model, the meta-training options (except --steps, which may grow to
// extend a run) and the validation settings that pick the best checkpoint. Options that only
// change how the run is reported or placed (--run-dir, --log-every, --checkpoint-every,
// --quiet, --check-every, --device, --threads) may differ. The number of ranks must match:
// rank r's task slots own the streams r*T .. r*T+T-1, so another world size would sample
// other episodes.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "croma/io/checkpoint.h"
#include "croma/model/param_layout.h"

namespace croma {

// "" when a run configured as `previous` (its config.json) may be continued with `current`;
// otherwise one line naming the first option that differs, e.g.
// "meta.shots is 3 in the run and 5 now".
std::string config_mismatch(const nlohmann::json& previous, const nlohmann::json& current);

// The checkpoint with training state and the highest step among run_dir/checkpoints/step_*.h5
// and final.h5, or nothing. Files that cannot be read are skipped (a torn file never has
// the final name: checkpoints are renamed into place).
struct ResumePoint {
  std::filesystem::path path;
  Checkpoint checkpoint;
};
// A checkpoint passed over, and why (one line from read_checkpoint).
struct SkippedCheckpoint {
  std::filesystem::path path;
  std::string reason;
};
// Unreadable checkpoints newer than the one chosen (or all of them, when none is chosen) are
// added to `skipped`, newest first, so that the caller can warn that the run falls back.
std::optional<ResumePoint> latest_resumable_checkpoint(const std::filesystem::path& run_dir,
                                                      const ParamLayout& layout,
                                                      std::vector<SkippedCheckpoint>* skipped = nullptr);

// "" when a checkpoint written by state.world_size ranks x state.tasks_per_rank slots can be
// continued by world_size x tasks_per_rank; otherwise the reason, naming the numbers.
std::string world_mismatch(const TrainingState& state, std::int64_t world_size,
                           std::int64_t tasks_per_rank);

}  // namespace croma
