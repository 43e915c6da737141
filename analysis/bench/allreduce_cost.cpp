// The meta-step collective on its own: one MPI_Allreduce (sum) of the buffer croma sends per
// meta-step, as float32 (the float sums croma used before) and as int64 (the exact
// fixed-point sums, meta/exact_sum.h), for a parameter count N. Prints one JSON line with
// bytes and the median time of each over REPS repetitions (after 20 warm-up calls),
// alternating the two so that a shared machine's load hits both alike.
//
//   mpicxx -O2 -o /tmp/allreduce_cost analysis/bench/allreduce_cost.cpp
//   mpirun --oversubscribe -np 2 /tmp/allreduce_cost 363013 200
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds for one allreduce of buf, the ranks lined up by a barrier first so that the time
// is the collective's, not a wait for a late rank.
template <typename T>
double once(std::vector<T>& buf, MPI_Datatype type) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.size()), type, MPI_SUM, MPI_COMM_WORLD);
  double dt = MPI_Wtime() - t0;
  MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return dt;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const long long n = argc > 1 ? std::atoll(argv[1]) : 363013;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 200;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // Before: parameters + 2 loss sums + stop flag. After: parameters + 2 loss sums + 2 refusal
  // counts + refused deltas + stop flag (CroMA's two task kinds).
  std::vector<float> f(static_cast<std::size_t>(n + 3), 1e-3f);
  std::vector<std::int64_t> q(static_cast<std::size_t>(n + 6), 1000);
  std::vector<double> tf, tq;
  for (int i = 0; i < 20; ++i) {
    once(f, MPI_FLOAT);
    once(q, MPI_INT64_T);
  }
  for (int i = 0; i < reps; ++i) {
    tf.push_back(once(f, MPI_FLOAT));
    tq.push_back(once(q, MPI_INT64_T));
  }
  if (rank == 0) {
    std::printf(
        "{\"ranks\": %d, \"parameters\": %lld, \"reps\": %d, \"float32_bytes\": %zu, \"float32_ms\": %.4f, "
        "\"int64_bytes\": %zu, \"int64_ms\": %.4f}\n",
        size, n, reps, f.size() * sizeof(float), 1e3 * median(tf), q.size() * sizeof(std::int64_t), 1e3 * median(tq));
  }
  MPI_Finalize();
  return 0;
}
