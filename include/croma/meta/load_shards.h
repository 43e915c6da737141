#pragma once
// Loading feature shards in a command: every rank reads them (each needs the data), under a
// ReadGuard (a corrupt file that hangs or crashes HDF5 still ends in one clear line), and the
// ranks agree on failure before anyone reports it, so that a bad shard read by R ranks is
// reported once, by the lowest failing rank, not R times.
#include <string>
#include <vector>

#include "croma/data/feature_shards.h"
#include "croma/distributed/communicator.h"

namespace croma {

// `command` prefixes the guard's messages ("croma train"). A bad shard throws a
// CollectiveError on every rank, reported by the lowest rank that failed.
ShardedDataset load_shards(const std::vector<std::string>& paths, const std::string& command,
                           const Communicator& comm);

}  // namespace croma
