#include "croma/distributed/communicator.h"

#include <cstdlib>
#include <stdexcept>

namespace croma {
namespace {

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, text, &len);
    throw std::runtime_error(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(len)));
  }
}

void require_cpu_float(const torch::Tensor& t, const char* what) {
  if (!t.is_contiguous() || t.device().type() != torch::kCPU || t.scalar_type() != torch::kFloat32) {
    throw std::logic_error(std::string(what) + ": needs a contiguous float32 CPU tensor");
  }
  if (t.numel() > INT32_MAX) throw std::logic_error(std::string(what) + ": buffer too large for one MPI call");
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) check(MPI_Init(argc, argv), "MPI_Init");
  // Errors come back as codes so they become exceptions with a message, not silent aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiSession::~MpiSession() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
}

Communicator::Communicator(MPI_Comm comm) : comm_(comm) {
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  MPI_Comm node;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  // A node is what MPI says shares memory with this process (the host, as the launcher knows
  // it), so local ranks count per node, never per job: ranks 2 and 3 of a 2-node, 2-per-node
  // job are local ranks 0 and 1 of the second node (tests/slurm/two_nodes_test.sh checks it).
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
}

Communicator Communicator::world() { return Communicator(MPI_COMM_WORLD); }
Communicator Communicator::self() { return Communicator(MPI_COMM_SELF); }

void Communicator::broadcast(torch::Tensor& t, int root) const {
  require_cpu_float(t, "broadcast");
  if (size_ == 1) return;
  check(MPI_Bcast(t.data_ptr<float>(), static_cast<int>(t.numel()), MPI_FLOAT, root, comm_),
        "MPI_Bcast");
}

void Communicator::allreduce_sum(torch::Tensor& t) const {
  if (t.scalar_type() == torch::kInt64) {
    if (!t.is_contiguous() || t.device().type() != torch::kCPU || t.numel() > INT32_MAX) {
      throw std::logic_error("allreduce_sum: needs a contiguous CPU tensor of at most 2^31-1 entries");
    }
    if (size_ == 1) return;
    check(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr<std::int64_t>(), static_cast<int>(t.numel()), MPI_INT64_T,
                        MPI_SUM, comm_),
          "MPI_Allreduce");
    return;
  }
  require_cpu_float(t, "allreduce_sum");
  if (size_ == 1) return;
  check(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr<float>(), static_cast<int>(t.numel()), MPI_FLOAT,
                      MPI_SUM, comm_),
        "MPI_Allreduce");
}

void Communicator::allreduce_sum(std::vector<double>& values) const {
  if (size_ == 1 || values.empty()) return;
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE,
                      MPI_SUM, comm_),
        "MPI_Allreduce");
}

bool Communicator::all_equal(std::uint64_t value) const {
  if (size_ == 1) return true;
  unsigned long long lo = value, hi = value;
  check(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm_), "MPI_Allreduce");
  check(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm_), "MPI_Allreduce");
  return lo == hi;
}

double Communicator::max(double value) const {
  if (size_ == 1) return value;
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
  return value;
}

std::vector<std::string> Communicator::gather_strings(const std::string& mine, int root) const {
  if (size_ == 1) return {mine};
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(rank_ == root ? static_cast<std::size_t>(size_) : 0);
  check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm_), "MPI_Gather");
  std::vector<int> offsets(lengths.size());
  std::string all;
  if (rank_ == root) {
    long long total = 0;
    for (std::size_t r = 0; r < lengths.size(); ++r) {
      offsets[r] = static_cast<int>(total);
      total += lengths[r];
    }
    if (total > INT32_MAX) throw std::logic_error("gather_strings: too much text for one MPI call");
    all.resize(static_cast<std::size_t>(total));
  }
  check(MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                    MPI_CHAR, root, comm_),
        "MPI_Gatherv");
  std::vector<std::string> out;
  for (std::size_t r = 0; r < lengths.size(); ++r) out.push_back(all.substr(offsets[r], lengths[r]));
  return out;
}

std::string Communicator::scatter_strings(const std::vector<std::string>& strings, int root) const {
  if (rank_ == root && static_cast<int>(strings.size()) != size_) {
    throw std::logic_error("scatter_strings: root passed " + std::to_string(strings.size()) +
                           " strings for " + std::to_string(size_) + " ranks");
  }
  if (size_ == 1) return strings.front();
  std::vector<int> lengths, offsets;
  std::string all;
  if (rank_ == root) {
    for (const auto& s : strings) {
      offsets.push_back(static_cast<int>(all.size()));
      lengths.push_back(static_cast<int>(s.size()));
      all += s;
    }
  }
  int length = 0;
  check(MPI_Scatter(lengths.data(), 1, MPI_INT, &length, 1, MPI_INT, root, comm_), "MPI_Scatter");
  std::string mine(static_cast<std::size_t>(length), '\0');
  check(MPI_Scatterv(all.data(), lengths.data(), offsets.data(), MPI_CHAR, mine.data(), length,
                     MPI_CHAR, root, comm_),
        "MPI_Scatterv");
  return mine;
}

void Communicator::broadcast_string(std::string& text, int root) const {
  if (size_ == 1) return;
  long long length = static_cast<long long>(text.size());
  check(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, comm_), "MPI_Bcast");
  text.resize(static_cast<std::size_t>(length));
  check(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, comm_), "MPI_Bcast");
}

void Communicator::barrier() const {
  if (size_ > 1) check(MPI_Barrier(comm_), "MPI_Barrier");
}

void Communicator::abort(int exit_code) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

std::uint64_t bitwise_checksum(const torch::Tensor& t) {
  const auto cpu = t.detach().to(torch::kCPU).contiguous();
  const auto* bytes = static_cast<const unsigned char*>(cpu.data_ptr());
  const auto n = static_cast<std::size_t>(cpu.numel()) * cpu.element_size();
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace croma
