#pragma once
// The few collectives croma needs, over an MPI communicator.
//
// MPI is initialised once per process by MpiSession (in main and in the test runners).
// A Communicator wraps MPI_COMM_WORLD or MPI_COMM_SELF; the latter lets a test run a
// single-rank reference training inside an `mpirun -np 2` job.
#include <cstdint>
#include <string>
#include <vector>

#include <mpi.h>

namespace croma {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

class Communicator {
 public:
  static Communicator world();
  static Communicator self();

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Rank among the processes of this node (for choosing cuda:<local rank>).
  int local_rank() const { return local_rank_; }
  // Number of processes of this job on this node.
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }

  // Root's contents of a contiguous CPU float tensor replace everyone else's.
  void broadcast(torch::Tensor& cpu_float, int root = 0) const;
  // In-place elementwise sum over ranks of a contiguous CPU float or int64 tensor. Integer
  // sums are exact, so their result does not depend on the reduction order MPI picks.
  void allreduce_sum(torch::Tensor& cpu_float) const;
  // In-place elementwise sum over ranks of doubles (used to gather the study's cell table).
  void allreduce_sum(std::vector<double>& values) const;
  // True when every rank passed the same value.
  bool all_equal(std::uint64_t value) const;
  double max(double value) const;
  // Root receives every rank's string in rank order; the other ranks get an empty vector.
  std::vector<std::string> gather_strings(const std::string& mine, int root = 0) const;
  // Rank r receives root's strings[r] (strings must have size() entries on root).
  std::string scatter_strings(const std::vector<std::string>& strings, int root = 0) const;
  // Root's text replaces everyone else's.
  void broadcast_string(std::string& text, int root = 0) const;
  void barrier() const;

  // Ends every rank of the job; used when one rank fails so that no other waits forever.
  [[noreturn]] static void abort(int exit_code);

 private:
  explicit Communicator(MPI_Comm comm);
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// FNV-1a over the bytes of a tensor (copied to the CPU): equal iff bit-identical.
std::uint64_t bitwise_checksum(const torch::Tensor& t);

}  // namespace croma
