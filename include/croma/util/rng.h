#pragma once
// Deterministic random streams.
//
// Every random decision in croma (world generation, parameter initialisation, episode
// sampling, evaluation tasks) draws from an Rng built from (seed, stream). Streams are
// derived with SplitMix64 so that nearby stream ids give unrelated sequences, and the
// draws themselves are implemented here rather than through <random>'s distributions so
// that a seed means the same episodes with any standard library.
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace croma {

// Well-known stream ids, so that two consumers of one seed never share a sequence.
namespace streams {
constexpr std::uint64_t kWorld = 0x57'0000'0000ULL;
constexpr std::uint64_t kInit = 0x49'0000'0000ULL;
constexpr std::uint64_t kEvalTasks = 0x45'0000'0000ULL;
constexpr std::uint64_t kSplit = 0x53'0000'0000ULL;
constexpr std::uint64_t kLabelNoise = 0x4C'0000'0000ULL;
constexpr std::uint64_t kEvalNoise = 0x4E'0000'0000ULL;
constexpr std::uint64_t kValItems = 0x56'0000'0000ULL;  // held-out validation items (data/meta_split.h)
constexpr std::uint64_t kClassSplit = 0x43'0000'0000ULL;  // --class-split-seed (data/meta_split.h)
// Meta-training task slots use stream ids 0 .. (ranks * tasks_per_rank - 1).
}  // namespace streams

std::uint64_t splitmix64(std::uint64_t x);

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream);

  std::uint64_t next_u64() { return engine_(); }
  // Uniform integer in [0, n); unbiased (rejection sampling). n must be > 0.
  std::uint64_t uniform_index(std::uint64_t n);
  // Uniform double in [0, 1) with 53 random bits.
  double uniform();
  // Standard normal (Box-Muller on uniform(); no cached second value, so state is the engine).
  double normal();
  // k distinct values from [0, n), in random order. Requires k <= n.
  std::vector<std::int64_t> sample_without_replacement(std::int64_t n, std::int64_t k);

  template <class T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      std::swap(values[i - 1], values[uniform_index(i)]);
    }
  }

  // Engine state as text (for checkpoints) and back.
  std::string state() const;
  void set_state(const std::string& text);

 private:
  std::mt19937_64 engine_;
};

}  // namespace croma
