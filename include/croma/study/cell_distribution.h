#pragma once
// How both study engines (run_study, run_weak_study) spread their cells over MPI ranks: dealt
// round-robin (rank r computes cells r, r + R, r + 2R, ...), then one allreduce gives every
// rank every cell's numbers. A cell is non-zero on exactly one rank, so the sum is exact and
// the table is bit-identical for any number of ranks.
#include <cstdint>
#include <functional>
#include <vector>

#include "croma/study/alignment_study.h"

namespace croma {

class Communicator;

// `compute(c)` returns cell c's `per_cell` error summaries; on_cell(done, mine), when set, is
// called on each rank after each of its own cells. Returns cells x per_cell summaries, cell
// major, on every rank.
std::vector<ErrorStats> distribute_cells(std::int64_t cells, std::size_t per_cell, const Communicator& comm,
                                         const std::function<std::vector<ErrorStats>(std::int64_t)>& compute,
                                         const std::function<void(std::int64_t, std::int64_t)>& on_cell);

}  // namespace croma
