#include "croma/meta/load_shards.h"

#include "croma/distributed/collective_error.h"
#include "croma/io/read_guard.h"

namespace croma {

ShardedDataset load_shards(const std::vector<std::string>& paths, const std::string& command,
                           const Communicator& comm) {
  ShardedDataset out;
  std::string error;
  {
    ReadGuard guard(command, read_time_limit());
    try {
      out = read_feature_shards(paths);
    } catch (const ShardError& e) {
      error = e.what();
    }
  }
  // Every rank gets here (hangs and crashes ended the process above), so one collective
  // tells all of them the lowest failing rank: max over ranks of -(failing rank).
  const int none = comm.size();
  const int first_failure = static_cast<int>(-comm.max(-static_cast<double>(error.empty() ? none : comm.rank())));
  if (first_failure == none) return out;
  if (comm.rank() == first_failure) throw CollectiveError(error, true);
  throw CollectiveError("shard error reported by rank " + std::to_string(first_failure), false);
}

}  // namespace croma
