#include "croma/app/numerics_fingerprint.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "croma/model/small_products.h"
#include "croma/util/runtime.h"

namespace croma {
namespace {

// The CPU's model name and the widest vector unit croma's cloned loops choose from
// (target_clones: avx512f, avx2, or the baseline), from /proc/cpuinfo's first processor.
std::pair<std::string, std::string> cpu_and_vector_unit() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown", flags;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const auto value = colon + 2 <= line.size() ? line.substr(colon + 2) : std::string();
    if (key == "model name" && model == "unknown") model = value;
    if (key == "flags" && flags.empty()) flags = " " + value + " ";
    if (model != "unknown" && !flags.empty()) break;
  }
  const std::string unit = flags.find(" avx512f ") != std::string::npos ? "avx512f"
                           : flags.find(" avx2 ") != std::string::npos  ? "avx2"
                                                                         : "baseline";
  return {model, unit};
}

// "k1=v1; k2=v2" -> {k1: v1, k2: v2}.
std::map<std::string, std::string> fields_of(const std::string& fingerprint) {
  std::map<std::string, std::string> out;
  std::size_t at = 0;
  while (at <= fingerprint.size()) {
    auto end = fingerprint.find("; ", at);
    if (end == std::string::npos) end = fingerprint.size();
    const auto item = fingerprint.substr(at, end - at);
    const auto eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    at = end + 2;
  }
  return out;
}

// Each key's values over a set of fingerprints ("a | b" where ranks differ), in key order.
std::map<std::string, std::string> values_by_key(const std::vector<std::string>& fingerprints) {
  std::map<std::string, std::set<std::string>> sets;
  for (const auto& f : fingerprints) {
    for (const auto& [key, value] : fields_of(f)) sets[key].insert(value);
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, values] : sets) {
    std::string joined;
    for (const auto& v : values) joined += (joined.empty() ? "" : " | ") + v;
    out[key] = joined;
  }
  return out;
}

}  // namespace

std::string numerics_fingerprint(const torch::Device& device, int intra_op_threads) {
  std::ostringstream out;
  // The device's type, not its index: ranks map to cuda:<local rank>, which a resume on
  // another number of ranks per node changes without changing any rounding.
  out << "croma=" << CROMA_VERSION << "; device=" << c10::DeviceTypeName(device.type(), /*lower_case=*/true);
  if (!device.is_cpu()) return out.str();  // the host's CPU and BLAS do not round a device's arithmetic
  const auto [cpu, unit] = cpu_and_vector_unit();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  out << "; cpu=" << cpu << "; vector_unit=" << unit
      << "; small_products=" << SmallProducts::kernel_target() << "; blas=" << loaded_blas()
      << "; openblas_coretype=" << (coretype && *coretype ? coretype : "auto") << "; threads=" << intra_op_threads;
  return out.str();
}

std::string describe_numerics_change(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  if (before.empty()) return "";
  const auto old_values = values_by_key(before), new_values = values_by_key(after);
  std::set<std::string> keys;
  for (const auto& [key, value] : old_values) keys.insert(key);
  for (const auto& [key, value] : new_values) keys.insert(key);
  std::string out;
  for (const auto& key : keys) {
    const auto o = old_values.count(key) ? old_values.at(key) : std::string("(none)");
    const auto n = new_values.count(key) ? new_values.at(key) : std::string("(none)");
    if (o != n) out += (out.empty() ? "" : ", ") + key + ": '" + o + "' -> '" + n + "'";
  }
  return out;
}

}  // namespace croma
