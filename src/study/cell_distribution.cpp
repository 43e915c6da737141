#include "croma/study/cell_distribution.h"

#include <stdexcept>

#include "croma/distributed/communicator.h"

namespace croma {

std::vector<ErrorStats> distribute_cells(std::int64_t cells, std::size_t per_cell, const Communicator& comm,
                                         const std::function<std::vector<ErrorStats>(std::int64_t)>& compute,
                                         const std::function<void(std::int64_t, std::int64_t)>& on_cell) {
  constexpr std::size_t kNumbers = 3;  // mean, std, sem
  const std::size_t width = per_cell * kNumbers;
  std::vector<double> packed(static_cast<std::size_t>(cells) * width, 0.0);
  std::int64_t mine = 0, done = 0;
  for (std::int64_t c = comm.rank(); c < cells; c += comm.size()) ++mine;
  for (std::int64_t c = comm.rank(); c < cells; c += comm.size()) {
    const auto stats = compute(c);
    if (stats.size() != per_cell) throw std::logic_error("distribute_cells: a cell gave the wrong count");
    double* p = packed.data() + static_cast<std::size_t>(c) * width;
    for (const auto& s : stats) {
      *p++ = s.mean;
      *p++ = s.std;
      *p++ = s.sem;
    }
    if (on_cell) on_cell(++done, mine);
  }
  comm.allreduce_sum(packed);
  std::vector<ErrorStats> out(static_cast<std::size_t>(cells) * per_cell);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = {packed[kNumbers * i], packed[kNumbers * i + 1], packed[kNumbers * i + 2]};
  }
  return out;
}

}  // namespace croma
