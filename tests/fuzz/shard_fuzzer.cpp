// libFuzzer target over croma's shard reader: any bytes, written to a file, must either load
// as a dataset or be rejected with one ShardError line that names the file. A crash, a
// sanitizer report, a hang, a runaway allocation, any other exception, or an unclear message
// is a finding (libFuzzer stops and saves the input).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "croma/data/feature_shards.h"

namespace {

const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("CROMA_FUZZ_DIR");
    return std::string(dir ? dir : "/tmp") + "/croma-fuzz-" + std::to_string(getpid()) + ".h5";
  }();
  return path;
}

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "FUZZ FINDING: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const croma::ShardedDataset d = croma::read_feature_shards({path});
    // Accepted: what the reader promises must hold.
    d.data.check_consistent();
  } catch (const croma::ShardError& e) {
    const std::string msg = e.what();
    if (msg.empty() || msg.find('\n') != std::string::npos) finding("error is not one line", msg);
    if (msg.find(path) == std::string::npos && msg.find("dataset '") == std::string::npos) {
      finding("error names neither the file nor the dataset", msg);
    }
  } catch (const std::exception& e) {
    finding("rejected with something other than a ShardError", e.what());
  }
  return 0;
}
