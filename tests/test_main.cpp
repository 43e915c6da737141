// GoogleTest entry point shared by the test binaries: MPI is initialised once per process,
// since the library's collectives (even on a single rank) go through MPI.
#include <gtest/gtest.h>

#include "croma/distributed/communicator.h"
#include "croma/util/runtime.h"

int main(int argc, char** argv) {
  croma::keep_freed_memory_in_heap();
  croma::MpiSession mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    // One rank reports; the others still run every test (collectives need them).
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  return RUN_ALL_TESTS();
}
