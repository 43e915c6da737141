#include "croma/util/rng.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace croma {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

Rng::Rng(std::uint64_t seed, std::uint64_t stream)
    : engine_(splitmix64(splitmix64(seed) ^ splitmix64(stream + 0x632BE59BD9B4E019ULL))) {}

std::uint64_t Rng::uniform_index(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("Rng::uniform_index: n must be positive");
  // Reject the top partial bucket so every residue is equally likely.
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                              std::numeric_limits<std::uint64_t>::max() % n;
  std::uint64_t x;
  do {
    x = engine_();
  } while (x >= limit);
  return x % n;
}

double Rng::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::vector<std::int64_t> Rng::sample_without_replacement(std::int64_t n, std::int64_t k) {
  if (k < 0 || k > n) {
    throw std::invalid_argument("Rng::sample_without_replacement: need 0 <= k <= n, got k=" +
                                std::to_string(k) + " n=" + std::to_string(n));
  }
  // Partial Fisher-Yates over an index vector: O(n) memory, fine for pool sizes here.
  std::vector<std::int64_t> pool(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) pool[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<std::int64_t>(uniform_index(static_cast<std::uint64_t>(n - i)));
    std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
  }
  pool.resize(static_cast<std::size_t>(k));
  return pool;
}

std::string Rng::state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void Rng::set_state(const std::string& text) {
  std::istringstream in(text);
  in >> engine_;
  if (!in) throw std::runtime_error("Rng::set_state: malformed generator state");
}

}  // namespace croma
