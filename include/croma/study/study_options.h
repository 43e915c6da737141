#pragma once
// Command lines of `croma study` and `croma advise`. Bad values raise OptionError with one
// line naming the option (main() prints it and exits 2).
#include <string>

#include "croma/study/alignment_study.h"
#include "croma/study/shard_estimate.h"
#include "croma/study/weak_alignment.h"

namespace croma {

struct StudyCommandOptions {
  StudyGrid grid = default_study_grid();
  bool main_study = true;   // --skip-main turns it off (weak alignment only)
  bool weak = false;        // --weak runs the Appendix E study too
  WeakGrid weak_grid;
  std::string device = "auto";
  std::int64_t threads = 1;
  std::string out = "runs/study";
  bool overwrite = false;
  bool quiet = false;
};

// Returns false when --help was printed.
bool parse_study_command(int argc, const char* const argv[], StudyCommandOptions& o);

struct AdviseCommandOptions {
  AlignmentSetting setting;
  std::string shards;            // estimate the numbers the user did not give from these shards
  FixedSettingFields fixed;      // which numbers were given explicitly
  double variance_kept = 0.9;    // --variance-kept: picks d from the target's principal components
};
bool parse_advise_command(int argc, const char* const argv[], AdviseCommandOptions& o);

}  // namespace croma
