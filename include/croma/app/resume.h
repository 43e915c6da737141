#pragma once
// Deciding whether and from where `croma train --resume` continues a run.
//
// A run continues bit for bit when everything that shapes its trajectory is unchanged: the
// seed, the data, the model, the meta-training options (except --steps, which may grow to
// extend a run) and the validation settings that pick the best checkpoint. Options that only
// change how the run is reported or placed (--run-dir, --log-every, --checkpoint-every,
// --quiet, --check-every, --device, --threads) may differ. So may the layout R ranks x T
// task slots per rank, as long as R*T stays: slot s = r*T + t owns stream s wherever it
// runs, the checkpoint holds every slot's stream state in slot order, and the sums of a
// meta-step are exact (meta/exact_sum.h), so every layout of the same R*T continues bit for
// bit. (--threads changes nothing only when BLAS results do not depend on the thread count;
// see README.)
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "croma/model/checkpoint.h"
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

// How world_size ranks continue a checkpoint of state.world_size x state.tasks_per_rank task
// slots when --tasks-per-rank is tasks_per_rank: with tasks_per_rank itself when the slot
// count R*T is unchanged; with R*T / world_size slots per rank when tasks_per_rank is the
// run's own value and world_size divides R*T (a job script that passes the run's options
// again on fewer or more ranks); otherwise error says why and which layouts would work.
struct ResumeLayout {
  std::int64_t tasks_per_rank = 0;
  std::string error;  // non-empty: refuse
};
ResumeLayout resume_layout(const TrainingState& state, std::int64_t world_size, std::int64_t tasks_per_rank);

}  // namespace croma
